#include "connection.hpp"
#include "ir/http/client.hpp"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace ir::http {
namespace websocket = boost::beast::websocket;
using detail::Connection;

namespace {

class SocketOver final : public WebSocket {
 public:
  explicit SocketOver(std::unique_ptr<Connection> connection)
      : connection_(std::move(connection)), socket_(connection_->stream()) {
    socket_.binary(true);
    socket_.read_message_max(64 << 20);
  }

  Result<void> handshake(const detail::Endpoint& endpoint, const Request& request,
                         const std::vector<std::string>& subprotocols, Response& refused) {
    std::string offered;
    for (const auto& p : subprotocols) offered += (offered.empty() ? "" : ", ") + p;
    socket_.set_option(websocket::stream_base::decorator([&](websocket::request_type& message) {
      message.set(boost::beast::http::field::user_agent, "irsteps");
      if (!offered.empty()) message.set(boost::beast::http::field::sec_websocket_protocol, offered);
      for (const auto& [name, value] : request.headers) message.set(name, value);
      if (request.bearer_token) {
        message.set(boost::beast::http::field::authorization,
                    "Bearer " + std::string(request.bearer_token->reveal()));
      }
    }));
    websocket::response_type response;
    const auto deadline = std::chrono::steady_clock::now() + request.timeout;
    auto ec = connection_->run(
        [&](Connection::Completion done) {
          socket_.async_handshake(response, endpoint.host_port(), endpoint.target, done);
        },
        deadline);
    if (ec == websocket::error::upgrade_declined) {
      refused.status = response.result_int();
      refused.body = response.body();
      for (const auto& field : response)
        refused.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      return {};
    }
    if (ec)
      return Error(Code::transient, "WebSocket handshake failed: " + detail::describe_network_error(ec));
    protocol_ = std::string(response[boost::beast::http::field::sec_websocket_protocol]);
    return {};
  }

  const std::string& protocol() const override { return protocol_; }

  Result<std::optional<std::string>> read(std::chrono::milliseconds timeout) override {
    boost::beast::flat_buffer buffer;
    auto ec = connection_->run([&](Connection::Completion done) { socket_.async_read(buffer, done); },
                               std::chrono::steady_clock::now() + timeout);
    if (ec == websocket::error::closed) return std::optional<std::string>();
    if (ec) return Error(Code::transient, "WebSocket read failed: " + detail::describe_network_error(ec));
    return std::optional<std::string>(boost::beast::buffers_to_string(buffer.data()));
  }

  Result<void> write(std::string_view message, std::chrono::milliseconds timeout) override {
    auto ec = connection_->run(
        [&](Connection::Completion done) {
          socket_.async_write(boost::asio::buffer(message.data(), message.size()), done);
        },
        std::chrono::steady_clock::now() + timeout);
    if (ec) return Error(Code::transient, "WebSocket write failed: " + detail::describe_network_error(ec));
    return {};
  }

  void close() override {
    if (!socket_.is_open()) return;
    (void)connection_->run(
        [&](Connection::Completion done) { socket_.async_close(websocket::close_code::normal, done); },
        std::chrono::steady_clock::now() + std::chrono::seconds(2));
  }

 private:
  std::unique_ptr<Connection> connection_;
  websocket::stream<detail::Stream&> socket_;
  std::string protocol_;
};

}  // namespace

Result<Client::Upgrade> Client::websocket(const Request& request,
                                          const std::vector<std::string>& subprotocols) {
  const std::string what = "WebSocket " + request.url.substr(0, request.url.find('?'));
  auto endpoint = detail::parse_url(request.url);
  if (!endpoint) return endpoint.error().with(what);
  const std::string proxy =
      proxy_for(endpoint->scheme, endpoint->host, endpoint->port, process_environment());
  auto connection = Connection::open(*endpoint, proxy, tls_context(),
                                     std::chrono::steady_clock::now() + request.connect_timeout);
  attempts_.fetch_add(1);
  if (!connection) return connection.error().with(what);
  Upgrade upgrade;
  auto socket = std::make_unique<SocketOver>(std::move(*connection));
  auto result = socket->handshake(*endpoint, request, subprotocols, upgrade.refused);
  if (result && upgrade.refused.status == 0) upgrade.socket = std::move(socket);
  if (!result) return result.error().with(what);
  return upgrade;
}

}  // namespace ir::http
