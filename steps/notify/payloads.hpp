// What each provider receives, in the shape and within the limits its
// documentation gives: Slack Block Kit (section text <= 3000 characters,
// <= 50 blocks, header <= 150), PagerDuty Events API v2 (summary <= 1024,
// dedup_key <= 255), a Teams Workflows webhook message carrying an Adaptive
// Card (<= 28 KB), a signed generic webhook, and an RFC 5322 e-mail.
#pragma once

#include "severity.hpp"
#include "templates.hpp"

#include "ir/core/secret.hpp"

namespace ir::steps::notify {

// One notification, provider-neutral.
struct Outgoing {
  std::string incident_id;
  Severity severity = Severity::high;
  std::string status;  // "Investigating"
  Message message;
  std::string next_update_due;  // RFC 3339
  std::vector<RegulatoryDeadline> deadlines;
  PagerAction action = PagerAction::trigger;
  std::string dedup_key;
  std::string source;  // the affected system
  std::vector<std::pair<std::string, std::string>> links;
  TimePoint at;
};

inline constexpr std::size_t slack_max_blocks = 50;
inline constexpr std::size_t slack_max_section_text = 3000;
inline constexpr std::size_t slack_max_header_text = 150;
inline constexpr std::size_t pagerduty_max_summary = 1024;
inline constexpr std::size_t teams_max_payload = 28 * 1024;

[[nodiscard]] std::string_view action_name(PagerAction action);

[[nodiscard]] json::object slack_payload(const Outgoing& out);
[[nodiscard]] json::object pagerduty_payload(const Outgoing& out, std::string_view routing_key);
[[nodiscard]] json::object teams_payload(const Outgoing& out);
[[nodiscard]] json::object webhook_payload(const Outgoing& out);

// The headers a webhook receiver checks: X-Irsteps-Timestamp (Unix seconds)
// and X-Irsteps-Signature "v1=" + hex HMAC-SHA256(secret, timestamp "." body).
inline constexpr std::string_view signature_header = "X-Irsteps-Signature";
inline constexpr std::string_view timestamp_header = "X-Irsteps-Timestamp";
[[nodiscard]] std::string webhook_signature(const Secret& secret, std::string_view timestamp,
                                            std::string_view body);

[[nodiscard]] std::string email_message(const Outgoing& out, const std::string& from,
                                        const std::vector<std::string>& to);

// Unicode-aware helpers (limits count characters, not bytes).
[[nodiscard]] std::size_t utf8_length(std::string_view text);
// At most `max` characters; a cut text ends with "…" within the limit.
[[nodiscard]] std::string utf8_truncate(std::string_view text, std::size_t max);
[[nodiscard]] std::string slack_escape(std::string_view text);

}  // namespace ir::steps::notify
