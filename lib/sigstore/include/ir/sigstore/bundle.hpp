// Sigstore bundles (protobuf-specs dev.sigstore.bundle.v1.Bundle in its JSON
// form), versions 0.1, 0.2 and 0.3 under both media-type spellings:
// application/vnd.dev.sigstore.bundle+json;version=0.x and
// application/vnd.dev.sigstore.bundle.v0.3+json. Parsing only checks shape;
// ir::sigstore::verify_bundle decides whether anything in it is true.
#pragma once

#include "ir/core/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ir::sigstore {

struct InclusionProof {
  std::int64_t log_index = 0;
  std::int64_t tree_size = 0;
  std::string root_hash;            // raw bytes
  std::vector<std::string> hashes;  // raw bytes, leaf to root
  std::string checkpoint;           // signed note text; empty when absent
};

struct TlogEntry {
  std::int64_t log_index = 0;
  std::string log_id;  // raw bytes
  std::string kind;
  std::string version;
  std::int64_t integrated_time = 0;    // 0: none (Rekor v2)
  std::string signed_entry_timestamp;  // raw bytes; empty: no inclusion promise
  std::optional<InclusionProof> proof;
  std::string body;  // the canonicalized body, decoded
};

struct MessageSignature {
  std::string digest_algorithm;  // "SHA2_256"; empty when the bundle has no digest
  std::string digest;            // raw bytes
  std::string signature;         // raw bytes
};

struct DsseEnvelope {
  std::string payload_type;
  std::string payload;                  // decoded
  std::vector<std::string> signatures;  // raw bytes
};

struct Bundle {
  std::string media_type;
  int minor_version = 0;  // 1, 2 or 3
  // The signing certificate first; v0.1/v0.2 may carry more of the chain.
  std::vector<std::string> certificates_der;
  bool has_public_key = false;  // signed with a key; verificationMaterial.publicKey.hint
  std::string public_key_hint;
  std::vector<TlogEntry> tlog_entries;
  std::vector<std::string> rfc3161_timestamps;  // DER TimeStampResp
  std::optional<MessageSignature> message_signature;
  std::optional<DsseEnvelope> dsse;
};

// Code::rejected for anything malformed: the bundle is the thing on trial.
[[nodiscard]] Result<Bundle> parse_bundle(std::string_view text);

// DSSE's pre-authentication encoding: "DSSEv1 <len> <type> <len> <payload>".
[[nodiscard]] std::string dsse_pae(std::string_view payload_type, std::string_view payload);

}  // namespace ir::sigstore
