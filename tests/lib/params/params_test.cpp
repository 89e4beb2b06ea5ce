#include "ir/params/params.hpp"
#include "irsteps/step_list.hpp"

#include "support/catch.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>

namespace {

ir::ParamSpec isolate_spec() {
  auto spec = ir::ParamSpec::load("isolate");
  REQUIRE(spec);
  return std::move(*spec);
}

ir::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    if (auto it = vars.find(name); it != vars.end()) return it->second;
    return std::nullopt;
  };
}

}  // namespace

TEST_CASE("flags are typed by the schema and defaults filled in", "[unit][params]") {
  const auto spec = isolate_spec();
  auto parsed = ir::parse_args(spec,
                               {"--incident-id", "INC-2026-11-26-001", "--namespace", "shop", "--pod",
                                "web-1", "--pod=web-2", "--allow-dns", "--max-attempts", "3"},
                               env_of({}));
  REQUIRE(parsed);
  const auto& p = parsed->params;
  CHECK(ir::param_strings(p, "pod") == std::vector<std::string>{"web-1", "web-2"});
  CHECK(ir::param_bool(p, "allow-dns"));
  CHECK_FALSE(ir::param_bool(p, "dry-run"));
  CHECK(ir::param_int(p, "max-attempts") == 3);
  CHECK(ir::param_string(p, "scope") == "pods");
}

TEST_CASE("flags beat the environment, which beats the params file", "[unit][params]") {
  const auto spec = isolate_spec();
  const auto file = std::filesystem::temp_directory_path() / "irsteps-params-test.yaml";
  std::ofstream(file)
      << "incident-id: INC-2026-11-26-002\nnamespace: from-file\nselector: app=web\ndry-run: true\n";
  auto parsed = ir::parse_args(
      spec, {"--params", file.string(), "--namespace", "from-flag"},
      env_of({{"IRSTEPS_SELECTOR", "app=env"}, {"IRSTEPS_ALLOW_CIDR", "10.0.0.0/8,192.168.0.0/16"}}));
  std::filesystem::remove(file);
  REQUIRE(parsed);
  const auto& p = parsed->params;
  CHECK(ir::param_string(p, "namespace") == "from-flag");
  CHECK(ir::param_string(p, "selector") == "app=env");
  CHECK(ir::param_string(p, "incident-id") == "INC-2026-11-26-002");
  CHECK(ir::param_bool(p, "dry-run"));
  CHECK(ir::param_strings(p, "allow-cidr").size() == 2);
}

TEST_CASE("bad values name the parameter and the problem", "[unit][params]") {
  const auto spec = isolate_spec();
  auto check_error = [&](std::vector<std::string> args, const std::string& expected) {
    auto parsed = ir::parse_args(spec, args, env_of({}));
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code() == ir::Code::invalid_input);
    INFO(parsed.error().describe());
    CHECK(parsed.error().describe().find(expected) != std::string::npos);
  };
  const std::vector<std::string> base{"--incident-id", "INC-2026-11-26-001", "--namespace", "shop"};
  auto with = [&](std::vector<std::string> more) {
    auto args = base;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  check_error(with({"--pod", "web", "--max-attempts", "many"}),
              "parameter max-attempts: 'many' is not a whole number");
  check_error(with({"--pod", "web", "--max-attempts", "99"}), "parameter max-attempts: must be at most 20");
  check_error(with({"--pod", "Web_1"}), "parameter pod[0]:");
  check_error(with({"--pod", "web", "--scope", "cluster"}), "parameter scope: \"cluster\" is not one of");
  check_error(with({"--pod", "web", "--allow-dns=maybe"}),
              "parameter allow-dns: 'maybe' is not true or false");
  check_error(with({"--pod", "web", "--podz", "x"}), "unrecognised option '--podz'");
  check_error(with({}), "give --pod or --selector");
  check_error({"--namespace", "shop", "--pod", "web"}, "parameter incident-id: is required");
  check_error(with({"--pod", "web", "--params", "/nonexistent/params.yaml"}),
              "parameter params: cannot read /nonexistent/params.yaml");
}

TEST_CASE("abbreviated flags are not guessed", "[unit][params]") {
  auto parsed = ir::parse_args(
      isolate_spec(), {"--incident-id", "INC-2026-11-26-001", "--namespace", "a", "--sel", "x"}, env_of({}));
  REQUIRE_FALSE(parsed);
}

TEST_CASE("help and version stop before validation", "[unit][params]") {
  auto help = ir::parse_args(isolate_spec(), {"--help"}, env_of({}));
  REQUIRE(help);
  CHECK(help->action == ir::ParsedArgs::Action::help);
  CHECK(isolate_spec().help_text().find("--allow-namespace string...") != std::string::npos);
  auto version = ir::parse_args(isolate_spec(), {"--version"}, env_of({}));
  REQUIRE(version);
  CHECK(version->action == ir::ParsedArgs::Action::version);
}

TEST_CASE("plugin-style string arguments are converted like flags", "[unit][params]") {
  ir::json::object args{
      {"incident-id", "INC-2026-11-26-001"}, {"namespace", "shop"}, {"pod", "a,b"}, {"dry-run", "true"}};
  auto final = ir::finalize_params(isolate_spec(), args);
  REQUIRE(final);
  CHECK(ir::param_strings(*final, "pod").size() == 2);
  CHECK(ir::param_bool(*final, "dry-run"));
}

TEST_CASE("an empty value is a parameter not given, from flags, environment and the plugin",
          "[unit][params]") {
  // How Argo templates leave out an optional parameter: they pass it empty.
  auto parsed = ir::parse_args(isolate_spec(),
                               {"--incident-id", "INC-2026-11-26-001", "--namespace", "shop",
                                "--pod=", "--selector", "app=web", "--allow-cidr", ""},
                               env_of({{"IRSTEPS_CONTEXT", ""}}));
  REQUIRE(parsed);
  CHECK(!parsed->params.contains("pod"));
  CHECK(!parsed->params.contains("allow-cidr"));
  CHECK(!parsed->params.contains("context"));
  CHECK(ir::param_string(parsed->params, "selector") == "app=web");
  auto plugin = ir::finalize_params(
      isolate_spec(),
      {{"incident-id", "INC-2026-11-26-001"}, {"namespace", "shop"}, {"pod", "web-1"}, {"dry-run", ""}});
  REQUIRE(plugin);
  CHECK(!ir::param_bool(*plugin, "dry-run"));
  // Required parameters stay required: empty is missing, and says so.
  auto missing =
      ir::finalize_params(isolate_spec(), {{"incident-id", ""}, {"namespace", "shop"}, {"pod", "x"}});
  REQUIRE(!missing);
  CHECK(missing.error().describe().find("incident-id") != std::string::npos);
}

TEST_CASE("environment names are upper snake case", "[unit][params]") {
  CHECK(ir::env_name("allow-cidr") == "IRSTEPS_ALLOW_CIDR");
}

TEST_CASE("a schema's short flag is the long option by another name", "[unit][params]") {
  auto spec = ir::ParamSpec::load("verify-image");
  REQUIRE(spec);
  const std::string digest = "registry.example/app@sha256:" + std::string(64, 'a');
  auto parsed =
      ir::parse_args(*spec,
                     {digest, "--certificate-identity", "ci@example.com", "--certificate-oidc-issuer",
                      "https://issuer.example", "-a", "env=prod", "-ateam=web", "--annotation=tier=1"},
                     env_of({}));
  REQUIRE(parsed);
  CHECK(ir::param_strings(parsed->params, "annotation") ==
        std::vector<std::string>{"env=prod", "team=web", "tier=1"});
  CHECK(spec->help_text().find("-a, --annotation string...") != std::string::npos);
  // A letter no property has is an unknown option, as any other.
  CHECK_FALSE(ir::parse_args(*spec, {digest, "-z", "x"}, env_of({})));
}

// Security review finding 6: --threshold 4294967296 passed the schema (no
// maximum) and was cast to int 0, so an image without a signature verified.
TEST_CASE("security review finding 6: integers out of range are refused naming the parameter, never narrowed",
          "[unit][params]") {
  auto spec = ir::ParamSpec::load("verify-image");
  REQUIRE(spec);
  const auto refused = [&](const std::string& threshold, const std::string& expected) {
    INFO(threshold);
    auto parsed =
        ir::parse_args(*spec,
                       {"127.0.0.1/app:1", "--certificate-identity", "a@example.com",
                        "--certificate-oidc-issuer", "https://issuer.example", "--threshold", threshold},
                       env_of({}));
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code() == ir::Code::invalid_input);
    CHECK(parsed.error().describe().find(expected) != std::string::npos);
  };
  refused("4294967296", "parameter threshold: must be at most 100");
  refused("18446744073709551615", "parameter threshold");
  refused("0", "parameter threshold: must be at least 1");
  refused("-1", "parameter threshold: must be at least 1");

  // The typed accessor: a value that does not fit is an error, not a cast.
  const auto doc =
      ir::parse_json(R"({"big":4294967296,"huge":18446744073709551615,"negative":-1,"text":"3"})", "params");
  REQUIRE(doc);
  const auto& params = doc->as_object();
  CHECK(ir::param_integer<std::int64_t>(params, "big", 1).value() == 4294967296);
  const auto narrowed = ir::param_integer<int>(params, "big", 1);
  REQUIRE_FALSE(narrowed);
  CHECK(narrowed.error().code() == ir::Code::invalid_input);
  CHECK(narrowed.error().message() == "parameter big: 4294967296 is out of range");
  CHECK_FALSE(ir::param_integer<std::int64_t>(params, "huge", 1));
  CHECK_FALSE(ir::param_integer<std::uint64_t>(params, "negative", 1));
  CHECK_FALSE(ir::param_integer<int>(params, "text", 1));
  CHECK(ir::param_integer<int>(params, "absent", 7).value() == 7);
  // The untyped accessor saturates instead of wrapping to a negative number.
  CHECK(ir::param_int(params, "huge") == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("security review finding 6: every integer parameter of every step has a minimum and a maximum",
          "[unit][params]") {
  for (const auto& listed : ir::generated::step_list) {
    const std::string step(listed.name);
    auto spec = ir::ParamSpec::load(step);
    REQUIRE(spec);
    for (const auto& entry : spec->properties()) {
      if (ir::string_at(entry.value(), {"type"}) != "integer") continue;
      INFO(step << " " << std::string(entry.key()));
      CHECK(ir::find(entry.value(), {"minimum"}) != nullptr);
      CHECK(ir::find(entry.value(), {"maximum"}) != nullptr);
    }
  }
}

TEST_CASE("every step's short flags are single letters, none used twice", "[unit][params]") {
  for (const auto& listed : ir::generated::step_list) {
    const std::string step(listed.name);
    INFO(step);
    auto spec = ir::ParamSpec::load(step);
    REQUIRE(spec);
    std::map<std::string, std::string> seen;
    for (const auto& entry : spec->properties()) {
      const auto* letter = ir::find(entry.value(), {"x-short"});
      if (letter == nullptr) continue;
      REQUIRE(letter->is_string());
      const std::string flag(letter->get_string());
      CHECK(flag.size() == 1);
      CHECK(std::isalpha(static_cast<unsigned char>(flag[0])) != 0);
      CHECK(seen.emplace(flag, std::string(entry.key())).second);
    }
  }
}

TEST_CASE(
    "a list parameter is the same list from a flag, a repeated flag, the environment, a params file and "
    "the plugin",
    "[unit][params]") {
  // How the WorkflowTemplates pass a list: one argument, "--allow-cidr=a,b"
  // or a JSON array; the plugin gets the same text as a JSON string.
  const std::vector<std::string> expected{"10.0.0.0/8", "192.168.0.0/16"};
  const std::vector<std::string> base{
      "--incident-id", "INC-2026-11-26-001", "--namespace", "shop", "--pod", "web"};
  auto from_args = [&](std::vector<std::string> more, std::map<std::string, std::string> env = {}) {
    auto args = base;
    args.insert(args.end(), more.begin(), more.end());
    auto parsed = ir::parse_args(isolate_spec(), args, env_of(std::move(env)));
    REQUIRE(parsed);
    return ir::param_strings(parsed->params, "allow-cidr");
  };
  CHECK(from_args({"--allow-cidr=10.0.0.0/8,192.168.0.0/16"}) == expected);
  CHECK(from_args({"--allow-cidr", "10.0.0.0/8, 192.168.0.0/16,"}) == expected);
  CHECK(from_args({"--allow-cidr=10.0.0.0/8", "--allow-cidr=192.168.0.0/16"}) == expected);
  CHECK(from_args({R"(--allow-cidr=["10.0.0.0/8","192.168.0.0/16"])"}) == expected);
  CHECK(from_args({}, {{"IRSTEPS_ALLOW_CIDR", R"(["10.0.0.0/8", "192.168.0.0/16"])"}}) == expected);
  const auto file = std::filesystem::temp_directory_path() / "irsteps-list-params-test.yaml";
  std::ofstream(file) << "allow-cidr: [10.0.0.0/8, 192.168.0.0/16]\n";
  CHECK(from_args({"--params", file.string()}) == expected);
  std::ofstream(file) << "allow-cidr: 10.0.0.0/8,192.168.0.0/16\n";
  CHECK(from_args({"--params", file.string()}) == expected);
  std::filesystem::remove(file);
  for (const auto& value :
       {ir::json::value("10.0.0.0/8,192.168.0.0/16"), ir::json::value(R"(["10.0.0.0/8","192.168.0.0/16"])"),
        ir::json::value(ir::json::array{"10.0.0.0/8", "192.168.0.0/16"})}) {
    auto plugin = ir::finalize_params(isolate_spec(), {{"incident-id", "INC-2026-11-26-001"},
                                                       {"namespace", "shop"},
                                                       {"pod", "web"},
                                                       {"allow-cidr", value}});
    REQUIRE(plugin);
    CHECK(ir::param_strings(*plugin, "allow-cidr") == expected);
  }
}

TEST_CASE("a list whose items can hold a comma splits only a JSON array, and a bad one names the parameter",
          "[unit][params]") {
  auto notify = ir::ParamSpec::load("notify");
  REQUIRE(notify);
  const ir::json::object base{{"incident-id", "INC-2026-11-26-001"},
                              {"template", "initial-notification"},
                              {"severity", "high"},
                              {"routing", "/etc/irsteps/routing.yaml"}};
  auto with = [&](std::string_view name, ir::json::value value) {
    auto params = base;
    params[name] = std::move(value);
    return ir::finalize_params(*notify, params);
  };
  auto prose = with("next-steps", "Rotate the keys, then tell the customers");
  REQUIRE(prose);
  CHECK(ir::param_strings(*prose, "next-steps") ==
        std::vector<std::string>{"Rotate the keys, then tell the customers"});
  auto two = with("next-steps", R"(["Rotate the keys, today", "Tell the customers"])");
  REQUIRE(two);
  CHECK(ir::param_strings(*two, "next-steps").size() == 2);
  auto classes = with("data-class", "pci,personal");
  REQUIRE(classes);
  CHECK(ir::param_strings(*classes, "data-class") == std::vector<std::string>{"pci", "personal"});
  auto bad = with("data-class", "[pci");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == ir::Code::invalid_input);
  CHECK(bad.error().describe().find("parameter data-class") != std::string::npos);
  auto not_array = with("data-class", R"(["pci"] )");
  REQUIRE(not_array);
  auto object = with("channel", R"([{"a": 1}])");
  REQUIRE_FALSE(object);
  CHECK(object.error().describe().find("channel[0]") != std::string::npos);
}

TEST_CASE("verify-image: which parameters go together is the schema's, each refusal naming its parameters",
          "[unit][params]") {
  auto spec = ir::ParamSpec::load("verify-image");
  REQUIRE(spec);
  const std::vector<std::string> keyless{"--certificate-identity", "ci@example.com",
                                         "--certificate-oidc-issuer", "https://issuer.example"};
  auto args = [&](std::vector<std::string> first, std::vector<std::string> more, bool identity = true) {
    if (identity) first.insert(first.end(), keyless.begin(), keyless.end());
    first.insert(first.end(), more.begin(), more.end());
    return first;
  };
  const std::vector<std::string> image{"registry.local/app@sha256:" + std::string(64, 'a')};
  const std::vector<std::string> bundle{"bundle", "artifact.bin"};
  auto accepted = [&](std::vector<std::string> argv) {
    auto parsed = ir::parse_args(*spec, argv, env_of({}));
    INFO((parsed ? std::string("accepted") : parsed.error().describe()));
    CHECK(parsed);
  };
  auto refused = [&](std::vector<std::string> argv, const std::string& expected) {
    auto parsed = ir::parse_args(*spec, argv, env_of({}));
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code() == ir::Code::invalid_input);
    INFO(parsed.error().describe());
    CHECK(parsed.error().describe().find(expected) != std::string::npos);
  };
  accepted(args(image, {}));
  accepted(args(bundle, {"--bundle", "a.sigstore.json"}));
  accepted(args(image, {"--sbom", "s.json", "--sbom-baseline", "b.json", "--fail-on-sbom-change"}));
  accepted(
      args(image, {"--vulnerability-attestation", "--max-severity", "HIGH", "--ignore-cve", "CVE-2026-1"}));
  accepted(args(image, {"--key", "cosign.pub"}, false));
  accepted(args(bundle, {"--bundle", "a.sigstore.json", "--threshold", "1"}));

  refused(args(bundle, {}), "parameter bundle: required with `bundle`");
  refused(args(image, {"--bundle", "a.sigstore.json"}), "parameter bundle: only with `bundle`");
  refused(args(image, {"--sbom-baseline", "b.json", "--sbom-baseline-image", "registry.local/app:1"}),
          "parameters sbom-baseline and sbom-baseline-image: give one baseline, not both");
  refused(args(image, {"--sbom", "s.json"}), "parameter sbom: give --sbom-baseline or --sbom-baseline-image");
  refused(args(image, {"--fail-on-sbom-change"}), "parameter fail-on-sbom-change: give --sbom-baseline");
  refused(args(image, {"--vulnerability-report", "r.json", "--vulnerability-attestation"}),
          "parameters vulnerability-report and vulnerability-attestation: give one report, not both");
  refused(args(image, {"--max-severity", "HIGH"}),
          "parameters max-severity, ignore-cve and max-report-age: only");
  refused(args(image, {"--ignore-cve", "CVE-2026-1"}),
          "parameters max-severity, ignore-cve and max-report-age");
  refused(args(bundle, {"--bundle", "a.sigstore.json", "--vulnerability-attestation"}),
          "vulnerability-attestation: only with IMAGE");
  refused(args(bundle, {"--bundle", "a.sigstore.json", "--threshold", "2"}),
          "parameters threshold, annotation and platform: only with IMAGE");
  refused(args(bundle, {"--bundle", "a.sigstore.json", "--platform", "linux/amd64"}),
          "parameters threshold, annotation and platform: only with IMAGE");
  refused(args(image, {"--key", "cosign.pub"}),
          "parameter key: a key-signed bundle has no certificate identity");
  refused(args(image, {}, false), "give --certificate-identity (or --certificate-identity-regexp), or --key");
  refused(args(image, {"--certificate-identity", "ci@example.com"}, false),
          "give --certificate-oidc-issuer (or --certificate-oidc-issuer-regexp)");
  refused(args(image, {"--registry-password-file", "p"}),
          "parameter registry-password-file: give --registry-username with it");
}
