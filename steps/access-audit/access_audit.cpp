#include "access_audit.hpp"

#include "ir/core/log.hpp"
#include "ir/params/params.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <filesystem>
#include <set>

namespace ir::steps::access_audit {
namespace {

constexpr std::string_view not_read = "audit log not read";

std::string json_text(json::value value) {
  return boost::json::serialize(value);
}

// What the step found over all its targets; with several targets each
// listed item names the resource it is about, and counts are of distinct
// subjects and users.
struct Findings {
  bool several = false;
  json::array subjects;
  std::set<std::string> subject_names;
  std::set<std::string> flagged_subjects;
  std::size_t reviews = 0;
  json::array disagreements;
  bool logs_read = false;
  std::uint64_t accesses_total = 0;
  json::array accesses;
  json::array users;
  std::set<std::string> user_names;
  std::uint64_t audit_lines = 0;
  std::uint64_t malformed_lines = 0;
  json::array timeline;
  std::vector<std::string> exposed_since;

  void add(json::array& to, json::value item, const std::string& resource) const {
    if (several)
      if (auto* object = item.if_object()) (*object)["resource"] = resource;
    to.push_back(std::move(item));
  }
};

// "secrets/db-password in shop", "deployments.apps/web/scale in shop",
// "clusterroles.rbac.authorization.k8s.io/admin".
std::string target_text(const Target& target) {
  std::string text = target.resource + (target.group.empty() ? "" : "." + target.group);
  if (!target.name.empty()) text += "/" + target.name;
  if (!target.subresource.empty()) text += "/" + target.subresource;
  if (!target.ns.empty()) text += " in " + target.ns;
  return text;
}

// Who could: subjects, the pods behind them, and the API server's agreement.
Result<void> who_could(const Options& options, const Target& target, Context& context, k8s::Client& client,
                       Findings& found) {
  auto rbac = load_rbac(client, target);
  if (!rbac) return rbac.error();
  auto subjects = who_can(*rbac, target, options.verbs);
  if (auto pods = add_pods(client, subjects); !pods) return pods.error();
  auto sample = sample_not_found(client, target, subjects, options.sar_sample);
  if (!sample) return sample.error();
  Stats stats;
  auto disagreements = check_with_api_server(client, *rbac, target, options.verbs, subjects, *sample, stats);
  if (!disagreements) return disagreements.error();
  const std::string resource = target_text(target);
  for (const auto& access : subjects) {
    found.add(found.subjects, to_json(access), resource);
    found.subject_names.insert(describe(access.subject));
    if (!access.flags.empty()) found.flagged_subjects.insert(describe(access.subject));
  }
  for (const auto& d : *disagreements) {
    context.warn("SubjectAccessReview disagrees for " + describe(d.subject) + " " + d.verb + " on " +
                 resource + ": RBAC here says " + (d.rbac ? "allowed" : "denied") + ", the API server says " +
                 (d.api_server ? "allowed" : "denied"));
    found.add(found.disagreements,
              json::object{{"subject", describe(d.subject)},
                           {"verb", d.verb},
                           {"rbac", d.rbac},
                           {"apiServer", d.api_server}},
              resource);
  }
  found.reviews += stats.reviews;
  log::info("access-audit.rbac", {{"resource", resource},
                                  {"subjects", subjects.size()},
                                  {"reviews", stats.reviews},
                                  {"disagreements", disagreements->size()}});
  return {};
}

Result<void> who_did(const Options& options, const Target& target, Context& context, AccessLog& log,
                     Findings& found) {
  auto files = expand_sources(options.audit_logs);
  if (!files) return files.error();
  AuditFilter filter{target, options.verbs, options.since, options.until};
  auto stats = read_audit_logs(*files, filter, [&](const AuditEvent& event) { log.add(event); });
  if (!stats) return stats.error();
  const std::string resource = target_text(target);
  log::info("access-audit.read", {{"resource", resource},
                                  {"files", stats->files},
                                  {"lines", stats->lines},
                                  {"bytes", stats->bytes},
                                  {"parsed", stats->parsed},
                                  {"matched", stats->matched},
                                  {"malformed", stats->malformed}});
  if (stats->malformed > 0 || !stats->problems.empty()) {
    std::string text = std::to_string(stats->malformed) + " malformed audit log line(s) skipped";
    for (const auto& problem : stats->problems) text += "; " + problem;
    context.warn(std::move(text));
  }
  if (log.omitted() > 0) {
    context.warn(std::to_string(log.omitted()) + " accesses to " + resource +
                 " beyond --max-accesses are not listed one by one; the per-user summary counts them all");
  }
  found.logs_read = true;
  found.accesses_total += log.total();
  for (auto& access : log.accesses_json()) found.add(found.accesses, std::move(access), resource);
  for (auto& user : log.users_json()) found.add(found.users, std::move(user), resource);
  for (const auto& [name, user] : log.users()) found.user_names.insert(name);
  // Every target reads the same files: count them once.
  found.audit_lines = stats->lines;
  found.malformed_lines = stats->malformed;
  return {};
}

// The object's metadata for the timeline; a missing or unreadable object is
// a warning, since the audit log can still tell its story.
Result<std::optional<json::object>> object_metadata(const Target& target, Context& context,
                                                    k8s::Client& client) {
  if (target.name.empty()) return std::optional<json::object>();
  auto resource = k8s::resource_for(target.resource);
  if (!resource || resource->group != target.group) {
    context.warn("the timeline has no cluster history for " + target.resource +
                 " (only built-in kinds are looked up)");
    return std::optional<json::object>();
  }
  auto object = client.get_metadata(*resource, target.ns, target.name);
  if (object) return std::optional<json::object>(std::move(*object));
  if (object.error().code() == Code::not_found || object.error().code() == Code::forbidden) {
    context.warn("no cluster history in the timeline: " + object.error().describe());
    return std::optional<json::object>();
  }
  return object.error();
}

}  // namespace

Result<Target> parse_target(std::string_view resource, std::string_view ns) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto slash = resource.find('/', start);
    parts.emplace_back(resource.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() > 3 || std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); })) {
    return invalid("--resource " + std::string(resource) + ": expected TYPE[.GROUP][/NAME[/SUBRESOURCE]]");
  }
  Target target;
  target.ns = ns;
  if (parts.size() > 1) target.name = parts[1];
  if (parts.size() > 2) target.subresource = parts[2];
  const auto dot = parts[0].find('.');
  if (dot != std::string::npos) {
    target.resource = parts[0].substr(0, dot);
    target.group = parts[0].substr(dot + 1);
    return target;
  }
  auto known = k8s::resource_for(parts[0]);
  if (!known) {
    target.resource = parts[0];
    return target;
  }
  target.resource = known->plural;
  target.group = known->group;
  if (known->namespaced && ns.empty() && !target.name.empty()) {
    return invalid("--resource " + std::string(resource) + " is namespaced: give --namespace");
  }
  if (!known->namespaced && !ns.empty()) {
    return invalid("--resource " + std::string(resource) + " is cluster-scoped: drop --namespace");
  }
  return target;
}

Result<TimePoint> parse_time_bound(std::string_view text, TimePoint reference) {
  if (auto time = parse_utc(text)) return *time;
  if (auto ago = parse_duration(text)) return reference - *ago;
  return invalid("'" + std::string(text) + "' is neither an RFC 3339 time nor a duration such as 24h");
}

Result<Options> options_from(const json::object& params) {
  Options options;
  auto target = parse_target(param_string(params, "resource"), param_string(params, "namespace"));
  if (!target) return target.error();
  const auto names = param_strings(params, "name");
  if (names.empty()) {
    options.targets.push_back(std::move(*target));
  } else {
    if (!target->name.empty())
      return invalid("--name: --resource " + param_string(params, "resource") +
                     " names its object already; give the TYPE alone with --name");
    if (target->ns.empty() && k8s::resource_for(target->resource) &&
        k8s::resource_for(target->resource)->namespaced)
      return invalid("--resource " + param_string(params, "resource") + " is namespaced: give --namespace");
    for (const auto& name : names) {
      Target named = *target;
      named.name = name;
      options.targets.push_back(std::move(named));
    }
  }
  options.verbs = param_strings(params, "verb");
  if (options.verbs.empty()) options.verbs = {"get", "list", "watch"};
  options.audit_logs = param_strings(params, "audit-log");
  options.audit_log_artifact = param_string(params, "audit-log-artifact");
  if (!options.audit_log_artifact.empty()) {
    // Argo's executor skips an optional input artifact that was not
    // supplied (workflow/executor/executor.go loadArtifact): nothing is at
    // its path. Anything there, even a broken link, is read as --audit-log
    // reads, with the same errors.
    std::error_code ec;
    const auto status = std::filesystem::symlink_status(options.audit_log_artifact, ec);
    if (std::filesystem::exists(status)) {
      options.audit_logs.push_back(options.audit_log_artifact);
    } else if (ec && ec != std::errc::no_such_file_or_directory) {
      return invalid("--audit-log-artifact " + options.audit_log_artifact + ": " + ec.message());
    } else {
      options.audit_log_artifact_absent = true;
    }
  }
  const TimePoint started = now();
  for (const auto& [name, bound] : {std::pair{"since", &options.since}, std::pair{"until", &options.until}}) {
    const std::string text = param_string(params, name);
    if (text.empty()) continue;
    auto time = parse_time_bound(text, started);
    if (!time) return time.error().with(std::string("--") + name);
    *bound = *time;
  }
  if (options.since && options.until && *options.since > *options.until) {
    return invalid("--since is later than --until");
  }
  options.offline = param_bool(params, "offline");
  if (options.offline && options.audit_logs.empty() && options.audit_log_artifact.empty())
    return invalid("--offline needs --audit-log or --audit-log-artifact");
  auto sar_sample = param_integer<int>(params, "sar-sample", 5);
  if (!sar_sample) return sar_sample.error();
  options.sar_sample = *sar_sample;
  auto max_accesses = param_integer<std::size_t>(params, "max-accesses", 1000);
  if (!max_accesses) return max_accesses.error();
  options.max_accesses = *max_accesses;
  return options;
}

Result<void> run(const Options& options, Context& context) {
  Report& report = context.report();
  Findings found;
  found.several = options.targets.size() > 1;
  std::vector<std::string> resources;
  for (const auto& target : options.targets) {
    const std::string resource = target_text(target);
    resources.push_back(resource);
    std::optional<json::object> object;
    if (!options.offline) {
      auto kube = context.kube();
      if (!kube) return kube.error();
      if (auto could = who_could(options, target, context, **kube, found); !could) return could.error();
      auto metadata = object_metadata(target, context, **kube);
      if (!metadata) return metadata.error();
      object = std::move(*metadata);
    }
    AccessLog log(options.max_accesses);
    if (!options.audit_logs.empty()) {
      if (auto did = who_did(options, target, context, log, found); !did) return did.error();
    }
    for (auto& entry : build_timeline(object ? &*object : nullptr, log))
      found.add(found.timeline, std::move(entry), resource);
    if (object) found.exposed_since.push_back(string_at(*object, {"metadata", "creationTimestamp"}));
  }
  if (!options.offline) {
    report.set_output("subjects", json_text(std::move(found.subjects)));
    report.set_output("subject-count", std::to_string(found.subject_names.size()));
    report.set_output("flagged-subject-count", std::to_string(found.flagged_subjects.size()));
    report.set_output("access-reviews", std::to_string(found.reviews));
    report.set_output("disagreement-count", std::to_string(found.disagreements.size()));
    // The step's answer is only as good as its agreement with the API server.
    if (!found.disagreements.empty()) report.mark_partial();
    report.set_output("disagreements", json_text(std::move(found.disagreements)));
  }
  if (found.logs_read) {
    report.set_output("accesses", json_text(std::move(found.accesses)));
    report.set_output("access-count", std::to_string(found.accesses_total));
    report.set_output("users", json_text(std::move(found.users)));
    report.set_output("user-count", std::to_string(found.user_names.size()));
    report.set_output("audit-lines", std::to_string(found.audit_lines));
    report.set_output("malformed-lines", std::to_string(found.malformed_lines));
  } else {
    // Issue 16 item 4: no log read is not "0 accesses".
    for (const auto* name : {"access-count", "user-count"}) report.set_output(name, std::string(not_read));
    if (options.audit_log_artifact_absent)
      context.warn(std::string(not_read) + " (no audit-log artifact was given)");
  }
  std::string resource_list;
  for (const auto& resource : resources) resource_list += (resource_list.empty() ? "" : ", ") + resource;
  report.set_output("resource", resource_list);
  report.set_output("timeline", json_text(std::move(found.timeline)));
  // The oldest object's creation: the longest possible exposure.
  if (!found.exposed_since.empty())
    report.set_output("exposed-since",
                      *std::min_element(found.exposed_since.begin(), found.exposed_since.end()));
  return {};
}

const StepDef& step() {
  static const StepDef def = define_step<Options>(
      "access-audit", "who could reach a resource, who did, and since when", options_from, run);
  return def;
}

}  // namespace ir::steps::access_audit
