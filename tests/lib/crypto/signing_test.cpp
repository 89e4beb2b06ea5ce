// Signatures checked both ways against the openssl command line, which
// nobody on this project wrote.
#include "ir/crypto/signing.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"
#include "ir/core/process.hpp"
#include "support/catch.hpp"

#include <filesystem>

namespace fs = std::filesystem;

namespace {
struct Keys {
  fs::path dir = fs::temp_directory_path() / ("irsteps-sign-" + std::to_string(::getpid()));
  ir::Secret private_pem;
  std::string public_pem;
  Keys() {
    fs::create_directories(dir);
    auto generated =
        ir::run_process({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"});
    REQUIRE(generated);
    REQUIRE(generated->exit_status == 0);
    private_pem = ir::Secret(generated->out);
    public_pem = *ir::crypto::public_key_of(private_pem);
  }
  ~Keys() { fs::remove_all(dir); }
  std::string write(const std::string& name, std::string_view content) const {
    REQUIRE(ir::write_file_atomic((dir / name).string(), content));
    return (dir / name).string();
  }
};
}  // namespace

TEST_CASE("a signature made here verifies with openssl, and one made by openssl verifies here",
          "[unit][signing]") {
  Keys keys;
  const std::string blob = "{\"items\":[]}\n";
  auto signature = ir::crypto::sign_blob(blob, keys.private_pem);
  REQUIRE(signature);
  REQUIRE(ir::crypto::verify_blob(blob, *signature, keys.public_pem));

  const auto blob_file = keys.write("manifest.json", blob);
  const auto der_file = keys.write("sig.der", *ir::base64_decode(*signature));
  const auto pub_file = keys.write("key.pub", keys.public_pem);
  auto checked =
      ir::run_process({"openssl", "dgst", "-sha256", "-verify", pub_file, "-signature", der_file, blob_file});
  REQUIRE(checked);
  CHECK(checked->exit_status == 0);

  const auto key_file = keys.write("key.pem", keys.private_pem.reveal());
  auto theirs = ir::run_process({"openssl", "dgst", "-sha256", "-sign", key_file, blob_file});
  REQUIRE(theirs);
  CHECK(ir::crypto::verify_blob(blob, ir::base64_encode(theirs->out), keys.public_pem));
}

TEST_CASE("a changed byte or another key is rejected", "[unit][signing]") {
  Keys keys;
  Keys other;
  auto signature = ir::crypto::sign_blob("evidence", keys.private_pem);
  REQUIRE(signature);
  auto changed = ir::crypto::verify_blob("evidencE", *signature, keys.public_pem);
  REQUIRE_FALSE(changed);
  CHECK(changed.error().code() == ir::Code::rejected);
  CHECK_FALSE(ir::crypto::verify_blob("evidence", *signature, other.public_pem));
  CHECK_FALSE(ir::crypto::verify_blob("evidence", "not base64!", keys.public_pem));
  auto bad_key = ir::crypto::sign_blob("x", ir::Secret("-----BEGIN NOTHING-----"));
  REQUIRE_FALSE(bad_key);
  CHECK(bad_key.error().code() == ir::Code::invalid_input);
  CHECK(bad_key.error().describe().find("BEGIN") == std::string::npos);
}
