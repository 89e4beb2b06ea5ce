// Each provider's payload against its documented shape and limits: Slack
// Block Kit, PagerDuty Events API v2, Teams Adaptive Card in a Workflows
// message, the signed webhook, the e-mail.
#include "payloads.hpp"

#include "ir/core/encoding.hpp"
#include "ir/crypto/hmac.hpp"
#include "support/catch.hpp"

#include <boost/json/serialize.hpp>

using namespace ir;
using namespace ir::steps::notify;

namespace {

Outgoing outgoing(std::string body) {
  Outgoing out;
  out.incident_id = "INC-2026-11-26-001";
  out.severity = Severity::critical;
  out.status = "Investigating";
  out.message = {"initial-notification", "[SECURITY INCIDENT] Critical - miner <script> & co",
                 std::move(body)};
  out.next_update_due = "2026-11-26T10:15:00Z";
  out.dedup_key = dedup_key(out.incident_id, "shop/deployment/web");
  out.source = "shop/deployment/web";
  out.links = {{"https://runbooks.example/miner", "Runbook"}};
  out.at = parse_utc("2026-11-26T10:00:00Z").value();
  return out;
}

const json::array& blocks_of(const json::object& payload) {
  return payload.at("blocks").as_array();
}

}  // namespace

TEST_CASE("Slack: Block Kit with header, facts, escaped mrkdwn sections and a fallback text",
          "[unit][notify]") {
  const auto payload = slack_payload(outgoing("Summary:\na <b> & c"));
  // Issue 25: the fallback text is mrkdwn too, escaped like the blocks.
  CHECK(payload.at("text").as_string() == "[SECURITY INCIDENT] Critical - miner &lt;script&gt; &amp; co");
  const auto& blocks = blocks_of(payload);
  REQUIRE(blocks.size() == 5);
  CHECK(string_at(blocks[0], {"type"}) == "header");
  CHECK(string_at(blocks[0], {"text", "type"}) == "plain_text");
  CHECK(string_at(blocks[1], {"type"}) == "section");
  CHECK(blocks[1].at("fields").as_array().size() <= 10);
  CHECK(string_at(blocks[2], {"type"}) == "divider");
  CHECK(string_at(blocks[3], {"text", "type"}) == "mrkdwn");
  CHECK(string_at(blocks[3], {"text", "text"}) == "Summary:\na &lt;b&gt; &amp; c");
  CHECK(string_at(blocks[4], {"type"}) == "context");
}

TEST_CASE("Slack: long messages stay within 3000 characters a section and 50 blocks", "[unit][notify]") {
  std::string body;
  for (int i = 0; i < 4000; ++i) body += "line " + std::to_string(i) + " with some text & more é\n";
  const auto long_line = std::string(7000, 'x');
  body += long_line;
  const auto payload = slack_payload(outgoing(body));
  const auto& blocks = blocks_of(payload);
  CHECK(blocks.size() <= slack_max_blocks);
  std::size_t total = 0;
  for (const auto& block : blocks) {
    if (const auto* text = find(block, {"text", "text"});
        text != nullptr && string_at(block, {"type"}) == "section") {
      CHECK(utf16_length(text->as_string()) <= slack_max_section_text);
      CHECK(!text->as_string().empty());
      total += utf16_length(text->as_string());
    }
  }
  CHECK(total <= slack_max_blocks_text);
  CHECK(string_at(blocks[blocks.size() - 2], {"text", "text"}).find("cut here") != std::string::npos);
  // Header text is capped at 150 characters.
  auto out = outgoing("x");
  out.message.subject = std::string(400, 'S');
  CHECK(utf8_length(string_at(blocks_of(slack_payload(out))[0], {"text", "text"})) == slack_max_header_text);
}

TEST_CASE("utf8_truncate never cuts a character in two", "[unit][notify]") {
  const std::string text = "ééééé";  // 5 characters, 10 bytes
  CHECK(utf8_length(text) == 5);
  CHECK(utf8_truncate(text, 5) == text);
  CHECK(utf8_truncate(text, 3) == "éé\xE2\x80\xA6");
  CHECK(utf8_length(utf8_truncate(text, 3)) == 3);
}

TEST_CASE("PagerDuty: trigger with payload, links and details, acknowledge and resolve by dedup key",
          "[unit][notify]") {
  auto out = outgoing(std::string(5000, 'b'));
  out.message.subject = std::string(2000, 's');
  out.deadlines = regulatory_deadlines({DataClass::pci}, out.at);
  const auto trigger = pagerduty_payload(out, "ROUTING-KEY");
  CHECK(trigger.at("routing_key").as_string() == "ROUTING-KEY");
  CHECK(trigger.at("event_action").as_string() == "trigger");
  CHECK(trigger.at("dedup_key").as_string() == "irsteps/INC-2026-11-26-001/shop/deployment/web");
  const auto& payload = trigger.at("payload").as_object();
  CHECK(utf8_length(payload.at("summary").as_string()) == pagerduty_max_summary);
  CHECK(payload.at("severity").as_string() == "critical");
  CHECK(payload.at("source").as_string() == "shop/deployment/web");
  CHECK(parse_utc(payload.at("timestamp").as_string()));
  CHECK(string_at(payload, {"custom_details", "incident_id"}) == "INC-2026-11-26-001");
  CHECK(payload.at("custom_details").as_object().at("regulatory_deadlines").as_array().size() == 1);
  REQUIRE(trigger.at("links").as_array().size() == 1);
  CHECK(string_at(trigger.at("links").as_array()[0], {"href"}) == "https://runbooks.example/miner");

  out.action = PagerAction::resolve;
  const auto resolve = pagerduty_payload(out, "ROUTING-KEY");
  CHECK(resolve.size() == 3);  // routing_key, event_action, dedup_key
  CHECK(resolve.at("event_action").as_string() == "resolve");
  CHECK(resolve.at("dedup_key") == trigger.at("dedup_key"));
  out.action = PagerAction::acknowledge;
  CHECK(pagerduty_payload(out, "K").at("event_action").as_string() == "acknowledge");
}

TEST_CASE("Teams: a Workflows message carrying one Adaptive Card within 28 KB", "[unit][notify]") {
  auto out = outgoing("Summary:\nminer\n\nImpact:\nweb");
  out.deadlines = regulatory_deadlines({DataClass::personal}, out.at);
  const auto payload = teams_payload(out);
  CHECK(payload.at("type").as_string() == "message");
  const auto& attachments = payload.at("attachments").as_array();
  REQUIRE(attachments.size() == 1);
  CHECK(string_at(attachments[0], {"contentType"}) == "application/vnd.microsoft.card.adaptive");
  const auto& card = attachments[0].at("content").as_object();
  CHECK(card.at("type").as_string() == "AdaptiveCard");
  CHECK(card.at("version").as_string() == "1.5");  // TextBlock.style heading is 1.5
  const auto& body = card.at("body").as_array();
  CHECK(string_at(body[0], {"type"}) == "TextBlock");
  CHECK(string_at(body[1], {"type"}) == "FactSet");
  CHECK(body[1].at("facts").as_array().size() == 5);  // four facts and the GDPR deadline
  CHECK(body.size() == 4);                            // heading, facts, two paragraphs
  CHECK(string_at(card.at("actions").as_array()[0], {"type"}) == "Action.OpenUrl");

  std::string huge;
  for (int i = 0; i < 3000; ++i) huge += "paragraph " + std::to_string(i) + " of a long report\n\n";
  CHECK(boost::json::serialize(teams_payload(outgoing(huge))).size() <= teams_max_payload);
}

TEST_CASE("webhook: a JSON body and an HMAC-SHA256 signature over timestamp and body", "[unit][notify]") {
  const auto out = outgoing("text");
  const std::string body = boost::json::serialize(webhook_payload(out));
  const Secret secret("webhook-secret");
  const std::string signature = webhook_signature(secret, "1795687200", body);
  // What a receiver does: recompute over "timestamp.body" and compare.
  CHECK(signature == "v1=" + crypto::hmac_sha256_hex(secret, "1795687200." + body));
  CHECK(signature != webhook_signature(secret, "1795687201", body));
  CHECK(signature != webhook_signature(Secret("other"), "1795687200", body));
  const auto doc = parse_json(body, "body").value();
  CHECK(string_at(doc, {"incidentId"}) == "INC-2026-11-26-001");
  CHECK(string_at(doc, {"severity"}) == "critical");
  CHECK(string_at(doc, {"dedupKey"}) == out.dedup_key);
}

TEST_CASE("e-mail: headers that cannot be injected, UTF-8 bodies in base64", "[unit][notify]") {
  auto out = outgoing("plain body\n.leading dot");
  out.message.subject = "miner\r\nBcc: evil@example.com";
  const auto plain = email_message(out, "ir@example.com", {"a@example.com", "b@example.com"});
  CHECK(plain.find("\r\nTo: a@example.com, b@example.com\r\n") != std::string::npos);
  CHECK(plain.find("\r\nBcc:") == std::string::npos);
  CHECK(plain.find("Content-Transfer-Encoding: 7bit") != std::string::npos);
  CHECK(plain.find("Message-ID: <INC-2026-11-26-001.") != std::string::npos);
  CHECK(plain.find("Date: Thu, 26 Nov 2026 10:00:00 +0000") != std::string::npos);
  out.message.body = "Zusammenfassung: Schadsoftware in Pod ö";
  const auto utf8 = email_message(out, "ir@example.com", {"a@example.com"});
  CHECK(utf8.find("Content-Transfer-Encoding: base64") != std::string::npos);
  const auto encoded = utf8.substr(utf8.find("\r\n\r\n") + 4);
  CHECK(base64_decode(encoded).value() == out.message.body + "\r\n");  // RFC 2046: CRLF
}
