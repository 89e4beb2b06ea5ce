#include "drift.hpp"

#include "ir/core/log.hpp"
#include "ir/k8s/writer.hpp"
#include "ir/params/params.hpp"

#include <boost/json/serialize.hpp>

namespace ir::steps::drift {
namespace {

// One expected object with what comparing it found.
struct Checked {
  Target target;
  Comparison comparison;
  std::vector<Finding> findings;
};

Result<std::vector<Checked>> check_all(k8s::Client& client, const std::vector<Target>& targets,
                                       const Options& options) {
  std::vector<Checked> checked;
  for (const auto& target : targets) {
    auto comparison = compare_live(client, target);
    if (!comparison) return comparison.error();
    std::vector<Finding> findings;
    if (comparison->live) findings = security_findings(*comparison->live, options.checks);
    log::info("drift.compared", {{"object", target.id()},
                                 {"namespace", target.ns},
                                 {"exists", comparison->live.has_value()},
                                 {"changed_paths", comparison->changes.size()},
                                 {"findings", findings.size()}});
    checked.push_back({target, std::move(*comparison), std::move(findings)});
  }
  return checked;
}

struct Tally {
  std::size_t changes = 0;
  std::size_t findings = 0;
  std::string drifted;  // "deployment/web, service/web"
};

// Sets the outputs `<prefix>changed-paths` and `<prefix>findings`.
Tally report_state(Report& report, const std::vector<Checked>& checked, const std::string& prefix) {
  Tally tally;
  json::array changes, findings;
  for (const auto& item : checked) {
    json::value these_changes = changes_json(item.target, item.comparison.changes);
    for (auto& entry : these_changes.as_array()) changes.push_back(std::move(entry));
    json::value these_findings = findings_json(item.target, item.findings);
    for (auto& entry : these_findings.as_array()) findings.push_back(std::move(entry));
    if (!item.comparison.changes.empty())
      tally.drifted += (tally.drifted.empty() ? "" : ", ") + item.target.id();
  }
  tally.changes = changes.size();
  tally.findings = findings.size();
  report.set_output(prefix + "changed-paths", json::serialize(changes));
  report.set_output(prefix + "findings", json::serialize(findings));
  return tally;
}

Tally report_found(Report& report, const std::vector<Checked>& checked) {
  const Tally tally = report_state(report, checked, "");
  std::string objects, diff;
  std::vector<const Checked*> fixable;
  for (const auto& item : checked) {
    objects += (objects.empty() ? "" : ",") + item.target.ns + "/" + item.target.id();
    diff += item.comparison.diff;
    if (!combined_fix(item.findings).empty()) fixable.push_back(&item);
  }
  report.set_output("objects", objects);
  report.set_output("drift", tally.changes > 0 ? "true" : "false");
  report.set_output("finding-count", std::to_string(tally.findings));
  // Drift, or an object that matches its manifest and still fails the
  // security checks: either way there is something to fix.
  report.set_output("needs-fix", tally.changes > 0 || tally.findings > 0 ? "true" : "false");
  report.set_output("diff", diff);
  // A patch for --patch as it is, when the findings are all on one object.
  if (fixable.size() == 1) {
    report.set_output("fix-patch", json::serialize(combined_fix(fixable[0]->findings)));
    report.set_output("fix-object", fixable[0]->target.id());
  }
  return tally;
}

Result<void> patch_live(k8s::Client& client, Report& report, const Target& target, const Options& options) {
  const bool merge = options.patch_type == PatchType::merge;
  Action action;
  action.verb = "patch";
  action.target = k8s::reference_of(target.resource, target.ns, target.name);
  action.detail = std::string(merge ? "merge" : "strategic merge") + " patch of the fix";
  action.dry_run = options.dry_run;
  if (options.dry_run) {
    action.request = json::object{
        {"method", "PATCH"},
        {"path", k8s::Client::path(target.resource, target.ns, target.name) + "?fieldManager=irsteps"},
        {"contentType", merge ? "application/merge-patch+json" : "application/strategic-merge-patch+json"},
        {"body", *options.patch}};
  } else {
    auto patched = client.patch(target.resource, target.ns, target.name,
                                merge ? k8s::PatchType::merge : k8s::PatchType::strategic, *options.patch);
    if (!patched) return patched.error().with("patch " + target.id() + " in namespace " + target.ns);
    action.target["uid"] = string_at(*patched, {"metadata", "uid"});
  }
  log::info(
      options.dry_run ? "k8s.planned" : "k8s.changed",
      {{"verb", "patch"}, {"kind", target.resource.kind}, {"namespace", target.ns}, {"name", target.name}});
  report.add_action(std::move(action));
  return {};
}

// The patch holds when patching again would change nothing.
Result<bool> patch_holds(k8s::Client& client, const Target& target, const Options& options) {
  auto both = live_and_dry_run(client, target, [&]() -> Result<json::object> {
    auto again = client.patch(
        target.resource, target.ns, target.name,
        options.patch_type == PatchType::merge ? k8s::PatchType::merge : k8s::PatchType::strategic,
        *options.patch, true);
    if (!again) return again.error().with("dry run of the patch of " + target.id());
    return again;
  });
  if (!both) return both.error();
  if (!both->live) return Error(Code::not_found, target.id() + " not found in namespace " + target.ns);
  return without_server_fields(*both->live) == without_server_fields(both->dry_run);
}

json::object patched(const json::object& object, const Options& options) {
  json::value result = options.patch_type == PatchType::merge
                           ? merge_patched(json::value(object), json::value(*options.patch))
                           : strategic_patched(json::value(object), json::value(*options.patch));
  return result.is_object() ? std::move(result.get_object()) : object;
}

// --apply or --patch, then the read-back: the checked state afterwards, and
// an error when the change did not take.
Result<std::vector<Checked>> change_and_verify(k8s::Client& client, Context& context,
                                               std::vector<Checked> checked, const Options& options) {
  Report& report = context.report();
  k8s::Writer writer(client, report, options.dry_run);
  std::vector<Target> after;
  for (const auto& item : checked) {
    Target target = item.target;
    if (options.apply && !item.comparison.changes.empty()) {
      auto applied = writer.apply(target.resource, target.ns, target.expected,
                                  "server-side apply of the expected manifest (" +
                                      std::to_string(item.comparison.changes.size()) + " changed paths)");
      if (!applied) return applied.error().with("apply " + target.id() + " in namespace " + target.ns);
    }
    if (options.patch) {
      // A re-run finds the fix in place and leaves the object alone.
      auto holds = patch_holds(client, target, options);
      if (!holds) return holds.error();
      if (*holds) {
        log::info("drift.patch_in_effect", {{"object", target.id()}, {"namespace", target.ns}});
      } else if (auto done = patch_live(client, report, target, options); !done) {
        return done.error();
      }
      // With the fix committed, the fixed manifest is the expected state.
      if (!options.commit_branch.empty()) target.expected = patched(target.expected, options);
    }
    after.push_back(std::move(target));
  }
  if (options.dry_run) return checked;
  auto rechecked = check_all(client, after, options);
  if (!rechecked) return rechecked.error();
  bool verified = true;
  std::string problems;
  for (const auto& item : *rechecked) {
    if (options.apply && !item.comparison.changes.empty()) {
      verified = false;
      problems += "; " + item.target.id() + " still differs at " + item.comparison.changes.front().path;
    }
    if (options.patch) {
      auto holds = patch_holds(client, item.target, options);
      if (!holds) return holds.error();
      if (!*holds) {
        verified = false;
        problems += "; the patch of " + item.target.id() + " did not take";
      }
    }
  }
  report.set_output("verified", verified ? "true" : "false");
  if (!verified) {
    report_state(report, *rechecked, "remaining-");
    return Error(Code::action_failed, "the change was made but did not hold" + problems +
                                          " (a controller or admission webhook may revert it)");
  }
  return std::move(*rechecked);
}

std::string commit_message(const Options& options, const std::vector<Target>& targets) {
  std::string ids;
  for (const auto& target : targets) ids += (ids.empty() ? "" : ", ") + target.id();
  return "drift: fix " + options.path + " for " + options.incident_id + "\n\n" + ids + ": " +
         (options.patch ? "the fix patched into the live objects" : "the fixes of the security checks") +
         ", written into the manifest by the irsteps drift step.\n\nIncident: " + options.incident_id + "\n";
}

Result<void> commit_fixed_manifest(const Loaded& loaded, const std::vector<Target>& targets,
                                   const Options& options, Context& context) {
  const Manifest& manifest = loaded.manifest;
  std::map<std::size_t, json::object> replaced;
  for (const auto& target : targets) {
    const auto& document = manifest.documents[target.document];
    json::object fixed;
    if (options.patch) {
      fixed = patched(document, options);
    } else {
      const auto fix = combined_fix(security_findings(document, options.checks));
      if (fix.empty()) continue;
      fixed = strategic_patched(json::value(document), json::value(fix)).get_object();
    }
    if (fixed != document) replaced.emplace(target.document, std::move(fixed));
  }
  if (replaced.empty()) {
    context.warn("the manifest " + manifest.source + " needs no fix: nothing committed");
    return {};
  }
  const std::string content = render_manifest(manifest, replaced);
  const std::string message = commit_message(options, targets);
  Action action;
  action.verb = "commit";
  action.target = json::object{{"kind", "GitBranch"}, {"name", options.commit_branch}};
  action.detail = "commit " + options.path + " to branch " + options.commit_branch + " of " +
                  repository_url(*loaded.git) + " and push it";
  action.dry_run = options.dry_run;
  if (options.dry_run) {
    action.request = json::object{
        {"method", "PUSH"},
        {"path", "refs/heads/" + options.commit_branch},
        {"body", json::object{{"file", options.path}, {"content", content}, {"message", message}}}};
    context.report().add_action(std::move(action));
    return {};
  }
  auto committed = commit_fix(*loaded.git, options, content, message);
  if (!committed) return committed.error();
  if (!committed->pushed) action.detail += " (already there: nothing pushed)";
  context.report().add_action(std::move(action));
  context.report().set_output("fix-branch", committed->branch);
  context.report().set_output("fix-commit", committed->commit);
  return {};
}

}  // namespace

Result<Options> options_from(const json::object& params) {
  Options options;
  options.expected = param_string(params, "expected");
  options.path = param_string(params, "path");
  options.ref = param_string(params, "ref", "main");
  options.token_file = param_string(params, "expected-token-file");
  options.username = param_string(params, "expected-username");
  options.ssh_key = param_string(params, "expected-ssh-key");
  options.known_hosts = param_string(params, "expected-known-hosts");
  options.ca_file = param_string(params, "expected-ca-file");
  options.ns = param_string(params, "namespace");
  options.object = param_string(params, "object");
  options.apply = param_bool(params, "apply");
  if (const std::string patch = param_string(params, "patch"); !patch.empty()) {
    auto parsed = parse_json(patch, "parameter patch");
    if (!parsed) return parsed.error();
    if (!parsed->is_object()) return invalid("parameter patch: not a JSON object");
    options.patch = std::move(parsed->get_object());
  }
  options.patch_type =
      param_string(params, "patch-type", "strategic") == "merge" ? PatchType::merge : PatchType::strategic;
  options.commit_branch = param_string(params, "commit-fix");
  options.fail_on_drift = param_bool(params, "fail-on-drift");
  auto checks = parse_checks(param_string(params, "checks", "on"));
  if (!checks) return checks.error();
  options.checks = std::move(*checks);
  // A password in the URL would reach logs and messages; secrets come from files.
  if (const auto scheme = options.expected.find("://"); scheme != std::string::npos) {
    const auto host_end = options.expected.find('/', scheme + 3);
    const std::string authority = options.expected.substr(
        scheme + 3, host_end == std::string::npos ? std::string::npos : host_end - scheme - 3);
    const auto at = authority.find('@');
    if (at != std::string::npos && authority.substr(0, at).find(':') != std::string::npos) {
      return invalid(
          "parameter expected: a URL with a password in it; give the token in --expected-token-file");
    }
  }
  if (options.apply && options.patch) {
    return invalid("parameters apply and patch exclude each other: apply the manifest, or patch in a fix");
  }
  if (!options.commit_branch.empty() && !options.from_git()) {
    return invalid(
        "parameter commit-fix needs the expected state from a git repository (--expected REPO --path FILE)");
  }
  return options;
}

Result<void> run(const Options& options, Context& context) {
  auto loaded = load_expected(options);
  if (!loaded) return loaded.error();
  auto targets = targets_of(loaded->manifest, options);
  if (!targets) return targets.error();
  if (options.patch && targets->size() > 1) {
    return invalid("parameter patch: " + loaded->manifest.source + " holds " +
                   std::to_string(targets->size()) +
                   " objects; name the one to patch with --object KIND/NAME");
  }
  auto kube = context.kube();
  if (!kube) return kube.error();
  auto checked = check_all(**kube, *targets, options);
  if (!checked) return checked.error();
  Tally remaining = report_found(context.report(), *checked);
  if (options.apply || options.patch) {
    auto after = change_and_verify(**kube, context, std::move(*checked), options);
    if (!after) return after.error();
    remaining = report_state(context.report(), *after, "remaining-");
  }
  if (!options.commit_branch.empty()) {
    if (auto committed = commit_fixed_manifest(*loaded, *targets, options, context); !committed) {
      return committed.error();
    }
  }
  if (options.fail_on_drift && (remaining.changes > 0 || remaining.findings > 0)) {
    return Error(Code::rejected, "drift remains: " + std::to_string(remaining.changes) + " changed paths" +
                                     (remaining.drifted.empty() ? "" : " (" + remaining.drifted + ")") +
                                     ", " + std::to_string(remaining.findings) + " security findings");
  }
  return {};
}

const StepDef& step() {
  static const StepDef def = define_step<Options>(
      "drift", "compare live objects with their expected manifests, check them, apply and commit the fix",
      options_from, run);
  return def;
}

}  // namespace ir::steps::drift
