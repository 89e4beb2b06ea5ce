// Delivery: one request per channel, all channels at once (each on its own
// thread, so the total time is that of the slowest channel), retries with
// backoff that honour Retry-After, a pause between messages to the same
// destination where the provider asks for one, and secrets kept out of
// every line that could be printed.
#pragma once

#include "payloads.hpp"
#include "routing.hpp"

namespace ir::steps::notify {

struct Prepared {
  const Channel* channel = nullptr;
  std::string verb;    // "send", or the PagerDuty action
  json::object shown;  // the request as --dry-run and the result show it, secrets redacted
  http::Headers headers;
  std::string body;  // HTTP body, or the e-mail message
};

struct Outcome {
  bool sent = false;
  bool transient = false;  // failed, but only for reasons a later retry may not meet
  int attempts = 0;
  std::string detail;  // "HTTP 202 after 1 attempt", or why it failed
};

[[nodiscard]] Prepared prepare(const Channel& channel, const Outgoing& out);

struct Delivery {
  std::chrono::milliseconds timeout;
  int max_attempts = 5;
  http::Sleeper sleeper;  // empty: really sleep
};
[[nodiscard]] std::vector<Outcome> deliver_all(const std::vector<Prepared>& prepared,
                                               const Delivery& delivery);

// `text` with every secret of these channels replaced by <redacted>.
[[nodiscard]] std::string scrub(std::string text, const std::vector<Channel>& channels);

}  // namespace ir::steps::notify
