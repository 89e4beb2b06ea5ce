#include "support/git_server.hpp"

#include "ir/core/json.hpp"
#include "ir/core/process.hpp"
#include "support/catch.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

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
  if (!options_.negotiate.empty()) argv.insert(argv.end(), {"--negotiate", options_.negotiate});
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

SshKey make_ssh_key(const std::string& path, const std::string& type) {
  std::vector<std::string> argv{"ssh-keygen", "-q", "-t", type, "-N", "", "-C", "irsteps-test", "-f", path};
  if (type == "rsa") argv.insert(argv.end(), {"-b", "3072"});
  if (type == "ecdsa") argv.insert(argv.end(), {"-b", "256"});
  auto out = run_process(argv);
  if (!out) FAIL("ssh-keygen: " << out.error().describe());
  if (out->exit_status != 0) FAIL("ssh-keygen -t " << type << " failed: " << out->err);
  auto pub = read_file(path + ".pub");
  if (!pub) FAIL("no public key at " << path << ".pub");
  std::string line = *pub;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  return {path, line};
}

int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) FAIL("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!bound) FAIL("no free port on 127.0.0.1");
  return ntohs(address.sin_port);
}

SshGitServer::SshGitServer(const std::vector<std::string>& authorized_public_keys, int port) {
  const passwd* account = ::getpwuid(::geteuid());
  if (account == nullptr) FAIL("the user running the tests has no name");
  user_ = account->pw_name;
  const auto host = make_ssh_key(dir_ / "host_ed25519", "ed25519");
  std::istringstream fields(host.public_key);
  std::string type, key;
  fields >> type >> key;
  host_key_ = type + " " + key;
  std::string authorized;
  for (const auto& line : authorized_public_keys) authorized += line + "\n";
  const std::string authorized_file = dir_.file("authorized_keys", authorized);
  // sshd started by root insists on its privilege separation folder.
  std::error_code ec;
  if (::geteuid() == 0 && fs::create_directories("/run/sshd", ec)) (void)::chmod("/run/sshd", 0755);

  for (int attempt = 1;; ++attempt) {
    port_ = port != 0 ? port : unused_port();
    const std::string config = dir_.file(
        "sshd_config",
        "Port " + std::to_string(port_) + "\nListenAddress 127.0.0.1\nAddressFamily inet\nHostKey " +
            (dir_ / "host_ed25519") + "\nAuthorizedKeysFile " + authorized_file + "\nAllowUsers " + user_ +
            "\nPidFile none\nUsePAM no\nStrictModes no\nPubkeyAuthentication yes\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\nPermitUserRC no\nX11Forwarding no\n"
            "MaxStartups 64\nLogLevel VERBOSE\n");
    // sshd re-executes itself for every connection: it wants an absolute path.
    process_ =
        std::make_unique<Spawned>(std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f", config});
    const std::string ready = "Server listening on 127.0.0.1 port " + std::to_string(port_) + ".";
    // sshd -e ends its log lines with "\r\n".
    if (process_->wait_for_line([&](const std::string& line) { return line.starts_with(ready); })) return;
    const auto failed = process_->finish();
    process_.reset();
    // Another process may have taken the port since it was free: try another.
    if (port != 0 || attempt == 5 || failed.err.find("Address already in use") == std::string::npos) {
      FAIL("sshd did not start: " << failed.err);
    }
  }
}

SshGitServer::~SshGitServer() {
  stop();
}

void SshGitServer::stop() {
  if (!process_) return;
  ::kill(process_->pid(), SIGTERM);
  log_ = process_->finish().err;
  process_.reset();
}

std::string SshGitServer::url(const std::string& absolute_repo_path) const {
  return "ssh://" + user_ + "@127.0.0.1:" + std::to_string(port_) + absolute_repo_path;
}

std::string SshGitServer::known_hosts_line() const {
  return "[127.0.0.1]:" + std::to_string(port_) + " " + host_key_;
}

std::string SshGitServer::log() const {
  return log_;
}

}  // namespace ir::test
