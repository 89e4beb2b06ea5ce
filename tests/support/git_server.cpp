#include "support/git_server.hpp"

#include "ir/core/json.hpp"
#include "ir/core/process.hpp"
#include "support/catch.hpp"

#include <signal.h>

#include <cstdlib>
#include <fstream>

#ifndef IRSTEPS_SOURCE_DIR
#error "IRSTEPS_SOURCE_DIR must point at the source tree"
#endif

namespace ir::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "irsteps-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) FAIL("mkdtemp failed");
  path_ = pattern;
}

std::string TempDir::file(const std::string& name, const std::string& content) const {
  const std::string path = *this / name;
  if (!write_file_atomic(path, content)) FAIL("cannot write " << path);
  return path;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

GitResult run_git(const std::string& dir, const std::vector<std::string>& args, bool may_fail) {
  std::vector<std::string> argv{"git", "-C", dir};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.extra_env = {{"GIT_AUTHOR_NAME", "Test Author"},    {"GIT_AUTHOR_EMAIL", "author@example.test"},
                       {"GIT_COMMITTER_NAME", "Test Author"}, {"GIT_COMMITTER_EMAIL", "author@example.test"},
                       {"GIT_CONFIG_NOSYSTEM", "1"},          {"HOME", dir},
                       {"GIT_TERMINAL_PROMPT", "0"}};
  auto out = run_process(argv, options);
  if (!out) FAIL("git: " << out.error().describe());
  if (!may_fail && out->exit_status != 0) {
    std::string line;
    for (const auto& a : args) line += " " + a;
    FAIL("git" << line << " failed: " << out->err);
  }
  return {out->exit_status, out->out, out->err};
}

void make_bare_repo(const std::string& path, const std::vector<std::pair<std::string, std::string>>& files,
                    const std::string& branch) {
  fs::create_directories(path);
  run_git(path, {"init", "-q", "--bare", "-b", branch});
  if (files.empty()) return;
  const std::string work = path + ".work";
  run_git(fs::path(path).parent_path().string(), {"clone", "-q", path, work});
  for (const auto& [name, content] : files) {
    fs::create_directories(fs::path(work + "/" + name).parent_path());
    REQUIRE(write_file_atomic(work + "/" + name, content));
  }
  run_git(work, {"add", "-A"});
  run_git(work, {"commit", "-q", "-m", "initial files"});
  run_git(work, {"push", "-q", "origin", "HEAD:refs/heads/" + branch});
  fs::remove_all(work);
}

GitHttpServer::GitHttpServer(std::string root, GitHttpOptions options)
    : root_(std::move(root)), options_(std::move(options)), log_file_(root_ + "/.requests.log") {
  std::vector<std::string> argv{"/usr/bin/python3",
                                std::string(IRSTEPS_SOURCE_DIR) + "/tests/support/git-http-server.py", root_,
                                "--log", log_file_};
  if (!options_.token_file.empty()) argv.insert(argv.end(), {"--token-file", options_.token_file});
  if (options_.port != 0) argv.insert(argv.end(), {"--port", std::to_string(options_.port)});
  if (!options_.cert_file.empty())
    argv.insert(argv.end(), {"--cert", options_.cert_file, "--key", options_.key_file});
  process_ = std::make_unique<Spawned>(argv);
  std::string line_seen;
  const bool up = process_->wait_for_line([&](const std::string& line) {
    if (line.rfind("listening on ", 0) != 0) return false;
    line_seen = line;
    return true;
  });
  if (!up) FAIL("git http server did not start: " << process_->finish().err);
  port_ = std::stoi(line_seen.substr(13));
}

GitHttpServer::~GitHttpServer() {
  stop();
}

void GitHttpServer::stop() {
  if (!process_) return;
  ::kill(process_->pid(), SIGTERM);
  process_->finish();
  process_.reset();
}

std::string GitHttpServer::url(const std::string& repo) const {
  // libgit2's TLS (mbedTLS) matches DNS names only, never IP addresses: the
  // HTTPS server is reached by the name its certificate carries.
  return std::string(options_.cert_file.empty() ? "http://127.0.0.1:" : "https://localhost:") +
         std::to_string(port_) + "/" + repo;
}

std::string GitHttpServer::request_log() const {
  auto text = read_file(log_file_);
  return text ? *text : std::string();
}

}  // namespace ir::test
