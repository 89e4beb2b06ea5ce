// Inclusion proofs checked against trees built here the way RFC 6962 defines
// them (MTH and PATH), and checkpoints signed here with OpenSSL.
#include "ir/sigstore/tlog.hpp"

#include "ir/core/encoding.hpp"
#include "support/catch.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <memory>

using namespace ir;
using namespace ir::sigstore;

namespace {

std::string hash_pair(const std::string& a, const std::string& b) {
  std::string buffer = "\x01" + a + b;
  std::string out(32, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(buffer.data()), buffer.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::size_t split_point(std::size_t n) {
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// RFC 6962 section 2.1: MTH(D[n]).
std::string tree_hash(const std::vector<std::string>& leaves, std::size_t begin, std::size_t end) {
  if (end - begin == 1) return merkle_leaf_hash(leaves[begin]);
  const std::size_t k = split_point(end - begin);
  return hash_pair(tree_hash(leaves, begin, begin + k), tree_hash(leaves, begin + k, end));
}

// RFC 6962 section 2.1.1: PATH(m, D[n]).
std::vector<std::string> audit_path(const std::vector<std::string>& leaves, std::size_t m, std::size_t begin,
                                    std::size_t end) {
  if (end - begin == 1) return {};
  const std::size_t k = split_point(end - begin);
  std::vector<std::string> path;
  if (m < k) {
    path = audit_path(leaves, m, begin, begin + k);
    path.push_back(tree_hash(leaves, begin + k, end));
  } else {
    path = audit_path(leaves, m - k, begin + k, end);
    path.push_back(tree_hash(leaves, begin, begin + k));
  }
  return path;
}

struct Ed25519 {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"),
                                                          &EVP_PKEY_free};
  std::string public_der() const {
    unsigned char* out = nullptr;
    const int n = i2d_PUBKEY(key.get(), &out);
    std::string der(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
    OPENSSL_free(out);
    return der;
  }
  std::string sign(std::string_view message) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    std::size_t length = 64;
    std::string signature(length, '\0');
    REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1);
    REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                           reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1);
    return signature;
  }
};

std::string note_line(const std::string& name, const std::string& hint, const std::string& signature) {
  return "\xE2\x80\x94 " + name + " " + base64_encode(hint + signature) + "\n";
}

}  // namespace

TEST_CASE("inclusion proofs verify for every leaf of trees of every size up to 17", "[unit][sigstore]") {
  std::vector<std::string> leaves;
  for (std::size_t size = 1; size <= 17; ++size) {
    leaves.push_back("leaf " + std::to_string(size));
    const std::string root = tree_hash(leaves, 0, size);
    for (std::size_t index = 0; index < size; ++index) {
      INFO("size " << size << " index " << index);
      auto path = audit_path(leaves, index, 0, size);
      const std::string leaf = merkle_leaf_hash(leaves[index]);
      const auto n = static_cast<std::int64_t>(size);
      const auto i = static_cast<std::int64_t>(index);
      CHECK(verify_inclusion(leaf, i, n, path, root));
      CHECK_FALSE(verify_inclusion(merkle_leaf_hash("other"), i, n, path, root));
      if (!path.empty()) {
        auto flipped = path;
        flipped.back()[0] = static_cast<char>(flipped.back()[0] ^ 1);
        CHECK_FALSE(verify_inclusion(leaf, i, n, flipped, root));
        auto shorter = path;
        shorter.pop_back();
        CHECK_FALSE(verify_inclusion(leaf, i, n, shorter, root));
      }
      CHECK_FALSE(verify_inclusion(leaf, n, n, path, root));
    }
  }
}

TEST_CASE("checkpoints: the log's line must verify, witness lines of unknown keys are ignored",
          "[unit][sigstore]") {
  Ed25519 log_key;
  Ed25519 witness_key;
  LogKey log;
  log.public_key_der = log_key.public_der();
  log.key_id = std::string("\x01\x02\x03\x04", 4) + std::string(28, '\x05');
  const std::string root_hash(32, '\x07');
  const std::string text = "log.example\n42\n" + base64_encode(root_hash) + "\n";
  const std::string log_line = note_line("log.example", log.key_id.substr(0, 4), log_key.sign(text));
  const std::string witness_line = note_line("witness.example", "wwww", witness_key.sign(text));

  auto parsed = parse_checkpoint(text + "\n" + witness_line + log_line);
  REQUIRE(parsed);
  CHECK(parsed->origin == "log.example");
  CHECK(parsed->size == 42);
  CHECK(parsed->root_hash == root_hash);
  CHECK(verify_checkpoint(*parsed, log));

  auto witness_only = parse_checkpoint(text + "\n" + witness_line);
  REQUIRE(witness_only);
  CHECK_FALSE(verify_checkpoint(*witness_only, log));

  // The log's hint on a signature by another key.
  auto forged = parse_checkpoint(text + "\n" +
                                 note_line("log.example", log.key_id.substr(0, 4), witness_key.sign(text)));
  REQUIRE(forged);
  CHECK_FALSE(verify_checkpoint(*forged, log));

  // A changed tree size is no longer what the log signed.
  auto altered = parse_checkpoint("log.example\n43\n" + base64_encode(root_hash) + "\n\n" + log_line);
  REQUIRE(altered);
  CHECK_FALSE(verify_checkpoint(*altered, log));

  CHECK_FALSE(parse_checkpoint(text + "\n"));                                            // no signature
  CHECK_FALSE(parse_checkpoint("42\n" + base64_encode(root_hash) + "\n\n" + log_line));  // no origin
  CHECK_FALSE(parse_checkpoint("log.example\n42\n\n" + log_line));                       // no root hash
}

TEST_CASE("the Signed Entry Timestamp covers the RFC 8785 form of body, time, log id and index",
          "[unit][sigstore]") {
  TlogEntry entry;
  entry.body = R"({"kind":"hashedrekord"})";
  entry.integrated_time = 1689177396;
  entry.log_id = std::string("\xc0\xd2", 2);
  entry.log_index = 27246492;
  CHECK(set_payload(entry) ==
        "{\"body\":\"" + base64_encode(entry.body) +
            "\",\"integratedTime\":1689177396,\"logID\":\"c0d2\",\"logIndex\":27246492}");
}
