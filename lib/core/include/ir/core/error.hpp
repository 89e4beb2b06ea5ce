// Errors with a category that maps, in one table, to the exit codes of the
// design (0 done, 1 action failed, 2 bad input, 3 rejected, 4 transient,
// 5 forbidden, 70 internal).
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace ir {

enum class Code {
  action_failed,  // the step tried and its action did not succeed
  invalid_input,  // bad parameters, bad files, unknown objects named by the user
  not_found,      // an object the user named does not exist (bad input too)
  rejected,       // a negative verdict: verification failed, drift found
  transient,      // timeouts, resets, 429/5xx after retries
  forbidden,      // RBAC or authentication refused the request
  conflict,       // optimistic-concurrency conflict that retries did not resolve
  internal,       // a bug of ours
};

// The single table from error category to process exit status.
[[nodiscard]] int exit_code(Code code) noexcept;
[[nodiscard]] std::string_view code_name(Code code) noexcept;

inline constexpr int exit_ok = 0;

class Error {
 public:
  Error() = default;  // boost::system::result needs it; never used as a real error
  Error(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  [[nodiscard]] Code code() const noexcept { return code_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }
  [[nodiscard]] const std::vector<std::string>& context() const noexcept { return context_; }
  // A machine-readable reason from the other side, e.g. the Kubernetes
  // Status reason "AlreadyExists"; empty when there is none.
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }
  [[nodiscard]] Error with_reason(std::string reason) && {
    reason_ = std::move(reason);
    return std::move(*this);
  }

  // Adds what the caller was doing, outermost last:
  // `return e.with("apply NetworkPolicy " + name);`
  [[nodiscard]] Error with(std::string what) const&;
  [[nodiscard]] Error with(std::string what) &&;

  // "outer: inner: message", the line the driver prints.
  [[nodiscard]] std::string describe() const;

 private:
  Code code_ = Code::internal;
  std::string message_;
  std::vector<std::string> context_;
  std::string reason_;
};

// For test frameworks and debugging; errors never hold secrets.
std::ostream& operator<<(std::ostream& out, const Error& error);

template <class T>
using Result = boost::system::result<T, Error>;

[[nodiscard]] inline Error invalid(std::string message) {
  return {Code::invalid_input, std::move(message)};
}
[[nodiscard]] inline Error internal_error(std::string message) {
  return {Code::internal, std::move(message)};
}

// Thrown only when a caller calls value() on a failed Result; the driver's
// catch-all turns it into exit 70 since it is a programming error.
class BadResultAccess : public std::exception {
 public:
  explicit BadResultAccess(Error error) : error_(std::move(error)), text_(error_.describe()) {}
  [[nodiscard]] const char* what() const noexcept override { return text_.c_str(); }
  [[nodiscard]] const Error& error() const noexcept { return error_; }

 private:
  Error error_;
  std::string text_;
};

// Found by boost::system::result through argument-dependent lookup.
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

}  // namespace ir
