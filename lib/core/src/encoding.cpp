#include "ir/core/encoding.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace ir {

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string clean;
  clean.reserve(text.size() + 3);
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    clean += c;
  }
  // Padding only at the end, two at most; the alphabet everywhere else.
  const auto data_end = clean.find_last_not_of('=') + 1;  // 0 when all padding
  if (clean.size() - data_end > 2) return invalid("not valid base64 (too much padding)");
  for (std::size_t i = 0; i < data_end; ++i) {
    const char c = clean[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return invalid("not valid base64");
  }
  if (data_end % 4 == 1) return invalid("not valid base64 (truncated)");
  clean.resize(data_end);
  while (clean.size() % 4 != 0) clean += '=';
  std::string out(clean.size() / 4 * 3, '\0');
  const int written =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (written < 0) return invalid("not valid base64");
  // EVP_DecodeBlock counts padding as zero bytes; drop them (at most two).
  const std::size_t padding = clean.size() - data_end;
  out.resize(static_cast<std::size_t>(written) - padding);
  return out;
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

Result<std::string> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) return invalid("not hexadecimal (an odd number of digits)");
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int value = 0;
    for (const char c : hex.substr(i, 2)) {
      value <<= 4;
      if (c >= '0' && c <= '9')
        value |= c - '0';
      else if (c >= 'a' && c <= 'f')
        value |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        value |= c - 'A' + 10;
      else
        return invalid("not hexadecimal");
    }
    bytes += static_cast<char>(value);
  }
  return bytes;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

}  // namespace ir
