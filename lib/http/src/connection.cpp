#include "connection.hpp"

#include "ir/core/encoding.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <boost/url/parse.hpp>

namespace ir::http::detail {
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string Endpoint::host_port() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<Endpoint> parse_url(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return invalid("'" + url.substr(0, url.find('?')) + "' is not a URL");
  // Boost.URL 1.81 reads "http://127.0.0.1.example/" as the host 127.0.0.1
  // and the path ".example/", where a resolver (libgit2, DNS) sees the name
  // 127.0.0.1.example: after an authority a path starts with '/'.
  if (!parsed->encoded_path().empty() && parsed->encoded_path().front() != '/')
    return invalid("'" + url.substr(0, url.find('?')) +
                   "' is not a URL (its host is not a name or an address)");
  Endpoint endpoint;
  endpoint.scheme = std::string(parsed->scheme());
  if (endpoint.scheme != "http" && endpoint.scheme != "https") {
    return invalid("'" + endpoint.scheme + "' URLs are not supported (use https)");
  }
  endpoint.host = std::string(parsed->encoded_host_address());
  if (!endpoint.host.empty() && endpoint.host.front() == '[')
    endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
  if (endpoint.host.empty()) return invalid("the URL has no host");
  endpoint.port = parsed->has_port() ? parsed->port_number() : (endpoint.tls() ? 443 : 80);
  endpoint.target = std::string(parsed->encoded_path());
  if (endpoint.target.empty()) endpoint.target = "/";
  if (parsed->has_query()) endpoint.target += "?" + std::string(parsed->encoded_query());
  return endpoint;
}

void Connection::finish(bool& done, Deadline deadline) {
  io_.restart();
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left > std::chrono::steady_clock::duration::zero()) io_.run_for(left);
  if (!done) {
    // Out of time: cancel, and let the cancelled handlers run.
    beast::error_code ignored;
    socket_.cancel(ignored);
    socket_.close(ignored);
    io_.restart();
    io_.run_for(std::chrono::seconds(1));
    done = false;
  }
}

Stream::executor_type Stream::get_executor() const {
  return connection_.io_.get_executor();
}

void Stream::read_some(const Buffers<asio::mutable_buffer>& buffers, ReadHandler handler) {
  if (connection_.secure_) {
    connection_.secure_->async_read_some(buffers, std::move(handler));
  } else {
    connection_.socket_.async_read_some(buffers, std::move(handler));
  }
}

void Stream::write_some(const Buffers<asio::const_buffer>& buffers, WriteHandler handler) {
  if (connection_.secure_) {
    connection_.secure_->async_write_some(buffers, std::move(handler));
  } else {
    connection_.socket_.async_write_some(buffers, std::move(handler));
  }
}

void Stream::close() {
  beast::error_code ignored;
  connection_.socket_.close(ignored);
}

void Stream::teardown(beast::role_type role, TeardownHandler handler) {
  // Beast posts the end of a plain teardown to the handler's executor with
  // blocking.never, which Boost 1.81's erased executor does not offer: the
  // connection's own executor is the one that runs it anyway.
  auto bound = asio::bind_executor(connection_.io_.get_executor(), std::move(handler));
  if (connection_.secure_) {
    beast::async_teardown(role, *connection_.secure_, std::move(bound));
  } else {
    beast::websocket::async_teardown(role, connection_.socket_, std::move(bound));
  }
}

namespace {

struct ProxyUrl {
  Endpoint endpoint;
  std::optional<Secret> authorization;  // "Basic ..." from user:password@
};

Result<ProxyUrl> parse_proxy(std::string text) {
  if (text.find("://") == std::string::npos) text = "http://" + text;
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return invalid("the proxy address is not a URL");
  if (parsed->scheme() != "http") return invalid("only http:// proxies are supported (CONNECT through them)");
  ProxyUrl proxy;
  proxy.endpoint.scheme = "http";
  proxy.endpoint.host = std::string(parsed->encoded_host_address());
  if (!proxy.endpoint.host.empty() && proxy.endpoint.host.front() == '[') {
    proxy.endpoint.host = proxy.endpoint.host.substr(1, proxy.endpoint.host.size() - 2);
  }
  proxy.endpoint.port = parsed->has_port() ? parsed->port_number() : 80;
  if (parsed->has_userinfo()) {
    proxy.authorization =
        Secret("Basic " + base64_encode(std::string(parsed->user()) + ":" + std::string(parsed->password())));
  }
  return proxy;
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::open(const Endpoint& endpoint, const std::string& proxy,
                                                     ssl::context* tls, Deadline deadline) {
  std::unique_ptr<Connection> connection(new Connection());
  Connection& c = *connection;
  std::optional<ProxyUrl> proxy_url;
  if (!proxy.empty()) {
    auto parsed = parse_proxy(proxy);
    if (!parsed) return parsed.error().with("proxy");
    proxy_url = std::move(*parsed);
    c.via_proxy_ = true;
  }
  const Endpoint& first_hop = proxy_url ? proxy_url->endpoint : endpoint;
  const std::string where = proxy_url ? "proxy " + first_hop.host_port() : first_hop.host_port();

  asio::ip::basic_resolver<tcp, asio::io_context::executor_type> resolver(c.io_);
  tcp::resolver::results_type addresses;
  bool resolved = false;
  beast::error_code ec = asio::error::would_block;
  resolver.async_resolve(first_hop.host, std::to_string(first_hop.port),
                         [&](beast::error_code e, tcp::resolver::results_type r) {
                           ec = e;
                           addresses = std::move(r);
                           resolved = true;
                         });
  c.finish(resolved, deadline);
  if (!resolved) return Error(Code::transient, "timed out resolving " + first_hop.host);
  if (ec) return Error(Code::transient, "cannot resolve " + first_hop.host + ": " + ec.message());

  ec = c.run([&](Completion done) { asio::async_connect(c.socket_, addresses, done); }, deadline);
  if (ec) return Error(Code::transient, "cannot connect to " + where + ": " + describe_network_error(ec));
  c.socket_.set_option(tcp::no_delay(true), ec);

  if (proxy_url && endpoint.tls()) {
    http::request<http::empty_body> connect{http::verb::connect, endpoint.host_port(), 11};
    connect.set(http::field::host, endpoint.host_port());
    if (proxy_url->authorization)
      connect.set(http::field::proxy_authorization, std::string(proxy_url->authorization->reveal()));
    ec = c.run([&](Completion done) { http::async_write(c.stream_, connect, done); }, deadline);
    if (ec)
      return Error(Code::transient, "proxy " + first_hop.host_port() + ": " + describe_network_error(ec));
    http::response_parser<http::empty_body> reply;
    reply.skip(true);  // a 2xx answer to CONNECT has no body
    ec =
        c.run([&](Completion done) { http::async_read_header(c.stream_, c.buffer_, reply, done); }, deadline);
    if (ec)
      return Error(Code::transient, "proxy " + first_hop.host_port() + ": " + describe_network_error(ec));
    if (reply.get().result_int() != 200) {
      return Error(reply.get().result_int() >= 500 ? Code::transient : Code::action_failed,
                   "proxy " + first_hop.host_port() + " refused the tunnel: HTTP " +
                       std::to_string(reply.get().result_int()));
    }
    // The tunnel carries TLS from the server and nothing else: bytes the
    // proxy sent after its reply's header would be read as the server's
    // first answer, unauthenticated (the STARTTLS injection of CVE-2011-0411
    // and kin, here from the proxy or anyone on the plain hop to it).
    if (c.buffer_.size() != 0) {
      return Error(Code::action_failed,
                   "proxy " + first_hop.host_port() + " sent " + std::to_string(c.buffer_.size()) +
                       " bytes after its CONNECT reply, before the TLS handshake with " +
                       endpoint.host_port() + ": refusing them (they would pass for the server's answer)");
    }
  }

  if (endpoint.tls()) {
    c.secure_ = std::make_unique<TlsStream>(c.socket_, *tls);
    SSL* ssl = c.secure_->native_handle();
    beast::error_code address_ec;
    asio::ip::make_address(endpoint.host, address_ec);
    if (address_ec) {
      // SNI and the name check for DNS names; IP addresses are checked
      // against the certificate's IP entries instead.
      SSL_set_tlsext_host_name(ssl, endpoint.host.c_str());
      SSL_set1_host(ssl, endpoint.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), endpoint.host.c_str());
    }
    ec =
        c.run([&](Completion done) { c.secure_->async_handshake(ssl::stream_base::client, done); }, deadline);
    if (ec) {
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        return Error(Code::action_failed,
                     "TLS verification failed: " + std::string(X509_verify_cert_error_string(verify)))
            .with(endpoint.host_port());
      }
      // A TLS alert (a refused client certificate, no common protocol) is
      // final; a connection that broke during the handshake is a network
      // fault like any other and worth a retry.
      const bool tls_refusal = ec.category() == asio::error::get_ssl_category();
      return Error(tls_refusal ? Code::action_failed : Code::transient,
                   "TLS handshake failed: " + describe_network_error(ec))
          .with(endpoint.host_port());
    }
  }
  return connection;
}

bool is_tls_verification_error(const beast::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
}

std::string describe_network_error(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  if (ec == asio::error::connection_refused) return "connection refused";
  if (ec == asio::error::connection_reset) return "connection reset by peer";
  if (ec == http::error::end_of_stream || ec == asio::error::eof) return "the server closed the connection";
  if (ec.category() == asio::error::get_ssl_category()) {
    char text[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), text, sizeof text);
    return text;
  }
  return ec.message();
}

}  // namespace ir::http::detail
