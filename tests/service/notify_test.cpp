// notify as a user runs it, against real receivers on 127.0.0.1: HTTPS
// webhook receivers that record what they get (Slack, PagerDuty, Teams, a
// signed webhook) and a real SMTP server (aiosmtpd) with STARTTLS and AUTH
// required. Faults (429 with Retry-After, 5xx, a channel down), dry runs,
// bad input, and every secret searched for in all output. No cluster.
#include "support/step_runner.hpp"

#include "ir/core/time.hpp"
#include "ir/crypto/hmac.hpp"
#include "ir/notify/smtp.hpp"
#include "ir/record/case_record.hpp"
#include "service/case_record_fixture.hpp"
#include "support/git_server.hpp"
#include "support/http_server.hpp"
#include "support/spawn.hpp"

#include <boost/json/parse.hpp>

#include <csignal>
#include <filesystem>

using namespace ir;
using namespace ir::test;
namespace fs = std::filesystem;

namespace {

const std::string incident = "INC-2026-11-26-401";

struct Pki {
  KeyPair ca = make_ca("notify test CA");
  KeyPair server = issue(ca, {"receiver", {"localhost"}, {"127.0.0.1"}});
};
const Pki& pki() {
  static const Pki instance;
  return instance;
}

// aiosmtpd on 127.0.0.1 through tests/support/smtp_server.py.
class SmtpServer {
 public:
  SmtpServer(bool starttls, bool auth) {
    fs::create_directories(dir_.path("mail"));
    std::vector<std::string> argv{"/usr/bin/python3",
                                  std::string(IRSTEPS_SOURCE_DIR) + "/tests/support/smtp_server.py",
                                  "--record", dir_.path("mail")};
    if (starttls) {
      argv.insert(argv.end(), {"--cert", dir_.file("cert.pem", pki().server.cert_pem), "--key",
                               dir_.file("key.pem", pki().server.key_pem)});
    }
    if (auth) argv.insert(argv.end(), {"--user", "irsteps", "--password", password});
    process_ = std::make_unique<Spawned>(argv);
    const bool ready = process_->wait_for_line([&](const std::string& line) {
      if (line.rfind("listening ", 0) != 0) return false;
      port_ = static_cast<std::uint16_t>(std::stoi(line.substr(10)));
      return true;
    });
    if (!ready) FAIL("the SMTP server did not start: " << process_->finish().err);
  }
  ~SmtpServer() {
    ::kill(process_->pid(), SIGTERM);
    (void)process_->finish();
  }
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::vector<std::string> messages() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_.path("mail"))) {
      if (entry.path().extension() == ".eml") names.push_back(entry.path().string());
    }
    std::sort(names.begin(), names.end());
    std::vector<std::string> texts;
    for (const auto& name : names) texts.push_back(read_file(name).value());
    return texts;
  }

  static constexpr const char* password = "smtp-Pa55word-secret";

 private:
  TempDir dir_;
  std::unique_ptr<Spawned> process_;
  std::uint16_t port_ = 0;
};

const std::string slack_path = "/services/T0001/B0001/slack-url-secret-4f3c";
const std::string teams_query = "/workflows/9/triggers/manual/paths/invoke?sig=teams-sig-secret-77a1";
const std::string routing_key = "pd-routing-key-secret-0b5e9d";
const std::string hook_secret = "webhook-hmac-secret-c0ffee";

// Everything one run needs: receivers, an SMTP server, the routing file
// with its secrets in the environment, the outputs folder.
struct Rig {
  explicit Rig(HttpServer::Handler slack_handler = ok(200), HttpServer::Handler pd_handler = ok(202),
               HttpServer::Handler teams_handler = ok(202))
      : slack(std::move(slack_handler), ServerTls{pki().server, {}}),
        pagerduty(std::move(pd_handler), ServerTls{pki().server, {}}),
        teams(std::move(teams_handler), ServerTls{pki().server, {}}),
        hook(ok(204), ServerTls{pki().server, {}}),
        smtp(true, true) {
    env = {{"NT_SLACK_URL", slack.url() + slack_path},
           {"NT_TEAMS_URL", teams.url() + teams_query},
           {"NT_PD_KEY", routing_key},
           {"NT_SMTP_PASSWORD", SmtpServer::password}};
    const std::string secret_file = dir.file("hook-secret", hook_secret + "\n");
    routing =
        dir.file("routing.yaml", "defaults: {ca-file: " + dir.file("ca.pem", pki().ca.cert_pem) +
                                     ", timeout: 20s}\nchannels:\n"
                                     "  - {name: sec-slack, type: slack, url-env: NT_SLACK_URL, "
                                     "severities: [critical, high]}\n"
                                     "  - {name: pager, type: pagerduty, routing-key-env: NT_PD_KEY, url: '" +
                                     pagerduty.url() +
                                     "/v2/enqueue', severities: [critical]}\n"
                                     "  - {name: execs, type: teams, url-env: NT_TEAMS_URL, roles: [ciso]}\n"
                                     "  - {name: siem, type: webhook, url: '" +
                                     hook.url() + "/irsteps', secret-file: " + secret_file +
                                     "}\n"
                                     "  - {name: mail, type: email, host: 127.0.0.1, port: " +
                                     std::to_string(smtp.port()) +
                                     ", username: irsteps, password-env: NT_SMTP_PASSWORD, "
                                     "from: irsteps@example.com, to: [ciso@example.com, sec@example.com], "
                                     "roles: [security-lead]}\n");
  }

  static HttpServer::Handler ok(int status) {
    return [status](const SeenRequest&) { return Reply{status, {}, status == 200 ? "ok" : ""}; };
  }

  std::vector<std::string> args(std::vector<std::string> more) const {
    std::vector<std::string> list{"--incident-id",     incident,
                                  "--routing",         routing,
                                  "--outputs-dir",     dir.path("outputs"),
                                  "--title",           "Crypto miner in shop/web",
                                  "--summary",         "A miner ran in web-7d4b9 & reached out.",
                                  "--impact",          "shop web pods",
                                  "--current-actions", "pod isolated",
                                  "--contact",         "Alice (IC)",
                                  "--target",          "shop/deployment/web"};
    list.insert(list.end(), more.begin(), more.end());
    return list;
  }

  // Every secret, searched for in stdout, stderr and every output file.
  void check_no_secret(const StepRun& run) const {
    std::string everything = run.all_text();
    if (fs::exists(dir.path("outputs"))) {
      for (const auto& entry : fs::directory_iterator(dir.path("outputs")))
        everything += read_file(entry.path()).value();
    }
    for (const std::string& secret :
         {slack_path, std::string("slack-url-secret"), std::string("teams-sig-secret"), routing_key,
          hook_secret, std::string(SmtpServer::password)}) {
      INFO("secret: " << secret);
      CHECK(everything.find(secret) == std::string::npos);
    }
  }

  TempDir dir;
  HttpServer slack;
  HttpServer pagerduty;
  HttpServer teams;
  HttpServer hook;
  SmtpServer smtp;
  std::vector<std::pair<std::string, std::string>> env;
  std::string routing;
};

json::value body_of(const SeenRequest& request) {
  return boost::json::parse(request.body);
}

}  // namespace

TEST_CASE("notify: a critical incident reaches all five channels in each provider's shape",
          "[integration][notify][no-cluster]") {
  Rig rig;
  auto run = run_step_binary(
      "notify",
      rig.args({"--severity", "critical", "--data-class", "pci", "--data-class", "personal", "--detected-at",
                "2026-11-26T09:00:00Z", "--link", "https://runbooks.example/miner|Runbook"}),
      rig.env);
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("channels-sent") == "sec-slack,pager,execs,siem,mail");
  CHECK(run.output("channels-failed").empty());
  CHECK(run.output("dedup-key") == "irsteps/" + incident + "/shop/deployment/web");
  CHECK(run.output("roles-notified") == "on-call-engineer,security-lead,ciso,ceo,executives");
  const auto due = parse_utc(run.output("next-update-due"));
  REQUIRE(due);
  const auto started = parse_utc(string_at(run.result, {"startTime"})).value();
  CHECK(*due - started >= std::chrono::minutes(14));
  CHECK(*due - started <= std::chrono::minutes(16));
  const auto deadlines = boost::json::parse(run.output("deadlines"));
  REQUIRE(deadlines.as_array().size() == 2);
  CHECK(string_at(deadlines.as_array()[0], {"due"}) == "2026-11-27T09:00:00Z");
  CHECK(string_at(deadlines.as_array()[1], {"due"}) == "2026-11-29T09:00:00Z");
  CHECK(fs::exists(rig.dir.path("outputs") + "/next-update-due"));

  // Slack: Block Kit within its limits, the text as the template says.
  REQUIRE(rig.slack.requests().size() == 1);
  const auto slack = rig.slack.requests()[0];
  CHECK(slack.target == slack_path);
  const auto blocks = body_of(slack).at("blocks").as_array();
  CHECK(blocks.size() <= 50);
  CHECK(string_at(blocks[0], {"text", "text"}) == "[SECURITY INCIDENT] Critical - Crypto miner in shop/web");
  CHECK(slack.body.find("A miner ran in web-7d4b9 &amp; reached out.") != std::string::npos);
  CHECK(slack.body.find("PCI DSS: notify the payment brands by 2026-11-27T09:00:00Z") != std::string::npos);
  // PagerDuty: an Events API v2 trigger.
  REQUIRE(rig.pagerduty.requests().size() == 1);
  const auto event = body_of(rig.pagerduty.requests()[0]);
  CHECK(rig.pagerduty.requests()[0].target == "/v2/enqueue");
  CHECK(string_at(event, {"routing_key"}) == routing_key);
  CHECK(string_at(event, {"event_action"}) == "trigger");
  CHECK(string_at(event, {"payload", "severity"}) == "critical");
  CHECK(string_at(event, {"payload", "source"}) == "shop/deployment/web");
  CHECK(string_at(event.at("links").as_array()[0], {"text"}) == "Runbook");
  // Teams: an Adaptive Card in a Workflows message.
  REQUIRE(rig.teams.requests().size() == 1);
  CHECK(rig.teams.requests()[0].target == teams_query);
  const auto teams = body_of(rig.teams.requests()[0]);
  CHECK(string_at(teams.at("attachments").as_array()[0], {"content", "type"}) == "AdaptiveCard");
  // Webhook: the receiver can authenticate the body.
  REQUIRE(rig.hook.requests().size() == 1);
  const auto hook = rig.hook.requests()[0];
  const std::string expected =
      "v1=" +
      crypto::hmac_sha256_hex(Secret(hook_secret), hook.header("x-irsteps-timestamp") + "." + hook.body);
  CHECK(crypto::equal_constant_time(hook.header("x-irsteps-signature"), expected));
  CHECK(string_at(body_of(hook), {"incidentId"}) == incident);
  // E-mail: over STARTTLS, authenticated, to both recipients.
  const auto mails = rig.smtp.messages();
  REQUIRE(mails.size() == 1);
  CHECK(mails[0].find("X-Test-TLS: yes") != std::string::npos);
  CHECK(mails[0].find("X-Test-Auth: PLAIN") != std::string::npos);
  CHECK(mails[0].find("X-Test-Envelope-To: ciso@example.com,sec@example.com") != std::string::npos);
  CHECK(mails[0].find("Subject: [SECURITY INCIDENT] Critical - Crypto miner in shop/web") !=
        std::string::npos);
  CHECK(mails[0].find("Contact: Alice (IC)") != std::string::npos);
  rig.check_no_secret(run);
}

TEST_CASE("notify: the severity decides the channels, medium skips the critical-only ones",
          "[integration][notify][no-cluster]") {
  Rig rig;
  auto run = run_step_binary("notify", rig.args({"--severity", "medium"}), rig.env);
  REQUIRE_EXIT(run, 0);
  // medium: team lead and security lead now; executives in the daily summary.
  CHECK(run.output("channels-sent") == "siem,mail");
  CHECK(run.output("channels-skipped") == "sec-slack,pager,execs");
  CHECK(run.output("escalation").find(R"({"role":"executives","notify":"Daily summary"})") !=
        std::string::npos);
  CHECK(rig.slack.requests().empty());
  CHECK(rig.pagerduty.requests().empty());
  CHECK(rig.teams.requests().empty());
  CHECK(rig.smtp.messages().size() == 1);
}

TEST_CASE("notify: 429 with Retry-After and 503 are retried until delivered",
          "[integration][notify][no-cluster]") {
  std::atomic<int> slack_calls{0};
  std::atomic<int> pd_calls{0};
  Rig rig(
      [&](const SeenRequest&) {
        return ++slack_calls == 1 ? Reply{429, {{"Retry-After", "1"}}, "rate_limited"} : Reply{200, {}, "ok"};
      },
      [&](const SeenRequest&) {
        return ++pd_calls == 1 ? Reply{503, {}, "down"} : Reply{202, {}, "{}"};
      });
  auto run = run_step_binary(
      "notify", rig.args({"--severity", "critical", "--channel", "sec-slack", "--channel", "pager"}),
      rig.env);
  REQUIRE_EXIT(run, 0);
  CHECK(rig.slack.requests().size() == 2);
  CHECK(rig.pagerduty.requests().size() == 2);
  // The retried trigger carries the same dedup key: PagerDuty pages once.
  CHECK(string_at(body_of(rig.pagerduty.requests()[0]), {"dedup_key"}) ==
        string_at(body_of(rig.pagerduty.requests()[1]), {"dedup_key"}));
  CHECK(run.err.find("\"status\":429") != std::string::npos);
  rig.check_no_secret(run);
}

TEST_CASE("notify: one channel down, the others still sent, exit 1 naming it",
          "[integration][notify][no-cluster]") {
  Rig rig(Rig::ok(200), Rig::ok(202), [](const SeenRequest&) { return Reply{500, {}, "flow failed"}; });
  auto run = run_step_binary("notify", rig.args({"--severity", "critical", "--max-attempts", "2"}), rig.env);
  REQUIRE_EXIT(run, 1);
  CHECK(run.output("channels-sent") == "sec-slack,pager,siem,mail");
  CHECK(run.output("channels-failed") == "execs");
  CHECK(rig.teams.requests().size() == 2);
  const std::string message = string_at(run.result, {"error", "message"});
  CHECK(message.find("1 of 5 channels failed: execs (HTTP 500 after 2 attempts: flow failed)") !=
        std::string::npos);
  CHECK(rig.smtp.messages().size() == 1);
  rig.check_no_secret(run);
}

TEST_CASE("notify: nothing delivered and only transient failures is exit 4",
          "[integration][notify][no-cluster]") {
  Rig rig([](const SeenRequest&) { return Reply{503, {}, "busy"}; });
  auto run = run_step_binary(
      "notify", rig.args({"--severity", "high", "--channel", "sec-slack", "--max-attempts", "2"}), rig.env);
  REQUIRE_EXIT(run, 4);
  CHECK(run.output("channels-failed") == "sec-slack");
  rig.check_no_secret(run);
}

TEST_CASE("notify --dry-run prints every payload, sends nothing, shows no secret",
          "[integration][notify][no-cluster]") {
  Rig rig;
  auto run = run_step_binary("notify", rig.args({"--severity", "critical", "--dry-run"}), rig.env);
  REQUIRE_EXIT(run, 0);
  CHECK(rig.slack.requests().empty());
  CHECK(rig.pagerduty.requests().empty());
  CHECK(rig.teams.requests().empty());
  CHECK(rig.hook.requests().empty());
  CHECK(rig.smtp.messages().empty());
  const auto& actions = run.result.at("actions").as_array();
  REQUIRE(actions.size() == 5);
  for (const auto& action : actions) {
    CHECK(action.at("dryRun").as_bool());
    CHECK(find(action, {"request", "body"}) != nullptr);
  }
  CHECK(string_at(actions[0], {"request", "path"}) == "<redacted>");
  CHECK(string_at(actions[1], {"request", "body", "routing_key"}) == "<redacted>");
  CHECK(string_at(actions[1], {"request", "body", "event_action"}) == "trigger");
  CHECK(string_at(actions[4], {"request", "body", "message"}).find("Subject: [SECURITY INCIDENT]") !=
        std::string::npos);
  rig.check_no_secret(run);
}

TEST_CASE("notify: PagerDuty trigger, acknowledge and resolve share one dedup key",
          "[integration][notify][no-cluster]") {
  Rig rig;
  for (const char* action : {"trigger", "acknowledge", "resolve"}) {
    auto run = run_step_binary(
        "notify", rig.args({"--severity", "critical", "--channel", "pager", "--action", action}), rig.env);
    REQUIRE_EXIT(run, 0);
    CHECK(run.output("pagerduty-action") == action);
  }
  // A resolved status on a status update resolves without being told.
  auto resolved =
      run_step_binary("notify",
                      rig.args({"--severity", "low", "--template", "status-update", "--status", "resolved",
                                "--progress", "image rebuilt", "--next-steps", "post-incident review"}),
                      rig.env);
  REQUIRE_EXIT(resolved, 0);
  CHECK(resolved.output("next-update-due").empty());
  const auto requests = rig.pagerduty.requests();
  REQUIRE(requests.size() == 4);
  std::vector<std::string> actions;
  for (const auto& request : requests) {
    actions.push_back(string_at(body_of(request), {"event_action"}));
    CHECK(string_at(body_of(request), {"dedup_key"}) == "irsteps/" + incident + "/shop/deployment/web");
  }
  CHECK(actions == std::vector<std::string>{"trigger", "acknowledge", "resolve", "resolve"});
}

// Issue 16 item 10: alerts for one pod are several incidents (one per
// alert) but one page: the playbook gives every notice the pod's dedup key.
TEST_CASE("notify: a given dedup key makes the pages of several incidents one, and a bad one is exit 2",
          "[integration][notify][no-cluster]") {
  Rig rig;
  const std::string key = "irsteps/container-compromise/shop/web-7d4b9";
  for (const char* id : {"INC-2026-11-26-201", "INC-2026-11-26-202"}) {
    auto args = rig.args({"--severity", "critical", "--channel", "pager", "--dedup-key", key});
    args[std::distance(args.begin(), std::find(args.begin(), args.end(), "--incident-id")) + 1] = id;
    auto run = run_step_binary("notify", args, rig.env);
    REQUIRE_EXIT(run, 0);
    CHECK(run.output("dedup-key") == key);
  }
  const auto requests = rig.pagerduty.requests();
  REQUIRE(requests.size() == 2);
  for (const auto& request : requests) CHECK(string_at(body_of(request), {"dedup_key"}) == key);
  auto bad = run_step_binary(
      "notify",
      rig.args({"--severity", "critical", "--channel", "pager", "--dedup-key", "a key with spaces"}),
      rig.env);
  REQUIRE_EXIT(bad, 2);
  CHECK(bad.err.find("dedup-key") != std::string::npos);
  CHECK(rig.pagerduty.requests().size() == 2);
}

TEST_CASE("notify: bad input is exit 2 naming the field, and nothing is sent",
          "[integration][notify][no-cluster]") {
  Rig rig;
  auto no_impact =
      run_step_binary("notify",
                      {"--incident-id", incident, "--routing", rig.routing, "--severity", "high", "--title",
                       "t", "--summary", "s", "--current-actions", "a", "--contact", "c"},
                      rig.env);
  REQUIRE_EXIT(no_impact, 2);
  CHECK(no_impact.err.find("impact (give --impact") != std::string::npos);

  auto no_detection =
      run_step_binary("notify", rig.args({"--severity", "high", "--data-class", "phi"}), rig.env);
  REQUIRE_EXIT(no_detection, 2);
  CHECK(no_detection.err.find("--detected-at") != std::string::npos);

  const std::string inline_url = rig.dir.file(
      "inline.yaml",
      "channels: [{name: s, type: slack, url: 'https://hooks.slack.example/T/B/inline-secret'}]");
  auto inlined =
      run_step_binary("notify",
                      {"--incident-id", incident, "--routing", inline_url, "--severity", "high", "--title",
                       "t", "--summary", "s", "--impact", "i", "--current-actions", "a", "--contact", "c"},
                      rig.env);
  REQUIRE_EXIT(inlined, 2);
  CHECK(inlined.err.find("'url' must not be written in the routing file") != std::string::npos);
  CHECK(inlined.all_text().find("inline-secret") == std::string::npos);

  auto no_env = run_step_binary("notify", rig.args({"--severity", "high"}));
  REQUIRE_EXIT(no_env, 2);
  CHECK(no_env.err.find("NT_SLACK_URL, which is not set") != std::string::npos);

  auto report = run_step_binary(
      "notify", rig.args({"--severity", "high", "--template", "post-incident-report"}), rig.env);
  REQUIRE_EXIT(report, 2);
  CHECK(report.err.find("timeline (give --case-repo") != std::string::npos);

  auto unknown_channel =
      run_step_binary("notify", rig.args({"--severity", "high", "--channel", "sms"}), rig.env);
  REQUIRE_EXIT(unknown_channel, 2);
  CHECK(rig.slack.requests().empty());
  CHECK(rig.smtp.messages().empty());
}

TEST_CASE("notify: a custom template from a file", "[integration][notify][no-cluster]") {
  Rig rig;
  const std::string custom =
      rig.dir.file("custom.txt", "Subject: {{incident-id}} on {{service}}\n\nOwner: {{owner}}\n");
  auto missing = run_step_binary(
      "notify", rig.args({"--severity", "high", "--template-file", custom, "--field", "service=shop"}),
      rig.env);
  REQUIRE_EXIT(missing, 2);
  CHECK(missing.err.find("owner (give --field owner=...)") != std::string::npos);
  auto run =
      run_step_binary("notify",
                      rig.args({"--severity", "high", "--template-file", custom, "--field", "service=shop",
                                "--field", "owner=platform team", "--channel", "siem"}),
                      rig.env);
  REQUIRE_EXIT(run, 0);
  REQUIRE(rig.hook.requests().size() == 1);
  CHECK(string_at(body_of(rig.hook.requests()[0]), {"subject"}) == incident + " on shop");
  CHECK(string_at(body_of(rig.hook.requests()[0]), {"text"}) == "Owner: platform team");
}

TEST_CASE("SMTP client: STARTTLS and AUTH LOGIN-or-PLAIN against a real server, dots survive",
          "[integration][smtp][no-cluster]") {
  SmtpServer server(true, true);
  notify::SmtpServer where{"127.0.0.1",       server.port(), notify::SmtpSecurity::starttls,
                           pki().ca.cert_pem, "irsteps",     std::chrono::seconds(20)};
  const std::string message =
      "From: a@example.com\nTo: b@example.com\nSubject: dots\n\nline\n.\n..two\n.end\n";
  auto sent = notify::smtp_send(where, notify::SmtpLogin{"irsteps", Secret(SmtpServer::password)},
                                {"a@example.com", {"b@example.com"}}, message);
  REQUIRE(sent);
  CHECK(sent->mechanism == "PLAIN");
  CHECK(sent->reply.rfind("250", 0) == 0);
  const auto mails = server.messages();
  REQUIRE(mails.size() == 1);
  CHECK(mails[0].find("\nline\r\n.\r\n..two\r\n.end\r\n") != std::string::npos);

  auto wrong = notify::smtp_send(where, notify::SmtpLogin{"irsteps", Secret("wrong-password")},
                                 {"a@example.com", {"b@example.com"}}, message);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code() == Code::forbidden);
  CHECK(wrong.error().describe().find("wrong-password") == std::string::npos);

  // A certificate from another CA is refused before anything is sent.
  const auto other = make_ca("other CA");
  where.ca_pem = other.cert_pem;
  auto untrusted = notify::smtp_send(where, std::nullopt, {"a@example.com", {"b@example.com"}}, message);
  REQUIRE_FALSE(untrusted);
  CHECK(untrusted.error().describe().find("TLS verification failed") != std::string::npos);
  CHECK(server.messages().size() == 1);
}

TEST_CASE("SMTP client: a server without STARTTLS gets neither the password nor the message",
          "[integration][smtp][no-cluster]") {
  SmtpServer server(false, false);
  notify::SmtpServer where{"127.0.0.1",       server.port(), notify::SmtpSecurity::starttls,
                           pki().ca.cert_pem, "irsteps",     std::chrono::seconds(20)};
  auto sent = notify::smtp_send(where, notify::SmtpLogin{"irsteps", Secret("pw")},
                                {"a@example.com", {"b@example.com"}}, "Subject: x\n\nbody\n");
  REQUIRE_FALSE(sent);
  CHECK(sent.error().code() == Code::action_failed);
  CHECK(sent.error().describe().find("does not offer STARTTLS") != std::string::npos);
  CHECK(server.messages().empty());
}

TEST_CASE("notify: the post-incident report's timeline and actions come from the case record",
          "[integration][notify][no-cluster]") {
  Rig rig;
  const std::string repo = rig.dir.path("case.git");
  make_bare_repo(repo);
  const std::string cache = rig.dir.path("cache");
  const record::Target target{repo, "main", {}, cache};
  const std::string hash(64, 'c');
  const auto isolate = parse_json(R"({"apiVersion":"irsteps.io/v1","kind":"StepResult","step":"isolate",
      "version":"0.1.0","incidentId":")" +
                                      incident + R"(","status":"succeeded","dryRun":false,
      "startTime":"2026-11-26T09:05:00.000Z","endTime":"2026-11-26T09:05:01.000Z","actions":[{"verb":"apply",
      "target":{"kind":"NetworkPolicy","namespace":"shop","name":"irsteps-isolate-web"},"detail":"deny ingress and egress",
      "dryRun":false}],"outputs":{},"evidence":[],"warnings":[]})",
                                  "isolate")
                           .value();
  const auto snapshot = parse_json(R"({"apiVersion":"irsteps.io/v1","kind":"StepResult","step":"snapshot",
      "version":"0.1.0","incidentId":")" +
                                       incident + R"(","status":"succeeded","dryRun":false,
      "startTime":"2026-11-26T09:07:00.000Z","endTime":"2026-11-26T09:08:00.000Z","actions":[],"outputs":{},
      "evidence":[{"path":"web/logs/app.log","sha256":")" +
                                       hash + R"(","size":42,"status":"complete"}],"warnings":[]})",
                                   "snapshot")
                            .value();
  REQUIRE(record::append(target, isolate.as_object()));
  REQUIRE(record::append(target, snapshot.as_object()));

  auto env = rig.env;
  env.emplace_back("IRSTEPS_CACHE_DIR", cache);
  auto run = run_step_binary("notify",
                             rig.args({"--severity", "high", "--status", "resolved", "--template",
                                       "post-incident-report", "--case-repo", repo, "--channel", "siem"}),
                             env);
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("case-records") == "2");
  CHECK(run.output("pagerduty-action") == "resolve");
  REQUIRE(rig.hook.requests().size() == 1);
  const std::string text = string_at(body_of(rig.hook.requests()[0]), {"text"});
  INFO(text);
  const auto timeline =
      text.find("2. Timeline of Events\n- 2026-11-26T09:05:00.000Z  isolate succeeded, by irsteps isolate");
  CHECK(timeline != std::string::npos);
  CHECK(text.find("- 2026-11-26T09:07:00.000Z  snapshot succeeded") != std::string::npos);
  CHECK(text.find("isolate: apply NetworkPolicy shop/irsteps-isolate-web — deny ingress and egress") !=
        std::string::npos);
  CHECK(text.find("web/logs/app.log  sha256:" + hash) != std::string::npos);
  CHECK(text.find("3. Root Cause Analysis\n[TO BE WRITTEN BY THE INCIDENT TEAM") != std::string::npos);
  CHECK(text.find("6. Lessons Learned\n[TO BE WRITTEN BY THE INCIDENT TEAM") != std::string::npos);
  // notify's own run is in the case record now, for the next report.
  auto entries = record::read_incident(target, incident);
  REQUIRE(entries);
  CHECK(entries->size() == 3);
}

TEST_CASE(
    "notify: with HOME unusable and no IRSTEPS_CACHE_DIR, the case record goes through a private folder",
    "[integration][notify][case][no-cluster]") {
  // As in a pod whose template sets neither: a read-only root, and runc's
  // HOME=/home/nonroot, which does not exist. HOME here is a regular file:
  // nothing can be made under it, even by root, which CI runs as.
  Rig rig;
  make_bare_repo(rig.dir.path("srv/case.git"));
  GitHttpServer server(rig.dir.path("srv"));
  const std::string home = rig.dir.file("home", "a file, not a folder\n");
  const std::string tmp = rig.dir.path("tmp");
  fs::create_directories(tmp);
  auto env = rig.env;
  env.insert(env.end(), {{"HOME", home}, {"IRSTEPS_CACHE_DIR", ""}, {"XDG_CACHE_HOME", ""}, {"TMPDIR", tmp}});
  auto run = run_step_binary(
      "notify",
      rig.args({"--severity", "medium", "--case-repo", server.url("case.git"), "--channel", "siem"}), env);
  REQUIRE_EXIT(run, 0);
  CHECK(run.output("case-record-pending").empty());
  const auto tree = tree_of(rig.dir.path("srv/case.git"));
  REQUIRE(tree.size() == 1);
  CHECK(run.output("case-record") == tree[0]);

  // The log says which folder could not be used, and which one was.
  std::string warning;
  for (std::size_t start = 0, end; start < run.err.size(); start = end + 1) {
    end = run.err.find('\n', start);
    if (end == std::string::npos) end = run.err.size();
    const std::string line = run.err.substr(start, end - start);
    if (line.find("\"cache.fallback\"") != std::string::npos) warning = line;
  }
  INFO(run.err);
  REQUIRE(!warning.empty());
  const auto fields = parse_json(warning, "log line").value();
  CHECK(string_at(fields, {"level"}) == "warn");
  CHECK(string_at(fields, {"unusable"}) == home + "/.cache/irsteps");
  const std::string used = string_at(fields, {"using"});
  CHECK(used.starts_with(tmp + "/irsteps-cache-"));
  // A cache only: gone when the step exits, with nothing left to push.
  CHECK(!fs::exists(used));
  CHECK(fs::is_empty(tmp));
}

namespace {

// Text an attacker (or a careless alert) puts in an incident: Slack control
// sequences, markup, entities, non-ASCII and emoji, repeated to `size`
// characters.
std::string hostile_text(std::size_t size) {
  const std::string unit =
      "<!channel> <https://evil.example/x|click here> & *bold* _it_ `code` &amp; ü日本 \xF0\x9F\x9A\xA8 ";
  std::string text;
  while (text.size() < size) text += unit;
  return text.substr(0, text.rfind(' ', size));
}

// Runs notify with the parameters of `params` (a --params file: a 600,000-
// character value is too long for one command-line argument), then holds
// what every channel received against the services' rules.
void send_and_check(Rig& rig, const json::object& params, const std::vector<std::string>& headings) {
  const std::size_t slack_before = rig.slack.requests().size(), pd_before = rig.pagerduty.requests().size(),
                    teams_before = rig.teams.requests().size(), mail_before = rig.smtp.messages().size();
  const std::string file = rig.dir.file("params.json", boost::json::serialize(params));
  auto run = run_step_binary(
      "notify",
      {"--incident-id", incident, "--routing", rig.routing, "--outputs-dir", rig.dir.path("outputs"),
       "--params", file, "--severity", "critical", "--roles", "ciso"},
      rig.env);
  REQUIRE_EXIT(run, 0);
  rig.check_no_secret(run);
  TempDir captured;
  std::size_t n = 0;
  const auto keep = [&](const std::string& name, const std::string& body) {
    REQUIRE(write_file_atomic(captured.path(name + "-" + std::to_string(n++)), body));
  };
  for (std::size_t i = slack_before; i < rig.slack.requests().size(); ++i)
    keep("slack", rig.slack.requests()[i].body);
  for (std::size_t i = pd_before; i < rig.pagerduty.requests().size(); ++i)
    keep("pagerduty", rig.pagerduty.requests()[i].body);
  for (std::size_t i = teams_before; i < rig.teams.requests().size(); ++i)
    keep("teams", rig.teams.requests()[i].body);
  const auto mail = rig.smtp.messages();
  for (std::size_t i = mail_before; i < mail.size(); ++i) keep("mail", mail[i]);
  REQUIRE(n == 4);  // one of each
  std::vector<std::string> argv{
      "/usr/bin/python3", std::string(IRSTEPS_SOURCE_DIR) + "/tests/support/check_notifications.py",
      captured.path(), std::string(IRSTEPS_SOURCE_DIR) + "/tests/data/adaptive-cards"};
  argv.insert(argv.end(), headings.begin(), headings.end());
  const auto checked = run_process(argv);
  REQUIRE(checked);
  INFO(checked->out << checked->err);
  CHECK(checked->exit_status == 0);
}

}  // namespace

// Issue 25: whatever the incident's text, every channel's payload stays
// within its service's limits and escaping. The receivers record; a Python
// checker (tests/support/check_notifications.py) applies each service's
// published rules, the Adaptive Card schema of Microsoft's own repository.
TEST_CASE("notify: 5k, 200k and 600k characters of hostile text stay within every service's limits",
          "[integration][notify][no-cluster]") {
  Rig rig;
  for (const std::size_t size : {std::size_t{5000}, std::size_t{200000}, std::size_t{600000}}) {
    INFO("size " << size);
    const std::string text = hostile_text(size);
    send_and_check(rig,
                   {{"template", "initial-notification"},
                    {"title", hostile_text(300)},
                    {"summary", text},
                    {"impact", "shop web pods <!here>"},
                    {"current-actions", "pod isolated & evidence taken"},
                    {"contact", "Alice (IC) <alice@example.com>"},
                    {"target", "shop/deployment/web"}},
                   {"Impact:", "Current Actions:", "Contact:"});
    send_and_check(rig,
                   {{"template", "status-update"},
                    {"title", "Miner"},
                    {"progress", text},
                    {"next-steps", "rotate & rebuild"},
                    {"contact", "Alice"},
                    {"target", "shop/deployment/web"}},
                   {"Next steps:", "ETA for resolution:"});
    send_and_check(rig,
                   {{"template", "post-incident-report"},
                    {"status", "resolved"},
                    {"action", "trigger"},
                    {"title", "Miner"},
                    {"summary", "s"},
                    {"timeline", text},
                    {"response-actions", "isolated, rebuilt"},
                    {"target", "shop/deployment/web"}},
                   {"3. Root Cause Analysis", "5. Response Actions"});
  }
  // A custom template's subject of 40,000 characters: every service still
  // gets a payload it accepts.
  const std::string custom =
      rig.dir.file("custom.txt", "Subject: " + hostile_text(40000) + "\n\n{{summary}}\n");
  send_and_check(
      rig, {{"template-file", custom}, {"title", "t"}, {"summary", "short"}, {"target", "shop/web"}}, {});
}
