// The transparency-log checks of a bundle's entry: Rekor v1's Signed Entry
// Timestamp (the log's signature over the RFC 8785 form of body,
// integratedTime, logID and logIndex), the RFC 6962 inclusion proof, and the
// checkpoint (a C2SP signed note) that signs the proof's root. What the entry
// says (its body) is matched against the bundle in verify.cpp.
#pragma once

#include "ir/core/error.hpp"
#include "ir/sigstore/bundle.hpp"
#include "ir/sigstore/trusted_root.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ir::sigstore {

// SHA-256(0x00 || leaf), RFC 6962's leaf hash.
[[nodiscard]] std::string merkle_leaf_hash(std::string_view leaf);
// RFC 9162 section 2.1.3.2; Code::rejected when the proof does not lead to `root`.
[[nodiscard]] Result<void> verify_inclusion(std::string_view leaf_hash, std::int64_t index, std::int64_t size,
                                            const std::vector<std::string>& proof, std::string_view root);

struct NoteSignature {
  std::string name;
  std::string key_hint;   // 4 bytes
  std::string signature;  // the rest
};

struct Checkpoint {
  std::string origin;
  std::int64_t size = 0;
  std::string root_hash;  // raw bytes
  std::string text;       // the signed part: every body line with its newline
  std::vector<NoteSignature> signatures;
};

[[nodiscard]] Result<Checkpoint> parse_checkpoint(std::string_view note);
// One signature line must carry the log's key hint (the first four bytes of
// its log id) and verify under its key; lines of unknown keys (witness
// cosignatures) are ignored.
[[nodiscard]] Result<void> verify_checkpoint(const Checkpoint& checkpoint, const LogKey& log);

// The bytes Rekor v1 signs for an entry's Signed Entry Timestamp.
[[nodiscard]] std::string set_payload(const TlogEntry& entry);

struct LogCheck {
  bool promise_verified = false;  // the SET, so integratedTime is the log's word
  bool proof_verified = false;
};

// The entry's SET and inclusion proof (with its checkpoint) against the log
// of the trusted root that has the entry's log id. A present proof or SET
// that does not verify is a rejection; which of them are required is the
// caller's decision.
[[nodiscard]] Result<LogCheck> verify_log_entry(const TlogEntry& entry, const TrustedRoot& root);

}  // namespace ir::sigstore
