// One HTTP/1.1 connection (plain, TLS, or TLS through a CONNECT proxy) with
// its own io_context, so that every operation can run with a deadline:
// start it, run the context for the time left, cancel what is not done.
// Internal to the HTTP client; the WebSocket code will use it too.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/secret.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
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

class Connection;

// The connection's byte stream, TLS or plain, as one type. Beast's HTTP and
// WebSocket operations are templates over the stream and the completion
// handler; behind this type, with one handler type (Connection::run), each
// is compiled once instead of once per stream type and call site, which
// was 1.4 to 2.3 MB of each binary. The handlers of reads and writes are erased
// (any_completion_handler keeps their executor, allocator and cancellation
// slot); what that costs is an indirect call per read or write.
class Stream {
 public:
  using executor_type = asio::io_context::executor_type;
  using ReadHandler = asio::any_completion_handler<void(beast::error_code, std::size_t)>;
  using WriteHandler = ReadHandler;
  using TeardownHandler = asio::any_completion_handler<void(beast::error_code)>;

  // At most this many buffers of a sequence per read or write; a partial
  // write is what write_some may do, and every caller loops.
  static constexpr std::size_t max_buffers = 16;
  template <class Buffer>
  struct Buffers {
    using value_type = Buffer;
    using const_iterator = const Buffer*;
    std::array<Buffer, max_buffers> items{};
    std::size_t count = 0;
    [[nodiscard]] const Buffer* begin() const { return items.data(); }
    [[nodiscard]] const Buffer* end() const { return items.data() + count; }
  };

  explicit Stream(Connection& connection) : connection_(connection) {}
  [[nodiscard]] executor_type get_executor() const;

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return asio::async_initiate<Token, void(beast::error_code, std::size_t)>(
        [this](ReadHandler handler, const MutableBufferSequence& sequence) {
          read_some(collect<asio::mutable_buffer>(sequence), std::move(handler));
        },
        token, buffers);
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return asio::async_initiate<Token, void(beast::error_code, std::size_t)>(
        [this](WriteHandler handler, const ConstBufferSequence& sequence) {
          write_some(collect<asio::const_buffer>(sequence), std::move(handler));
        },
        token, buffers);
  }

  // The end of a WebSocket: TLS close_notify, then the TCP shutdown.
  void teardown(beast::role_type role, TeardownHandler handler);
  // Closes the socket at once (a WebSocket that failed).
  void close();

 private:
  template <class Buffer, class Sequence>
  static Buffers<Buffer> collect(const Sequence& sequence) {
    Buffers<Buffer> out;
    for (auto it = asio::buffer_sequence_begin(sequence);
         it != asio::buffer_sequence_end(sequence) && out.count < max_buffers; ++it) {
      Buffer buffer(*it);
      if (buffer.size() != 0) out.items[out.count++] = buffer;
    }
    return out;
  }
  void read_some(const Buffers<asio::mutable_buffer>& buffers, ReadHandler handler);
  void write_some(const Buffers<asio::const_buffer>& buffers, WriteHandler handler);

  Connection& connection_;
};

// Found by Beast's WebSocket code through argument-dependent lookup.
template <class Token>
void async_teardown(beast::role_type role, Stream& stream, Token&& token) {
  stream.teardown(role, Stream::TeardownHandler(std::forward<Token>(token)));
}

inline void beast_close_socket(Stream& stream) {
  stream.close();
}

class Connection {
 public:
  using Socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

  // Connects, tunnels through `proxy` (an http:// URL, may be empty) and
  // shakes hands; errors say where it failed.
  [[nodiscard]] static Result<std::unique_ptr<Connection>> open(const Endpoint& endpoint,
                                                                const std::string& proxy, ssl::context* tls,
                                                                Deadline deadline);

  // The handler of every operation run() starts: it records the result.
  struct Completion {
    beast::error_code* result;
    bool* done;
    template <class... Rest>
    void operator()(beast::error_code ec, Rest&&... /*results*/) const {
      *result = ec;
      *done = true;
    }
  };

  // Runs `start(completion)` until the completion is called or the deadline
  // passes (then the connection is cancelled and the result is a timeout).
  template <class Start>
  beast::error_code run(Start&& start, Deadline deadline) {
    beast::error_code result = asio::error::would_block;
    bool done = false;
    start(Completion{&result, &done});
    finish(done, deadline);
    if (!done) return beast::error::timeout;
    return result;
  }

  // The TLS stream or the plain one, whichever the connection has now.
  [[nodiscard]] Stream& stream() { return stream_; }

  [[nodiscard]] beast::flat_buffer& buffer() { return buffer_; }
  [[nodiscard]] const std::string& key() const { return key_; }
  [[nodiscard]] bool via_proxy() const { return via_proxy_; }
  void set_key(std::string key) { key_ = std::move(key); }

 private:
  friend class Stream;
  using TlsStream = beast::ssl_stream<Socket&>;

  Connection() = default;
  void finish(bool& done, Deadline deadline);

  asio::io_context io_;
  Socket socket_{io_};
  std::unique_ptr<TlsStream> secure_;  // over socket_, once TLS is up
  Stream stream_{*this};
  beast::flat_buffer buffer_;
  std::string key_;
  bool via_proxy_ = false;
};

// "TLS verification failed: ..." and the like, from an error of the stream.
[[nodiscard]] std::string describe_network_error(const beast::error_code& ec);
[[nodiscard]] bool is_tls_verification_error(const beast::error_code& ec);

}  // namespace ir::http::detail
