// SSH host keys checked against a known_hosts file, as OpenSSH reads it
// (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): plain and hashed host names,
// wildcards and negations, [host]:port for other ports, @revoked.
#include "known_hosts.hpp"

#include "ir/core/encoding.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace ir::git::detail {
namespace {

bool hashed_host_matches(std::string_view entry, std::string_view host) {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, host))
  if (!entry.starts_with("|1|")) return false;
  auto rest = entry.substr(3);
  auto bar = rest.find('|');
  if (bar == std::string_view::npos) return false;
  auto salt = base64_decode(rest.substr(0, bar));
  auto hash = base64_decode(rest.substr(bar + 1));
  if (!salt || !hash) return false;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), salt->data(), static_cast<int>(salt->size()),
       reinterpret_cast<const unsigned char*>(host.data()), host.size(), mac, &len);
  return hash->size() == len && std::equal(hash->begin(), hash->end(), reinterpret_cast<const char*>(mac));
}

// OpenSSH's wildcards: `*` any run of characters, `?` any one; host names
// compare without regard to case.
bool glob_matches(std::string_view pattern, std::string_view text) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || lower(pattern[p]) == lower(text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// The host field of a known_hosts line: comma-separated patterns or hashed
// names; a negated pattern (`!pattern`) that matches rules the line out
// whatever else matches, as in OpenSSH.
bool host_matches(std::string_view patterns, std::string_view host) {
  bool matched = false;
  std::size_t start = 0;
  while (start <= patterns.size()) {
    auto comma = patterns.find(',', start);
    auto one =
        patterns.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (one.starts_with("!")) {
      if (glob_matches(one.substr(1), host)) return false;
    } else if (glob_matches(one, host) || hashed_host_matches(one, host)) {
      matched = true;
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return matched;
}

}  // namespace

Result<void> check_host_key(const std::string& known_hosts, std::string host, int port,
                            std::string_view raw_key) {
  std::ifstream in(known_hosts);
  if (!in) return invalid("known_hosts file " + known_hosts + " cannot be read");
  // libgit2 1.6 and later pass "host:port" for a port other than 22.
  if (const std::string suffix = ":" + std::to_string(port); port != 22 && host.ends_with(suffix)) {
    host.resize(host.size() - suffix.size());
  }
  // OpenSSH lowers the name before it hashes or matches it.
  std::transform(host.begin(), host.end(), host.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  const std::string name = port == 22 ? host : "[" + host + "]:" + std::to_string(port);
  bool accepted = false;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string first, hosts, type, key;
    if (!(fields >> first) || first.starts_with("#")) continue;
    bool revoked = false;
    if (first.starts_with("@")) {
      // Only @revoked is ours to act on; a line with any other marker
      // (@cert-authority, a typo) must never accept a key.
      if (first != "@revoked") continue;
      revoked = true;
      if (!(fields >> hosts)) continue;
    } else {
      hosts = first;
    }
    if (!(fields >> type >> key) || !host_matches(hosts, name)) continue;
    auto decoded = base64_decode(key);
    if (!decoded || *decoded != raw_key) continue;
    if (revoked) return invalid("the host key of " + name + " is revoked in " + known_hosts);
    accepted = true;
  }
  if (!accepted) return invalid("the host key of " + name + " is not in " + known_hosts);
  return {};
}

}  // namespace ir::git::detail
