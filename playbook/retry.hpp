// Whether a failed node runs again, and after what pause, as Argo decides it
// from a retryStrategy: the policy (Always, OnFailure, OnError) must match
// the phase, the expression (if any) must hold for lastRetry, and the limit
// (retries after the first attempt; none given: no limit, as in Argo) must
// not be reached. backoff: duration * factor^(failures-1), never past
// maxDuration counted from the first attempt's start, which also bounds how
// long the retry may run (operator.go processNodeRetries).
#pragma once

#include "model.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace playbook {

struct AttemptOutcome {
  std::string phase;  // Succeeded, Failed, Error
  std::optional<int> exit_code;
  std::chrono::milliseconds duration{0};
};

struct RetryDecision {
  bool retry = false;
  std::chrono::milliseconds wait{0};
  // With backoff.maxDuration: the time the retry may run, what is left of
  // maxDuration after the wait. Argo gives it to the retry's pod as its
  // deadline (workflow/controller/operator.go processNodeRetries sets
  // executionDeadline; workflowpod.go getDeadline).
  std::optional<std::chrono::milliseconds> deadline;
  std::string reason;  // why not, for the node's message
};

// `limit` and the backoff fields already have their variables substituted.
// `failures` counts the attempts made so far (all failed).
[[nodiscard]] Result<RetryDecision> decide_retry(const RetryStrategy& strategy, const std::string& limit,
                                                 int failures, const AttemptOutcome& last,
                                                 std::chrono::milliseconds since_first_start);

// Checks the expression's syntax and identifiers before anything runs.
[[nodiscard]] Result<void> check_retry_expression(const std::string& expression);

// Argo durations: "30s", "1h", or a bare number of seconds.
[[nodiscard]] Result<std::chrono::milliseconds> argo_duration(const std::string& text);

}  // namespace playbook
