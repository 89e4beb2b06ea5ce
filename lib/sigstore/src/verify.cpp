#include "ir/sigstore/verify.hpp"

#include "certificate.hpp"
#include "entry_body.hpp"
#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"
#include "ir/sigstore/tlog.hpp"
#include "pkix.hpp"
#include "timestamp.hpp"

#include <openssl/sha.h>
#include <boost/json.hpp>

#include <algorithm>
#include <regex>

namespace ir::sigstore {
namespace {

using detail::SignedContent;

Error rejected(std::string message) {
  return Error(Code::rejected, std::move(message));
}

// The in-toto statement of a DSSE bundle must name the artifact among its
// subjects.
Result<void> check_in_toto_subject(const DsseEnvelope& dsse, const Artifact& artifact) {
  if (dsse.payload_type != "application/vnd.in-toto+json")
    return rejected("DSSE payload type '" + dsse.payload_type + "' is not an in-toto statement");
  auto statement = parse_json(dsse.payload, "in-toto statement");
  if (!statement || !statement->is_object())
    return rejected("the DSSE payload is not a JSON in-toto statement");
  const auto* subjects = find(*statement, {"subject"});
  if (subjects == nullptr || !subjects->is_array()) return rejected("the in-toto statement has no subject");
  for (const auto& subject : subjects->get_array()) {
    if (!artifact.sha256.empty() && string_at(subject, {"digest", "sha256"}) == hex_encode(artifact.sha256))
      return {};
    if (!artifact.sha512.empty() && string_at(subject, {"digest", "sha512"}) == hex_encode(artifact.sha512))
      return {};
  }
  return rejected("no subject of the in-toto statement has the artifact's digest " + artifact.digest_text());
}

// The signature over the artifact (or the envelope) with the signing key.
Result<SignedContent> check_signature(const Bundle& bundle, const Artifact& artifact, EVP_PKEY* key) {
  SignedContent content;
  if (bundle.message_signature) {
    const auto& message = *bundle.message_signature;
    if (artifact.sha256.empty()) return invalid("a message signature needs the artifact or its SHA-256");
    content.signature = message.signature;
    content.signed_digest = artifact.sha256;
    if (!message.digest.empty() &&
        (message.digest_algorithm != "SHA2_256" || message.digest != artifact.sha256))
      return rejected("the bundle's message digest is not the artifact's SHA-256");
    const std::string* bytes = artifact.bytes ? &*artifact.bytes : nullptr;
    if (!detail::verify_signed(key, bytes, artifact.sha256, message.signature))
      return rejected("signature: does not verify over the artifact");
    return content;
  }
  const auto& dsse = *bundle.dsse;
  if (dsse.signatures.size() != 1)
    return rejected("DSSE envelope: has " + std::to_string(dsse.signatures.size()) +
                    " signatures, exactly one is allowed");
  content.dsse = true;
  content.signature = dsse.signatures[0];
  content.payload = dsse.payload;
  content.payload_type = dsse.payload_type;
  const std::string pae = dsse_pae(dsse.payload_type, dsse.payload);
  content.signed_digest = detail::sha256(pae);
  if (!detail::verify_signed(key, &pae, content.signed_digest, content.signature))
    return rejected("DSSE envelope: the signature does not verify");
  if (auto ok = check_in_toto_subject(dsse, artifact); !ok) return ok.error();
  return content;
}

struct LogOutcome {
  std::vector<std::int64_t> indexes;
  std::vector<TimePoint> times;
};

Result<LogOutcome> check_log_entries(const Bundle& bundle, const SignedContent& content,
                                     const TrustedRoot& root, bool required) {
  LogOutcome outcome;
  for (std::size_t i = 0; i < bundle.tlog_entries.size(); ++i) {
    const auto& entry = bundle.tlog_entries[i];
    const std::string where = "transparency log entry " + std::to_string(entry.log_index);
    if (auto match = detail::match_entry_body(entry, content); !match) return match.error().with(where);
    auto check = verify_log_entry(entry, root);
    if (!check) return check.error().with(where);
    // v0.1 bundles rely on the promise; later ones must prove inclusion.
    // Rekor v2 entries have no integrated time and always need the proof.
    if (bundle.minor_version == 1 && !check->promise_verified && !check->proof_verified)
      return rejected(where + ": no inclusion promise");
    if (bundle.minor_version >= 2 && !check->proof_verified) return rejected(where + ": no inclusion proof");
    if (entry.integrated_time == 0 && !check->proof_verified) return rejected(where + ": no inclusion proof");
    if (check->promise_verified)
      outcome.times.push_back(Clock::from_time_t(static_cast<std::time_t>(entry.integrated_time)));
    outcome.indexes.push_back(entry.log_index);
  }
  if (required && outcome.indexes.empty()) return rejected("the bundle has no transparency log entry");
  return outcome;
}

Result<std::vector<TimePoint>> check_timestamps(const Bundle& bundle, const SignedContent& content,
                                                const TrustedRoot& root) {
  std::vector<TimePoint> times;
  for (const auto& stamp : bundle.rfc3161_timestamps) {
    auto at = detail::verify_timestamp(stamp, content.signature, root);
    if (!at) return at.error();
    times.push_back(*at);
  }
  return times;
}

Result<bool> matches(std::string_view value, const std::string& exact, const std::string& pattern,
                     std::string_view what) {
  if (!exact.empty()) return value == exact;
  if (pattern.empty()) return true;
  try {
    return std::regex_match(value.begin(), value.end(), std::regex(pattern, std::regex::ECMAScript));
  } catch (const std::regex_error& e) {
    return invalid(std::string(what) + ": not a valid regular expression: " + e.what());
  }
}

Result<void> check_identity(const detail::CertificateFacts& facts, const CertificatePolicy& policy) {
  bool identity_ok = false;
  for (const auto& san : facts.subject_alternative_names) {
    auto ok = identity_matches(policy, san);
    if (!ok) return ok.error();
    identity_ok = identity_ok || *ok;
  }
  if (!identity_ok) {
    std::string sans;
    for (const auto& san : facts.subject_alternative_names) sans += (sans.empty() ? "" : ", ") + san;
    return rejected("certificate identity: " + (sans.empty() ? std::string("none") : sans) + " is not " +
                    (policy.identity.empty() ? "matched by " + policy.identity_regexp : policy.identity));
  }
  auto issuer_ok =
      matches(facts.issuer, policy.issuer, policy.issuer_regexp, "certificate-oidc-issuer-regexp");
  if (!issuer_ok) return issuer_ok.error();
  if (!*issuer_ok)
    return rejected("certificate issuer: '" + facts.issuer + "' is not " +
                    (policy.issuer.empty() ? "matched by " + policy.issuer_regexp : policy.issuer));
  const std::pair<const std::string*, const char*> claims[] = {
      {&policy.github_workflow_trigger, "1.3.6.1.4.1.57264.1.2"},
      {&policy.github_workflow_sha, "1.3.6.1.4.1.57264.1.3"},
      {&policy.github_workflow_name, "1.3.6.1.4.1.57264.1.4"},
      {&policy.github_workflow_repository, "1.3.6.1.4.1.57264.1.5"},
      {&policy.github_workflow_ref, "1.3.6.1.4.1.57264.1.6"}};
  for (const auto& [wanted, oid] : claims) {
    if (wanted->empty()) continue;
    const auto it = facts.claims.find(oid);
    const std::string actual = it == facts.claims.end() ? std::string() : it->second;
    if (actual != *wanted)
      return rejected(std::string("certificate claim ") + oid + ": '" + actual + "' is not '" + *wanted +
                      "'");
  }
  return {};
}

// Keyless: the certificate at every verified time, its SCT, its usage and
// who it names.
Result<void> check_certificate(const Bundle& bundle, X509* leaf, const std::vector<TimePoint>& times,
                               const TrustedRoot& root, const CertificatePolicy& policy, Verified& verified) {
  // Only the leaf is taken from the bundle; the path to a root is built from
  // the trusted root alone, so a root in the bundle cannot lend trust. Older
  // clients (sigstore-js 1.x) wrote the whole chain: a warning, as
  // sigstore-python gives.
  for (std::size_t i = 1; i < bundle.certificates_der.size(); ++i) {
    auto cert = detail::cert_from_der(bundle.certificates_der[i]);
    if (!cert) return cert.error().with("certificate chain");
    if (detail::is_self_signed(cert->get())) {
      verified.warnings.push_back(
          "the bundle carries a root certificate; it was ignored (trust comes from the trusted root only)");
      break;
    }
  }
  if (times.empty()) return rejected("no verified signing time: neither a log's promise nor a timestamp");
  const auto facts = detail::facts_of(leaf);
  detail::Cert issuer;
  for (const auto t : times) {
    if (t < facts.not_before || t > facts.not_after)
      return rejected("certificate: not valid at the signing time " + format_utc(t) + " (valid " +
                      format_utc(facts.not_before) + " to " + format_utc(facts.not_after) + ")");
    auto chain = detail::verify_chain(leaf, root, t);
    if (!chain) return chain.error();
    issuer = std::move(*chain);
  }
  if (auto sct = detail::verify_embedded_sct(leaf, issuer.get(), root); !sct) return sct.error();
  if (!facts.code_signing) return rejected("certificate: no code-signing extended key usage");
  if (auto identity = check_identity(facts, policy); !identity) return identity.error();
  for (const auto& san : facts.subject_alternative_names) {
    if (auto ok = identity_matches(policy, san); ok && *ok) {
      verified.signer = san;
      break;
    }
  }
  verified.issuer = facts.issuer;
  return {};
}

}  // namespace

Artifact Artifact::from_bytes(std::string bytes) {
  Artifact artifact;
  artifact.sha256 = detail::sha256(bytes);
  artifact.sha512.resize(SHA512_DIGEST_LENGTH);
  SHA512(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         reinterpret_cast<unsigned char*>(artifact.sha512.data()));
  artifact.bytes = std::move(bytes);
  return artifact;
}

Result<Artifact> Artifact::from_digest(std::string_view text) {
  static const std::regex form("(sha256:[0-9a-f]{64})|(sha512:[0-9a-f]{128})");
  if (!std::regex_match(text.begin(), text.end(), form))
    return invalid("'" + std::string(text) + "' is not sha256:<64 lower-case hex digits> (or sha512:<128>)");
  Artifact artifact;
  std::string& digest = text.starts_with("sha256:") ? artifact.sha256 : artifact.sha512;
  digest = *hex_decode(text.substr(7));  // the pattern above allows only hex digits
  return artifact;
}

std::string Artifact::digest_text() const {
  return sha256.empty() ? "sha512:" + hex_encode(sha512) : "sha256:" + hex_encode(sha256);
}

Result<bool> identity_matches(const CertificatePolicy& policy, std::string_view san) {
  return matches(san, policy.identity, policy.identity_regexp, "certificate-identity-regexp");
}

std::string identity_pattern_warning(std::string_view pattern) {
  const auto scheme = pattern.find("://");
  const std::size_t host_start = scheme == std::string_view::npos ? 0 : scheme + 3;
  const auto host_end = pattern.find('/', host_start);
  const std::string_view host = pattern.substr(
      host_start, host_end == std::string_view::npos ? std::string_view::npos : host_end - host_start);
  for (std::size_t i = 0; i < host.size(); ++i) {
    const char c = host[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (c == '.' || c == '*' || c == '+' || c == '?' || c == '[' || c == '(' || c == '|' || c == '{')
      return "certificate-identity-regexp '" + std::string(pattern) +
             "': its host part is not a literal (escape dots as \\.) and could match other domains";
  }
  if (host_end == std::string_view::npos && scheme != std::string_view::npos)
    return "certificate-identity-regexp '" + std::string(pattern) +
           "': no '/' after the host, so the host could be followed by another domain";
  return {};
}

Result<Verified> verify_bundle(const Bundle& bundle, const Artifact& artifact, const TrustedRoot& root,
                               const Policy& policy) {
  Verified verified;
  detail::Pkey key;
  detail::Cert leaf;
  if (policy.public_key_pem) {
    if (!bundle.has_public_key) return rejected("--key given, but the bundle is signed with a certificate");
    auto parsed = detail::public_key_from_pem(*policy.public_key_pem);
    if (!parsed) return parsed.error().with("parameter key");
    key = std::move(*parsed);
    verified.signer = "key sha256:" + hex_encode(detail::sha256(detail::public_key_der(key.get())));
  } else {
    if (bundle.has_public_key)
      return rejected("the bundle is signed with a key, not a certificate: verify it with --key");
    if (policy.certificate.identity.empty() && policy.certificate.identity_regexp.empty())
      return invalid("give --certificate-identity or --certificate-identity-regexp");
    if (policy.certificate.issuer.empty() && policy.certificate.issuer_regexp.empty())
      return invalid("give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp");
    auto cert = detail::cert_from_der(bundle.certificates_der.front());
    if (!cert) return cert.error().with("signing certificate");
    leaf = std::move(*cert);
    key.reset(X509_get_pubkey(leaf.get()));
    if (!key) return rejected("signing certificate: unreadable public key");
  }
  auto content = check_signature(bundle, artifact, key.get());
  if (!content) return content.error();
  if (leaf) {
    content->certificate_der = bundle.certificates_der.front();
  } else {
    content->public_key_der = detail::public_key_der(key.get());
  }
  auto log = check_log_entries(bundle, *content, root, policy.require_tlog);
  if (!log) return log.error();
  auto stamped = check_timestamps(bundle, *content, root);
  if (!stamped) return stamped.error();
  verified.log_indexes = log->indexes;
  verified.signing_times = log->times;
  verified.signing_times.insert(verified.signing_times.end(), stamped->begin(), stamped->end());
  if (leaf) {
    if (auto ok =
            check_certificate(bundle, leaf.get(), verified.signing_times, root, policy.certificate, verified);
        !ok)
      return ok.error();
  }
  if (bundle.dsse) {
    verified.payload_type = bundle.dsse->payload_type;
    verified.payload = bundle.dsse->payload;
  }
  return verified;
}

}  // namespace ir::sigstore
