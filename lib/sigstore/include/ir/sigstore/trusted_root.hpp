// Sigstore's trust material (trusted_root.json, media type
// application/vnd.dev.sigstore.trustedroot+json;version=0.1): the
// transparency logs' and CT logs' keys, the certificate authorities (Fulcio)
// and the timestamp authorities, each with the time range it is trusted for.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/time.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// OpenSSL's EVP_PKEY and X509, without its headers.
struct evp_pkey_st;
struct x509_st;

namespace ir::sigstore {

// A closed interval; no end means still valid.
struct TimeRange {
  TimePoint start;
  std::optional<TimePoint> end;
  [[nodiscard]] bool contains(TimePoint t) const { return t >= start && (!end || t <= *end); }
};

struct LogKey {
  std::string base_url;
  std::string key_id;          // raw bytes (logId.keyId)
  std::string public_key_der;  // SubjectPublicKeyInfo (or PKCS#1 for old RSA CT keys)
  std::string key_details;     // PKIX_ECDSA_P256_SHA_256, PKIX_ED25519, ...
  TimeRange valid_for;
  // The key decoded once, when the root is read: decoding is most of what
  // verification costs with OpenSSL 3.0, and a root verifies many bundles.
  std::shared_ptr<evp_pkey_st> key;
};

struct Authority {
  std::string uri;
  std::vector<std::string> chain_der;           // leaf (or intermediate) first, root last
  std::vector<std::shared_ptr<x509_st>> chain;  // the same, decoded once
  TimeRange valid_for;
};

struct TrustedRoot {
  std::vector<LogKey> tlogs;
  std::vector<LogKey> ctlogs;
  std::vector<Authority> certificate_authorities;
  std::vector<Authority> timestamp_authorities;

  [[nodiscard]] const LogKey* tlog(std::string_view key_id) const;
  [[nodiscard]] const LogKey* ctlog(std::string_view key_id) const;
};

// A malformed root (missing validity start, bad key bytes) is invalid input
// naming the field: a root is never half-trusted.
[[nodiscard]] Result<TrustedRoot> parse_trusted_root(std::string_view text, std::string_view what);
[[nodiscard]] Result<TrustedRoot> load_trusted_root(const std::string& path);

// The Sigstore public-good root compiled in from trust/trusted_root.json
// (README: "Refreshing the Sigstore trusted root"); the default, so that
// verification needs no network.
[[nodiscard]] std::string_view public_good_trusted_root();

}  // namespace ir::sigstore
