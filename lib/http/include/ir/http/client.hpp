// HTTPS client over Boost.Beast and OpenSSL: TLS verified with a CA given in
// memory, client certificates from memory, SNI and host-name (or IP) checks,
// HTTPS_PROXY/HTTP_PROXY through CONNECT with NO_PROXY, keep-alive across
// requests of one client, a deadline on every operation, streamed bodies both
// ways, redirects on request, and bounded retries with exponential backoff and
// jitter on 429, 5xx, resets and timeouts, honouring Retry-After.
//
// Beast rather than libcurl: the Kubernetes exec and registry code need
// WebSocket and raw streams over the very same TLS and proxy set-up, and
// libcurl's 40 shared libraries cost a step 6 ms before main (see
// docs/benchmarks.md).
#pragma once

#include "ir/core/env.hpp"
#include "ir/core/error.hpp"
#include "ir/core/secret.hpp"
#include "ir/http/websocket.hpp"

#include <atomic>

namespace boost::asio::ssl {
class context;
}
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ir::http {

using namespace std::chrono_literals;

struct Tls {
  std::string ca_pem;  // empty: the system's CA store
  std::string client_cert_pem;
  Secret client_key_pem;
  // Only when the user's own configuration asks for it; the caller warns.
  bool insecure_skip_verify = false;
};

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds base_delay = 200ms;
  std::chrono::milliseconds max_delay = 5s;
  std::chrono::milliseconds max_retry_after = 30s;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::optional<Secret> bearer_token;  // becomes the Authorization header; never logged
  std::string body;
  // Streams the request body instead of `body`: fills the buffer, returns the
  // bytes written, 0 at the end. Such a request is not retried once sent.
  std::function<std::size_t(char*, std::size_t)> body_source;
  std::chrono::milliseconds timeout = 30s;  // one attempt, connection included
  std::chrono::milliseconds connect_timeout = 10s;
  bool retry = true;
  // Followed redirects keep the credentials (bearer_token and any
  // Authorization or Cookie header) only on the same scheme, host and port.
  bool follow_redirects = false;
  // The most body bytes the answer may have; a larger one (announced or
  // sent) fails the request, not retried. Unset: no limit.
  std::optional<std::uint64_t> max_body;
  // The URL itself is a credential (Slack and Teams webhooks): logs and
  // errors then show only scheme://host:port.
  bool url_is_secret = false;
};

struct Response {
  long status = 0;
  Headers headers;  // names lower-cased
  std::string body;
  int attempts = 0;

  [[nodiscard]] std::string header(std::string_view name) const;
};

// Receives the body as it arrives; returning false stops the transfer early.
using DataSink = std::function<bool(std::string_view)>;

// Test seam: how the client waits between attempts (tests record instead).
using Sleeper = std::function<void(std::chrono::milliseconds)>;

class Client {
 public:
  explicit Client(Tls tls = {}, RetryPolicy retry = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The final response, whatever its status: HTTP errors are the caller's to
  // interpret. Transport failures that outlast the retries are Code::transient.
  [[nodiscard]] Result<Response> send(const Request& request);

  // Streams the body to `sink` (Response::body stays empty). Retries happen
  // only before the first body byte; afterwards a failure is an error and the
  // caller decides (logs, watches resume from their own position). A transfer
  // that is silent for `idle_timeout` fails.
  [[nodiscard]] Result<Response> stream(const Request& request, const DataSink& sink,
                                        std::chrono::milliseconds idle_timeout = 60s);

  // Upgrades `request` (GET, http or https URL) to a WebSocket offering
  // `subprotocols` in order of preference. Not retried: the caller knows
  // whether starting again is safe. A server that declines answers in
  // `refused` (status and body) instead.
  struct Upgrade {
    std::unique_ptr<WebSocket> socket;
    Response refused;
  };
  [[nodiscard]] Result<Upgrade> websocket(const Request& request,
                                          const std::vector<std::string>& subprotocols);

  void set_sleeper(Sleeper sleeper) { sleeper_ = std::move(sleeper); }
  // Connections opened so far (a kept-alive one is reused, not counted again).
  [[nodiscard]] int connections_opened() const noexcept;
  // Attempts sent on the wire, for tests and benchmarks.
  [[nodiscard]] int attempts() const noexcept { return attempts_.load(); }

 private:
  struct Pool;
  [[nodiscard]] boost::asio::ssl::context* tls_context();
  Result<Response> perform(const Request& request, const DataSink* sink,
                           std::chrono::milliseconds idle_timeout);
  std::chrono::milliseconds backoff(int attempt, const Response* response) const;

  Tls tls_;
  RetryPolicy retry_;
  std::unique_ptr<Pool> pool_;
  Sleeper sleeper_;
  std::atomic<int> attempts_{0};
};

// Retry-After as seconds or an HTTP date; nullopt when absent or unreadable.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value);

[[nodiscard]] bool is_retryable_status(long status) noexcept;

// The proxy to use for `url` from HTTPS_PROXY/HTTP_PROXY (either case) and
// NO_PROXY (host names, .domain suffixes, IP addresses, CIDRs, optional
// :port, "*"); empty for a direct connection.
[[nodiscard]] std::string proxy_for(std::string_view scheme, std::string_view host, std::uint16_t port,
                                    const EnvLookup& env);

// Whether `host` (a URL's host, IPv6 with or without brackets) is this
// machine: an IPv4 address in 127.0.0.0/8, ::1 (also IPv4-mapped), or the
// name "localhost". Parsed as an address: "127.attacker.example" is not.
[[nodiscard]] bool is_loopback_host(std::string_view host);

// Percent-encodes a query or path component.
[[nodiscard]] std::string url_encode(std::string_view text);

}  // namespace ir::http
