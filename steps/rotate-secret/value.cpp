#include "rotate_secret.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>
#include <cstdlib>
#include <istream>
#include <iterator>

namespace ir::steps::rotate_secret {
namespace {

// One trailing newline is what `echo` and most editors add; it is not part of the value.
Secret without_newline(std::string value) {
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  return Secret(std::move(value));
}

}  // namespace

std::string_view charset_characters(Charset charset) {
  switch (charset) {
    case Charset::alnum:
      return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    case Charset::hex:
      return "0123456789abcdef";
    case Charset::base64:
      return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    case Charset::urlsafe:
      return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    case Charset::printable:
      return "!\"#$%&'()*+,-./"
             "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
  }
  return {};
}

Result<Secret> generate_value(std::size_t length, Charset charset) {
  const std::string_view characters = charset_characters(charset);
  const auto n = static_cast<unsigned>(characters.size());
  // Rejection sampling: bytes at or above the largest multiple of n would bias the result.
  const unsigned limit = 256U - 256U % n;
  std::string value;
  value.reserve(length);
  std::array<unsigned char, 256> buffer{};
  while (value.size() < length) {
    if (RAND_bytes(buffer.data(), static_cast<int>(buffer.size())) != 1) {
      return Error(Code::internal, "the random number generator failed (OpenSSL RAND_bytes)");
    }
    for (const unsigned char byte : buffer) {
      if (byte < limit && value.size() < length) value.push_back(characters[byte % n]);
    }
  }
  Secret secret(std::move(value));
  OPENSSL_cleanse(buffer.data(), buffer.size());
  return secret;
}

Result<Secret> read_value(const Options& options, std::istream& in) {
  Secret value;
  switch (options.source) {
    case Source::generate:
      return generate_value(options.length, options.charset);
    case Source::file: {
      auto text = read_file(options.from_file);
      if (!text) return Error(Code::invalid_input, "cannot read --from-file " + options.from_file);
      value = without_newline(std::move(*text));
      break;
    }
    case Source::env: {
      const char* text = std::getenv(options.from_env.c_str());
      if (text == nullptr)
        return invalid("environment variable " + options.from_env + " (--from-env) is not set");
      value = without_newline(text);
      break;
    }
    case Source::stdin_stream:
      value =
          without_newline(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
      break;
  }
  if (value.empty()) return invalid("the new value is empty");
  return value;
}

}  // namespace ir::steps::rotate_secret
