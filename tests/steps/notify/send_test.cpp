// Delivery against real HTTPS receivers on 127.0.0.1: concurrent sends, 429
// with Retry-After and 5xx retried, a channel that is down failing alone,
// and no secret in any text the step could print.
#include "send.hpp"

#include "support/catch.hpp"
#include "support/http_server.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <mutex>

using namespace ir;
using namespace ir::steps::notify;
using ir::test::HttpServer;
using ir::test::Reply;
using ir::test::SeenRequest;
using namespace std::chrono_literals;

namespace {

struct Pki {
  test::KeyPair ca = test::make_ca("notify test CA");
  test::KeyPair server = test::issue(ca, {"receiver", {"localhost"}, {"127.0.0.1"}});
};
const Pki& pki() {
  static const Pki instance;
  return instance;
}

test::ServerTls tls() {
  return {pki().server, {}};
}

Channel channel(std::string name, ChannelType type, const std::string& url) {
  Channel c;
  c.name = std::move(name);
  c.type = type;
  c.url = Secret(url);
  c.url_is_secret = type != ChannelType::pagerduty;
  c.ca_pem = pki().ca.cert_pem;
  if (type == ChannelType::pagerduty) c.routing_key = Secret("R0UTING-KEY-fedcba9876543210");
  if (type == ChannelType::webhook) c.signing_secret = Secret("whsec-0123456789abcdef");
  return c;
}

Outgoing outgoing() {
  Outgoing out;
  out.incident_id = "INC-2026-11-26-002";
  out.severity = Severity::high;
  out.status = "Investigating";
  out.message = {"initial-notification", "[SECURITY INCIDENT] High - test", "body"};
  out.dedup_key = dedup_key(out.incident_id, "shop/web");
  out.source = "shop/web";
  out.at = now();
  return out;
}

struct Waits {
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<std::chrono::milliseconds>> list =
      std::make_shared<std::vector<std::chrono::milliseconds>>();
  http::Sleeper sleeper() const {
    return [m = mutex, l = list](std::chrono::milliseconds d) {
      std::lock_guard lock(*m);
      l->push_back(d);
    };
  }
};

}  // namespace

TEST_CASE("every channel gets its payload, 429 with Retry-After and 503 are retried", "[unit][notify]") {
  std::atomic<int> slack_calls{0};
  HttpServer slack(
      [&](const SeenRequest&) {
        return ++slack_calls == 1 ? Reply{429, {{"Retry-After", "3"}}, "rate_limited"} : Reply{200, {}, "ok"};
      },
      tls());
  std::atomic<int> pd_calls{0};
  HttpServer pagerduty(
      [&](const SeenRequest&) {
        return ++pd_calls == 1 ? Reply{503, {}, "unavailable"}
                               : Reply{202, {}, R"({"status":"success","message":"Event processed"})"};
      },
      tls());
  HttpServer teams([](const SeenRequest&) { return Reply{202, {}, ""}; }, tls());
  HttpServer hook([](const SeenRequest&) { return Reply{204, {}, ""}; }, tls());
  const std::vector<Channel> channels = {
      channel("sec", ChannelType::slack, slack.url() + "/services/T1/B2/slack-secret-path"),
      channel("pd", ChannelType::pagerduty, pagerduty.url() + "/v2/enqueue"),
      channel("execs", ChannelType::teams, teams.url() + "/workflows/1/invoke?sig=teams-secret-sig"),
      channel("siem", ChannelType::webhook, hook.url() + "/hook")};
  const auto out = outgoing();
  std::vector<Prepared> prepared;
  for (const auto& c : channels) prepared.push_back(prepare(c, out));
  Waits waits;
  const auto outcomes = deliver_all(prepared, {10s, 5, waits.sleeper()});
  REQUIRE(outcomes.size() == 4);
  for (const auto& outcome : outcomes) {
    INFO(outcome.detail);
    CHECK(outcome.sent);
  }
  CHECK(outcomes[0].attempts == 2);
  CHECK(outcomes[1].attempts == 2);
  CHECK(std::find(waits.list->begin(), waits.list->end(), 3s) != waits.list->end());  // Retry-After honoured

  REQUIRE(slack.requests().size() == 2);
  CHECK(slack.requests()[1].target == "/services/T1/B2/slack-secret-path");
  CHECK(slack.requests()[1].header("content-type") == "application/json");
  const auto pd_body = boost::json::parse(pagerduty.requests().back().body);
  CHECK(string_at(pd_body, {"routing_key"}) == "R0UTING-KEY-fedcba9876543210");
  CHECK(string_at(pd_body, {"payload", "severity"}) == "error");
  CHECK(teams.requests().at(0).target == "/workflows/1/invoke?sig=teams-secret-sig");
  // The receiver authenticates the webhook with the shared secret.
  const auto seen = hook.requests().at(0);
  CHECK(seen.header("x-irsteps-signature") ==
        webhook_signature(Secret("whsec-0123456789abcdef"), seen.header("x-irsteps-timestamp"), seen.body));
  // What the result document shows of the requests holds no secret.
  for (const auto& p : prepared) {
    const std::string shown = boost::json::serialize(p.shown);
    CHECK(shown.find("slack-secret-path") == std::string::npos);
    CHECK(shown.find("teams-secret-sig") == std::string::npos);
    CHECK(shown.find("R0UTING-KEY") == std::string::npos);
    CHECK(shown.find("whsec") == std::string::npos);
  }
}

TEST_CASE("one channel down: the others are sent, the failure names no URL", "[unit][notify]") {
  HttpServer good([](const SeenRequest&) { return Reply{200, {}, "ok"}; }, tls());
  HttpServer failing([](const SeenRequest&) { return Reply{500, {}, "internal"}; }, tls());
  HttpServer refusing([](const SeenRequest&) { return Reply{404, {}, "no_service"}; }, tls());
  std::string down_url;
  {
    HttpServer gone([](const SeenRequest&) { return Reply{}; }, tls());
    down_url = gone.url() + "/services/T9/B9/down-secret";
  }
  const std::vector<Channel> channels = {
      channel("ok", ChannelType::slack, good.url() + "/services/a/b/c"),
      channel("down", ChannelType::slack, down_url),
      channel("five", ChannelType::teams, failing.url() + "/w?sig=five-secret"),
      channel("gone", ChannelType::slack, refusing.url() + "/x/y/gone-secret")};
  std::vector<Prepared> prepared;
  const auto out = outgoing();
  for (const auto& c : channels) prepared.push_back(prepare(c, out));
  Waits waits;
  const auto outcomes = deliver_all(prepared, {5s, 3, waits.sleeper()});
  CHECK(outcomes[0].sent);
  CHECK_FALSE(outcomes[1].sent);
  CHECK(outcomes[1].transient);
  CHECK(outcomes[1].attempts == 3);
  CHECK_FALSE(outcomes[2].sent);
  CHECK(outcomes[2].transient);
  CHECK(outcomes[2].detail.rfind("HTTP 500 after 3 attempts", 0) == 0);
  CHECK(failing.requests().size() == 3);
  CHECK_FALSE(outcomes[3].sent);
  CHECK_FALSE(outcomes[3].transient);  // 404 is final, not retried
  CHECK(outcomes[3].detail == "HTTP 404 after 1 attempt: no_service");
  for (const auto& outcome : outcomes) {
    CHECK(outcome.detail.find("secret") == std::string::npos);
    CHECK(scrub(outcome.detail, channels) == outcome.detail);
  }
  CHECK(scrub("x " + down_url + " y", channels) == "x <redacted> y");
}

TEST_CASE("two channels on one Slack webhook are a second apart", "[unit][notify]") {
  HttpServer slack([](const SeenRequest&) { return Reply{200, {}, "ok"}; }, tls());
  const std::string url = slack.url() + "/services/T/B/same";
  const std::vector<Channel> channels = {
      channel("a", ChannelType::slack, url), channel("b", ChannelType::slack, url),
      channel("c", ChannelType::slack, slack.url() + "/services/T/B/other")};
  std::vector<Prepared> prepared;
  const auto out = outgoing();
  for (const auto& c : channels) prepared.push_back(prepare(c, out));
  Waits waits;
  const auto outcomes = deliver_all(prepared, {5s, 3, waits.sleeper()});
  for (const auto& outcome : outcomes) CHECK(outcome.sent);
  REQUIRE(waits.list->size() == 1);  // only the second message to the shared webhook waited
  CHECK(waits.list->front() > 900ms);
  CHECK(waits.list->front() <= 1000ms);
}
