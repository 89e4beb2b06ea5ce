// Debian's docker-registry (the CNCF distribution registry) started on
// 127.0.0.1 for one test: plain HTTP, htpasswd Basic auth with bcrypt
// (`htpasswd -B`), or TLS with a CA the test makes.
#pragma once

#include "ir/core/json.hpp"
#include "ir/core/process.hpp"
#include "support/catch.hpp"
#include "support/git_server.hpp"
#include "support/pki.hpp"
#include "support/spawn.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

namespace ir::test {

struct RegistrySetup {
  std::string username;  // non-empty: htpasswd Basic auth with this user
  std::string password;
  bool tls = false;
};

inline bool have_docker_registry() {
  auto found = run_process({"sh", "-c", "test -x /usr/bin/docker-registry && command -v htpasswd"});
  if (found && found->exit_status == 0) return true;
  WARN("skipped: docker-registry or htpasswd is not installed (scripts/install-deps.sh)");
  return false;
}

inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

class LocalRegistry {
 public:
  explicit LocalRegistry(RegistrySetup setup = {}) : setup_(std::move(setup)) {
    port_ = free_port();
    std::string config =
        "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: " + dir_ / "data" +
        "\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:" + std::to_string(port_) +
        "\n  secret: irsteps-test\n";
    if (setup_.tls) {
      ca_ = make_ca("irsteps test registry CA");
      const auto server = issue(ca_, {"registry", {"localhost"}, {"127.0.0.1"}});
      REQUIRE(write_file_atomic(dir_ / "server.crt", server.cert_pem));
      REQUIRE(write_file_atomic(dir_ / "server.key", server.key_pem));
      config +=
          "  tls:\n    certificate: " + dir_ / "server.crt" + "\n    key: " + dir_ / "server.key" + "\n";
    }
    if (!setup_.username.empty()) {
      auto hashed = run_process({"htpasswd", "-Bbn", setup_.username, setup_.password});
      REQUIRE(hashed);
      REQUIRE(hashed->exit_status == 0);
      REQUIRE(write_file_atomic(dir_ / "htpasswd", hashed->out));
      config += "auth:\n  htpasswd:\n    realm: irsteps-test\n    path: " + dir_ / "htpasswd" + "\n";
    }
    REQUIRE(write_file_atomic(dir_ / "config.yml", config));
    process_ = std::make_unique<Spawned>(
        std::vector<std::string>{"/usr/bin/docker-registry", "serve", dir_ / "config.yml"});
    const std::string listening = "listening on 127.0.0.1:" + std::to_string(port_);
    REQUIRE(process_->wait_for_line(
        [&](const std::string& line) { return line.find(listening) != std::string::npos; }));
  }

  [[nodiscard]] std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] const std::string& ca_pem() const { return ca_.cert_pem; }
  [[nodiscard]] const TempDir& dir() const { return dir_; }

 private:
  RegistrySetup setup_;
  TempDir dir_;
  KeyPair ca_;
  int port_ = 0;
  std::unique_ptr<Spawned> process_;
};

}  // namespace ir::test
