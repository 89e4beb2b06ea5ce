// The three small expression languages of an Argo template, each limited to
// what playbooks need:
// - `when` (govaluate, after {{variable}} substitution): == != < > <= >= && ||
//   ! ( ), 'single' and "double" quoted strings, numbers, true/false, and
//   bare words, which compare as strings (`heads == heads`);
// - retryStrategy.expression (expr-lang): the same operators plus and/or/not,
//   identifiers (lastRetry.exitCode, lastRetry.status, lastRetry.duration)
//   and the functions asInt() and asFloat();
// - dag `depends`: task names and task.Succeeded/.Failed/.Skipped/.Errored
//   joined by && || ! ( ).
// Anything else (arithmetic, regular expressions, ternaries, other
// functions) is an error naming it.
#pragma once

#include "ir/core/error.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <variant>

namespace playbook::expr {

enum class Dialect { govaluate, expr_lang, depends };

using Value = std::variant<bool, double, std::string>;

// Gives an identifier's value; an unknown one is an error naming it.
// govaluate never calls it: its bare words are strings.
using Resolver = std::function<ir::Result<Value>(const std::string& identifier)>;

[[nodiscard]] ir::Result<bool> evaluate(std::string_view text, Dialect dialect, const Resolver& resolve = {});

// Syntax and identifiers only, before the values are known: mismatched
// types are not reported (the values are placeholders).
[[nodiscard]] ir::Result<void> check(std::string_view text, Dialect dialect, const Resolver& resolve = {});

}  // namespace playbook::expr
