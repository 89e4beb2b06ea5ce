// Archives checked with the tar and gzip command-line tools.
#include "ir/evidence/archive.hpp"

#include "ir/core/json.hpp"
#include "ir/core/process.hpp"
#include "support/catch.hpp"

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
