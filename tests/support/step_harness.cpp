#include "support/step_harness.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/log.hpp"
#include "ir/output/report.hpp"
#include "ir/params/params.hpp"
#include "ir/params/schema.hpp"
#include "support/pki.hpp"

#include <cstdio>
#include <iostream>
#include <iterator>

#include <fcntl.h>
#include <unistd.h>

namespace ir::test {

std::string path_of(const SeenRequest& request) {
  return request.target.substr(0, request.target.find('?'));
}

Reply api_object(const json::value& object) {
  return Reply{200, {{"Content-Type", "application/json"}}, to_sorted_json(object)};
}

Reply api_status(int code, const std::string& reason, const std::string& message) {
  const json::object status{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                            {"reason", reason}, {"message", message}, {"code", code}};
  return Reply{code, {{"Content-Type", "application/json"}}, to_sorted_json(status)};
}

Reply api_list(const std::string& kind, json::array items) {
  return api_object(json::object{
      {"kind", kind}, {"apiVersion", "v1"}, {"metadata", json::object{}}, {"items", std::move(items)}});
}

ScriptedApi::ScriptedApi() : token_("harness-token-" + std::to_string(::getpid()) + "-s3cr3t") {
  const auto ca = make_ca("scripted API server CA");
  const auto cert = issue(ca, {"127.0.0.1", {"localhost"}, {"127.0.0.1"}});
  server_ = std::make_unique<HttpServer>([this](const SeenRequest& request) { return answer(request); },
                                         ServerTls{cert, {}});
  const std::string config =
      "apiVersion: v1\nkind: Config\n"
      "clusters:\n- name: scripted\n  cluster:\n    server: " +
      server_->url() + "\n    certificate-authority-data: " + base64_encode(ca.cert_pem) +
      "\n"
      "users:\n- name: harness\n  user:\n    token: " +
      token_ +
      "\n"
      "contexts:\n- name: scripted\n  context:\n    cluster: scripted\n    user: harness\n"
      "current-context: scripted\n";
  kubeconfig_ = dir_.file("kubeconfig", config);
}

// The server goes first: its threads call answer(), which reads the routes.
ScriptedApi::~ScriptedApi() {
  server_.reset();
}

void ScriptedApi::on(const std::string& method, const std::string& path, Route route) {
  std::lock_guard lock(mutex_);
  const std::string key = method + " " + path;
  std::erase_if(routes_, [&](const auto& entry) { return entry.first == key; });
  routes_.emplace_back(key, std::move(route));
}

void ScriptedApi::on(const std::string& method, const std::string& path, Reply reply) {
  on(method, path, [reply](const SeenRequest&) { return reply; });
}

int ScriptedApi::count(const std::string& method, const std::string& path) const {
  int n = 0;
  for (const auto& request : requests()) n += request.method == method && path_of(request) == path ? 1 : 0;
  return n;
}

Reply ScriptedApi::answer(const SeenRequest& request) {
  Route route;
  {
    std::lock_guard lock(mutex_);
    const std::string key = request.method + " " + path_of(request);
    for (const auto& [path, candidate] : routes_) {
      if (path == key) route = candidate;
    }
  }
  if (!route)
    return api_status(404, "NotFound", request.method + " " + path_of(request) + " is not scripted");
  return route(request);
}

std::string StepOutcome::output(const std::string& name) const {
  return string_at(result, {"outputs", name});
}

std::string StepOutcome::status() const {
  return string_at(result, {"status"});
}

std::string StepOutcome::error_message() const {
  return string_at(result, {"error", "message"});
}

std::string StepOutcome::all_text() const {
  return to_sorted_json(json::value(result)) + "\n" + log;
}

namespace {

// What the process writes to stderr (the driver's log lines) while it
// lives, into a file of its own; restored and read by finish().
class StderrCapture {
 public:
  StderrCapture() {
    std::cerr.flush();
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    file_ = file;
    ::dup2(::fileno(file_), STDERR_FILENO);
  }
  ~StderrCapture() { (void)finish(); }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  std::string finish() {
    if (file_ == nullptr) return {};
    std::cerr.flush();
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    std::string text;
    std::rewind(file_);
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, file_)) > 0;) text.append(buffer, n);
    std::fclose(file_);
    file_ = nullptr;
    return text;
  }

 private:
  int saved_ = -1;
  std::FILE* file_ = nullptr;
};

// The steps of run_step_main between the arguments and the exit code, with
// no environment: parse and validate, configure the log, run.
int drive(const StepDef& step, const std::vector<std::string>& args, const ScriptedApi* api, Report& report) {
  const EnvLookup no_environment = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  auto spec = ParamSpec::load(step.name);
  REQUIRE(spec);
  auto parsed = parse_args(*spec, args, no_environment);
  if (!parsed) {
    report.finish(Status::failed, parsed.error());
    log::error("step.failed", {{"step", step.name},
                               {"code", code_name(parsed.error().code())},
                               {"exit_code", exit_code(parsed.error().code())},
                               {"message", parsed.error().describe()}});
    return exit_code(parsed.error().code());
  }
  REQUIRE(parsed->action == ParsedArgs::Action::run);
  const auto level = log::level_from_string(param_string(parsed->params, "log-level", "info"));
  log::configure(log::Format::json, level ? *level : log::Level::info);
  k8s::ConfigRequest kube;
  kube.kubeconfig = api != nullptr ? api->kubeconfig() : "/nonexistent/harness-kubeconfig";
  kube.env = no_environment;
  kube.service_account_dir = "/nonexistent/harness-serviceaccount";
  Context context(report, parsed->params, std::move(kube));
  return run_step(step, context);
}

}  // namespace

StepOutcome run_step_in_process(const StepDef& step, const std::vector<std::string>& args,
                                const ScriptedApi* api) {
  Report report(std::string(step.name), std::string(irsteps_version()));
  StepOutcome outcome;
  {
    StderrCapture capture;
    outcome.exit_code = drive(step, args, api, report);
    outcome.log = capture.finish();
  }
  log::configure(log::Format::json, log::Level::info);
  outcome.result = report.to_json();
  static const auto schema = Schema::from_text(*embedded_schema("result"), "result.schema.json");
  REQUIRE(schema);
  const auto problems = schema->validate(json::value(outcome.result));
  for (const auto& problem : problems) INFO(problem.path << ": " << problem.message);
  CHECK(problems.empty());
  // The contract of every step: 0 only for a success, 1 for a partial one.
  if (outcome.output("case-record-pending").empty()) {
    CHECK((outcome.exit_code == 0) == (outcome.status() == "succeeded"));
    CHECK((outcome.exit_code == 1 && outcome.status() == "partial") == (outcome.status() == "partial"));
  }
  return outcome;
}

}  // namespace ir::test
