// A small SMTP submission client (RFC 5321, 3207, 4954) over Boost.Asio and
// OpenSSL: STARTTLS on port 587 or TLS from the first byte on 465, always
// with the server's certificate and name verified; AUTH PLAIN or LOGIN only
// after TLS is up; dot-stuffing; one deadline over the whole session. It
// refuses to go on in clear text when a server does not offer STARTTLS, so a
// stripped capability list cannot expose the password or the message.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/secret.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ir::notify {

enum class SmtpSecurity { starttls, implicit_tls };

struct SmtpServer {
  std::string host;
  std::uint16_t port = 587;
  SmtpSecurity security = SmtpSecurity::starttls;
  std::string ca_pem;                                            // empty: the system's CA store
  std::string client_name = "irsteps";                           // what EHLO says
  std::chrono::milliseconds timeout = std::chrono::seconds(60);  // the whole session
};

struct SmtpLogin {
  std::string username;
  Secret password;
};

struct Envelope {
  std::string from;
  std::vector<std::string> to;
};

struct SmtpDelivery {
  std::string mechanism;  // "PLAIN", "LOGIN", or empty without authentication
  std::string reply;      // the server's answer to the message ("250 2.0.0 Ok: queued as ...")
};

// Sends `message` (RFC 5322 headers and body; LF or CRLF line ends). Errors:
// Code::transient for network faults, timeouts and 4xx replies;
// Code::forbidden for refused authentication; Code::action_failed for 5xx
// replies, a missing STARTTLS and failed certificate checks.
[[nodiscard]] Result<SmtpDelivery> smtp_send(const SmtpServer& server, const std::optional<SmtpLogin>& login,
                                             const Envelope& envelope, std::string_view message);

// The message as it goes after DATA: CRLF line ends, a leading '.' doubled,
// a final CRLF; without the terminating ".\r\n".
[[nodiscard]] std::string dot_stuff(std::string_view message);

// A whole header field "Name: value" (no final CRLF), CR and LF in the
// value made spaces first so that it can never start a new header. Plain
// ASCII is folded at spaces into lines of at most 78 characters (RFC 5322
// 2.1.1); a value that cannot be (non-ASCII, or a word too long to fold)
// becomes RFC 2047 encoded words of at most 75 characters, each line at
// most 76 (RFC 2047 2), the first one counting the field's name.
[[nodiscard]] std::string header_field(std::string_view name, std::string_view text);

}  // namespace ir::notify
