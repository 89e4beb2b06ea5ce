#include "access_audit.hpp"

#include "ir/core/log.hpp"
#include "ir/params/params.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace ir::steps::access_audit {
namespace {

std::string json_text(json::value value) {
  return boost::json::serialize(value);
}

// Who could: subjects, the pods behind them, and the API server's agreement.
Result<void> report_who_could(const Options& options, Context& context, k8s::Client& client) {
  Report& report = context.report();
  auto rbac = load_rbac(client, options.target);
  if (!rbac) return rbac.error();
  auto subjects = who_can(*rbac, options.target, options.verbs);
  if (auto pods = add_pods(client, subjects); !pods) return pods.error();
  auto sample = sample_not_found(client, options.target, subjects, options.sar_sample);
  if (!sample) return sample.error();
  Stats stats;
  auto disagreements =
      check_with_api_server(client, *rbac, options.target, options.verbs, subjects, *sample, stats);
  if (!disagreements) return disagreements.error();

  json::array subjects_json;
  std::size_t flagged = 0;
  for (const auto& access : subjects) {
    subjects_json.push_back(to_json(access));
    if (!access.flags.empty()) ++flagged;
  }
  json::array disagreements_json;
  for (const auto& d : *disagreements) {
    context.warn("SubjectAccessReview disagrees for " + describe(d.subject) + " " + d.verb +
                 ": RBAC here says " + (d.rbac ? "allowed" : "denied") + ", the API server says " +
                 (d.api_server ? "allowed" : "denied"));
    disagreements_json.push_back(json::object{
        {"subject", describe(d.subject)}, {"verb", d.verb}, {"rbac", d.rbac}, {"apiServer", d.api_server}});
  }
  log::info(
      "access-audit.rbac",
      {{"subjects", subjects.size()}, {"reviews", stats.reviews}, {"disagreements", disagreements->size()}});
  report.set_output("subjects", json_text(std::move(subjects_json)));
  report.set_output("subject-count", std::to_string(subjects.size()));
  report.set_output("flagged-subject-count", std::to_string(flagged));
  report.set_output("access-reviews", std::to_string(stats.reviews));
  report.set_output("disagreements", json_text(std::move(disagreements_json)));
  report.set_output("disagreement-count", std::to_string(disagreements->size()));
  // The step's answer is only as good as its agreement with the API server.
  if (!disagreements->empty()) report.mark_partial();
  return {};
}

Result<void> report_who_did(const Options& options, Context& context, AccessLog& log) {
  Report& report = context.report();
  auto files = expand_sources(options.audit_logs);
  if (!files) return files.error();
  AuditFilter filter{options.target, options.verbs, options.since, options.until};
  auto stats = read_audit_logs(*files, filter, [&](const AuditEvent& event) { log.add(event); });
  if (!stats) return stats.error();
  log::info("access-audit.read", {{"files", stats->files},
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
    context.warn(std::to_string(log.omitted()) +
                 " accesses beyond --max-accesses are not listed one by one; " +
                 "the per-user summary counts them all");
  }
  report.set_output("accesses", json_text(log.accesses_json()));
  report.set_output("access-count", std::to_string(log.total()));
  report.set_output("users", json_text(log.users_json()));
  report.set_output("user-count", std::to_string(log.users().size()));
  report.set_output("audit-lines", std::to_string(stats->lines));
  report.set_output("malformed-lines", std::to_string(stats->malformed));
  return {};
}

// The object's metadata for the timeline; a missing or unreadable object is
// a warning, since the audit log can still tell its story.
Result<std::optional<json::object>> object_metadata(const Options& options, Context& context,
                                                    k8s::Client& client) {
  if (options.target.name.empty()) return std::optional<json::object>();
  auto resource = k8s::resource_for(options.target.resource);
  if (!resource || resource->group != options.target.group) {
    context.warn("the timeline has no cluster history for " + options.target.resource +
                 " (only built-in kinds are looked up)");
    return std::optional<json::object>();
  }
  auto object = client.get_metadata(*resource, options.target.ns, options.target.name);
  if (object) return std::optional<json::object>(std::move(*object));
  if (object.error().code() == Code::not_found || object.error().code() == Code::forbidden) {
    context.warn("no cluster history in the timeline: " + object.error().describe());
    return std::optional<json::object>();
  }
  return object.error();
}

// "secrets/db-password in shop", "deployments.apps/web/scale in shop",
// "clusterroles.rbac.authorization.k8s.io/admin".
std::string target_text(const Target& target) {
  std::string text = target.resource + (target.group.empty() ? "" : "." + target.group);
  if (!target.name.empty()) text += "/" + target.name;
  if (!target.subresource.empty()) text += "/" + target.subresource;
  if (!target.ns.empty()) text += " in " + target.ns;
  return text;
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
  options.incident_id = param_string(params, "incident-id");
  auto target = parse_target(param_string(params, "resource"), param_string(params, "namespace"));
  if (!target) return target.error();
  options.target = std::move(*target);
  options.verbs = param_strings(params, "verb");
  if (options.verbs.empty()) options.verbs = {"get", "list", "watch"};
  options.audit_logs = param_strings(params, "audit-log");
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
  if (options.offline && options.audit_logs.empty()) return invalid("--offline needs --audit-log");
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
  std::optional<json::object> object;
  if (!options.offline) {
    auto kube = context.kube();
    if (!kube) return kube.error();
    if (auto could = report_who_could(options, context, **kube); !could) return could.error();
    auto metadata = object_metadata(options, context, **kube);
    if (!metadata) return metadata.error();
    object = std::move(*metadata);
  }
  AccessLog log(options.max_accesses);
  if (!options.audit_logs.empty()) {
    if (auto did = report_who_did(options, context, log); !did) return did.error();
  }
  report.set_output("resource", target_text(options.target));
  report.set_output("timeline", json_text(build_timeline(object ? &*object : nullptr, log)));
  if (object) report.set_output("exposed-since", string_at(*object, {"metadata", "creationTimestamp"}));
  return {};
}

const StepDef& step() {
  static const StepDef def = define_step<Options>(
      "access-audit", "who could reach a resource, who did, and since when", options_from, run);
  return def;
}

}  // namespace ir::steps::access_audit
