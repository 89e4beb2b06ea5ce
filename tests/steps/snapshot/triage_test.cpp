// The commands snapshot runs in a pod, as argv: what reaches tar and find.
#include "snapshot.hpp"

#include "support/catch.hpp"

#include <boost/json.hpp>

using namespace ir;
using namespace ir::steps::snapshot;

namespace {

Result<Options> options_with(const std::vector<std::string>& paths, const std::string& parameter = "paths") {
  boost::json::array list;
  for (const auto& path : paths) list.emplace_back(boost::json::string(path));
  boost::json::object params{{"incident-id", "INC-2026-11-26-001"},
                             {"namespace", "shop"},
                             {"pod", boost::json::array{"web-1"}},
                             {"filesystem", true}};
  params[parameter] = std::move(list);
  return options_from(params);
}

}  // namespace

// Security review finding 21: the leading '/' of each --paths entry was
// stripped and the rest handed to tar, so `/--checkpoint-action=exec=...`
// became an option of tar, run as the pod's user in the pod.
TEST_CASE("security review finding 21: a path that looks like an option reaches tar as a path",
          "[unit][snapshot]") {
  auto options = options_with({"/--checkpoint-action=exec=sh -c id", "/etc/nginx", "/"});
  REQUIRE(options);
  CHECK(tar_command(*options, "/") == std::vector<std::string>{"tar", "cf", "-", "-C", "/", "--",
                                                               "./--checkpoint-action=exec=sh -c id",
                                                               "./etc/nginx", "."});
  CHECK(tar_command(*options, "/proc/42/root")[4] == "/proc/42/root");
  // The whole root: the exclusions are options, the root after `--`.
  auto whole = options_with({});
  REQUIRE(whole);
  const auto command = tar_command(*whole, "/");
  REQUIRE(command.size() >= 2);
  CHECK(command[command.size() - 2] == "--");
  CHECK(command.back() == ".");
}

TEST_CASE("security review finding 21: pod paths are absolute, on one line, and never climb with ..",
          "[unit][snapshot]") {
  for (const std::string parameter : {"paths", "modified-paths"}) {
    for (const std::string& bad :
         {std::string("etc/passwd"), std::string("/etc/\npasswd"), std::string("/etc\0x", 6),
          std::string("/../../etc"), std::string("/var/.."), std::string("/a/../b")}) {
      INFO(parameter << " " << bad);
      auto options = options_with({bad}, parameter);
      REQUIRE_FALSE(options);
      CHECK(options.error().code() == Code::invalid_input);
      CHECK(options.error().message().find("parameter " + parameter) != std::string::npos);
    }
    CHECK(options_with({"/var/..data/x", "/.hidden", "/a/b/"}, parameter));
  }
}
