#include "ir/sigstore/tlog.hpp"

#include "ir/core/encoding.hpp"
#include "ir/sigstore/canonical_json.hpp"
#include "pkix.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace ir::sigstore {
namespace {

Error rejected(std::string message) {
  return Error(Code::rejected, std::move(message));
}

std::string node_hash(std::string_view left, std::string_view right) {
  std::string buffer(1, '\x01');
  buffer += left;
  buffer += right;
  return detail::sha256(buffer);
}

// The C2SP signed-note signature line prefix: an em dash and a space.
constexpr std::string_view signature_prefix = "\xE2\x80\x94 ";

}  // namespace

std::string merkle_leaf_hash(std::string_view leaf) {
  std::string buffer(1, '\0');
  buffer += leaf;
  return detail::sha256(buffer);
}

Result<void> verify_inclusion(std::string_view leaf_hash, std::int64_t index, std::int64_t size,
                              const std::vector<std::string>& proof, std::string_view root) {
  if (index < 0 || size <= 0 || index >= size)
    return rejected("inclusion proof: index " + std::to_string(index) + " outside a tree of size " +
                    std::to_string(size));
  auto fn = static_cast<std::uint64_t>(index);
  auto sn = static_cast<std::uint64_t>(size - 1);
  std::string hash(leaf_hash);
  for (const auto& p : proof) {
    if (p.size() != 32) return rejected("inclusion proof: a hash is not 32 bytes");
    if (sn == 0) return rejected("inclusion proof: longer than the tree is deep");
    if ((fn & 1) == 1 || fn == sn) {
      hash = node_hash(p, hash);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      hash = node_hash(hash, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return rejected("inclusion proof: shorter than the tree is deep");
  if (hash != root) return rejected("inclusion proof: the computed root hash differs from the proof's root");
  return {};
}

Result<Checkpoint> parse_checkpoint(std::string_view note) {
  const auto split = note.find("\n\n");
  if (split == std::string_view::npos) return rejected("checkpoint: no blank line before the signatures");
  Checkpoint checkpoint;
  checkpoint.text = std::string(note.substr(0, split + 1));
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos < checkpoint.text.size();) {
    const auto end = checkpoint.text.find('\n', pos);
    lines.emplace_back(checkpoint.text.data() + pos, end - pos);
    pos = end + 1;
  }
  if (lines.size() < 3) return rejected("checkpoint: needs origin, tree size and root hash lines");
  checkpoint.origin = std::string(lines[0]);
  if (checkpoint.origin.empty()) return rejected("checkpoint: empty origin");
  const auto size_line = lines[1];
  const auto [end, ec] =
      std::from_chars(size_line.data(), size_line.data() + size_line.size(), checkpoint.size);
  if (ec != std::errc() || end != size_line.data() + size_line.size() || checkpoint.size < 0)
    return rejected("checkpoint: the second line is not a tree size");
  auto root = base64_decode(lines[2]);
  if (!root || root->size() != 32)
    return rejected("checkpoint: the third line is not a base64 SHA-256 root hash");
  checkpoint.root_hash = std::move(*root);
  std::string_view rest = note.substr(split + 2);
  while (!rest.empty()) {
    const auto eol = rest.find('\n');
    if (eol == std::string_view::npos) return rejected("checkpoint: a signature line has no newline");
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 1);
    if (line.substr(0, signature_prefix.size()) != signature_prefix)
      return rejected("checkpoint: a signature line does not start with an em dash");
    line.remove_prefix(signature_prefix.size());
    const auto space = line.rfind(' ');
    if (space == std::string_view::npos || space == 0)
      return rejected("checkpoint: malformed signature line");
    auto bytes = base64_decode(line.substr(space + 1));
    if (!bytes || bytes->size() < 5) return rejected("checkpoint: a signature is not base64");
    checkpoint.signatures.push_back(
        {std::string(line.substr(0, space)), bytes->substr(0, 4), bytes->substr(4)});
  }
  if (checkpoint.signatures.empty()) return rejected("checkpoint: no signature");
  return checkpoint;
}

Result<void> verify_checkpoint(const Checkpoint& checkpoint, const LogKey& log) {
  auto key = detail::key_of(log);
  if (!key) return key.error();
  const std::string hint = log.key_id.substr(0, 4);
  for (const auto& signature : checkpoint.signatures) {
    if (signature.key_hint != hint) continue;
    if (detail::verify_message(key->get(), checkpoint.text, signature.signature)) return {};
    return rejected("checkpoint: the log's signature does not verify");
  }
  return rejected("checkpoint: no signature by the log's key (key hint " + hex_encode(hint) + ")");
}

std::string set_payload(const TlogEntry& entry) {
  json::object payload;
  payload["body"] = base64_encode(entry.body);
  payload["integratedTime"] = entry.integrated_time;
  payload["logID"] = hex_encode(entry.log_id);
  payload["logIndex"] = entry.log_index;
  return canonical_json(payload);
}

Result<LogCheck> verify_log_entry(const TlogEntry& entry, const TrustedRoot& root) {
  const LogKey* log = root.tlog(entry.log_id);
  if (log == nullptr)
    return rejected("the entry's log (id " + base64_encode(entry.log_id) + ") is not in the trusted root");
  auto key = detail::key_of(*log);
  if (!key) return key.error();
  LogCheck check;
  if (!entry.signed_entry_timestamp.empty()) {
    if (entry.integrated_time <= 0) return rejected("inclusion promise without an integrated time");
    if (!detail::verify_message(key->get(), set_payload(entry), entry.signed_entry_timestamp))
      return rejected("signed entry timestamp: the log's signature does not verify");
    check.promise_verified = true;
  }
  if (entry.integrated_time > 0 &&
      !log->valid_for.contains(Clock::from_time_t(static_cast<std::time_t>(entry.integrated_time))))
    return rejected("the integrated time is outside the log key's validity in the trusted root");
  if (entry.proof) {
    const auto& proof = *entry.proof;
    if (auto ok = verify_inclusion(merkle_leaf_hash(entry.body), proof.log_index, proof.tree_size,
                                   proof.hashes, proof.root_hash);
        !ok)
      return ok.error();
    if (proof.checkpoint.empty()) return rejected("inclusion proof without a checkpoint");
    auto checkpoint = parse_checkpoint(proof.checkpoint);
    if (!checkpoint) return checkpoint.error();
    if (auto ok = verify_checkpoint(*checkpoint, *log); !ok) return ok.error();
    if (checkpoint->root_hash != proof.root_hash || checkpoint->size != proof.tree_size)
      return rejected("checkpoint: its tree size and root hash are not the inclusion proof's");
    check.proof_verified = true;
  }
  return check;
}

}  // namespace ir::sigstore
