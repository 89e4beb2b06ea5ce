// Real git for the tests: repositories made with the `git` command, git's
// smart HTTP protocol served on 127.0.0.1 by `git http-backend` (through
// tests/support/git-http-server.py, a small CGI host), and git over SSH
// served by a real OpenSSH server (Debian's sshd) on 127.0.0.1.
#pragma once

#include "support/spawn.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace ir::test {

// A fresh folder under the system's temp dir, removed at the end.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  [[nodiscard]] std::string path(const std::string& name) const { return *this / name; }
  // Writes `content` to NAME in the folder and returns its path.
  [[nodiscard]] std::string file(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

struct GitResult {
  int exit_status = -1;
  std::string out;
  std::string err;
};

// Runs `git ARGS` in `dir` with a fixed identity; FAILs the test if git fails
// unless `may_fail`.
GitResult run_git(const std::string& dir, const std::vector<std::string>& args, bool may_fail = false);

// A bare repository at `path`, with `files` committed on `branch` when given.
void make_bare_repo(const std::string& path,
                    const std::vector<std::pair<std::string, std::string>>& files = {},
                    const std::string& branch = "main");

struct GitHttpOptions {
  std::string token_file;  // require HTTP Basic auth with this token
  std::string cert_file;   // serve HTTPS
  std::string key_file;
  int port = 0;           // 0: any free port
  std::string negotiate;  // "also" or "only": offer Negotiate beside Basic, or alone
};

class GitHttpServer {
 public:
  // Serves the repositories under `root` as http(s)://127.0.0.1:PORT/<name>.
  explicit GitHttpServer(std::string root, GitHttpOptions options = {});
  ~GitHttpServer();
  GitHttpServer(const GitHttpServer&) = delete;
  GitHttpServer& operator=(const GitHttpServer&) = delete;

  [[nodiscard]] std::string url(const std::string& repo) const;
  [[nodiscard]] int port() const { return port_; }
  // Request lines the server saw (method and path only).
  [[nodiscard]] std::string request_log() const;
  void stop();

 private:
  std::string root_;
  GitHttpOptions options_;
  std::string log_file_;
  int port_ = 0;
  std::unique_ptr<Spawned> process_;
};

// A key pair made by ssh-keygen (no passphrase) at `path` and `path`.pub.
struct SshKey {
  std::string private_key_file;
  std::string public_key;  // "ssh-ed25519 AAAA... comment"
};
// `type`: ed25519, ecdsa or rsa.
SshKey make_ssh_key(const std::string& path, const std::string& type);

// A port on 127.0.0.1 that nothing listened on a moment ago.
int unused_port();

// OpenSSH's sshd on 127.0.0.1 (a free port unless given), run in the
// foreground with a config, host key and authorized_keys of its own in a temp
// folder; no PAM. The git user is the user running the tests (root in CI),
// and repositories are named by absolute path.
class SshGitServer {
 public:
  explicit SshGitServer(const std::vector<std::string>& authorized_public_keys, int port = 0);
  ~SshGitServer();
  SshGitServer(const SshGitServer&) = delete;
  SshGitServer& operator=(const SshGitServer&) = delete;

  // ssh://USER@127.0.0.1:PORT/abs/path/repo.git
  [[nodiscard]] std::string url(const std::string& absolute_repo_path) const;
  [[nodiscard]] int port() const { return port_; }
  // The server's host key as a known_hosts line: "[127.0.0.1]:PORT ssh-ed25519 AAAA...".
  [[nodiscard]] std::string known_hosts_line() const;
  [[nodiscard]] const std::string& host_public_key() const { return host_key_; }
  // What sshd logged (complete once stopped).
  [[nodiscard]] std::string log() const;
  void stop();

 private:
  TempDir dir_;
  std::string user_;
  std::string host_key_;  // "ssh-ed25519 AAAA..."
  int port_ = 0;
  std::string log_;
  std::unique_ptr<Spawned> process_;
};

}  // namespace ir::test
