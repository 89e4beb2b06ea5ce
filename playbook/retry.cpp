#include "retry.hpp"

#include "expr.hpp"
#include "ir/core/time.hpp"

#include <charconv>
#include <cmath>

namespace playbook {
namespace {

using ir::invalid;

Result<expr::Value> last_retry(const AttemptOutcome& last, const std::string& name) {
  // Argo hands these over as strings, hence asInt(lastRetry.exitCode).
  if (name == "lastRetry.exitCode") return expr::Value(std::to_string(last.exit_code.value_or(-1)));
  if (name == "lastRetry.status") return expr::Value(last.phase);
  if (name == "lastRetry.duration") {
    return expr::Value(
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(last.duration).count()));
  }
  return invalid("unknown identifier " + name +
                 " (lastRetry.exitCode, lastRetry.status, lastRetry.duration)");
}

Result<long long> whole_number(const std::string& text, const std::string& what) {
  long long value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 0) {
    return invalid(what + ": '" + text + "' is not a whole number");
  }
  return value;
}

}  // namespace

Result<std::chrono::milliseconds> argo_duration(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    auto seconds = whole_number(text, "duration");
    if (!seconds) return seconds.error();
    return std::chrono::milliseconds(*seconds * 1000);
  }
  return ir::parse_duration(text);
}

Result<void> check_retry_expression(const std::string& expression) {
  const AttemptOutcome sample{"Failed", 1, std::chrono::seconds(1)};
  auto value = expr::evaluate(expression, expr::Dialect::expr_lang,
                              [&](const std::string& name) { return last_retry(sample, name); });
  if (!value) return value.error();
  return {};
}

Result<RetryDecision> decide_retry(const RetryStrategy& strategy, const std::string& limit, int failures,
                                   const AttemptOutcome& last, std::chrono::milliseconds since_first_start) {
  RetryDecision decision;
  if (last.phase == "Succeeded") return decision;
  const bool policy_matches = strategy.policy == "Always" ||
                              (strategy.policy == "OnFailure" && last.phase == "Failed") ||
                              (strategy.policy == "OnError" && last.phase == "Error");
  if (!policy_matches) {
    decision.reason = "retryPolicy " + strategy.policy + " does not retry a node that ended " + last.phase;
    return decision;
  }
  if (!strategy.expression.empty()) {
    auto holds = expr::evaluate(strategy.expression, expr::Dialect::expr_lang,
                                [&](const std::string& name) { return last_retry(last, name); });
    if (!holds) return holds.error().with(strategy.where + ".expression");
    if (!*holds) {
      decision.reason = "retryStrategy.expression is false";
      return decision;
    }
  }
  if (!limit.empty()) {
    auto max_retries = whole_number(limit, strategy.where + ".limit");
    if (!max_retries) return max_retries.error();
    if (failures > *max_retries) {
      decision.reason = "retry limit " + limit + " reached";
      return decision;
    }
  }
  if (strategy.backoff) {
    const auto& backoff = *strategy.backoff;
    if (backoff.duration.empty()) return invalid(strategy.where + ".backoff.duration: required");
    auto base = argo_duration(backoff.duration);
    if (!base) return base.error().with(strategy.where + ".backoff.duration");
    decision.wait = *base;
    if (!backoff.factor.empty()) {
      auto factor = whole_number(backoff.factor, strategy.where + ".backoff.factor");
      if (!factor) return factor.error();
      if (*factor > 0) {
        const double scale = std::pow(static_cast<double>(*factor), static_cast<double>(failures - 1));
        decision.wait =
            std::chrono::milliseconds(static_cast<long long>(static_cast<double>(base->count()) * scale));
      }
    }
    if (!backoff.max_duration.empty()) {
      auto max = argo_duration(backoff.max_duration);
      if (!max) return max.error().with(strategy.where + ".backoff.maxDuration");
      // operator.go processNodeRetries: past maxDuration since the first
      // attempt's start, or a backoff that would end past it, is the end.
      if (since_first_start >= *max) {
        decision.reason = "max duration limit exceeded (maxDuration " + backoff.max_duration +
                          " since the first attempt started)";
        decision.wait = {};
        return decision;
      }
      if (since_first_start + decision.wait >= *max) {
        decision.reason =
            "backoff would exceed max duration limit (maxDuration " + backoff.max_duration + ")";
        decision.wait = {};
        return decision;
      }
      decision.deadline = *max - since_first_start - decision.wait;
    }
  }
  decision.retry = true;
  return decision;
}

}  // namespace playbook
