#include "ir/http/client.hpp"

#include "ir/core/log.hpp"

#include <curl/curl.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <random>
#include <thread>

namespace ir::http {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The URL for logs and errors: scheme, host and path, without the query.
std::string url_for_messages(const std::string& url) {
  const auto query = url.find('?');
  return query == std::string::npos ? url : url.substr(0, query);
}

struct HeaderList {
  curl_slist* list = nullptr;
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() {
    // The Authorization line holds a token: wipe every copy curl made.
    for (curl_slist* item = list; item != nullptr; item = item->next) {
      OPENSSL_cleanse(item->data, std::char_traits<char>::length(item->data));
    }
    curl_slist_free_all(list);
  }
  void add(const std::string& line) { list = curl_slist_append(list, line.c_str()); }
};

struct Attempt {
  CURL* handle = nullptr;
  Response response;
  const DataSink* sink = nullptr;
  bool body_started = false;
  bool stopped_by_sink = false;
  const Request* request = nullptr;
  std::size_t source_offset = 0;
  bool body_sent = false;
};

constexpr std::size_t max_error_body = 1 << 20;

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* attempt = static_cast<Attempt*>(user);
  const std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    attempt->response.headers.clear();  // a new response after 100-continue or a redirect
    return size * count;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    attempt->response.headers.emplace_back(lower(line.substr(0, colon)), std::string(value));
  }
  return size * count;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* attempt = static_cast<Attempt*>(user);
  const std::size_t bytes = size * count;
  long status = 0;
  curl_easy_getinfo(attempt->handle, CURLINFO_RESPONSE_CODE, &status);
  if (attempt->sink == nullptr || status >= 300 || status == 0) {
    // Error bodies are kept (bounded) so that the caller can decode them.
    if (attempt->sink != nullptr && attempt->response.body.size() + bytes > max_error_body) return bytes;
    attempt->response.body.append(data, bytes);
    return bytes;
  }
  attempt->body_started = true;
  if (!(*attempt->sink)(std::string_view(data, bytes))) {
    attempt->stopped_by_sink = true;
    return 0;
  }
  return bytes;
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* attempt = static_cast<Attempt*>(user);
  attempt->body_sent = true;
  return attempt->request->body_source(buffer, size * count);
}

bool retryable_transport(CURLcode code) {
  switch (code) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM: return true;
  default: return false;
  }
}

}  // namespace

struct Client::Shared {
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;

  Shared() {
    share = curl_share_init();
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &Shared::lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &Shared::unlock);
    curl_share_setopt(share, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~Shared() { curl_share_cleanup(share); }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Shared*>(user)->locks[static_cast<std::size_t>(data)].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Shared*>(user)->locks[static_cast<std::size_t>(data)].unlock();
  }
};

std::string Response::header(std::string_view name) const {
  const std::string wanted = lower(name);
  for (const auto& [key, value] : headers) {
    if (key == wanted) return value;
  }
  return {};
}

Client::Client(Tls tls, RetryPolicy retry)
    : tls_(std::move(tls)), retry_(retry), shared_(std::make_unique<Shared>()),
      sleeper_([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }) {
  global_init();
}

Client::~Client() = default;

bool is_retryable_status(long status) noexcept {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    if (value.size() > 9) return std::chrono::milliseconds(std::chrono::hours(24));
    return std::chrono::seconds(std::stol(std::string(value)));
  }
  const std::string text(value);
  const time_t when = curl_getdate(text.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  const auto delta = std::chrono::system_clock::from_time_t(when) - std::chrono::system_clock::now();
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(delta));
}

std::chrono::milliseconds Client::backoff(int attempt, const Response* response) const {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const auto exponent = std::min(attempt - 1, 16);
  const auto ceiling = std::min<long long>(retry_.max_delay.count(),
                                           retry_.base_delay.count() * (1LL << exponent));
  // Equal jitter: half fixed, half random, so that clients spread out but
  // never retry at once.
  std::uniform_int_distribution<long long> spread(ceiling / 2, std::max(ceiling / 2, ceiling));
  auto delay = std::chrono::milliseconds(spread(random));
  if (response != nullptr) {
    if (auto after = parse_retry_after(response->header("retry-after"))) {
      delay = std::max(delay, std::min(*after, retry_.max_retry_after));
    }
  }
  return delay;
}

Result<Response> Client::send(const Request& request) { return perform(request, nullptr, 0ms); }

Result<Response> Client::stream(const Request& request, const DataSink& sink,
                                std::chrono::milliseconds idle_timeout) {
  return perform(request, &sink, idle_timeout);
}

Result<Response> Client::perform(const Request& request, const DataSink* sink,
                                 std::chrono::milliseconds idle_timeout) {
  const std::string shown_url = url_for_messages(request.url);
  for (int number = 1;; ++number) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle(curl_easy_init(), &curl_easy_cleanup);
    if (!handle) return internal_error("libcurl could not create a handle");
    CURL* h = handle.get();
    Attempt attempt;
    attempt.handle = h;
    attempt.sink = sink;
    attempt.request = &request;
    std::array<char, CURL_ERROR_SIZE> error_text{};

    HeaderList headers;
    for (const auto& [name, value] : request.headers) headers.add(name + ": " + value);
    if (request.bearer_token) {
      headers.add("Authorization: Bearer " + std::string(request.bearer_token->reveal()));
    }
    headers.add("Expect:");

    curl_easy_setopt(h, CURLOPT_SHARE, shared_->share);
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_text.data());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &attempt);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &attempt);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "irsteps");
    if (request.follow_redirects) {
      curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
      curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    }
    if (sink == nullptr) {
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    } else if (idle_timeout.count() > 0) {
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                       static_cast<long>(std::max<long long>(1, idle_timeout.count() / 1000)));
    }

    curl_blob ca{};
    curl_blob cert{};
    curl_blob key{};
    if (!tls_.ca_pem.empty()) {
      ca = {const_cast<char*>(tls_.ca_pem.data()), tls_.ca_pem.size(), CURL_BLOB_NOCOPY};
      curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (!tls_.client_cert_pem.empty()) {
      cert = {const_cast<char*>(tls_.client_cert_pem.data()), tls_.client_cert_pem.size(), CURL_BLOB_NOCOPY};
      curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (!tls_.client_key_pem.empty()) {
      const auto bytes = tls_.client_key_pem.reveal();
      key = {const_cast<char*>(bytes.data()), bytes.size(), CURL_BLOB_NOCOPY};
      curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
      curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (tls_.insecure_skip_verify) {
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    if (request.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (request.method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
      if (request.body_source) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, &on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &attempt);
      } else if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
                 request.method == "PATCH") {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      }
    }

    const auto started = std::chrono::steady_clock::now();
    const CURLcode code = curl_easy_perform(h);
    attempts_.fetch_add(1);
    const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &attempt.response.status);
    attempt.response.attempts = number;

    const bool can_retry = request.retry && number < retry_.max_attempts && !attempt.body_started &&
                           !(request.body_source && attempt.body_sent);
    if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && attempt.stopped_by_sink)) {
      log::debug("http.response", {{"method", request.method},
                                   {"url", shown_url},
                                   {"status", attempt.response.status},
                                   {"latency_ms", latency.count()},
                                   {"attempt", number}});
      if (is_retryable_status(attempt.response.status) && can_retry) {
        const auto delay = backoff(number, &attempt.response);
        log::warn("http.retry", {{"method", request.method},
                                 {"url", shown_url},
                                 {"status", attempt.response.status},
                                 {"attempt", number},
                                 {"delay_ms", delay.count()}});
        sleeper_(delay);
        continue;
      }
      return std::move(attempt.response);
    }
    std::string reason = error_text[0] != '\0' ? std::string(error_text.data()) : curl_easy_strerror(code);
    if (retryable_transport(code) && can_retry) {
      const auto delay = backoff(number, nullptr);
      log::warn("http.retry", {{"method", request.method},
                               {"url", shown_url},
                               {"error", reason},
                               {"attempt", number},
                               {"delay_ms", delay.count()}});
      sleeper_(delay);
      continue;
    }
    const std::string what = request.method + " " + shown_url;
    if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE ||
        code == CURLE_SSL_CERTPROBLEM) {
      return Error(Code::action_failed, "TLS verification failed: " + reason).with(what);
    }
    if (retryable_transport(code) || code == CURLE_WRITE_ERROR || code == CURLE_ABORTED_BY_CALLBACK) {
      return Error(Code::transient, reason + " (after " + std::to_string(number) + " attempts)").with(what);
    }
    return Error(Code::action_failed, reason).with(what);
  }
}

std::string url_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace ir::http
