// The SMTP client's pure parts; the protocol itself is tested against a real
// server (aiosmtpd) in tests/integration/notify_test.cpp.
#include "ir/notify/smtp.hpp"

#include "ir/core/encoding.hpp"
#include "support/catch.hpp"

using ir::notify::dot_stuff;
using ir::notify::header_field;

TEST_CASE("dot-stuffing doubles a leading dot and ends every line with CRLF", "[unit][smtp]") {
  CHECK(dot_stuff("a\n.b\n..c\nd.e") == "a\r\n..b\r\n...c\r\nd.e\r\n");
  CHECK(dot_stuff("x\r\n.\r\ny\r\n") == "x\r\n..\r\ny\r\n");  // a lone "." never ends DATA early
  CHECK(dot_stuff(".") == "..\r\n");
  CHECK(dot_stuff("bare\rcr") == "bare\r\ncr\r\n");
  CHECK(dot_stuff("") == "\r\n");
}

TEST_CASE("header values cannot start a new header, non-ASCII becomes encoded words", "[unit][smtp]") {
  CHECK(header_field("Subject", "plain subject") == "Subject: plain subject");
  CHECK(header_field("Subject", "a\r\nBcc: x@y") == "Subject: a  Bcc: x@y");
  const std::string encoded =
      header_field("Subject", "Vorfall: Schadsoftware gefunden in Pod ö und noch mehr Text hier");
  CHECK(encoded.rfind("Subject: =?UTF-8?B?", 0) == 0);
  std::string decoded;
  std::size_t at = 0;
  while ((at = encoded.find("=?UTF-8?B?", at)) != std::string::npos) {
    const auto end = encoded.find("?=", at + 10);
    REQUIRE(end - at <= 75);
    decoded += ir::base64_decode(encoded.substr(at + 10, end - at - 10)).value();
    at = end;
  }
  CHECK(decoded == "Vorfall: Schadsoftware gefunden in Pod ö und noch mehr Text hier");
}
