// Archives checked with the tar and gzip command-line tools.
#include "ir/evidence/archive.hpp"

#include "ir/core/json.hpp"
#include "ir/core/process.hpp"
#include "support/catch.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

TEST_CASE("a tar.gz of an evidence folder that tar lists and extracts byte for byte", "[unit][archive]") {
  const fs::path base = fs::temp_directory_path() / ("irsteps-archive-" + std::to_string(::getpid()));
  fs::remove_all(base);
  const fs::path folder = base / "INC-2026-11-26-001";
  const std::string deep = "shop/" + std::string(90, 'p') + "/logs/" + std::string(40, 'c') + ".log";
  fs::create_directories((folder / deep).parent_path());
  std::ofstream(folder / "manifest.json") << "{\"items\":[]}\n";
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 % 251);
  std::ofstream(folder / deep, std::ios::binary) << big;

  const std::string archive = (base / "evidence.tar.gz").string();
  auto sha = ir::evidence::write_tar_gz(folder.string(), archive);
  REQUIRE(sha);
  auto sum = ir::run_process({"sha256sum", archive});
  REQUIRE(sum);
  CHECK(sum->out.substr(0, 64) == *sha);
  auto listing = ir::run_process({"tar", "tzf", archive});
  REQUIRE(listing);
  CHECK(listing->exit_status == 0);
  CHECK(listing->out.find("INC-2026-11-26-001/manifest.json") != std::string::npos);
  CHECK(listing->out.find("INC-2026-11-26-001/" + deep) != std::string::npos);
  const fs::path extracted = base / "out";
  fs::create_directories(extracted);
  auto unpacked = ir::run_process({"tar", "xzf", archive, "-C", extracted.string()});
  REQUIRE(unpacked);
  CHECK(unpacked->exit_status == 0);
  CHECK(*ir::read_file((extracted / "INC-2026-11-26-001" / deep).string()) == big);
  fs::remove_all(base);
}

// Security review finding 9: an entry of 8 GiB or more overflowed the
// ustar size field (11 octal digits), so the archive was corrupt while its
// hash looked fine. The header writer's output for a 9 GiB entry is put in
// front of 9 GiB of zeros that are never written (a sparse file), and GNU tar
// and Python's tarfile must both read the exact size and the next entry.
TEST_CASE("security review finding 9: entries of 8 GiB and more, and long names, get a pax header",
          "[unit][archive]") {
  const fs::path base = fs::temp_directory_path() / ("irsteps-archive-large-" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base);
  const std::uint64_t large = (std::uint64_t{9} << 30) + 3;
  const std::string long_name =
      "INC-2026-11-26-001/" + std::string(120, 'd') + "/" + std::string(120, 'f') + ".log";
  auto first = ir::evidence::tar_header("INC-2026-11-26-001/filesystem.tar", large, 1700000000, false);
  REQUIRE(first);
  auto second = ir::evidence::tar_header(long_name, 5, 1700000000, false);
  REQUIRE(second);
  const std::string archive = (base / "large.tar").string();
  {
    const int fd = ::open(archive.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    const auto write_at = [&](std::uint64_t offset, const std::string& bytes) {
      REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) ==
              static_cast<ssize_t>(bytes.size()));
    };
    write_at(0, *first);
    std::uint64_t offset = first->size() + large + (512 - large % 512) % 512;
    write_at(offset, *second);
    offset += second->size();
    write_at(offset, std::string("hello") + std::string(507, '\0') + std::string(1024, '\0'));
    ::close(fd);
  }
  auto listing = ir::run_process({"tar", "-tvf", archive});
  REQUIRE(listing);
  INFO(listing->err);
  CHECK(listing->exit_status == 0);
  CHECK(listing->out.find(std::to_string(large) + " ") != std::string::npos);
  CHECK(listing->out.find(long_name) != std::string::npos);
  auto python = ir::run_process({"python3", "-c",
                                 "import sys, tarfile\n"
                                 "for m in tarfile.open(sys.argv[1]): print(m.name, m.size)\n",
                                 archive});
  REQUIRE(python);
  INFO(python->err);
  CHECK(python->exit_status == 0);
  CHECK(python->out ==
        "INC-2026-11-26-001/filesystem.tar " + std::to_string(large) + "\n" + long_name + " 5\n");
  // Below the limit a plain ustar header, as before.
  auto small = ir::evidence::tar_header("INC-2026-11-26-001/pod.json", 100, 1700000000, false);
  REQUIRE(small);
  CHECK(small->size() == 512);
  fs::remove_all(base);
}

TEST_CASE("the gzip stream is standard gzip", "[unit][archive]") {
  std::string compressed;
  ir::evidence::Gzip gzip([&](std::string_view bytes) -> ir::Result<void> {
    compressed.append(bytes);
    return {};
  });
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + "\n";
  REQUIRE(gzip.write(text.substr(0, 1000)));
  REQUIRE(gzip.write(text.substr(1000)));
  REQUIRE(gzip.finish());
  CHECK(compressed.size() < text.size() / 3);
  ir::ProcessOptions options;
  options.stdin_data = compressed;
  auto decompressed = ir::run_process({"gzip", "-dc"}, options);
  REQUIRE(decompressed);
  CHECK(decompressed->out == text);
}
