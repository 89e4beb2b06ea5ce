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
// All the blocks' text together: chat.postMessage answers
// msg_blocks_too_long at about 13,200 characters (slackapi/bolt-js#2509);
// incoming webhooks are not documented either way, so the same bound holds
// for them, with room to spare.
inline constexpr std::size_t slack_max_blocks_text = 12000;
// The fallback `text` (notifications, screen readers).
inline constexpr std::size_t slack_max_text = 3000;
inline constexpr std::size_t pagerduty_max_summary = 1024;
// PagerDuty's Events API v2 refuses an event over 512 KB with a 4xx, which
// is not retried: the page would never go out. Stay well under it.
inline constexpr std::size_t pagerduty_max_event = 500 * 1000;
inline constexpr std::size_t teams_max_payload = 28 * 1024;
inline constexpr std::size_t teams_max_subject = 500;
inline constexpr std::size_t teams_max_blocks = 40;  // text blocks of the body

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
// Characters as Slack and JavaScript count them: UTF-16 code units (an
// emoji outside the Basic Multilingual Plane is two).
[[nodiscard]] std::size_t utf16_length(std::string_view text);
// At most `max` UTF-16 units, whole characters, ending with "…" when cut.
[[nodiscard]] std::string utf16_truncate(std::string_view text, std::size_t max);
// At most `max` characters; a cut text ends with "…" within the limit.
[[nodiscard]] std::string utf8_truncate(std::string_view text, std::size_t max);
[[nodiscard]] std::string slack_escape(std::string_view text);
// Escaped text cut to at most `max` UTF-16 units, never inside an entity
// ("&amp;"), ending with "…" when cut.
[[nodiscard]] std::string slack_truncate(std::string_view escaped, std::size_t max);

}  // namespace ir::steps::notify
