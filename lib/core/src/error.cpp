#include "ir/core/error.hpp"

#include <ostream>

namespace ir {

int exit_code(Code code) noexcept {
  switch (code) {
    case Code::action_failed:
      return 1;
    case Code::conflict:
      return 1;
    case Code::invalid_input:
      return 2;
    case Code::not_found:
      return 2;
    case Code::rejected:
      return 3;
    case Code::transient:
      return 4;
    case Code::forbidden:
      return 5;
    case Code::internal:
      return 70;
  }
  return 70;
}

std::string_view code_name(Code code) noexcept {
  switch (code) {
    case Code::action_failed:
      return "action_failed";
    case Code::conflict:
      return "conflict";
    case Code::invalid_input:
      return "invalid_input";
    case Code::not_found:
      return "not_found";
    case Code::rejected:
      return "rejected";
    case Code::transient:
      return "transient";
    case Code::forbidden:
      return "forbidden";
    case Code::internal:
      return "internal";
  }
  return "internal";
}

Error Error::with(std::string what) const& {
  Error copy = *this;
  copy.context_.push_back(std::move(what));
  return copy;
}

Error Error::with(std::string what) && {
  context_.push_back(std::move(what));
  return std::move(*this);
}

std::string Error::describe() const {
  std::string text;
  for (auto it = context_.rbegin(); it != context_.rend(); ++it) {
    text += *it;
    text += ": ";
  }
  text += message_;
  return text;
}

std::ostream& operator<<(std::ostream& out, const Error& error) {
  return out << error.describe();
}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw BadResultAccess(error);
}

}  // namespace ir
