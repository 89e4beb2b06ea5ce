#include "entry_body.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"
#include "pkix.hpp"

#include <boost/json.hpp>

#include <optional>

namespace ir::sigstore::detail {
namespace {

Error mismatch(const std::string& what) {
  return Error(Code::rejected, "transparency log entry does not match the bundle: " + what);
}

Result<std::string> b64_at(const json::value& node, std::initializer_list<std::string_view> path,
                           const std::string& where) {
  const auto* value = find(node, path);
  if (value == nullptr || !value->is_string()) return mismatch(where + " is missing");
  auto decoded = base64_decode(value->get_string());
  if (!decoded) return mismatch(where + " is not base64");
  return decoded;
}

// The DER of the first PEM block of `label` ("CERTIFICATE"), without
// parsing what it holds: comparing bytes is all the entry check needs, and
// OpenSSL 3.0 decodes a certificate's key at a high cost.
std::optional<std::string> pem_block_der(std::string_view pem, std::string_view label) {
  const std::string begin = "-----BEGIN " + std::string(label) + "-----";
  const std::string end = "-----END " + std::string(label) + "-----";
  const auto start = pem.find(begin);
  if (start == std::string_view::npos) return std::nullopt;
  const auto stop = pem.find(end, start + begin.size());
  if (stop == std::string_view::npos) return std::nullopt;
  std::string base64;
  for (const char c : pem.substr(start + begin.size(), stop - start - begin.size())) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') base64 += c;
  }
  auto der = base64_decode(base64);
  if (!der) return std::nullopt;
  return std::move(*der);
}

// Rekor v1 bodies carry the verifier as base64 PEM: a certificate or a key.
Result<void> check_pem_verifier(const json::value& node, std::initializer_list<std::string_view> path,
                                const SignedContent& content) {
  auto pem = b64_at(node, path, "the verifier");
  if (!pem) return pem.error();
  if (pem->find("CERTIFICATE") != std::string::npos) {
    const auto der = pem_block_der(*pem, "CERTIFICATE");
    if (!der || content.certificate_der.empty() || *der != content.certificate_der)
      return mismatch("the certificate differs");
    return {};
  }
  auto key = public_key_from_pem(*pem);
  if (!key || content.public_key_der.empty() || public_key_der(key->get()) != content.public_key_der)
    return mismatch("the public key differs");
  return {};
}

// Rekor v2 bodies carry it as DER in a protobuf-JSON verifier.
Result<void> check_v2_verifier(const json::value& verifier, const SignedContent& content) {
  if (find(verifier, {"x509Certificate"}) != nullptr) {
    auto der = b64_at(verifier, {"x509Certificate", "rawBytes"}, "the verifier's certificate");
    if (!der) return der.error();
    if (content.certificate_der.empty() || *der != content.certificate_der)
      return mismatch("the certificate differs");
    return {};
  }
  auto der = b64_at(verifier, {"publicKey", "rawBytes"}, "the verifier's public key");
  if (!der) return der.error();
  auto key = public_key_from_der(*der);
  if (!key || content.public_key_der.empty() || public_key_der(key->get()) != content.public_key_der)
    return mismatch("the public key differs");
  return {};
}

Result<void> hashedrekord_v1(const json::value& spec, const SignedContent& content) {
  if (content.dsse) return mismatch("a hashedrekord 0.0.1 entry for a DSSE envelope");
  if (string_at(spec, {"data", "hash", "algorithm"}) != "sha256")
    return mismatch("the hash algorithm is not sha256");
  if (string_at(spec, {"data", "hash", "value"}) != hex_encode(content.signed_digest))
    return mismatch("the artifact digest differs");
  auto signature = b64_at(spec, {"signature", "content"}, "the signature");
  if (!signature) return signature.error();
  if (*signature != content.signature) return mismatch("the signature differs");
  return check_pem_verifier(spec, {"signature", "publicKey", "content"}, content);
}

Result<void> hashedrekord_v2(const json::value& spec, const SignedContent& content) {
  const auto* body = find(spec, {"hashedRekordV002"});
  if (body == nullptr) return mismatch("hashedRekordV002 is missing");
  if (string_at(*body, {"data", "algorithm"}) != "SHA2_256")
    return mismatch("the hash algorithm is not SHA2_256");
  auto digest = b64_at(*body, {"data", "digest"}, "the digest");
  if (!digest) return digest.error();
  if (*digest != content.signed_digest)
    return mismatch(content.dsse ? "the digest of the DSSE envelope differs" : "the artifact digest differs");
  auto signature = b64_at(*body, {"signature", "content"}, "the signature");
  if (!signature) return signature.error();
  if (*signature != content.signature) return mismatch("the signature differs");
  const auto* verifier = find(*body, {"signature", "verifier"});
  if (verifier == nullptr) return mismatch("the verifier is missing");
  return check_v2_verifier(*verifier, content);
}

Result<void> dsse_v1(const json::value& spec, const SignedContent& content) {
  if (!content.dsse) return mismatch("a dsse entry for a message signature");
  if (string_at(spec, {"payloadHash", "algorithm"}) != "sha256" ||
      string_at(spec, {"payloadHash", "value"}) != sha256_hex(content.payload))
    return mismatch("the payload digest differs");
  const auto* signatures = find(spec, {"signatures"});
  if (signatures == nullptr || !signatures->is_array() || signatures->get_array().size() != 1)
    return mismatch("the entry does not hold exactly one signature");
  const auto& entry = signatures->get_array()[0];
  auto signature = b64_at(entry, {"signature"}, "the signature");
  if (!signature) return signature.error();
  if (*signature != content.signature) return mismatch("the signature differs");
  return check_pem_verifier(entry, {"verifier"}, content);
}

Result<void> dsse_v2(const json::value& spec, const SignedContent& content) {
  if (!content.dsse) return mismatch("a dsse entry for a message signature");
  const auto* body = find(spec, {"dsseV002"});
  if (body == nullptr) return mismatch("dsseV002 is missing");
  auto digest = b64_at(*body, {"payloadHash", "digest"}, "the payload digest");
  if (!digest) return digest.error();
  if (string_at(*body, {"payloadHash", "algorithm"}) != "SHA2_256" || *digest != sha256(content.payload))
    return mismatch("the payload digest differs");
  const auto* signatures = find(*body, {"signatures"});
  if (signatures == nullptr || !signatures->is_array() || signatures->get_array().size() != 1)
    return mismatch("the entry does not hold exactly one signature");
  const auto& entry = signatures->get_array()[0];
  auto signature = b64_at(entry, {"content"}, "the signature");
  if (!signature) return signature.error();
  if (*signature != content.signature) return mismatch("the signature differs");
  const auto* verifier = find(entry, {"verifier"});
  if (verifier == nullptr) return mismatch("the verifier is missing");
  return check_v2_verifier(*verifier, content);
}

// intoto 0.0.2 stores the envelope's signature and payload base64'd twice.
Result<void> intoto_v2(const json::value& spec, const SignedContent& content) {
  if (!content.dsse) return mismatch("an intoto entry for a message signature");
  if (string_at(spec, {"content", "payloadHash", "algorithm"}) != "sha256" ||
      string_at(spec, {"content", "payloadHash", "value"}) != sha256_hex(content.payload))
    return mismatch("the payload digest differs");
  const auto* envelope = find(spec, {"content", "envelope"});
  if (envelope == nullptr) return mismatch("the envelope is missing");
  if (string_at(*envelope, {"payloadType"}) != content.payload_type)
    return mismatch("the payload type differs");
  const auto* signatures = find(*envelope, {"signatures"});
  if (signatures == nullptr || !signatures->is_array() || signatures->get_array().size() != 1)
    return mismatch("the entry does not hold exactly one signature");
  const auto& entry = signatures->get_array()[0];
  auto once = b64_at(entry, {"sig"}, "the signature");
  if (!once) return once.error();
  auto signature = base64_decode(*once);
  if (!signature || *signature != content.signature) return mismatch("the signature differs");
  return check_pem_verifier(entry, {"publicKey"}, content);
}

}  // namespace

Result<void> match_entry_body(const TlogEntry& entry, const SignedContent& content) {
  auto parsed = parse_json(entry.body, "canonicalizedBody");
  if (!parsed || !parsed->is_object()) return mismatch("the body is not a JSON object");
  const std::string kind = string_at(*parsed, {"kind"});
  const std::string version = string_at(*parsed, {"apiVersion"});
  if (kind != entry.kind || version != entry.version)
    return mismatch("the body is " + kind + " " + version + ", the entry says " + entry.kind + " " +
                    entry.version);
  const auto* spec = find(*parsed, {"spec"});
  if (spec == nullptr || !spec->is_object()) return mismatch("the body has no spec");
  if (kind == "hashedrekord" && version == "0.0.1") return hashedrekord_v1(*spec, content);
  if (kind == "hashedrekord" && version == "0.0.2") return hashedrekord_v2(*spec, content);
  if (kind == "dsse" && version == "0.0.1") return dsse_v1(*spec, content);
  if (kind == "dsse" && version == "0.0.2") return dsse_v2(*spec, content);
  if (kind == "intoto" && version == "0.0.2") return intoto_v2(*spec, content);
  return mismatch("unsupported entry kind " + kind + " " + version);
}

}  // namespace ir::sigstore::detail
