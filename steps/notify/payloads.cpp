#include "payloads.hpp"

#include "ir/core/encoding.hpp"
#include "ir/crypto/hmac.hpp"
#include "ir/notify/smtp.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <random>

namespace ir::steps::notify {
namespace {

constexpr std::string_view ellipsis = "\xE2\x80\xA6";

bool continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Byte offset after `count` characters.
std::size_t utf8_offset(std::string_view text, std::size_t count) {
  std::size_t i = 0;
  for (std::size_t seen = 0; i < text.size() && seen < count; ++seen) {
    ++i;
    while (i < text.size() && continuation(text[i])) ++i;
  }
  return i;
}

// Splits text into pieces of at most `max` characters, at line ends where it
// can, so that each fits one Slack section or one Teams text block.
std::vector<std::string> split_text(std::string_view text, std::size_t max) {
  std::vector<std::string> pieces;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) pieces.push_back(std::move(current));
    current.clear();
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, end - start);
    const std::size_t needed = utf8_length(line) + (current.empty() ? 0 : 1);
    if (utf8_length(current) + needed > max) flush();
    while (utf8_length(line) > max) {
      // One line longer than a block: cut it, but never inside "&amp;".
      std::size_t cut = utf8_offset(line, max);
      const auto amp = line.rfind('&', cut - 1);
      if (amp != std::string_view::npos && amp > 0 && cut - amp < 6 && line.find(';', amp) >= cut) cut = amp;
      pieces.emplace_back(line.substr(0, cut));
      line.remove_prefix(cut);
    }
    if (!current.empty()) current += '\n';
    current += line;
    if (end == text.size()) break;
    start = end + 1;
  }
  flush();
  return pieces;
}

std::string capitalized(std::string_view text) {
  std::string out(text);
  if (!out.empty()) out.front() = static_cast<char>(std::toupper(static_cast<unsigned char>(out.front())));
  return out;
}

std::vector<std::pair<std::string, std::string>> facts(const Outgoing& out) {
  return {{"Incident", out.incident_id},
          {"Severity", std::string(level_of(out.severity).name)},
          {"Status", out.status},
          {"Next update due", out.next_update_due}};
}

std::string rfc5322_date(TimePoint t) {
  const std::time_t seconds = Clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  const auto n = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S +0000", &utc);
  return {text, n};
}

}  // namespace

std::size_t utf8_length(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return !continuation(c); }));
}

std::string utf8_truncate(std::string_view text, std::size_t max) {
  if (utf8_length(text) <= max) return std::string(text);
  if (max == 0) return {};
  return std::string(text.substr(0, utf8_offset(text, max - 1))) + std::string(ellipsis);
}

std::string slack_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string_view action_name(PagerAction action) {
  switch (action) {
    case PagerAction::trigger:
      return "trigger";
    case PagerAction::acknowledge:
      return "acknowledge";
    case PagerAction::resolve:
      return "resolve";
  }
  return "trigger";
}

json::object slack_payload(const Outgoing& out) {
  json::array blocks;
  blocks.push_back(
      json::object{{"type", "header"},
                   {"text", json::object{{"type", "plain_text"},
                                         {"text", utf8_truncate(out.message.subject, slack_max_header_text)},
                                         {"emoji", false}}}});
  json::array fields;
  for (const auto& [name, value] : facts(out)) {
    fields.push_back(json::object{{"type", "mrkdwn"},
                                  {"text", utf8_truncate("*" + name + "*\n" + slack_escape(value), 2000)}});
  }
  blocks.push_back(json::object{{"type", "section"}, {"fields", std::move(fields)}});
  blocks.push_back(json::object{{"type", "divider"}});
  // Header, facts, divider and the closing context block take four.
  const std::size_t room = slack_max_blocks - 4;
  auto pieces = split_text(slack_escape(out.message.body), slack_max_section_text);
  if (pieces.size() > room) {
    pieces.resize(room);
    pieces.back() = utf8_truncate(pieces.back(), slack_max_section_text - 80);
    pieces.back() += "\n_(cut here: the message is longer than one Slack message holds)_";
  }
  for (auto& piece : pieces) {
    blocks.push_back(
        json::object{{"type", "section"}, {"text", json::object{{"type", "mrkdwn"}, {"text", piece}}}});
  }
  std::string context = "irsteps notify · " + out.message.template_name + " · " + format_utc(out.at);
  blocks.push_back(json::object{
      {"type", "context"},
      {"elements", json::array{json::object{{"type", "mrkdwn"}, {"text", slack_escape(context)}}}}});
  return {{"text", utf8_truncate(out.message.subject, slack_max_section_text)},
          {"blocks", std::move(blocks)}};
}

json::object pagerduty_payload(const Outgoing& out, std::string_view routing_key) {
  json::object event{
      {"routing_key", routing_key}, {"event_action", action_name(out.action)}, {"dedup_key", out.dedup_key}};
  if (out.action != PagerAction::trigger) return event;
  json::object details{{"incident_id", out.incident_id},
                       {"status", out.status},
                       {"template", out.message.template_name},
                       {"next_update_due", out.next_update_due},
                       {"message", out.message.body}};
  if (!out.deadlines.empty()) details["regulatory_deadlines"] = deadlines_json(out.deadlines);
  event["payload"] = json::object{{"summary", utf8_truncate(out.message.subject, pagerduty_max_summary)},
                                  {"source", out.source},
                                  {"severity", level_of(out.severity).pagerduty},
                                  {"timestamp", format_utc(out.at, true)},
                                  {"class", "security incident"},
                                  {"component", out.source},
                                  {"group", out.incident_id},
                                  {"custom_details", std::move(details)}};
  json::array links;
  for (const auto& [href, text] : out.links) links.push_back(json::object{{"href", href}, {"text", text}});
  if (!links.empty()) event["links"] = std::move(links);
  event["client"] = "irsteps";
  return event;
}

json::object teams_payload(const Outgoing& out) {
  auto card_with = [&](std::size_t body_limit) {
    json::array body;
    body.push_back(json::object{{"type", "TextBlock"},
                                {"text", out.message.subject},
                                {"size", "Large"},
                                {"weight", "Bolder"},
                                {"style", "heading"},
                                {"color", out.severity == Severity::critical ? "Attention" : "Default"},
                                {"wrap", true}});
    json::array fact_list;
    for (const auto& [name, value] : facts(out))
      fact_list.push_back(json::object{{"title", name}, {"value", value}});
    for (const auto& d : out.deadlines) {
      fact_list.push_back(
          json::object{{"title", std::string(d.regulation) + " deadline"},
                       {"value", "notify " + std::string(d.notify) + " by " + format_utc(d.due)}});
    }
    body.push_back(json::object{{"type", "FactSet"}, {"facts", std::move(fact_list)}});
    const std::string text = utf8_truncate(out.message.body, body_limit);
    std::size_t start = 0;
    while (start < text.size()) {
      auto end = text.find("\n\n", start);
      if (end == std::string::npos) end = text.size();
      if (end > start) {
        body.push_back(json::object{{"type", "TextBlock"},
                                    {"text", text.substr(start, end - start)},
                                    {"wrap", true},
                                    {"spacing", "Medium"}});
      }
      start = end + 2;
    }
    json::array actions;
    for (const auto& [href, title] : out.links) {
      actions.push_back(json::object{{"type", "Action.OpenUrl"}, {"title", title}, {"url", href}});
    }
    json::object card{{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
                      {"type", "AdaptiveCard"},
                      {"version", "1.4"},
                      {"body", std::move(body)}};
    if (!actions.empty()) card["actions"] = std::move(actions);
    return json::object{
        {"type", "message"},
        {"attachments", json::array{json::object{{"contentType", "application/vnd.microsoft.card.adaptive"},
                                                 {"contentUrl", nullptr},
                                                 {"content", std::move(card)}}}}};
  };
  std::size_t limit = utf8_length(out.message.body);
  auto payload = card_with(limit);
  // Teams refuses cards over 28 KB: shorten the text until it fits.
  while (boost::json::serialize(payload).size() > teams_max_payload && limit > 100) {
    const auto excess = boost::json::serialize(payload).size() - teams_max_payload;
    limit = limit > excess + 200 ? limit - excess - 200 : 100;
    payload = card_with(limit);
  }
  return payload;
}

json::object webhook_payload(const Outgoing& out) {
  json::array links;
  for (const auto& [href, text] : out.links) links.push_back(json::object{{"href", href}, {"text", text}});
  return {{"apiVersion", "irsteps.io/v1"},
          {"kind", "IncidentNotification"},
          {"incidentId", out.incident_id},
          {"severity", level_of(out.severity).id},
          {"status", out.status},
          {"template", out.message.template_name},
          {"subject", out.message.subject},
          {"text", out.message.body},
          {"nextUpdateDue", out.next_update_due},
          {"deadlines", deadlines_json(out.deadlines)},
          {"pagerAction", action_name(out.action)},
          {"dedupKey", out.dedup_key},
          {"links", std::move(links)},
          {"sentAt", format_utc(out.at)}};
}

std::string webhook_signature(const Secret& secret, std::string_view timestamp, std::string_view body) {
  std::string signed_text(timestamp);
  signed_text += '.';
  signed_text += body;
  return "v1=" + crypto::hmac_sha256_hex(secret, signed_text);
}

std::string email_message(const Outgoing& out, const std::string& from, const std::vector<std::string>& to) {
  std::string recipients;
  for (const auto& address : to) recipients += (recipients.empty() ? "" : ", ") + address;
  thread_local std::mt19937_64 random{std::random_device{}()};
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(out.at.time_since_epoch()).count();
  const std::string domain = from.substr(from.find('@') + 1);
  std::string body = out.message.body + "\n";
  const bool plain = std::all_of(body.begin(), body.end(), [](unsigned char c) { return c < 0x80; }) &&
                     std::all_of(body.begin(), body.end(), [n = std::size_t{0}](char c) mutable {
                       n = c == '\n' ? 0 : n + 1;
                       return n <= 900;
                     });
  std::string headers = "From: " + from + "\r\nTo: " + recipients +
                        "\r\nSubject: " + ir::notify::header_value(out.message.subject) +
                        "\r\nDate: " + rfc5322_date(out.at) + "\r\nMessage-ID: <" + out.incident_id + "." +
                        std::to_string(millis) + "." + std::to_string(random() % 1000000) + "@" + domain +
                        ">\r\nX-Irsteps-Incident: " + out.incident_id +
                        "\r\nX-Irsteps-Severity: " + capitalized(level_of(out.severity).id) +
                        "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n";
  if (plain) return headers + "Content-Transfer-Encoding: 7bit\r\n\r\n" + body;
  // Non-ASCII or very long lines: base64, which every server carries intact.
  const std::string encoded = base64_encode(body);
  std::string wrapped;
  for (std::size_t i = 0; i < encoded.size(); i += 76) wrapped += encoded.substr(i, 76) + "\r\n";
  return headers + "Content-Transfer-Encoding: base64\r\n\r\n" + wrapped;
}

}  // namespace ir::steps::notify
