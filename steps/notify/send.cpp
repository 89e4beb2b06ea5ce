#include "send.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/log.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <map>
#include <mutex>
#include <thread>

namespace ir::steps::notify {
namespace {

using namespace std::chrono_literals;

// The pause a provider asks for between messages to one destination: Slack
// allows one message a second per incoming webhook; the others allow bursts
// far beyond what one run sends, and answer 429 with Retry-After otherwise.
std::chrono::milliseconds pace_of(ChannelType type) {
  return type == ChannelType::slack ? 1000ms : type == ChannelType::teams ? 250ms : 0ms;
}

// Spaces requests to the same destination (two channels of a routing file
// may share a webhook) without holding up the others.
class Pacer {
 public:
  void wait(const std::string& destination, std::chrono::milliseconds interval,
            const http::Sleeper& sleeper) {
    if (interval.count() == 0) return;
    std::chrono::steady_clock::time_point slot;
    {
      std::lock_guard lock(mutex_);
      auto& next = next_[destination];
      slot = std::max(std::chrono::steady_clock::now(), next);
      next = slot + interval;
    }
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(slot - std::chrono::steady_clock::now());
    if (wait.count() > 0) sleeper(wait);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::chrono::steady_clock::time_point> next_;
};

json::array to_array(const std::vector<std::string>& items) {
  json::array list;
  for (const auto& item : items) list.emplace_back(item);
  return list;
}

std::string attempts_text(int attempts) {
  return std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
}

Outcome deliver_http(const Prepared& p, const Delivery& delivery, const http::Sleeper& sleeper) {
  const Channel& channel = *p.channel;
  http::RetryPolicy retry;
  retry.max_attempts = channel.max_attempts > 0 ? channel.max_attempts : delivery.max_attempts;
  http::Client client(http::Tls{channel.ca_pem, {}, {}, false}, retry);
  client.set_sleeper(sleeper);
  http::Request request;
  request.method = "POST";
  request.url = std::string(channel.url.reveal());
  request.url_is_secret = channel.url_is_secret;
  request.headers = p.headers;
  request.body = p.body;
  request.timeout = channel.timeout.count() > 0 ? channel.timeout : delivery.timeout;
  request.connect_timeout = std::min(request.timeout, request.connect_timeout);
  Outcome outcome;
  auto response = client.send(request);
  outcome.attempts = client.attempts();
  if (!response) {
    outcome.transient = response.error().code() == Code::transient;
    outcome.detail = response.error().describe();
    return outcome;
  }
  if (response->status >= 200 && response->status < 300) {
    outcome.sent = true;
    outcome.detail = "HTTP " + std::to_string(response->status) + " after " + attempts_text(outcome.attempts);
    return outcome;
  }
  outcome.transient = http::is_retryable_status(response->status);
  std::string answer = response->body.substr(0, 300);
  for (auto& c : answer) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  outcome.detail = "HTTP " + std::to_string(response->status) + " after " + attempts_text(outcome.attempts) +
                   (answer.empty() ? "" : ": " + answer);
  return outcome;
}

Outcome deliver_email(const Prepared& p, const Delivery& delivery, const http::Sleeper& sleeper) {
  const Channel& channel = *p.channel;
  ir::notify::SmtpServer server = channel.smtp;
  server.timeout = channel.timeout.count() > 0 ? channel.timeout : delivery.timeout;
  const int max_attempts = channel.max_attempts > 0 ? channel.max_attempts : delivery.max_attempts;
  Outcome outcome;
  for (int attempt = 1;; ++attempt) {
    outcome.attempts = attempt;
    auto sent = ir::notify::smtp_send(server, channel.login, {channel.from, channel.to}, p.body);
    if (sent) {
      outcome.sent = true;
      outcome.detail = (sent->mechanism.empty() ? "" : "AUTH " + sent->mechanism + ", ") + sent->reply +
                       " after " + attempts_text(attempt);
      return outcome;
    }
    outcome.transient = sent.error().code() == Code::transient;
    outcome.detail = sent.error().describe() + " (after " + attempts_text(attempt) + ")";
    if (!outcome.transient || attempt >= max_attempts) return outcome;
    const auto delay = std::min<std::chrono::milliseconds>(200ms * (1 << std::min(attempt - 1, 5)), 5s);
    log::warn("notify.retry", {{"channel", channel.name}, {"attempt", attempt}, {"delay_ms", delay.count()}});
    sleeper(delay);
  }
}

}  // namespace

Prepared prepare(const Channel& channel, const Outgoing& out) {
  Prepared p;
  p.channel = &channel;
  p.verb = "send";
  const std::string shown_url =
      channel.url_is_secret ? std::string(redacted) : std::string(channel.url.reveal());
  switch (channel.type) {
    case ChannelType::slack:
      p.body = boost::json::serialize(slack_payload(out));
      break;
    case ChannelType::teams:
      p.body = boost::json::serialize(teams_payload(out));
      break;
    case ChannelType::pagerduty:
      p.verb = std::string(action_name(out.action));
      p.body = boost::json::serialize(pagerduty_payload(out, channel.routing_key.reveal()));
      break;
    case ChannelType::webhook: {
      p.body = boost::json::serialize(webhook_payload(out));
      const std::string timestamp =
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(out.at.time_since_epoch()).count());
      p.headers.emplace_back(std::string(timestamp_header), timestamp);
      p.headers.emplace_back(std::string(signature_header),
                             webhook_signature(channel.signing_secret, timestamp, p.body));
      break;
    }
    case ChannelType::email:
      p.body = email_message(out, channel.from, channel.to);
      p.shown = {
          {"method", "SMTP"},
          {"path", "smtp://" + channel.smtp.host + ":" + std::to_string(channel.smtp.port)},
          {"contentType", "message/rfc822"},
          {"body", json::object{{"from", channel.from}, {"to", to_array(channel.to)}, {"message", p.body}}}};
      return p;
  }
  p.headers.emplace_back("Content-Type", "application/json");
  json::value body = boost::json::parse(p.body);
  // The routing key travels in the body; the printed copy never shows it.
  if (channel.type == ChannelType::pagerduty) body.as_object()["routing_key"] = redacted;
  json::object headers;
  for (const auto& [name, value] : p.headers) headers[name] = value;
  p.shown = {{"method", "POST"},
             {"path", shown_url},
             {"contentType", "application/json"},
             {"headers", std::move(headers)},
             {"body", std::move(body)}};
  return p;
}

std::vector<Outcome> deliver_all(const std::vector<Prepared>& prepared, const Delivery& delivery) {
  std::vector<Outcome> outcomes(prepared.size());
  Pacer pacer;
  const http::Sleeper sleeper = delivery.sleeper ? delivery.sleeper : [](std::chrono::milliseconds d) {
    std::this_thread::sleep_for(d);
  };
  std::vector<std::thread> threads;
  threads.reserve(prepared.size());
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    threads.emplace_back([&, i] {
      const Prepared& p = prepared[i];
      const Channel& channel = *p.channel;
      const std::string destination =
          std::string(type_name(channel.type)) + " " +
          sha256_hex(channel.type == ChannelType::pagerduty ? channel.routing_key.reveal()
                                                            : channel.url.reveal());
      pacer.wait(destination, pace_of(channel.type), sleeper);
      try {
        outcomes[i] = channel.type == ChannelType::email ? deliver_email(p, delivery, sleeper)
                                                         : deliver_http(p, delivery, sleeper);
      } catch (const std::exception& e) {
        // A thread must not take the process down; the channel fails instead.
        outcomes[i].detail = std::string("internal error: ") + e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return outcomes;
}

std::string scrub(std::string text, const std::vector<Channel>& channels) {
  for (const auto& channel : channels) {
    for (const auto secret : channel.secrets()) {
      if (secret.size() < 4) continue;
      for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
        text.replace(at, secret.size(), redacted);
        at += redacted.size();
      }
    }
  }
  return text;
}

}  // namespace ir::steps::notify
