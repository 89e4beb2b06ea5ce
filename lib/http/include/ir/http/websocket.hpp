// A WebSocket over the HTTP client's own connection set-up (TLS with the
// in-memory CA and client certificate, host checks, proxies, deadlines), for
// the Kubernetes exec and attach subprotocols.
#pragma once

#include "ir/core/error.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ir::http {

class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // The subprotocol the server chose (Sec-WebSocket-Protocol).
  [[nodiscard]] virtual const std::string& protocol() const = 0;
  // The next whole message; nullopt once the server has closed the socket.
  [[nodiscard]] virtual Result<std::optional<std::string>> read(std::chrono::milliseconds timeout) = 0;
  [[nodiscard]] virtual Result<void> write(std::string_view message, std::chrono::milliseconds timeout) = 0;
  virtual void close() = 0;
};

}  // namespace ir::http
