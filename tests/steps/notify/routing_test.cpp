// The routing file: secrets from files or the environment only, every
// mistake an error naming the channel and the field.
#include "routing.hpp"

#include "support/catch.hpp"

#include <filesystem>
#include <fstream>

using namespace ir;
using namespace ir::steps::notify;

namespace {

Environment env_of(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

const Environment env = env_of({{"SLACK_URL", "https://hooks.slack.example/services/T1/B2/s3cr3t-slack"},
                                {"PD_KEY", "pd-routing-key-0123456789"},
                                {"SMTP_PASSWORD", "smtp-pass-word"}});

std::string message_of(const std::string& yaml) {
  auto routing = parse_routing(yaml, "routing.yaml", env);
  REQUIRE_FALSE(routing);
  CHECK(routing.error().code() == Code::invalid_input);
  return routing.error().describe();
}

}  // namespace

TEST_CASE("a routing file with every channel type", "[unit][notify]") {
  const auto dir = std::filesystem::temp_directory_path() / "notify-routing-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "secret") << "hmac-secret-value\n";
  std::ofstream(dir / "teams-url")
      << "https://prod.logic.example/workflows/abc/triggers/manual/paths/invoke?sig=x1\n";
  const std::string yaml =
      "defaults: {timeout: 7s}\nchannels:\n"
      "  - {name: sec, type: slack, url-env: SLACK_URL, severities: [critical, High]}\n"
      "  - {name: pd, type: pagerduty, routing-key-env: PD_KEY, severities: [critical]}\n"
      "  - {name: execs, type: teams, url-file: " +
      (dir / "teams-url").string() +
      ", roles: [ciso, executives], max-attempts: 2}\n"
      "  - {name: siem, type: webhook, url: 'https://siem.example/hook', secret-file: " +
      (dir / "secret").string() +
      "}\n"
      "  - {name: mail, type: email, host: smtp.example, username: ir, password-env: SMTP_PASSWORD,\n"
      "     from: ir@example.com, to: [ciso@example.com, sec@example.com]}\n";
  auto routing = parse_routing(yaml, "routing.yaml", env);
  REQUIRE(routing);
  REQUIRE(routing->channels.size() == 5);
  const auto& sec = routing->channels[0];
  CHECK(sec.url.reveal() == "https://hooks.slack.example/services/T1/B2/s3cr3t-slack");
  CHECK(sec.url_is_secret);
  CHECK(sec.timeout == std::chrono::seconds(7));
  CHECK(sec.severities == std::vector<Severity>{Severity::critical, Severity::high});
  const auto& pd = routing->channels[1];
  CHECK(pd.url.reveal() == pagerduty_events_url);
  CHECK_FALSE(pd.url_is_secret);
  CHECK(pd.routing_key.reveal() == "pd-routing-key-0123456789");
  CHECK(routing->channels[2].url.reveal().find("sig=x1") != std::string_view::npos);  // newline dropped
  CHECK(routing->channels[2].max_attempts == 2);
  CHECK(routing->channels[3].signing_secret.reveal() == "hmac-secret-value");
  CHECK_FALSE(routing->channels[3].url_is_secret);
  const auto& mail = routing->channels[4];
  CHECK(mail.smtp.port == 587);
  CHECK(mail.smtp.security == ir::notify::SmtpSecurity::starttls);
  REQUIRE(mail.login);
  CHECK(mail.login->password.reveal() == "smtp-pass-word");
  CHECK(mail.to.size() == 2);

  CHECK(serves(sec, Severity::high, {}));
  CHECK_FALSE(serves(sec, Severity::medium, {"team-lead"}));
  CHECK(serves(routing->channels[2], Severity::low, {"ciso"}));
  CHECK(serves(routing->channels[3], Severity::low, {}));  // neither list: every severity
  std::filesystem::remove_all(dir);
}

TEST_CASE("secrets written into the routing file are refused, naming the field", "[unit][notify]") {
  CHECK(message_of("channels: [{name: s, type: slack, url: 'https://hooks.slack.example/x'}]")
            .find("channels[0] (s): 'url' must not be written in the routing file") != std::string::npos);
  CHECK(message_of("channels: [{name: p, type: pagerduty, routing-key: abc}]")
            .find("'routing-key' must not be written in the routing file: use routing-key-file or "
                  "routing-key-env") != std::string::npos);
  CHECK(message_of(
            "channels: [{name: m, type: email, host: h, username: u, password: pw, from: a@b, to: [c@d]}]")
            .find("'password' must not be written") != std::string::npos);
}

TEST_CASE("routing mistakes name the channel and the field", "[unit][notify]") {
  CHECK(message_of("channels: []").find("'channels' must be a non-empty list") != std::string::npos);
  CHECK(message_of("chanels: []").find("'chanels' is not a field of the routing file") != std::string::npos);
  CHECK(message_of("channels: [{name: s, type: sms}]").find("'type' 'sms' is not a channel type") !=
        std::string::npos);
  CHECK(message_of("channels: [{name: s, type: slack, url-env: NOPE}]")
            .find("'url-env' names environment variable NOPE, which is not set") != std::string::npos);
  CHECK(message_of("channels: [{name: s, type: slack, url-env: SLACK_URL, url-file: /x}]")
            .find("either url-file or url-env") != std::string::npos);
  CHECK(message_of("channels: [{name: s, type: slack}]").find("needs url-file or url-env") !=
        std::string::npos);
  CHECK(message_of("channels: [{name: s, type: slack, url-env: SLACK_URL, severities: [urgent]}]")
            .find("'severities' unknown severity 'urgent'") != std::string::npos);
  CHECK(message_of("channels: [{name: s, type: slack, url-env: SLACK_URL, roles: [cfo]}]")
            .find("'roles' 'cfo' is not a role") != std::string::npos);
  CHECK(message_of("channels: [{name: s, type: slack, url-env: SLACK_URL, colour: red}]")
            .find("'colour' is not a field of a slack channel") != std::string::npos);
  CHECK(message_of("channels: [{name: w, type: webhook, url: 'http://siem.example/'}]")
            .find("must give an https:// URL") != std::string::npos);
  CHECK(message_of("channels: [{name: w, type: webhook, url: 'https://siem.example/'}]")
            .find("needs secret-file or secret-env") != std::string::npos);
  CHECK(message_of("channels: [{name: m, type: email, host: h, from: a@b, to: [c@d], tls: none}]")
            .find("'tls' must be starttls or implicit") != std::string::npos);
  CHECK(message_of("channels: [{name: m, type: email, host: h, from: a@b, to: [], port: 25}]")
            .find("'to' is required") != std::string::npos);
  CHECK(message_of("channels: [{name: m, type: email, host: h, from: a@b, to: [c@d], username: u}]")
            .find("needs password-file or password-env") != std::string::npos);
  CHECK(message_of("channels: [{name: a, type: slack, url-env: SLACK_URL}, {name: a, type: slack, url-env: "
                   "SLACK_URL}]")
            .find("'name' a is used twice") != std::string::npos);
  CHECK(message_of("channels: [{name: s, type: slack, url-env: SLACK_URL, ca-file: /nonexistent/ca.pem}]")
            .find("'ca-file' cannot be read") != std::string::npos);
}

TEST_CASE("an error about a bad webhook URL never shows the URL", "[unit][notify]") {
  const Environment bad = env_of({{"SLACK_URL", "ftp://hooks.slack.example/services/T1/B2/leak-me"}});
  auto routing = parse_routing("channels: [{name: s, type: slack, url-env: SLACK_URL}]", "r.yaml", bad);
  REQUIRE_FALSE(routing);
  CHECK(routing.error().describe().find("leak-me") == std::string::npos);
  CHECK(routing.error().describe().find("https://") != std::string::npos);
}
