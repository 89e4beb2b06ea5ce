// The routing file: which channels exist, where each one's secrets are (a
// file or an environment variable, never the file itself), and which
// severities or escalation roles each one serves. Every mistake is an error
// naming the channel and the field.
#pragma once

#include "notify.hpp"

#include "ir/core/secret.hpp"
#include "ir/notify/smtp.hpp"

#include <functional>

namespace ir::steps::notify {

enum class ChannelType { slack, pagerduty, teams, webhook, email };
[[nodiscard]] std::string_view type_name(ChannelType type);

inline constexpr std::string_view pagerduty_events_url = "https://events.pagerduty.com/v2/enqueue";

struct Channel {
  std::string name;
  ChannelType type = ChannelType::slack;
  std::vector<Severity> severities;  // empty: by roles only (or all when no roles either)
  std::vector<std::string> roles;
  Secret url;                            // slack, teams, webhook: the webhook; pagerduty: the events endpoint
  bool url_is_secret = true;             // false only for an inline (non-secret) url
  Secret routing_key;                    // pagerduty
  Secret signing_secret;                 // webhook
  std::string ca_pem;                    // extra CA for this channel's TLS (empty: the system's)
  std::chrono::milliseconds timeout{0};  // 0: the step's --timeout
  int max_attempts = 0;                  // 0: the step's --max-attempts
  // email
  ir::notify::SmtpServer smtp;
  std::optional<ir::notify::SmtpLogin> login;
  std::string from;
  std::vector<std::string> to;

  // Every secret value of this channel, to scrub from any text we print.
  [[nodiscard]] std::vector<std::string_view> secrets() const;
};

struct Routing {
  std::vector<Channel> channels;
};

using Environment = std::function<std::optional<std::string>(const std::string&)>;

[[nodiscard]] Result<Routing> parse_routing(std::string_view text, const std::string& file_name,
                                            const Environment& env);
[[nodiscard]] Result<Routing> load_routing(const std::string& path, const Environment& env);

// Whether a channel is for this severity or one of these roles.
[[nodiscard]] bool serves(const Channel& channel, Severity severity, const std::vector<std::string>& roles);

}  // namespace ir::steps::notify
