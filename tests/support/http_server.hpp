// A real HTTP/1.1 server on 127.0.0.1 for tests (Boost.Beast, a thread per
// connection), plain or TLS with optional client certificates, that answers
// as a handler says: any status and headers, a delay, a reset connection, a
// streamed body. It can also act as an HTTPS_PROXY (CONNECT tunnels).
#pragma once

#include "support/pki.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ir::test {

struct SeenRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string client_cert_cn;  // TLS with client certificates
  bool tls = false;            // came over TLS (see ServerTls::plain_too)

  [[nodiscard]] std::string header(std::string_view name) const;
};

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // before anything is sent
  bool reset = false;                  // close with RST instead of answering
  bool close_after = false;            // answer as keep-alive, then close anyway
  // Streams these chunks with chunked encoding, pausing between them.
  std::vector<std::string> chunks;
  std::chrono::milliseconds chunk_pause{0};
  // With chunks: the connection closes after them, without the last chunk
  // (a stream the server dies in the middle of).
  bool cut_after_chunks = false;
};

struct ServerTls {
  KeyPair server;
  std::string client_ca_pem;  // non-empty: require client certificates
  // Also answer plain HTTP on the same port (told apart by the first byte):
  // what an https:// URL redirected to http:// on the same host and port reaches.
  bool plain_too = false;
};

class HttpServer {
 public:
  using Handler = std::function<Reply(const SeenRequest&)>;

  explicit HttpServer(Handler handler, std::optional<ServerTls> tls = std::nullopt);
  // A forward proxy that only tunnels CONNECT requests. A hostile one sends
  // `injected` right behind its "200 Connection established" header, in
  // the same write, before the tunnel carries anything of the server's.
  static std::unique_ptr<HttpServer> proxy(std::string injected = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  [[nodiscard]] unsigned short port() const { return port_; }
  [[nodiscard]] std::string url() const;
  [[nodiscard]] int connections() const { return connections_.load(); }
  [[nodiscard]] std::vector<SeenRequest> requests() const;

 private:
  struct Impl;
  HttpServer() = default;
  void start();
  std::unique_ptr<Impl> impl_;
  Handler handler_;
  std::optional<ServerTls> tls_;
  bool proxy_mode_ = false;
  std::string injected_;
  unsigned short port_ = 0;
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::vector<SeenRequest> requests_;
  friend struct Impl;
};

}  // namespace ir::test
