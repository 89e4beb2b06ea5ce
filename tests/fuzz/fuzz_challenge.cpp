// WWW-Authenticate challenges as a registry sends them, and the token realm
// they name: parsing never crashes, and a realm is accepted only as https://,
// or as http:// to this machine (the host parsed as an address).
#include "ir/http/client.hpp"
#include "ir/oci/registry.hpp"

#include <boost/url/parse.hpp>

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ir::http::is_loopback_host(text);
  auto challenge = ir::oci::parse_challenge(text);
  if (!challenge) return 0;
  for (const auto& [key, value] : challenge->params) {
    auto realm = ir::oci::check_token_realm(value);
    if (!realm) continue;
    auto url = boost::urls::parse_absolute_uri(*realm);
    if (!url) std::abort();
    std::string scheme(url->scheme());
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "https") continue;
    if (scheme != "http" || !ir::http::is_loopback_host(std::string(url->encoded_host_address())))
      std::abort();
  }
  return 0;
}
