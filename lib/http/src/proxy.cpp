// The parts of HTTP that need no connection: proxy choice, Retry-After,
// status classes, encoding, loopback addresses.
#include "ir/http/client.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace ir::http {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

std::optional<std::string> first_of(const EnvLookup& env, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (auto value = env(name); value && !value->empty()) return value;
  }
  return std::nullopt;
}

bool in_cidr(const boost::asio::ip::address& address, std::string_view cidr) {
  const auto slash = cidr.find('/');
  boost::system::error_code ec;
  const auto network = boost::asio::ip::make_address(std::string(cidr.substr(0, slash)), ec);
  if (ec || network.is_v4() != address.is_v4()) return false;
  const int bits = std::stoi(std::string(cidr.substr(slash + 1)));
  auto bytes_of = [](const boost::asio::ip::address& a) {
    std::vector<unsigned char> out;
    if (a.is_v4()) {
      const auto b = a.to_v4().to_bytes();
      out.assign(b.begin(), b.end());
    } else {
      const auto b = a.to_v6().to_bytes();
      out.assign(b.begin(), b.end());
    }
    return out;
  };
  const auto a = bytes_of(address);
  const auto n = bytes_of(network);
  for (int i = 0; i < bits && i < static_cast<int>(a.size()) * 8; ++i) {
    const int mask = 0x80 >> (i % 8);
    if ((a[static_cast<std::size_t>(i / 8)] & mask) != (n[static_cast<std::size_t>(i / 8)] & mask))
      return false;
  }
  return true;
}

// One NO_PROXY entry against the target, as curl and Go read them.
bool bypasses(std::string entry, const std::string& host, std::uint16_t port) {
  entry = lower(trim(entry));
  if (entry.empty()) return false;
  if (entry == "*") return true;
  if (entry.front() == '[') {  // [v6]:port
    const auto close = entry.find(']');
    if (close == std::string::npos) return false;
    const std::string rest = entry.substr(close + 1);
    if (rest.size() > 1 && rest[0] == ':' && std::to_string(port) != rest.substr(1)) return false;
    entry = entry.substr(1, close - 1);
  } else if (std::count(entry.begin(), entry.end(), ':') == 1) {  // host:port
    const auto colon = entry.find(':');
    if (std::to_string(port) != entry.substr(colon + 1)) return false;
    entry = entry.substr(0, colon);
  }
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  if (entry.find('/') != std::string::npos) return !ec && in_cidr(address, entry);
  if (!ec) {
    const auto wanted = boost::asio::ip::make_address(entry, ec);
    return !ec && wanted == address;
  }
  if (entry.front() == '.') entry.erase(0, 1);
  if (entry.rfind("*.", 0) == 0) entry.erase(0, 2);
  return host == entry ||
         (host.size() > entry.size() && host.compare(host.size() - entry.size(), entry.size(), entry) == 0 &&
          host[host.size() - entry.size() - 1] == '.');
}

}  // namespace

std::string proxy_for(std::string_view scheme, std::string_view host, std::uint16_t port,
                      const EnvLookup& env) {
  const auto proxy = scheme == "https"
                         ? first_of(env, {"HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"})
                         : first_of(env, {"http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"});
  if (!proxy) return {};
  std::string bare(host);
  if (!bare.empty() && bare.front() == '[') bare = bare.substr(1, bare.size() - 2);
  bare = lower(bare);
  if (auto no_proxy = first_of(env, {"NO_PROXY", "no_proxy"})) {
    std::size_t start = 0;
    while (start <= no_proxy->size()) {
      const auto comma = no_proxy->find(',', start);
      if (bypasses(no_proxy->substr(start, comma == std::string::npos ? std::string::npos : comma - start),
                   bare, port)) {
        return {};
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return *proxy;
}

bool is_loopback_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (lower(host) == "localhost") return true;
  // An address only, written as one: a name that merely starts with "127."
  // is whatever its DNS says.
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return false;
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6()).is_loopback();
  return address.is_loopback();
}

std::string Response::header(std::string_view name) const {
  const std::string wanted = lower(name);
  for (const auto& [key, value] : headers) {
    if (key == wanted) return value;
  }
  return {};
}

bool is_retryable_status(long status) noexcept {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) {
  const std::string text = trim(value);
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 9) return std::chrono::milliseconds(std::chrono::hours(24));
    return std::chrono::seconds(std::stol(text));
  }
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (end == nullptr) return std::nullopt;
  const auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
  return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    when - std::chrono::system_clock::now()));
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
