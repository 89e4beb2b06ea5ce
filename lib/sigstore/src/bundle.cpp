#include "ir/sigstore/bundle.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace ir::sigstore {
namespace {

// protobuf JSON writers may spell an absent message as null.
const json::value* present(const json::value* value) {
  return value != nullptr && !value->is_null() ? value : nullptr;
}

Error malformed(const std::string& what) {
  return Error(Code::rejected, "malformed bundle: " + what);
}

Result<std::string> decode(const json::value* value, const std::string& where, bool required = true) {
  value = present(value);
  if (value == nullptr) {
    if (required) return malformed(where + " is missing");
    return std::string();
  }
  if (!value->is_string()) return malformed(where + " is not a string");
  auto decoded = base64_decode(value->get_string());
  if (!decoded) return malformed(where + " is not valid base64");
  return decoded;
}

// protobuf's JSON writes int64 as a string; accept numbers too.
Result<std::int64_t> int64_field(const json::value& node, std::string_view key, const std::string& where,
                                 bool required = true) {
  const auto* value = present(find(node, {key}));
  if (value == nullptr) {
    if (required) return malformed(where + "." + std::string(key) + " is missing");
    return std::int64_t{0};
  }
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64() && value->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(value->get_uint64());
  if (value->is_string()) {
    const auto& s = value->get_string();
    std::int64_t out = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && end == s.data() + s.size() && out >= 0) return out;
  }
  return malformed(where + "." + std::string(key) + " is not a non-negative integer");
}

Result<InclusionProof> parse_proof(const json::value& node, const std::string& where) {
  InclusionProof proof;
  auto index = int64_field(node, "logIndex", where);
  if (!index) return index.error();
  proof.log_index = *index;
  auto size = int64_field(node, "treeSize", where);
  if (!size) return size.error();
  proof.tree_size = *size;
  auto root = decode(find(node, {"rootHash"}), where + ".rootHash");
  if (!root) return root.error();
  proof.root_hash = std::move(*root);
  if (const auto* hashes = present(find(node, {"hashes"})); hashes != nullptr) {
    if (!hashes->is_array()) return malformed(where + ".hashes is not an array");
    for (const auto& h : hashes->get_array()) {
      auto hash = decode(&h, where + ".hashes[]");
      if (!hash) return hash.error();
      proof.hashes.push_back(std::move(*hash));
    }
  }
  proof.checkpoint = string_at(node, {"checkpoint", "envelope"});
  return proof;
}

Result<TlogEntry> parse_entry(const json::value& node, const std::string& where) {
  TlogEntry entry;
  auto index = int64_field(node, "logIndex", where);
  if (!index) return index.error();
  entry.log_index = *index;
  auto id = decode(find(node, {"logId", "keyId"}), where + ".logId.keyId");
  if (!id) return id.error();
  entry.log_id = std::move(*id);
  entry.kind = string_at(node, {"kindVersion", "kind"});
  entry.version = string_at(node, {"kindVersion", "version"});
  if (entry.kind.empty() || entry.version.empty()) return malformed(where + ".kindVersion is missing");
  auto time = int64_field(node, "integratedTime", where, false);
  if (!time) return time.error();
  entry.integrated_time = *time;
  auto set = decode(find(node, {"inclusionPromise", "signedEntryTimestamp"}),
                    where + ".inclusionPromise.signedEntryTimestamp", false);
  if (!set) return set.error();
  entry.signed_entry_timestamp = std::move(*set);
  if (const auto* proof = present(find(node, {"inclusionProof"})); proof != nullptr) {
    auto parsed = parse_proof(*proof, where + ".inclusionProof");
    if (!parsed) return parsed.error();
    entry.proof = std::move(*parsed);
  }
  auto body = decode(find(node, {"canonicalizedBody"}), where + ".canonicalizedBody");
  if (!body) return body.error();
  entry.body = std::move(*body);
  return entry;
}

Result<int> minor_version_of(std::string_view media_type) {
  if (media_type == "application/vnd.dev.sigstore.bundle+json;version=0.1") return 1;
  if (media_type == "application/vnd.dev.sigstore.bundle+json;version=0.2") return 2;
  if (media_type == "application/vnd.dev.sigstore.bundle+json;version=0.3" ||
      media_type == "application/vnd.dev.sigstore.bundle.v0.3+json")
    return 3;
  return Error(Code::rejected, "unsupported bundle media type '" + std::string(media_type) + "'");
}

Result<void> parse_material(const json::value& material, Bundle& bundle) {
  if (const auto* chain = present(find(material, {"x509CertificateChain", "certificates"}));
      chain != nullptr) {
    if (bundle.minor_version >= 3)
      return malformed("a v0.3 bundle carries one certificate, not x509CertificateChain");
    if (!chain->is_array()) return malformed("x509CertificateChain.certificates is not an array");
    for (const auto& cert : chain->get_array()) {
      auto der = decode(find(cert, {"rawBytes"}), "x509CertificateChain.certificates[].rawBytes");
      if (!der) return der.error();
      bundle.certificates_der.push_back(std::move(*der));
    }
    if (bundle.certificates_der.empty()) return malformed("the certificate chain is empty");
  } else if (const auto* cert = present(find(material, {"certificate"})); cert != nullptr) {
    auto der = decode(find(*cert, {"rawBytes"}), "certificate.rawBytes");
    if (!der) return der.error();
    bundle.certificates_der.push_back(std::move(*der));
  } else if (const auto* key = present(find(material, {"publicKey"})); key != nullptr) {
    bundle.has_public_key = true;
    bundle.public_key_hint = string_at(*key, {"hint"});
  } else {
    return malformed("verificationMaterial has no certificate and no public key");
  }
  if (const auto* entries = present(find(material, {"tlogEntries"})); entries != nullptr) {
    if (!entries->is_array()) return malformed("tlogEntries is not an array");
    for (std::size_t i = 0; i < entries->get_array().size(); ++i) {
      auto entry = parse_entry(entries->get_array()[i], "tlogEntries[" + std::to_string(i) + "]");
      if (!entry) return entry.error();
      bundle.tlog_entries.push_back(std::move(*entry));
    }
  }
  if (const auto* stamps = find(material, {"timestampVerificationData", "rfc3161Timestamps"});
      stamps != nullptr && stamps->is_array()) {
    for (const auto& stamp : stamps->get_array()) {
      auto der = decode(find(stamp, {"signedTimestamp"}), "rfc3161Timestamps[].signedTimestamp");
      if (!der) return der.error();
      bundle.rfc3161_timestamps.push_back(std::move(*der));
    }
  }
  return {};
}

Result<void> parse_content(const json::value& doc, Bundle& bundle) {
  const auto* message = present(find(doc, {"messageSignature"}));
  const auto* envelope = present(find(doc, {"dsseEnvelope"}));
  if ((message == nullptr) == (envelope == nullptr))
    return malformed("a bundle holds exactly one of messageSignature and dsseEnvelope");
  if (message != nullptr) {
    MessageSignature signature;
    auto sig = decode(find(*message, {"signature"}), "messageSignature.signature");
    if (!sig) return sig.error();
    signature.signature = std::move(*sig);
    if (const auto* digest = present(find(*message, {"messageDigest"})); digest != nullptr) {
      signature.digest_algorithm = string_at(*digest, {"algorithm"});
      auto bytes = decode(find(*digest, {"digest"}), "messageSignature.messageDigest.digest");
      if (!bytes) return bytes.error();
      signature.digest = std::move(*bytes);
    }
    bundle.message_signature = std::move(signature);
    return {};
  }
  DsseEnvelope dsse;
  dsse.payload_type = string_at(*envelope, {"payloadType"});
  auto payload = decode(find(*envelope, {"payload"}), "dsseEnvelope.payload");
  if (!payload) return payload.error();
  dsse.payload = std::move(*payload);
  const auto* signatures = find(*envelope, {"signatures"});
  if (signatures == nullptr || !signatures->is_array())
    return malformed("dsseEnvelope.signatures is missing");
  for (const auto& s : signatures->get_array()) {
    auto sig = decode(find(s, {"sig"}), "dsseEnvelope.signatures[].sig");
    if (!sig) return sig.error();
    dsse.signatures.push_back(std::move(*sig));
  }
  bundle.dsse = std::move(dsse);
  return {};
}

}  // namespace

Result<Bundle> parse_bundle(std::string_view text) {
  auto doc = parse_json(text, "bundle");
  if (!doc) return Error(Code::rejected, doc.error().describe());
  if (!doc->is_object()) return malformed("not a JSON object");
  Bundle bundle;
  bundle.media_type = string_at(*doc, {"mediaType"});
  auto minor = minor_version_of(bundle.media_type);
  if (!minor) return minor.error();
  bundle.minor_version = *minor;
  const auto* material = find(*doc, {"verificationMaterial"});
  if (material == nullptr || !material->is_object()) return malformed("verificationMaterial is missing");
  if (auto parsed = parse_material(*material, bundle); !parsed) return parsed.error();
  if (auto parsed = parse_content(*doc, bundle); !parsed) return parsed.error();
  return bundle;
}

std::string dsse_pae(std::string_view payload_type, std::string_view payload) {
  std::string pae = "DSSEv1 " + std::to_string(payload_type.size()) + " ";
  pae += payload_type;
  pae += " " + std::to_string(payload.size()) + " ";
  pae += payload;
  return pae;
}

}  // namespace ir::sigstore
