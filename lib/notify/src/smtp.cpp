#include "ir/notify/smtp.hpp"

#include "ir/core/encoding.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cctype>

namespace ir::notify {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Deadline = std::chrono::steady_clock::time_point;

// A hostile or broken server must not make us buffer without end.
constexpr std::size_t max_reply = 64 * 1024;

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // text after "NNN-" / "NNN "

  [[nodiscard]] std::string text() const {
    std::string all = std::to_string(code);
    for (const auto& line : lines) all += " " + line;
    return all;
  }
};

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::string describe(const error_code& ec) {
  if (ec == asio::error::timed_out) return "timed out";
  if (ec == asio::error::connection_refused) return "connection refused";
  if (ec == asio::error::eof) return "the server closed the connection";
  if (ec.category() == asio::error::get_ssl_category()) {
    char text[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), text, sizeof text);
    return text;
  }
  return ec.message();
}

Error reply_error(const Reply& reply, const std::string& what) {
  const Code code = reply.code >= 400 && reply.code < 500 ? Code::transient : Code::action_failed;
  return Error(code, what + ": the server answered " + reply.text());
}

class Session {
 public:
  explicit Session(const SmtpServer& server)
      : server_(server),
        context_(make_context(server, context_problem_)),
        stream_(io_, context_),
        deadline_(std::chrono::steady_clock::now() + server.timeout) {}

  Result<void> connect() {
    if (!context_problem_.empty()) return invalid("the CA certificate cannot be read: " + context_problem_);
    error_code ec;
    tcp::resolver resolver(io_);
    tcp::resolver::results_type addresses;
    ec = run([&](auto handler) {
      resolver.async_resolve(server_.host, std::to_string(server_.port),
                             [&addresses, handler](error_code e, tcp::resolver::results_type r) mutable {
                               addresses = std::move(r);
                               handler(e);
                             });
    });
    if (ec) return Error(Code::transient, "cannot resolve " + server_.host + ": " + describe(ec));
    ec = run([&](auto handler) {
      asio::async_connect(stream_.next_layer(), addresses,
                          [handler](error_code e, const tcp::endpoint&) mutable { handler(e); });
    });
    if (ec) return Error(Code::transient, "cannot connect: " + describe(ec));
    if (server_.security == SmtpSecurity::implicit_tls) {
      if (auto done = handshake(); !done) return done;
    }
    auto greeting = read_reply();
    if (!greeting) return greeting.error().with("greeting");
    if (greeting->code != 220) return reply_error(*greeting, "greeting");
    return {};
  }

  // EHLO, then STARTTLS and EHLO again where needed; returns the extensions.
  Result<std::vector<std::string>> hello() {
    auto extensions = ehlo();
    if (!extensions) return extensions;
    if (tls_) return extensions;
    if (std::find(extensions->begin(), extensions->end(), "STARTTLS") == extensions->end()) {
      return Error(Code::action_failed,
                   "the server does not offer STARTTLS; refusing to send the message or a password in clear "
                   "text");
    }
    auto ready = command("STARTTLS", "STARTTLS");
    if (!ready) return ready.error();
    if (ready->code != 220) return reply_error(*ready, "STARTTLS");
    // Anything sent before the handshake was injected in clear text
    // (CVE-2011-0411 and kin): refuse it rather than read it as TLS replies.
    if (!buffer_.empty()) return Error(Code::action_failed, "the server sent data before the TLS handshake");
    if (auto done = handshake(); !done) return done.error();
    return ehlo();
  }

  Result<std::string> authenticate(const SmtpLogin& login, const std::vector<std::string>& extensions) {
    std::vector<std::string> mechanisms;
    for (const auto& extension : extensions) {
      if (extension.rfind("AUTH ", 0) == 0 || extension.rfind("AUTH=", 0) == 0) {
        std::string rest = extension.substr(5);
        std::size_t start = 0;
        while (start < rest.size()) {
          const auto end = std::min(rest.find(' ', start), rest.size());
          if (end > start) mechanisms.push_back(rest.substr(start, end - start));
          start = end + 1;
        }
      }
    }
    const auto offered = [&](std::string_view m) {
      return std::find(mechanisms.begin(), mechanisms.end(), m) != mechanisms.end();
    };
    if (offered("PLAIN")) {
      std::string credentials;
      credentials.push_back('\0');
      credentials += login.username;
      credentials.push_back('\0');
      credentials += login.password.reveal();
      const Secret line("AUTH PLAIN " + base64_encode(credentials));
      std::fill(credentials.begin(), credentials.end(), '\0');
      auto reply = command(line, "AUTH PLAIN");
      if (!reply) return reply.error();
      if (reply->code != 235) return auth_error(*reply);
      return std::string("PLAIN");
    }
    if (offered("LOGIN")) {
      auto reply = command(Secret("AUTH LOGIN"), "AUTH LOGIN");
      if (!reply) return reply.error();
      if (reply->code != 334) return auth_error(*reply);
      reply = command(Secret(base64_encode(login.username)), "AUTH LOGIN user name");
      if (!reply) return reply.error();
      if (reply->code != 334) return auth_error(*reply);
      reply = command(Secret(base64_encode(login.password.reveal())), "AUTH LOGIN password");
      if (!reply) return reply.error();
      if (reply->code != 235) return auth_error(*reply);
      return std::string("LOGIN");
    }
    return Error(Code::action_failed, "the server offers no authentication mechanism we use (PLAIN, LOGIN)");
  }

  Result<Reply> command(const std::string& line, const std::string& what) {
    return command(Secret(line), what);
  }

  Result<Reply> command(const Secret& line, const std::string& what) {
    // The line on the wire is a Secret too, so an AUTH line's copy is wiped
    // when it goes (security review finding 14).
    const Secret wire(std::string(line.reveal()) + "\r\n");
    if (auto sent = write(wire.reveal()); !sent) return sent.error().with(what);
    auto reply = read_reply();
    if (!reply) return reply.error().with(what);
    return reply;
  }

  Result<void> write(std::string_view data) {
    const error_code ec = run([&](auto handler) {
      if (tls_) {
        asio::async_write(stream_, asio::buffer(data), handler);
      } else {
        asio::async_write(stream_.next_layer(), asio::buffer(data), handler);
      }
    });
    if (ec) return Error(Code::transient, "sending failed: " + describe(ec));
    return {};
  }

  Result<Reply> read_reply() {
    Reply reply;
    for (;;) {
      std::size_t length = 0;
      const error_code ec = run([&](auto handler) {
        auto buffer = asio::dynamic_buffer(buffer_, max_reply);
        auto done = [&length, handler](error_code e, std::size_t n) mutable {
          length = n;
          handler(e);
        };
        if (tls_) {
          asio::async_read_until(stream_, buffer, "\r\n", done);
        } else {
          asio::async_read_until(stream_.next_layer(), buffer, "\r\n", done);
        }
      });
      if (ec) return Error(Code::transient, "no reply from the server: " + describe(ec));
      std::string line = buffer_.substr(0, length - 2);
      buffer_.erase(0, length);
      if (line.size() < 3 || !std::all_of(line.begin(), line.begin() + 3,
                                          [](unsigned char c) { return std::isdigit(c) != 0; })) {
        return Error(Code::action_failed, "not an SMTP reply: " + line.substr(0, 80));
      }
      reply.code = std::stoi(line.substr(0, 3));
      reply.lines.push_back(line.size() > 4 ? line.substr(4) : "");
      if (line.size() == 3 || line[3] == ' ') return reply;
    }
  }

  void quit() {
    // Best effort: the message is already accepted.
    (void)command("QUIT", "QUIT");
  }

 private:
  // The context is complete before the stream exists: OpenSSL copies the
  // verification mode into each connection when it is created.
  static ssl::context make_context(const SmtpServer& server, std::string& problem) {
    ssl::context context(ssl::context::tls_client);
    context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    error_code ec;
    if (server.ca_pem.empty()) {
      context.set_default_verify_paths(ec);
    } else {
      context.add_certificate_authority(asio::buffer(server.ca_pem), ec);
    }
    if (ec) problem = ec.message();
    context.set_verify_mode(ssl::verify_peer);
    return context;
  }

  template <class Start>
  error_code run(Start&& start) {
    error_code result = asio::error::would_block;
    bool done = false;
    start([&result, &done](error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    io_.restart();
    const auto left = deadline_ - std::chrono::steady_clock::now();
    if (left > std::chrono::steady_clock::duration::zero()) io_.run_for(left);
    if (!done) {
      error_code ignored;
      stream_.next_layer().cancel(ignored);
      stream_.next_layer().close(ignored);
      io_.restart();
      io_.run_for(std::chrono::seconds(1));
      return asio::error::timed_out;
    }
    return result;
  }

  Result<void> handshake() {
    SSL* ssl = stream_.native_handle();
    stream_.set_verify_mode(ssl::verify_peer);
    error_code address_ec;
    (void)asio::ip::make_address(server_.host, address_ec);
    if (address_ec) {
      SSL_set_tlsext_host_name(ssl, server_.host.c_str());
      SSL_set1_host(ssl, server_.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_.host.c_str());
    }
    const error_code ec =
        run([&](auto handler) { stream_.async_handshake(ssl::stream_base::client, handler); });
    if (ec) {
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        return Error(Code::action_failed,
                     "TLS verification failed: " + std::string(X509_verify_cert_error_string(verify)));
      }
      return Error(ec.category() == asio::error::get_ssl_category() ? Code::action_failed : Code::transient,
                   "TLS handshake failed: " + describe(ec));
    }
    tls_ = true;
    return {};
  }

  Result<std::vector<std::string>> ehlo() {
    auto reply = command("EHLO " + server_.client_name, "EHLO");
    if (!reply) return reply.error();
    if (reply->code != 250) return reply_error(*reply, "EHLO");
    std::vector<std::string> extensions;
    for (std::size_t i = 1; i < reply->lines.size(); ++i) extensions.push_back(upper(reply->lines[i]));
    return extensions;
  }

  static Error auth_error(const Reply& reply) {
    if (reply.code >= 400 && reply.code < 500) return reply_error(reply, "authentication");
    return Error(Code::forbidden, "authentication refused: " + reply.text());
  }

  const SmtpServer& server_;
  std::string context_problem_;
  asio::io_context io_;
  ssl::context context_;
  ssl::stream<tcp::socket> stream_;
  Deadline deadline_;
  bool tls_ = false;
  std::string buffer_;
};

bool plain_address(std::string_view address) {
  return !address.empty() && address.find_first_of("\r\n<>") == std::string_view::npos;
}

}  // namespace

Result<SmtpDelivery> smtp_send(const SmtpServer& server, const std::optional<SmtpLogin>& login,
                               const Envelope& envelope, std::string_view message) {
  if (!plain_address(envelope.from)) return invalid("bad sender address");
  if (envelope.to.empty()) return invalid("no recipients");
  for (const auto& to : envelope.to) {
    if (!plain_address(to)) return invalid("bad recipient address");
  }
  const std::string where = "SMTP " + server.host + ":" + std::to_string(server.port);
  Session session(server);
  if (auto connected = session.connect(); !connected) return connected.error().with(where);
  auto extensions = session.hello();
  if (!extensions) return extensions.error().with(where);
  SmtpDelivery delivery;
  if (login) {
    auto mechanism = session.authenticate(*login, *extensions);
    if (!mechanism) return mechanism.error().with(where);
    delivery.mechanism = *mechanism;
  }
  auto reply = session.command("MAIL FROM:<" + envelope.from + ">", "MAIL FROM");
  if (!reply) return reply.error().with(where);
  if (reply->code != 250) return reply_error(*reply, "MAIL FROM").with(where);
  for (const auto& to : envelope.to) {
    reply = session.command("RCPT TO:<" + to + ">", "RCPT TO");
    if (!reply) return reply.error().with(where);
    if (reply->code != 250 && reply->code != 251)
      return reply_error(*reply, "RCPT TO <" + to + ">").with(where);
  }
  reply = session.command("DATA", "DATA");
  if (!reply) return reply.error().with(where);
  if (reply->code != 354) return reply_error(*reply, "DATA").with(where);
  if (auto sent = session.write(dot_stuff(message) + ".\r\n"); !sent) return sent.error().with(where);
  reply = session.read_reply();
  if (!reply) return reply.error().with("end of DATA").with(where);
  if (reply->code != 250) return reply_error(*reply, "end of DATA").with(where);
  delivery.reply = reply->text();
  session.quit();
  return delivery;
}

std::string dot_stuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 32 + 2);
  bool line_start = true;
  for (std::size_t i = 0; i < message.size(); ++i) {
    const char c = message[i];
    if (line_start && c == '.') out.push_back('.');
    if (c == '\r' && i + 1 < message.size() && message[i + 1] == '\n') continue;
    if (c == '\n' || c == '\r') {
      out += "\r\n";
      line_start = true;
      continue;
    }
    out.push_back(c);
    line_start = false;
  }
  if (!line_start || out.empty()) out += "\r\n";
  return out;
}

std::string header_field(std::string_view name, std::string_view text) {
  std::string clean;
  for (const char c : text) clean.push_back(c == '\r' || c == '\n' ? ' ' : c);
  std::string field = std::string(name) + ":";
  const bool ascii =
      std::all_of(clean.begin(), clean.end(), [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
  if (ascii) {
    // Folded before a space (the space starts the next line), greedily: a
    // line ends at the last space that keeps it within 78 characters.
    const std::string value = " " + clean;
    std::string folded = field;
    std::size_t used = field.size();  // of the current line
    std::size_t start = 0;            // of the current line, in value
    bool fits = true;
    while (used + (value.size() - start) > 78) {
      std::size_t cut = std::string::npos;
      for (std::size_t i = start + 1; i < value.size() && used + (i - start) <= 78; ++i)
        if (value[i] == ' ') cut = i;
      if (cut == std::string::npos) {
        fits = false;
        break;
      }
      folded += value.substr(start, cut - start) + "\r\n";
      used = 0;
      start = cut;
    }
    if (fits) return folded + value.substr(start);
  }
  // Encoded words: n bytes take 4*ceil(n/3) base64 characters and 12 more
  // ("=?UTF-8?B?" and "?="); split between UTF-8 sequences.
  std::size_t line = field.size();
  std::string out = field;
  std::size_t start = 0;
  while (start < clean.size()) {
    const std::size_t room = 76 - line - 1;  // the space before the word
    std::size_t bytes = room > 12 ? (room - 12) / 4 * 3 : 0;
    if (bytes == 0) bytes = 45;  // a new line has room for 45
    std::size_t end = std::min(start + bytes, clean.size());
    while (end < clean.size() && end > start && (static_cast<unsigned char>(clean[end]) & 0xC0) == 0x80)
      --end;
    const std::string word = "=?UTF-8?B?" + base64_encode(clean.substr(start, end - start)) + "?=";
    if (line + word.size() > 76) {
      out += "\r\n";
      line = 0;
    }
    out += " " + word;
    line += 1 + word.size();
    start = end;
  }
  if (clean.empty()) out += " ";
  return out;
}

}  // namespace ir::notify
