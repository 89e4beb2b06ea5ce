#include "ir/sigstore/cosign.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"
#include "pkix.hpp"

#include <openssl/pem.h>
#include <boost/json.hpp>

namespace ir::sigstore::cosign {
namespace {

Error rejected(std::string message) {
  return Error(Code::rejected, std::move(message));
}

std::string annotation(const std::map<std::string, std::string>& annotations, std::string_view key) {
  const auto it = annotations.find(std::string(key));
  return it == annotations.end() ? std::string() : it->second;
}

// Every certificate of a PEM text, in order, as DER.
Result<std::vector<std::string>> certificates_of(std::string_view pem, std::string_view what) {
  std::vector<std::string> ders;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                &BIO_free);
  while (true) {
    detail::Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    ders.push_back(detail::cert_der(cert.get()));
  }
  (void)detail::openssl_error();  // the end of the text reads as an error
  if (ders.empty()) return rejected(std::string(what) + ": no PEM certificate");
  return ders;
}

// The bundle annotation: {"SignedEntryTimestamp": b64, "Payload": {"body":
// b64, "integratedTime": n, "logIndex": n, "logID": hex}}.
Result<TlogEntry> entry_of(std::string_view text) {
  const std::string where = std::string(bundle_annotation);
  auto doc = parse_json(text, where);
  if (!doc || !doc->is_object()) return rejected(where + ": not a JSON object");
  const auto* payload = find(*doc, {"Payload"});
  if (payload == nullptr || !payload->is_object()) return rejected(where + ": no Payload");
  TlogEntry entry;
  const auto number = [&](std::string_view key, std::int64_t& out) -> Result<void> {
    const auto* node = find(*payload, {key});
    if (node == nullptr || !node->is_int64())
      return rejected(where + ": Payload." + std::string(key) + " is not an integer");
    out = node->as_int64();
    return {};
  };
  if (auto ok = number("integratedTime", entry.integrated_time); !ok) return ok.error();
  if (auto ok = number("logIndex", entry.log_index); !ok) return ok.error();
  auto log_id = hex_decode(string_at(*payload, {"logID"}));
  if (!log_id) return rejected(where + ": Payload.logID is " + log_id.error().message());
  if (log_id->empty()) return rejected(where + ": Payload.logID is missing");
  entry.log_id = std::move(*log_id);
  auto body = base64_decode(string_at(*payload, {"body"}));
  if (!body || body->empty()) return rejected(where + ": Payload.body is not base64");
  entry.body = std::move(*body);
  auto set = base64_decode(string_at(*doc, {"SignedEntryTimestamp"}));
  if (!set || set->empty()) return rejected(where + ": SignedEntryTimestamp is not base64");
  entry.signed_entry_timestamp = std::move(*set);
  auto parsed_body = parse_json(entry.body, where + " body");
  if (!parsed_body || !parsed_body->is_object()) return rejected(where + ": the entry body is not JSON");
  entry.kind = string_at(*parsed_body, {"kind"});
  entry.version = string_at(*parsed_body, {"apiVersion"});
  if (entry.kind.empty() || entry.version.empty())
    return rejected(where + ": the entry body has no kind or apiVersion");
  return entry;
}

}  // namespace

std::string signature_tag(std::string_view digest) {
  std::string tag(digest);
  if (const auto colon = tag.find(':'); colon != std::string::npos) tag[colon] = '-';
  return tag + ".sig";
}

Result<Bundle> bundle_from_annotations(const std::map<std::string, std::string>& annotations,
                                       std::string_view payload) {
  Bundle bundle;
  bundle.media_type = "cosign simple signing";
  bundle.minor_version = 1;
  auto signature = base64_decode(annotation(annotations, signature_annotation));
  if (!signature || signature->empty())
    return rejected(std::string(signature_annotation) + ": missing or not base64");
  MessageSignature message;
  message.digest_algorithm = "SHA2_256";
  message.digest = detail::sha256(payload);
  message.signature = std::move(*signature);
  bundle.message_signature = std::move(message);
  const std::string certificate = annotation(annotations, certificate_annotation);
  if (certificate.empty()) {
    bundle.has_public_key = true;
  } else {
    auto leaf = certificates_of(certificate, certificate_annotation);
    if (!leaf) return leaf.error();
    bundle.certificates_der.push_back(std::move(leaf->front()));
    if (const std::string chain = annotation(annotations, chain_annotation); !chain.empty()) {
      auto rest = certificates_of(chain, chain_annotation);
      if (!rest) return rest.error();
      for (auto& der : *rest) bundle.certificates_der.push_back(std::move(der));
    }
  }
  if (const std::string entry = annotation(annotations, bundle_annotation); !entry.empty()) {
    auto parsed = entry_of(entry);
    if (!parsed) return parsed.error();
    bundle.tlog_entries.push_back(std::move(*parsed));
  }
  return bundle;
}

Result<SimpleSigning> parse_simple_signing(std::string_view payload) {
  auto doc = parse_json(payload, "simple-signing payload");
  if (!doc || !doc->is_object()) return rejected("the simple-signing payload is not a JSON object");
  if (const auto type = string_at(*doc, {"critical", "type"}); type != "cosign container image signature")
    return rejected("the simple-signing payload's critical.type is '" + type +
                    "', not 'cosign container image signature'");
  SimpleSigning signing;
  signing.docker_reference = string_at(*doc, {"critical", "identity", "docker-reference"});
  signing.manifest_digest = string_at(*doc, {"critical", "image", "docker-manifest-digest"});
  if (signing.manifest_digest.empty())
    return rejected("the simple-signing payload has no critical.image.docker-manifest-digest");
  if (const auto* optional = find(*doc, {"optional"}); optional != nullptr && optional->is_object()) {
    for (const auto& [key, value] : optional->get_object()) {
      if (value.is_string())
        signing.optional[std::string(key)] = std::string(value.get_string());
      else
        signing.optional[std::string(key)] = boost::json::serialize(value);
    }
  }
  return signing;
}

}  // namespace ir::sigstore::cosign
