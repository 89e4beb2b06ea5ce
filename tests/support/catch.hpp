// Catch2 with a printer for ir::Result, whose Boost stream operator is not
// usable for every value type.
#pragma once

#include "ir/core/error.hpp"

#include <catch2/catch.hpp>

namespace Catch {
template <class T>
struct StringMaker<boost::system::result<T, ir::Error>> {
  static std::string convert(const boost::system::result<T, ir::Error>& result) {
    return result ? std::string("a value") : "error: " + result.error().describe();
  }
};
}  // namespace Catch
