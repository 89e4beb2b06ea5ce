#include "ir/driver/step.hpp"

#include "ir/core/log.hpp"
#include "ir/core/process.hpp"
#include "ir/params/params.hpp"
#include "ir/record/case_record.hpp"

#include <cstdio>
#include <iostream>

#ifndef IRSTEPS_VERSION
#define IRSTEPS_VERSION "0.0.0-dev"
#endif

namespace ir {

std::string_view irsteps_version() {
  return IRSTEPS_VERSION;
}

Context::Context(Report& report, json::object params, k8s::ConfigRequest kube_request)
    : report_(report), params_(std::move(params)), kube_request_(std::move(kube_request)) {
  common_.dry_run = param_bool(params_, "dry-run");
  common_.incident_id = param_string(params_, "incident-id");
  report_.set_incident(common_.incident_id);
  report_.set_dry_run(common_.dry_run);
  if (kube_request_.kubeconfig.empty()) kube_request_.kubeconfig = param_string(params_, "kubeconfig");
  if (kube_request_.context.empty()) kube_request_.context = param_string(params_, "context");
}

http::RetryPolicy Context::retry_policy() const {
  http::RetryPolicy retry;
  // The schema bounds max-attempts to 1..20: it fits, or the default stands.
  if (auto attempts = param_integer<int>(params_, "max-attempts", retry.max_attempts))
    retry.max_attempts = *attempts;
  return retry;
}

Result<k8s::Client*> Context::kube() {
  if (!kube_) {
    auto config = k8s::load_config(kube_request_);
    if (!config) return config.error();
    for (const auto& warning : config->warnings) report_.add_warning(warning);
    config->warnings.clear();
    auto client = k8s::Client::connect(std::move(*config), retry_policy());
    if (!client) return client.error();
    kube_ = std::move(*client);
  }
  return kube_.get();
}

void Context::warn(std::string message) {
  log::warn("step.warning", {{"message", message}});
  report_.add_warning(std::move(message));
}

namespace {

Status status_for(Code code) {
  return code == Code::rejected ? Status::rejected : Status::failed;
}

void emit(const Report& report, const json::object& params) {
  std::cout << to_pretty_json(json::value(report.to_json())) << std::endl;
  const std::string outputs_dir = param_string(params, "outputs-dir");
  if (!outputs_dir.empty()) {
    if (auto written = write_outputs_dir(report, outputs_dir); !written) {
      log::error("outputs.failed", {{"message", written.error().describe()}});
    }
  }
  const char* github_output = std::getenv("GITHUB_OUTPUT");
  const char* github_summary = std::getenv("GITHUB_STEP_SUMMARY");
  if (github_output != nullptr || github_summary != nullptr) {
    if (auto written = write_github_outputs(report, github_output ? github_output : "",
                                            github_summary ? github_summary : "");
        !written) {
      log::error("outputs.failed", {{"message", written.error().describe()}});
    }
  }
}

void print_error(std::string_view step, const Error& error) {
  log::error("step.failed", {{"step", step},
                             {"code", code_name(error.code())},
                             {"exit_code", exit_code(error.code())},
                             {"message", error.describe()}});
  if (std::getenv("GITHUB_ACTIONS") != nullptr) {
    std::cout.flush();
    std::cerr << github_annotation("error", "irsteps " + std::string(step), error.describe()) << std::endl;
  }
}

int run_entry(const StepDef& step, Context& context) {
  Report& report = context.report();
  try {
    auto result = step.entry(context);
    if (!result) {
      report.finish(status_for(result.error().code()), result.error());
      print_error(step.name, result.error());
      return exit_code(result.error().code());
    }
    if (report.status() == Status::partial) {
      report.finish(Status::partial);
      return 1;
    }
    report.finish(Status::succeeded);
    log::info("step.done", {{"step", step.name}, {"dry_run", context.dry_run()}});
    return exit_ok;
  } catch (const std::exception& e) {
    Error error = internal_error(std::string("internal error: ") + e.what());
    report.finish(Status::failed, error);
    print_error(step.name, error);
    return exit_code(Code::internal);
  }
}

// The step's result goes into the incident's case record. A record that
// cannot be pushed is kept on this machine and the run exits 4 (transient),
// so that a retry pushes it; when a retry cannot help (credentials refused:
// 5, host key not trusted: 2) it exits with that code instead. The step's
// own failure keeps its exit code.
int keep_record(const record::Target& target, std::string_view step, Report& report, int code) {
  auto appended = record::append(target, report.to_json());
  if (!appended) {
    log::error("case.failed", {{"step", step}, {"message", appended.error().describe()}});
    report.add_warning("case record not written: " + appended.error().describe());
    return code == exit_ok ? exit_code(appended.error().code()) : code;
  }
  if (appended->pushed) {
    report.set_output("case-record", appended->path);
    report.set_output("case-record-commit", appended->commit);
    log::info("case.recorded", {{"path", appended->path}, {"commit", appended->commit}});
    return code;
  }
  log::warn("case.pending", {{"path", appended->path}, {"message", appended->problem}});
  report.add_warning("case record not pushed (" + appended->problem + "); kept at " + appended->path +
                     " and pushed by the next run with this case-repo");
  report.set_output("case-record-pending", appended->path);
  return code == exit_ok ? exit_code(appended->problem_code) : code;
}

}  // namespace

int run_step(const StepDef& step, Context& context) {
  Report& report = context.report();
  auto target = record::target_from_params(context.params());
  if (target && *target && context.incident_id().empty()) {
    target = invalid("case-repo: a case record needs --incident-id");
  }
  if (!target) {
    report.finish(Status::failed, target.error());
    print_error(step.name, target.error());
    return exit_code(target.error().code());
  }
  const int code = run_entry(step, context);
  // Bad input changed nothing, so there is nothing to record.
  if (!*target || code == exit_code(Code::invalid_input)) return code;
  return keep_record(**target, step.name, report, code);
}

int run_step_main(const StepDef& step, int argc, char** argv) {
  disable_core_dumps();
  // Logs go to stderr as JSON lines until parameters say otherwise.
  log::configure(log::Format::json, log::Level::info);
  try {
    auto spec = ParamSpec::load(step.name);
    if (!spec) {
      print_error(step.name, spec.error());
      return exit_code(spec.error().code());
    }
    std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
    auto parsed = parse_args(*spec, args, process_environment());
    Report report(std::string(step.name), std::string(irsteps_version()));
    if (!parsed) {
      report.finish(Status::failed, parsed.error());
      print_error(step.name, parsed.error());
      std::cout << to_pretty_json(json::value(report.to_json())) << std::endl;
      return exit_code(parsed.error().code());
    }
    if (parsed->action == ParsedArgs::Action::help) {
      std::cout << spec->help_text();
      return exit_ok;
    }
    if (parsed->action == ParsedArgs::Action::version) {
      std::cout << step.name << " (irsteps) " << irsteps_version() << "\n";
      return exit_ok;
    }
    // The schema has already refused a level that is not one of these.
    const auto level = log::level_from_string(param_string(parsed->params, "log-level", "info"));
    log::configure(
        param_string(parsed->params, "log-format", "json") == "text" ? log::Format::text : log::Format::json,
        level ? *level : log::Level::info);
    Context context(report, parsed->params);
    const int code = run_step(step, context);
    emit(report, parsed->params);
    return code;
  } catch (const std::exception& e) {
    // The one catch-all: a bug of ours, never a user's fault.
    print_error(step.name, internal_error(std::string("internal error: ") + e.what()));
    return exit_code(Code::internal);
  }
}

}  // namespace ir
