// A value that must never be printed: tokens, keys, passwords, webhook URLs,
// generated credentials. It has no stream operator, its fmt formatter prints
// "<redacted>", and its memory is wiped when it goes away. The only way to the
// bytes is reveal(), which is easy to search for in review.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace ir {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret& other) = default;
  Secret(Secret&& other) noexcept;
  Secret& operator=(const Secret& other);
  Secret& operator=(Secret&& other) noexcept;
  ~Secret();

  [[nodiscard]] std::string_view reveal() const noexcept { return value_; }
  [[nodiscard]] bool empty() const noexcept { return value_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return value_.size(); }

  friend bool operator==(const Secret& a, const Secret& b) noexcept;

 private:
  void wipe() noexcept;
  std::string value_;
};

inline constexpr std::string_view redacted = "<redacted>";

}  // namespace ir

template <>
struct fmt::formatter<ir::Secret> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const ir::Secret&, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(ir::redacted, ctx);
  }
};
