#include "ir/http/client.hpp"

#include "connection.hpp"
#include "ir/core/log.hpp"

#include <openssl/crypto.h>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <mutex>
#include <random>
#include <thread>

namespace ir::http {
namespace http = boost::beast::http;
using detail::Connection;
using detail::Deadline;
using detail::Endpoint;

namespace {

constexpr std::size_t max_error_body = 1 << 20;
constexpr std::size_t chunk_size = 64 * 1024;

std::string url_for_messages(const std::string& url, bool secret) {
  const auto query = url.find('?');
  if (!secret) return query == std::string::npos ? url : url.substr(0, query);
  const auto scheme_end = url.find("://");
  const auto path = scheme_end == std::string::npos ? 0 : url.find_first_of("/?#", scheme_end + 3);
  std::string origin = path == std::string::npos ? url : url.substr(0, path);
  if (const auto at = origin.rfind('@'); at != std::string::npos && scheme_end != std::string::npos)
    origin.erase(scheme_end + 3, at - scheme_end - 2);
  return origin + "/" + std::string(redacted);
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// What one attempt produced: a response, or a failure that says whether a
// retry may help and whether anything reached the caller's sink.
struct Outcome {
  std::optional<Response> response;
  std::optional<Error> error;
  bool retryable = false;
  bool body_started = false;
  bool stale_connection = false;  // a kept-alive connection the server had closed
};

// What one attempt produced, and how long it took.
struct Attempt {
  Outcome outcome;
  std::chrono::milliseconds latency{0};
};

}  // namespace

struct Client::Pool {
  std::mutex mutex;
  std::multimap<std::string, std::unique_ptr<Connection>> idle;
  // Made at the first TLS connection: loading the system's CA store costs
  // about 20 ms, which a plain-HTTP client (a local registry) never needs.
  std::once_flag tls_once;
  std::unique_ptr<boost::asio::ssl::context> tls;
  std::atomic<int> opened{0};

  // One attempt of `request`: on a kept-alive connection to the same
  // endpoint through the same proxy when there is one, else on a new one;
  // given back when the exchange leaves it usable.
  Attempt attempt(Client& client, const Request& request, const Endpoint& endpoint, const std::string& proxy,
                  const DataSink* sink, std::chrono::milliseconds idle_timeout);
};

Client::Client(Tls tls, RetryPolicy retry)
    : tls_(std::move(tls)),
      retry_(retry),
      pool_(std::make_unique<Pool>()),
      sleeper_([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }) {}

Client::~Client() = default;

int Client::connections_opened() const noexcept {
  return pool_->opened.load();
}

boost::asio::ssl::context* Client::tls_context() {
  std::call_once(pool_->tls_once, [this] {
    namespace ssl = boost::asio::ssl;
    pool_->tls = std::make_unique<ssl::context>(ssl::context::tls_client);
    auto& ctx = *pool_->tls;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (tls_.ca_pem.empty()) {
      ctx.set_default_verify_paths(ec);
    } else {
      ctx.add_certificate_authority(boost::asio::buffer(tls_.ca_pem), ec);
    }
    if (!tls_.client_cert_pem.empty())
      ctx.use_certificate_chain(boost::asio::buffer(tls_.client_cert_pem), ec);
    if (!tls_.client_key_pem.empty()) {
      const auto key = tls_.client_key_pem.reveal();
      ctx.use_private_key(boost::asio::buffer(key.data(), key.size()), ssl::context::pem, ec);
    }
    ctx.set_verify_mode(tls_.insecure_skip_verify ? ssl::verify_none : ssl::verify_peer);
  });
  return pool_->tls.get();
}

std::chrono::milliseconds Client::backoff(int attempt, const Response* response) const {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const auto exponent = std::min(attempt - 1, 16);
  const auto ceiling =
      std::min<long long>(retry_.max_delay.count(), retry_.base_delay.count() * (1LL << exponent));
  // Half fixed, half random: clients spread out, and never retry at once.
  std::uniform_int_distribution<long long> spread(ceiling / 2, std::max(ceiling / 2, ceiling));
  auto delay = std::chrono::milliseconds(spread(random));
  if (response != nullptr) {
    if (auto after = parse_retry_after(response->header("retry-after"))) {
      delay = std::max(delay, std::min(*after, retry_.max_retry_after));
    }
  }
  return delay;
}

Result<Response> Client::send(const Request& request) {
  return perform(request, nullptr, {});
}

Result<Response> Client::stream(const Request& request, const DataSink& sink,
                                std::chrono::milliseconds idle_timeout) {
  return perform(request, &sink, idle_timeout);
}

namespace {

// What a request carried may be a secret: the bearer token in its
// Authorization header, a Secret's new value in its body. Beast's copies of
// them are wiped once the message is done with, on every path (security
// review finding 14); Beast owns the header storage, which is writable.
template <class Body>
void wipe_sent(http::request<Body>& message) {
  for (const auto field : {http::field::authorization, http::field::proxy_authorization}) {
    if (const auto it = message.find(field); it != message.end()) {
      const auto value = it->value();
      OPENSSL_cleanse(const_cast<char*>(value.data()), value.size());
    }
  }
}

class WipeWhenSent {
 public:
  explicit WipeWhenSent(std::function<void()> wipe) : wipe_(std::move(wipe)) {}
  WipeWhenSent(const WipeWhenSent&) = delete;
  WipeWhenSent& operator=(const WipeWhenSent&) = delete;
  ~WipeWhenSent() { wipe_(); }

 private:
  std::function<void()> wipe_;
};

// Sends one request on `connection` and reads the answer.
Outcome exchange(Connection& connection, const Endpoint& endpoint, const Request& request,
                 const DataSink* sink, std::chrono::milliseconds idle_timeout, Deadline deadline, bool reused,
                 bool& keep) {
  Outcome outcome;
  keep = false;
  const auto verb = http::string_to_verb(request.method);
  const std::string target = connection.via_proxy() && !endpoint.tls()
                                 ? endpoint.scheme + "://" + endpoint.host_port() + endpoint.target
                                 : endpoint.target;
  auto set_headers = [&](auto& message) {
    message.set(http::field::host,
                endpoint.port == (endpoint.tls() ? 443 : 80) ? endpoint.host : endpoint.host_port());
    message.set(http::field::user_agent, "irsteps");
    for (const auto& [name, value] : request.headers) message.set(name, value);
    if (request.bearer_token) {
      const Secret header("Bearer " + std::string(request.bearer_token->reveal()));
      message.set(http::field::authorization, header.reveal());
    }
  };
  auto fail = [&](const boost::beast::error_code& ec, bool sent) {
    if (ec == http::error::body_limit) {
      // Refused content, not a network fault: never retried.
      outcome.error = Error(Code::rejected, "the answer's body is over the " +
                                                std::to_string(request.max_body.value_or(0)) +
                                                " bytes accepted for it; refused");
      outcome.retryable = false;
      return outcome;
    }
    outcome.error = Error(detail::is_tls_verification_error(ec) ? Code::action_failed : Code::transient,
                          detail::describe_network_error(ec));
    outcome.retryable = !detail::is_tls_verification_error(ec) && !(sent && request.body_source);
    outcome.stale_connection = reused && !sent;
    return outcome;
  };

  boost::beast::error_code ec;
  if (request.body_source) {
    http::request<http::buffer_body> message{verb, target, 11};
    const WipeWhenSent wipe_headers([&] { wipe_sent(message); });
    set_headers(message);
    message.chunked(true);
    http::request_serializer<http::buffer_body> serializer{message};
    ec = connection.run(
        [&](Connection::Completion done) { http::async_write_header(connection.stream(), serializer, done); },
        deadline);
    if (ec) return fail(ec, false);
    std::array<char, chunk_size> chunk;
    for (;;) {
      const std::size_t n = request.body_source(chunk.data(), chunk.size());
      message.body().data = n == 0 ? nullptr : chunk.data();
      message.body().size = n;
      message.body().more = n != 0;
      ec = connection.run(
          [&](Connection::Completion done) { http::async_write(connection.stream(), serializer, done); },
          deadline);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return fail(ec, true);
      if (n == 0) break;
    }
  } else {
    http::request<http::string_body> message{verb, target, 11};
    const WipeWhenSent wipe_message([&] {
      wipe_sent(message);
      OPENSSL_cleanse(message.body().data(), message.body().size());
    });
    set_headers(message);
    if (!request.body.empty() || verb == http::verb::post || verb == http::verb::put ||
        verb == http::verb::patch) {
      message.body() = request.body;
      message.prepare_payload();
    }
    ec = connection.run(
        [&](Connection::Completion done) { http::async_write(connection.stream(), message, done); },
        deadline);
    if (ec) return fail(ec, false);
  }

  http::response_parser<http::buffer_body> parser;
  // Unbounded only where the caller says so; a Content-Length over the
  // bound fails with the header, a longer body as it arrives.
  if (request.max_body) {
    parser.body_limit(*request.max_body);
  } else {
    parser.body_limit(boost::none);
  }
  if (verb == http::verb::head) parser.skip(true);
  const auto read_deadline = [&] {
    return sink != nullptr ? std::chrono::steady_clock::now() + idle_timeout : deadline;
  };
  ec = connection.run(
      [&](Connection::Completion done) {
        http::async_read_header(connection.stream(), connection.buffer(), parser, done);
      },
      read_deadline());
  if (ec) {
    auto failed = fail(ec, true);
    failed.stale_connection =
        reused && (ec == http::error::end_of_stream || ec == boost::asio::error::connection_reset ||
                   ec == boost::asio::error::eof);
    return failed;
  }
  Response response;
  response.status = parser.get().result_int();
  for (const auto& field : parser.get())
    response.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
  const bool to_sink = sink != nullptr && response.status >= 200 && response.status < 300;
  std::array<char, chunk_size> chunk;
  bool stopped = false;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    ec = connection.run(
        [&](Connection::Completion done) {
          // read_some: hand over what has arrived (a watch event, a log
          // line) at once instead of waiting for the buffer to fill.
          http::async_read_some(connection.stream(), connection.buffer(), parser, done);
        },
        read_deadline());
    if (ec == http::error::need_buffer) ec = {};
    const std::size_t n = chunk.size() - parser.get().body().size;
    if (n > 0) {
      if (to_sink) {
        outcome.body_started = true;
        if (!(*sink)(std::string_view(chunk.data(), n))) {
          stopped = true;
          break;
        }
      } else if (sink == nullptr || response.body.size() < max_error_body) {
        response.body.append(chunk.data(), n);
      }
    }
    if (ec) {
      auto failed = fail(ec, true);
      failed.body_started = outcome.body_started;
      return failed;
    }
  }
  keep = !stopped && parser.is_done() && parser.get().keep_alive();
  outcome.response = std::move(response);
  return outcome;
}

}  // namespace

Attempt Client::Pool::attempt(Client& client, const Request& request, const Endpoint& endpoint,
                              const std::string& proxy, const DataSink* sink,
                              std::chrono::milliseconds idle_timeout) {
  const std::string key = endpoint.scheme + "://" + endpoint.host_port() + " via " + proxy;
  const Deadline deadline = std::chrono::steady_clock::now() + request.timeout;
  std::unique_ptr<Connection> connection;
  {
    std::lock_guard lock(mutex);
    if (auto it = idle.find(key); it != idle.end()) {
      connection = std::move(it->second);
      idle.erase(it);
    }
  }
  const bool reused = connection != nullptr;
  const auto started = std::chrono::steady_clock::now();
  Attempt result;
  if (!connection) {
    auto fresh =
        Connection::open(endpoint, proxy, endpoint.tls() ? client.tls_context() : nullptr,
                         std::min(deadline, std::chrono::steady_clock::now() + request.connect_timeout));
    if (fresh) {
      connection = std::move(*fresh);
      connection->set_key(key);
      opened.fetch_add(1);
    } else {
      result.outcome.error = fresh.error();
      result.outcome.retryable = fresh.error().code() == Code::transient;
    }
  }
  bool keep = false;
  if (connection)
    result.outcome = exchange(*connection, endpoint, request, sink, idle_timeout, deadline, reused, keep);
  client.attempts_.fetch_add(1);
  if (keep) {
    std::lock_guard lock(mutex);
    idle.emplace(key, std::move(connection));
  }
  result.latency =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  return result;
}

namespace {

// Points `request` at the Location of a redirect when it follows redirects
// and `response` is one it may follow (at most 5 in a row, never from https
// down to http); returns whether it did. Credentials are for the original
// server only: the bearer token and any the caller put in a header are
// dropped for another scheme, host or port. A 303 becomes a GET.
bool follow_redirect(Request& request, const Endpoint& endpoint, const Response& response, int redirects) {
  const long status = response.status;
  const std::string location = response.header("location");
  if (!request.follow_redirects || location.empty() || redirects >= 5 ||
      !(status == 301 || status == 302 || status == 303 || status == 307 || status == 308)) {
    return false;
  }
  auto base = boost::urls::parse_uri(request.url);
  auto ref = boost::urls::parse_uri_reference(location);
  if (!base || !ref) return false;
  boost::urls::url next;
  boost::urls::resolve(*base, *ref, next);
  auto next_endpoint = detail::parse_url(std::string(next.buffer()));
  if (!next_endpoint || (!next_endpoint->tls() && endpoint.tls())) return false;
  if (next_endpoint->scheme != endpoint.scheme ||
      lower(next_endpoint->host_port()) != lower(endpoint.host_port())) {
    request.bearer_token.reset();
    std::erase_if(request.headers, [](const auto& header) {
      const std::string name = lower(header.first);
      return name == "authorization" || name == "cookie" || name == "proxy-authorization";
    });
  }
  if (status == 303) {
    request.method = "GET";
    request.body.clear();
  }
  request.url = std::string(next.buffer());
  return true;
}

// Whether attempt `number` may be followed by another: the request allows
// retries, attempts are left, nothing has reached the caller's sink, and the
// outcome is worth it (429 and 5xx unless the body came from a source that
// cannot be replayed; failures a retry may cure).
bool worth_another_attempt(const Request& request, const Outcome& outcome, int number, int max_attempts) {
  if (!request.retry || number >= max_attempts || outcome.body_started) return false;
  if (outcome.response) return is_retryable_status(outcome.response->status) && !request.body_source;
  return outcome.retryable;
}

}  // namespace

Result<Response> Client::perform(const Request& original, const DataSink* sink,
                                 std::chrono::milliseconds idle_timeout) {
  Request request = original;
  const auto env = process_environment();
  int redirects = 0;
  int stale_retries = 0;
  for (int number = 1;; ++number) {
    const std::string shown_url = url_for_messages(request.url, request.url_is_secret);
    const std::string what = request.method + " " + shown_url;
    auto endpoint = detail::parse_url(request.url);
    if (!endpoint) {
      if (request.url_is_secret) return invalid("not an http(s) URL").with(what);
      return endpoint.error().with(what);
    }
    const std::string proxy = proxy_for(endpoint->scheme, endpoint->host, endpoint->port, env);
    auto [outcome, latency] = pool_->attempt(*this, request, *endpoint, proxy, sink, idle_timeout);

    // A kept-alive connection the server closed meanwhile is not a fault of
    // the server: try again on a new one at once, without counting it.
    if (outcome.error && outcome.stale_connection && stale_retries < 2) {
      ++stale_retries;
      --number;
      continue;
    }
    if (outcome.response) {
      outcome.response->attempts = number;
      log::debug("http.response", {{"method", request.method},
                                   {"url", shown_url},
                                   {"status", outcome.response->status},
                                   {"latency_ms", latency.count()},
                                   {"attempt", number}});
      if (follow_redirect(request, *endpoint, *outcome.response, redirects)) {
        ++redirects;
        --number;
        continue;
      }
    }
    if (worth_another_attempt(request, outcome, number, retry_.max_attempts)) {
      const Response* response = outcome.response ? &*outcome.response : nullptr;
      const auto delay = backoff(number, response);
      log::warn("http.retry", {{"method", request.method},
                               {"url", shown_url},
                               response != nullptr ? log::Field("status", response->status)
                                                   : log::Field("error", outcome.error->describe()),
                               {"attempt", number},
                               {"delay_ms", delay.count()}});
      sleeper_(delay);
      continue;
    }
    if (outcome.response) return std::move(*outcome.response);
    Error error = *outcome.error;
    if (error.code() == Code::transient) {
      return Error(Code::transient, error.describe() + " (after " + std::to_string(number) + " attempts)")
          .with(what);
    }
    return error.with(what);
  }
}

}  // namespace ir::http
