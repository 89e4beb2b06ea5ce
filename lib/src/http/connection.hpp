// One HTTP/1.1 connection (plain, TLS, or TLS through a CONNECT proxy) with
// its own io_context, so that every operation can run with a deadline:
// start it, run the context for the time left, cancel what is not done.
// Internal to the HTTP client; the WebSocket code will use it too.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/secret.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace ir::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using Deadline = std::chrono::steady_clock::time_point;

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets
  std::uint16_t port = 0;
  std::string target;  // path and query

  [[nodiscard]] bool tls() const { return scheme == "https"; }
  [[nodiscard]] std::string host_port() const;  // "[::1]:443", "example:443"
};

[[nodiscard]] Result<Endpoint> parse_url(const std::string& url);

class Connection {
 public:
  // Connects, tunnels through `proxy` (an http:// URL, may be empty) and
  // shakes hands; errors say where it failed.
  [[nodiscard]] static Result<std::unique_ptr<Connection>> open(const Endpoint& endpoint,
                                                                const std::string& proxy, ssl::context* tls,
                                                                Deadline deadline);

  // Runs `start(handler)` until the handler is called or the deadline passes
  // (then the connection is cancelled and the result is a timeout).
  template <class Start>
  beast::error_code run(Start&& start, Deadline deadline) {
    beast::error_code result = asio::error::would_block;
    bool done = false;
    start([&](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    finish(done, deadline);
    if (!done) return beast::error::timeout;
    return result;
  }

  // Calls f with the stream: the TLS stream or the plain one.
  template <class F>
  decltype(auto) with_stream(F&& f) {
    if (secure_) return f(*secure_);
    return f(*plain_);
  }

  [[nodiscard]] beast::flat_buffer& buffer() { return buffer_; }
  [[nodiscard]] const std::string& key() const { return key_; }
  [[nodiscard]] bool via_proxy() const { return via_proxy_; }
  void set_key(std::string key) { key_ = std::move(key); }

 private:
  Connection() = default;
  void finish(bool& done, Deadline deadline);
  beast::tcp_stream& lowest();

  asio::io_context io_;
  std::optional<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure_;
  beast::flat_buffer buffer_;
  std::string key_;
  bool via_proxy_ = false;
};

// "TLS verification failed: ..." and the like, from an error of the stream.
[[nodiscard]] std::string describe_network_error(const beast::error_code& ec);
[[nodiscard]] bool is_tls_verification_error(const beast::error_code& ec);

}  // namespace ir::http::detail
