#include "support/http_server.hpp"

#include <openssl/x509.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cctype>
#include <list>

namespace ir::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::string SeenRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(a) == std::tolower(b);
        })) {
      return value;
    }
  }
  return {};
}

struct HttpServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::unique_ptr<ssl::context> tls;
  std::thread accept_thread;
  std::mutex mutex;
  std::list<std::shared_ptr<tcp::socket>> sockets;
  std::list<std::thread> workers;
  std::atomic<bool> stopping{false};
};

namespace {

template <class Stream>
bool answer(Stream& stream, const Reply& reply, http::request<http::string_body>& request) {
  if (!reply.chunks.empty()) {
    http::response<http::empty_body> head{static_cast<http::status>(reply.status), 11};
    for (const auto& [k, v] : reply.headers) head.set(k, v);
    head.chunked(true);
    http::response_serializer<http::empty_body> serializer{head};
    beast::error_code ec;
    http::write_header(stream, serializer, ec);
    if (ec) return false;
    for (const auto& chunk : reply.chunks) {
      asio::write(stream, http::make_chunk(asio::buffer(chunk)), ec);
      if (ec) return false;
      if (reply.chunk_pause.count() > 0) std::this_thread::sleep_for(reply.chunk_pause);
    }
    if (reply.cut_after_chunks) return false;
    asio::write(stream, http::make_chunk_last(), ec);
    return !ec && request.keep_alive();
  }
  http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
  for (const auto& [k, v] : reply.headers) response.set(k, v);
  response.body() = reply.body;
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  beast::error_code ec;
  http::write(stream, response, ec);
  return !ec && request.keep_alive();
}

void tunnel(tcp::socket& client, const std::string& target, const std::string& injected) {
  const auto colon = target.rfind(':');
  asio::io_context io;
  tcp::socket upstream(io);
  beast::error_code ec;
  upstream.connect({asio::ip::make_address(target.substr(0, colon)),
                    static_cast<unsigned short>(std::stoi(target.substr(colon + 1)))},
                   ec);
  const std::string reply =
      ec ? "HTTP/1.1 502 Bad Gateway\r\n\r\n" : "HTTP/1.1 200 Connection established\r\n\r\n" + injected;
  asio::write(client, asio::buffer(reply), ec);
  if (ec) return;
  auto pump = [](tcp::socket& from, tcp::socket& to) {
    std::array<char, 16384> buffer;
    beast::error_code error;
    for (;;) {
      const auto n = from.read_some(asio::buffer(buffer), error);
      if (error) break;
      asio::write(to, asio::buffer(buffer.data(), n), error);
      if (error) break;
    }
    to.shutdown(tcp::socket::shutdown_send, error);
  };
  std::thread up([&] { pump(client, upstream); });
  pump(upstream, client);
  up.join();
}

}  // namespace

HttpServer::HttpServer(Handler handler, std::optional<ServerTls> tls)
    : handler_(std::move(handler)), tls_(std::move(tls)) {
  start();
}

std::unique_ptr<HttpServer> HttpServer::proxy(std::string injected) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->proxy_mode_ = true;
  server->injected_ = std::move(injected);
  server->start();
  return server;
}

void HttpServer::start() {
  impl_ = std::make_unique<Impl>();
  if (tls_) {
    impl_->tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    impl_->tls->use_certificate_chain(asio::buffer(tls_->server.cert_pem));
    impl_->tls->use_private_key(asio::buffer(tls_->server.key_pem), ssl::context::pem);
    if (!tls_->client_ca_pem.empty()) {
      impl_->tls->add_certificate_authority(asio::buffer(tls_->client_ca_pem));
      impl_->tls->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
  }
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept_thread = std::thread([this] {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(impl_->io);
      beast::error_code ec;
      impl_->acceptor.accept(*socket, ec);
      if (ec || impl_->stopping) return;
      connections_.fetch_add(1);
      std::lock_guard lock(impl_->mutex);
      impl_->sockets.push_back(socket);
      impl_->workers.emplace_back([this, socket] {
        beast::error_code error;
        auto serve = [&](auto& stream) {
          beast::flat_buffer buffer;
          for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(boost::none);
            http::read(stream, buffer, parser, error);
            if (error) return;
            http::request<http::string_body> request = parser.release();
            if (proxy_mode_ && request.method() == http::verb::connect) {
              tunnel(*socket, std::string(request.target()), injected_);
              return;
            }
            SeenRequest seen{
                std::string(request.method_string()), std::string(request.target()), {}, request.body(), {}};
            for (const auto& field : request)
              seen.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
            if constexpr (!std::is_same_v<std::decay_t<decltype(stream)>, tcp::socket>) {
              seen.tls = true;
              if (X509* peer = SSL_get_peer_certificate(stream.native_handle())) {
                char cn[256] = {};
                X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
                seen.client_cert_cn = cn;
                X509_free(peer);
              }
            }
            {
              std::lock_guard requests_lock(mutex_);
              requests_.push_back(seen);
            }
            const Reply reply = handler_(seen);
            if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
            if (reply.reset) {
              socket->set_option(asio::socket_base::linger(true, 0), error);
              socket->close(error);
              return;
            }
            if (!answer(stream, reply, request) || reply.close_after) return;
          }
        };
        bool tls = impl_->tls != nullptr;
        if (tls && tls_->plain_too) {
          // A TLS ClientHello starts with the handshake record type 0x16.
          char first = 0;
          socket->receive(asio::buffer(&first, 1), tcp::socket::message_peek, error);
          tls = !error && first == 0x16;
        }
        if (tls) {
          ssl::stream<tcp::socket&> stream(*socket, *impl_->tls);
          stream.handshake(ssl::stream_base::server, error);
          if (!error) serve(stream);
        } else {
          serve(*socket);
        }
        socket->shutdown(tcp::socket::shutdown_both, error);
      });
    }
  });
}

HttpServer::~HttpServer() {
  impl_->stopping = true;
  beast::error_code ec;
  // Wake the blocking accept with a connection of our own.
  {
    asio::io_context io;
    tcp::socket poke(io);
    poke.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
  }
  impl_->acceptor.close(ec);
  impl_->accept_thread.join();
  {
    std::lock_guard lock(impl_->mutex);
    for (auto& socket : impl_->sockets) socket->shutdown(tcp::socket::shutdown_both, ec);
  }
  for (auto& worker : impl_->workers) worker.join();
}

std::string HttpServer::url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::vector<SeenRequest> HttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

}  // namespace ir::test
