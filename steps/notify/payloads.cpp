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

// UTF-16 units of the character that starts at text[i].
std::size_t units_at(std::string_view text, std::size_t i) {
  return (static_cast<unsigned char>(text[i]) & 0xF8) == 0xF0 ? 2 : 1;
}

// Byte offset after at most `units` UTF-16 units (whole characters only).
std::size_t utf16_offset(std::string_view text, std::size_t units) {
  std::size_t i = 0, seen = 0;
  while (i < text.size()) {
    const std::size_t next = seen + units_at(text, i);
    if (next > units) break;
    seen = next;
    ++i;
    while (i < text.size() && continuation(text[i])) ++i;
  }
  return i;
}

// A cut of escaped Slack text that does not end inside an entity: "&amp;",
// "&lt;" and "&gt;" stay whole or go whole.
std::size_t entity_safe(std::string_view text, std::size_t cut) {
  const auto amp = cut == 0 ? std::string_view::npos : text.rfind('&', cut - 1);
  if (amp != std::string_view::npos && cut - amp < 5 && text.find(';', amp) >= cut) return amp;
  return cut;
}

// Splits Slack-escaped text into pieces of at most `max` characters, at line
// ends where it can, so that each fits one Slack section.
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
    const std::size_t needed = utf16_length(line) + (current.empty() ? 0 : 1);
    if (utf16_length(current) + needed > max) flush();
    while (utf16_length(line) > max) {
      // One line longer than a block: cut it, but never inside "&amp;".
      std::size_t cut = entity_safe(line, utf16_offset(line, max));
      if (cut == 0) cut = utf16_offset(line, max);
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

std::size_t utf16_length(std::string_view text) {
  std::size_t units = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!continuation(text[i])) units += units_at(text, i);
  }
  return units;
}

std::string utf16_truncate(std::string_view text, std::size_t max) {
  if (utf16_length(text) <= max) return std::string(text);
  if (max == 0) return {};
  return std::string(text.substr(0, utf16_offset(text, max - 1))) + std::string(ellipsis);
}

std::string slack_truncate(std::string_view escaped, std::size_t max) {
  if (utf16_length(escaped) <= max) return std::string(escaped);
  if (max == 0) return {};
  return std::string(escaped.substr(0, entity_safe(escaped, utf16_offset(escaped, max - 1)))) +
         std::string(ellipsis);
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
  // Every block's text counts towards slack_max_blocks_text, in UTF-16
  // units of the escaped text (what Slack stores); the body gets what the
  // header, facts and context leave, and says where it was cut.
  std::size_t used = 0;
  json::array blocks;
  const std::string header = utf16_truncate(out.message.subject, slack_max_header_text);
  used += utf16_length(header);
  blocks.push_back(
      json::object{{"type", "header"},
                   {"text", json::object{{"type", "plain_text"}, {"text", header}, {"emoji", false}}}});
  json::array fields;
  for (const auto& [name, value] : facts(out)) {
    std::string text = slack_truncate("*" + name + "*\n" + slack_escape(value), 2000);
    used += utf16_length(text);
    fields.push_back(json::object{{"type", "mrkdwn"}, {"text", std::move(text)}});
  }
  blocks.push_back(json::object{{"type", "section"}, {"fields", std::move(fields)}});
  blocks.push_back(json::object{{"type", "divider"}});
  const std::string context =
      slack_escape("irsteps notify · " + out.message.template_name + " · " + format_utc(out.at));
  used += utf16_length(context);
  constexpr std::string_view cut_note = "\n_(cut here: the message is longer than one Slack message holds)_";
  // Header, facts, divider and the closing context block take four.
  const std::size_t room = slack_max_blocks - 4;
  std::size_t budget = slack_max_blocks_text > used ? slack_max_blocks_text - used : 0;
  const auto pieces = split_text(slack_escape(out.message.body), slack_max_section_text);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const std::size_t length = utf16_length(pieces[i]);
    const bool last_room = blocks.size() + 1 == room + 3;
    if (length <= budget && !(last_room && i + 1 < pieces.size())) {
      budget -= length;
      blocks.push_back(
          json::object{{"type", "section"}, {"text", json::object{{"type", "mrkdwn"}, {"text", pieces[i]}}}});
      continue;
    }
    const std::size_t note = utf16_length(cut_note);
    const std::size_t keep = std::min(length, std::min(budget, slack_max_section_text) > note + 1
                                                  ? std::min(budget, slack_max_section_text) - note - 1
                                                  : 0);
    std::string text = slack_truncate(pieces[i], keep) + std::string(cut_note);
    blocks.push_back(json::object{{"type", "section"},
                                  {"text", json::object{{"type", "mrkdwn"}, {"text", std::move(text)}}}});
    break;
  }
  blocks.push_back(json::object{
      {"type", "context"}, {"elements", json::array{json::object{{"type", "mrkdwn"}, {"text", context}}}}});
  // The fallback text is mrkdwn too: escaped, so "<!channel>" or "<url|x>"
  // in a title is text and never a mention or a link.
  return {{"text", slack_truncate(slack_escape(out.message.subject), slack_max_text)},
          {"blocks", std::move(blocks)}};
}

json::object pagerduty_payload(const Outgoing& out, std::string_view routing_key) {
  json::object event{
      {"routing_key", routing_key}, {"event_action", action_name(out.action)}, {"dedup_key", out.dedup_key}};
  if (out.action != PagerAction::trigger) return event;
  // The whole message in custom_details, cut (and marked so) when the event
  // would pass pagerduty_max_event; summary, links and deadlines stay.
  const auto build = [&](std::size_t message_limit, std::size_t link_count) {
    json::object details{{"incident_id", out.incident_id},
                         {"status", out.status},
                         {"template", out.message.template_name},
                         {"next_update_due", out.next_update_due}};
    if (utf8_length(out.message.body) > message_limit) {
      details["message"] =
          utf8_truncate(out.message.body, message_limit) +
          "\n(cut: the message is longer than a PagerDuty event holds; the other channels and "
          "the case record have all of it)";
      details["message_cut"] = true;
    } else {
      details["message"] = out.message.body;
    }
    if (!out.deadlines.empty()) details["regulatory_deadlines"] = deadlines_json(out.deadlines);
    json::object built = event;
    built["payload"] = json::object{{"summary", utf8_truncate(out.message.subject, pagerduty_max_summary)},
                                    {"source", utf8_truncate(out.source, 255)},
                                    {"severity", level_of(out.severity).pagerduty},
                                    {"timestamp", format_utc(out.at, true)},
                                    {"class", "security incident"},
                                    {"component", utf8_truncate(out.source, 255)},
                                    {"group", out.incident_id},
                                    {"custom_details", std::move(details)}};
    json::array links;
    for (std::size_t i = 0; i < std::min(link_count, out.links.size()); ++i)
      links.push_back(
          json::object{{"href", out.links[i].first}, {"text", utf8_truncate(out.links[i].second, 1024)}});
    if (!links.empty()) built["links"] = std::move(links);
    built["client"] = "irsteps";
    return built;
  };
  std::size_t limit = utf8_length(out.message.body);
  std::size_t link_count = out.links.size();
  auto built = build(limit, link_count);
  // Each round takes at least the excess off the message (a character is at
  // least one byte; escaping only makes it more), then links if need be.
  for (std::size_t size = boost::json::serialize(built).size(); size > pagerduty_max_event;
       size = boost::json::serialize(built).size()) {
    const std::size_t excess = size - pagerduty_max_event + 256;
    if (limit > 0) {
      limit = limit > excess ? limit - excess : 0;
    } else if (link_count > 0) {
      --link_count;
    } else {
      break;  // the fixed fields alone: bounded by the schema's limits
    }
    built = build(limit, link_count);
  }
  return built;
}

// Shares `budget` characters among parts of the given lengths: a part that
// needs less than an even share keeps all of it, the rest share what is left.
std::vector<std::size_t> fair_shares(const std::vector<std::size_t>& lengths, std::size_t budget) {
  std::vector<std::size_t> shares(lengths.size(), 0);
  std::vector<std::size_t> open(lengths.size());
  for (std::size_t i = 0; i < open.size(); ++i) open[i] = i;
  std::sort(open.begin(), open.end(), [&](std::size_t x, std::size_t y) { return lengths[x] < lengths[y]; });
  std::size_t left = budget;
  for (std::size_t k = 0; k < open.size(); ++k) {
    const std::size_t even = left / (open.size() - k);
    shares[open[k]] = std::min(lengths[open[k]], even);
    left -= shares[open[k]];
  }
  return shares;
}

json::object teams_payload(const Outgoing& out) {
  // The body's parts (Summary, Impact, Current Actions, Contact, ...), each
  // its own TextBlock; when the card would pass teams_max_payload every part
  // gives up its fair share and says it was cut, so none is dropped.
  std::vector<std::string> parts;
  std::vector<std::size_t> lengths;
  for (std::size_t start = 0; start < out.message.body.size();) {
    auto end = out.message.body.find("\n\n", start);
    if (end == std::string::npos) end = out.message.body.size();
    if (end > start) parts.push_back(out.message.body.substr(start, end - start));
    start = end + 2;
  }
  // A TextBlock costs some 80 bytes of JSON: past teams_max_blocks parts, the
  // rest share the last block (a blank line still separates them there).
  if (parts.size() > teams_max_blocks) {
    for (std::size_t i = teams_max_blocks; i < parts.size(); ++i)
      parts[teams_max_blocks - 1] += "\n\n" + parts[i];
    parts.resize(teams_max_blocks);
  }
  for (const auto& part : parts) lengths.push_back(utf8_length(part));
  constexpr std::string_view cut_mark = " (cut: too long for one Teams card)";
  const auto card_with = [&](const std::vector<std::size_t>& limits) {
    json::array body;
    body.push_back(json::object{{"type", "TextBlock"},
                                {"text", utf8_truncate(out.message.subject, teams_max_subject)},
                                {"size", "Large"},
                                {"weight", "Bolder"},
                                {"style", "heading"},
                                {"color", out.severity == Severity::critical ? "Attention" : "Default"},
                                {"wrap", true}});
    json::array fact_list;
    for (const auto& [name, value] : facts(out))
      fact_list.push_back(json::object{{"title", name}, {"value", utf8_truncate(value, 500)}});
    for (const auto& d : out.deadlines) {
      fact_list.push_back(
          json::object{{"title", std::string(d.regulation) + " deadline"},
                       {"value", "notify " + std::string(d.notify) + " by " + format_utc(d.due)}});
    }
    body.push_back(json::object{{"type", "FactSet"}, {"facts", std::move(fact_list)}});
    for (std::size_t i = 0; i < parts.size(); ++i) {
      std::string text =
          limits[i] >= lengths[i] ? parts[i] : utf8_truncate(parts[i], limits[i]) + std::string(cut_mark);
      body.push_back(json::object{
          {"type", "TextBlock"}, {"text", std::move(text)}, {"wrap", true}, {"spacing", "Medium"}});
    }
    json::array actions;
    for (const auto& [href, title] : out.links) {
      if (actions.size() == 20) break;
      actions.push_back(
          json::object{{"type", "Action.OpenUrl"}, {"title", utf8_truncate(title, 200)}, {"url", href}});
    }
    // 1.5: TextBlock.style "heading" is new in Adaptive Cards 1.5.
    json::object card{{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
                      {"type", "AdaptiveCard"},
                      {"version", "1.5"},
                      {"body", std::move(body)}};
    if (!actions.empty()) card["actions"] = std::move(actions);
    return json::object{
        {"type", "message"},
        {"attachments", json::array{json::object{{"contentType", "application/vnd.microsoft.card.adaptive"},
                                                 {"contentUrl", nullptr},
                                                 {"content", std::move(card)}}}}};
  };
  auto payload = card_with(lengths);
  if (boost::json::serialize(payload).size() <= teams_max_payload) return payload;
  // Teams refuses cards over 28 KB: the most characters of the parts, shared
  // fairly, with which the card still fits (a character is 1 to 4 bytes, so
  // found by bisection rather than from the excess).
  std::size_t fits = 0, too_many = 0;
  for (const auto length : lengths) too_many += length;
  while (too_many - fits > 1) {
    const std::size_t mid = fits + (too_many - fits) / 2;
    if (boost::json::serialize(card_with(fair_shares(lengths, mid))).size() <= teams_max_payload)
      fits = mid;
    else
      too_many = mid;
  }
  payload = card_with(fair_shares(lengths, fits));
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
  std::string headers = "From: " + from + "\r\nTo: " + recipients + "\r\n" +
                        ir::notify::header_field("Subject", out.message.subject) +
                        "\r\nDate: " + rfc5322_date(out.at) + "\r\nMessage-ID: <" + out.incident_id + "." +
                        std::to_string(millis) + "." + std::to_string(random() % 1000000) + "@" + domain +
                        ">\r\nX-Irsteps-Incident: " + out.incident_id +
                        "\r\nX-Irsteps-Severity: " + capitalized(level_of(out.severity).id) +
                        "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n";
  if (plain) return headers + "Content-Transfer-Encoding: 7bit\r\n\r\n" + body;
  // Non-ASCII or very long lines: base64, which every server carries intact,
  // of the text with CRLF line ends (RFC 2046 4.1.1: text's canonical form).
  std::string canonical;
  canonical.reserve(body.size() + body.size() / 32);
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r') continue;
    if (body[i] == '\n') canonical += '\r';
    canonical += body[i];
  }
  const std::string encoded = base64_encode(canonical);
  std::string wrapped;
  for (std::size_t i = 0; i < encoded.size(); i += 76) wrapped += encoded.substr(i, 76) + "\r\n";
  return headers + "Content-Transfer-Encoding: base64\r\n\r\n" + wrapped;
}

}  // namespace ir::steps::notify
