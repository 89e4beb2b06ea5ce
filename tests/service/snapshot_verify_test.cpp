// snapshot verify DIR --key PUB, the built binary, against a manifest.json
// that is a named pipe handing out one manifest to the first reader and
// another to the second: a folder swapped between two reads, made
// deterministic. No service is needed; the test lives here because the
// command-line tests of binaries that need no cluster do.
#include "ir/core/encoding.hpp"
#include "ir/core/process.hpp"
#include "ir/crypto/signing.hpp"
#include "ir/evidence/folder.hpp"
#include "support/catch.hpp"
#include "support/git_server.hpp"
#include "support/step_runner.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

using namespace ir;
using namespace ir::test;
namespace fs = std::filesystem;

namespace {

// An evidence folder holding pod.json with `content`; its manifest's text.
std::string capture(const std::string& dir, const std::string& content) {
  auto folder = evidence::Folder::open(dir, {});
  REQUIRE(folder);
  auto writer = folder->begin("pod.json", "test");
  REQUIRE(writer);
  REQUIRE(writer->write(content));
  REQUIRE(writer->commit());
  auto text = read_file(dir + "/manifest.json");
  REQUIRE(text);
  return *text;
}

// Hands `texts` out through the named pipe `fifo`, one to each reader that
// opens it, giving up on a reader that does not come within two seconds.
void serve_fifo(const std::string& fifo, std::vector<std::string> texts) {
  for (const auto& text : texts) {
    int fd = -1;
    for (int waited = 0; fd < 0 && waited < 200; ++waited) {
      fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (fd < 0) return;
    ::fcntl(fd, F_SETFL, 0);
    std::string_view rest = text;
    while (!rest.empty()) {
      const ssize_t n = ::write(fd, rest.data(), rest.size());
      if (n <= 0) break;
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    ::close(fd);
    // Let this reader see the end of its text before the next one opens.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

}  // namespace

// Security review finding 18: verify --key hashed the items of one read of
// manifest.json and checked the signature over a second read. A manifest
// that matches changed evidence, then the genuine signed one, was
// "verified".
TEST_CASE(
    "security review finding 18: snapshot verify --key checks the signature over the bytes it re-hashes",
    "[service][snapshot]") {
  TempDir dir;
  REQUIRE(run_process({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                       "-out", dir / "key.pem"}));
  REQUIRE(run_process({"openssl", "pkey", "-in", dir / "key.pem", "-pubout", "-out", dir / "key.pub"}));
  auto private_key = read_file(dir / "key.pem");
  REQUIRE(private_key);

  // The genuine capture, signed; then the evidence changed, with a manifest
  // that matches the change (unsigned: the attacker has no key).
  const std::string evidence = dir / "evidence";
  const std::string genuine = capture(evidence, "the pod as captured");
  auto signature = crypto::sign_blob(genuine, Secret(*private_key));
  REQUIRE(signature);
  fs::remove_all(evidence);
  const std::string forged = capture(evidence, "the pod as an attacker wants it");
  REQUIRE(write_file_atomic(evidence + "/manifest.json.sig", *signature));

  // Sanity: as files, the forged manifest fails the signature.
  const auto plain = run_step_binary("snapshot", {"verify", evidence, "--key", dir / "key.pub"});
  REQUIRE_EXIT(plain, 3);

  fs::remove(evidence + "/manifest.json");
  REQUIRE(::mkfifo((evidence + "/manifest.json").c_str(), 0600) == 0);
  std::jthread pipe(serve_fifo, evidence + "/manifest.json", std::vector<std::string>{forged, genuine});
  const auto run = run_step_binary("snapshot", {"verify", evidence, "--key", dir / "key.pub"});
  REQUIRE_EXIT(run, 3);
  CHECK(run.output("verified") != "true");
  CHECK(run.err.find("signature of") != std::string::npos);
}
