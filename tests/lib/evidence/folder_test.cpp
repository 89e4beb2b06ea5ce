#include "ir/evidence/folder.hpp"

#include "ir/core/encoding.hpp"
#include "support/catch.hpp"

#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace ir::evidence;

namespace {

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string file_text(const fs::path& path) {
  return *ir::read_file(path.string());
}

}  // namespace

TEST_CASE("items are hashed as they stream and listed once committed", "[unit][evidence]") {
  TempDir dir("evidence");
  auto folder = Folder::open(dir.path.string(), {{"collector", "test"}});
  REQUIRE(folder);
  auto writer = folder->begin("logs/app.log", "GET /api/v1/namespaces/shop/pods/web/log", {"uid-1", "42"});
  REQUIRE(writer);
  REQUIRE(writer->write("line one\n"));
  REQUIRE(writer->write("line two\n"));
  auto item = writer->commit();
  REQUIRE(item);
  CHECK(item->sha256 == ir::sha256_hex("line one\nline two\n"));
  CHECK(item->size == 18);
  CHECK(file_text(dir.path / "logs/app.log") == "line one\nline two\n");
  REQUIRE(folder->record_failure("triage/ps.txt", "exec ps aux", "no ps and no shell in the image"));

  const auto manifest = ir::parse_json(file_text(dir.path / "manifest.json"), "manifest");
  REQUIRE(manifest);
  CHECK(ir::string_at(*manifest, {"collector"}) == "test");
  const auto& items = manifest->at("items").as_array();
  REQUIRE(items.size() == 2);
  CHECK(ir::string_at(items[0], {"objectUid"}) == "uid-1");
  CHECK(ir::string_at(items[0], {"resourceVersion"}) == "42");
  CHECK(ir::string_at(items[1], {"status"}) == "failed");
  CHECK(folder->manifest_sha256() == ir::sha256_hex(file_text(dir.path / "manifest.json")));
  CHECK(*verify_folder(dir.path.string()) == folder->manifest_sha256());
}

TEST_CASE("an abandoned item leaves no file and no entry", "[unit][evidence]") {
  TempDir dir("evidence-abandon");
  auto folder = Folder::open(dir.path.string(), {});
  REQUIRE(folder);
  {
    auto writer = folder->begin("fs.tar", "exec tar");
    REQUIRE(writer);
    REQUIRE(writer->write("half a tarball"));
  }
  CHECK(folder->items().empty());
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);  // the manifest
}

TEST_CASE("partial items say so and why", "[unit][evidence]") {
  TempDir dir("evidence-partial");
  auto folder = Folder::open(dir.path.string(), {});
  auto writer = folder->begin("fs.tar", "exec tar");
  REQUIRE(writer->write("first 10MB"));
  auto item = writer->commit(ItemStatus::partial, "stopped at --max-bytes 10MB");
  REQUIRE(item);
  CHECK(folder->manifest().at("items").at(0).at("status") == "partial");
  CHECK_FALSE(folder->has_complete("fs.tar"));
}

// Security review finding 18: snapshot verify --key checked the signature
// over one read of manifest.json and re-hashed the items of another.
// verify_manifest works on the bytes it is given, whatever is on disk now.
TEST_CASE("security review finding 18: verification re-hashes the items of the manifest bytes it was given",
          "[unit][evidence]") {
  TempDir dir("evidence-verify-bytes");
  std::string signed_manifest;
  {
    auto folder = Folder::open(dir.path.string(), {});
    auto writer = folder->begin("pod.json", "test");
    REQUIRE(writer->write("the pod as captured"));
    REQUIRE(writer->commit());
    signed_manifest = *ir::read_file((dir.path / "manifest.json").string());
    CHECK(*verify_manifest(dir.path.string(), signed_manifest) == ir::sha256_hex(signed_manifest));
  }
  // The evidence is changed and a manifest that matches it put on disk.
  fs::remove_all(dir.path);
  {
    auto folder = Folder::open(dir.path.string(), {});
    auto writer = folder->begin("pod.json", "test");
    REQUIRE(writer->write("the pod as an attacker wants it"));
    REQUIRE(writer->commit());
  }
  REQUIRE(verify_folder(dir.path.string()));
  auto verified = verify_manifest(dir.path.string(), signed_manifest);
  REQUIRE_FALSE(verified);
  CHECK(verified.error().code() == ir::Code::rejected);
  CHECK(verified.error().describe().find("pod.json: content differs") != std::string::npos);
}

TEST_CASE("verification catches a changed byte and a missing file", "[unit][evidence]") {
  TempDir dir("evidence-verify");
  auto folder = Folder::open(dir.path.string(), {});
  for (const char* name : {"a.txt", "b.txt"}) {
    auto writer = folder->begin(name, "test");
    REQUIRE(writer->write(std::string("content of ") + name));
    REQUIRE(writer->commit());
  }
  REQUIRE(verify_folder(dir.path.string()));
  std::ofstream(dir.path / "a.txt", std::ios::binary) << "content of a.tyt";
  fs::remove(dir.path / "b.txt");
  auto verified = verify_folder(dir.path.string());
  REQUIRE_FALSE(verified);
  CHECK(verified.error().code() == ir::Code::rejected);
  CHECK(verified.error().describe().find("a.txt: content differs") != std::string::npos);
  CHECK(verified.error().describe().find("b.txt: missing") != std::string::npos);
}

TEST_CASE("item paths stay inside the folder", "[unit][evidence]") {
  TempDir dir("evidence-paths");
  auto folder = Folder::open(dir.path.string(), {});
  CHECK_FALSE(folder->begin("../escape", "x"));
  CHECK_FALSE(folder->begin("/etc/passwd", "x"));
  CHECK_FALSE(folder->begin("manifest.json", "x"));
}

TEST_CASE("a process killed mid-item leaves a manifest of exactly the complete items", "[unit][evidence]") {
  TempDir dir("evidence-kill");
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  if (child == 0) {
    auto folder = Folder::open(dir.path.string(), {});
    auto done = folder->begin("done.txt", "test");
    (void)done->write("finished");
    (void)done->commit();
    auto big = folder->begin("big.bin", "test");
    const std::string block(1 << 20, 'x');
    for (int i = 0; i < 8; ++i) (void)big->write(block);
    (void)::write(ready[1], "r", 1);
    for (;;) (void)big->write(block), ::usleep(1000);
  }
  char signal_byte = 0;
  REQUIRE(::read(ready[0], &signal_byte, 1) == 1);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(ready[0]);
  ::close(ready[1]);

  auto manifest = ir::parse_json(file_text(dir.path / "manifest.json"), "manifest");
  REQUIRE(manifest);
  const auto& items = manifest->at("items").as_array();
  REQUIRE(items.size() == 1);
  CHECK(ir::string_at(items[0], {"path"}) == "done.txt");
  CHECK_FALSE(fs::exists(dir.path / "big.bin"));
  REQUIRE(verify_folder(dir.path.string()));

  // The re-run: the leftover temporary goes, the complete item is known, the
  // capture completes.
  auto reopened = Folder::open(dir.path.string(), {});
  REQUIRE(reopened);
  CHECK(reopened->has_complete("done.txt"));
  CHECK_FALSE(reopened->has_complete("big.bin"));
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    CHECK(entry.path().filename().string().find(".partial-") == std::string::npos);
  }
  auto big = reopened->begin("big.bin", "test");
  REQUIRE(big->write("all of it"));
  REQUIRE(big->commit());
  CHECK(reopened->items().size() == 2);
  REQUIRE(verify_folder(dir.path.string()));
}
