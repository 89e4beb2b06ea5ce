#include "notify.hpp"

#include "case_report.hpp"
#include "send.hpp"

#include "ir/core/log.hpp"
#include "ir/params/params.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace ir::steps::notify {
namespace {

std::string bullet_list(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "- " : "\n- ") + item;
  return text;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

std::string capitalized(std::string text) {
  if (!text.empty()) text.front() = static_cast<char>(std::toupper(static_cast<unsigned char>(text.front())));
  return text;
}

std::string duration_text(std::chrono::minutes minutes) {
  if (minutes.count() % 60 != 0) return std::to_string(minutes.count()) + " minutes";
  const auto hours = minutes.count() / 60;
  return std::to_string(hours) + (hours == 1 ? " hour" : " hours");
}

PagerAction default_action(const Options& options) {
  if (options.action) return *options.action;
  if (options.status == "resolved" || options.template_name == "post-incident-report")
    return PagerAction::resolve;
  return PagerAction::trigger;
}

// The Timeline and Response Actions (of the post-incident report, or of any
// template that uses them) from the case record, unless given as fields;
// without a case record, from --timeline and --response-actions.
Result<void> fill_from_case_record(const Options& options, Context& context, std::string_view text,
                                   Fields& fields) {
  auto used = placeholders(text);
  if (!used) return {};  // render() reports the template's syntax
  const bool wanted = std::any_of(used->begin(), used->end(), [&](const std::string& name) {
    return (name == "timeline" || name == "response-actions") && !fields.contains(name);
  });
  if (!wanted) return {};
  auto target = record::target_from_params(context.params());
  if (!target) return target.error();
  if (!*target) {
    // No case record: the sections given for that case (issue 16 item 14:
    // the playbook's own step times); render() names what is still missing.
    for (const auto& [name, value] : options.without_record) fields.emplace(name, value);
    return {};
  }
  auto entries = record::read_incident(**target, options.incident_id);
  if (!entries) return entries.error().with("read the case record");
  const auto sections = case_sections(*entries);
  fields.emplace("timeline", sections.timeline);
  fields.emplace("response-actions", sections.response_actions);
  context.report().set_output("case-records", std::to_string(entries->size()));
  return {};
}

Result<std::vector<const Channel*>> select_channels(const Options& options, const Routing& routing,
                                                    PagerAction action, const std::vector<std::string>& roles,
                                                    std::vector<std::string>& skipped) {
  for (const auto& name : options.only_channels) {
    const bool known = std::any_of(routing.channels.begin(), routing.channels.end(),
                                   [&](const Channel& c) { return c.name == name; });
    if (!known) return invalid("parameter channel: '" + name + "' is not a channel of the routing file");
  }
  std::vector<const Channel*> selected;
  for (const auto& channel : routing.channels) {
    const bool named = std::find(options.only_channels.begin(), options.only_channels.end(), channel.name) !=
                       options.only_channels.end();
    bool take = false;
    if (!options.only_channels.empty()) {
      take = named;
    } else if (channel.type == ChannelType::pagerduty && action != PagerAction::trigger) {
      take = true;  // an acknowledge or resolve must reach the page whatever the severity now is
    } else {
      take = serves(channel, options.severity, roles);
    }
    if (take) {
      selected.push_back(&channel);
    } else {
      skipped.push_back(channel.name);
    }
  }
  if (selected.empty()) {
    return invalid("no channel of the routing file serves severity " +
                   std::string(level_of(options.severity).id) + " or the roles " + joined(roles));
  }
  return selected;
}

}  // namespace

Result<Options> options_from(const json::object& params) {
  Options options;
  options.routing_file = param_string(params, "routing");
  auto severity = parse_severity(param_string(params, "severity", "high"));
  if (!severity) return severity.error().with("parameter severity");
  options.severity = *severity;
  options.template_name = param_string(params, "template", "initial-notification");
  options.template_file = param_string(params, "template-file");
  options.status = param_string(params, "status", "investigating");
  if (const std::string action = param_string(params, "action"); !action.empty()) {
    options.action = action == "resolve"       ? PagerAction::resolve
                     : action == "acknowledge" ? PagerAction::acknowledge
                                               : PagerAction::trigger;
  }
  for (const char* name : {"title", "summary", "impact", "eta", "contact", "root-cause"}) {
    if (const std::string value = param_string(params, name); !value.empty()) options.fields[name] = value;
  }
  for (const char* name : {"current-actions", "progress", "next-steps"}) {
    if (const auto items = param_strings(params, name); !items.empty())
      options.fields[name] = bullet_list(items);
  }
  for (const char* name : {"timeline", "response-actions"}) {
    if (const std::string value = param_string(params, name); !value.empty())
      options.without_record[name] = value;
  }
  for (const auto& field : param_strings(params, "field")) {
    const auto equals = field.find('=');
    const std::string name = field.substr(0, equals);
    static const std::vector<std::string> computed = {"incident-id", "severity", "status", "next-update",
                                                      "deadlines"};
    if (std::find(computed.begin(), computed.end(), name) != computed.end()) {
      return invalid("parameter field: '" + name + "' is computed by the step and cannot be set");
    }
    options.fields[name] = field.substr(equals + 1);
  }
  options.target = param_string(params, "target");
  options.dedup_key = param_string(params, "dedup-key");
  for (const auto& link : param_strings(params, "link")) {
    const auto bar = link.find('|');
    options.links.emplace_back(link.substr(0, bar), bar == std::string::npos ? link : link.substr(bar + 1));
  }
  for (const auto& name : param_strings(params, "data-class")) {
    const DataClass data_class = name == "pci"   ? DataClass::pci
                                 : name == "phi" ? DataClass::phi
                                                 : DataClass::personal;
    options.data_classes.push_back(data_class);
  }
  if (const std::string detected = param_string(params, "detected-at"); !detected.empty()) {
    auto parsed = parse_utc(detected);
    if (!parsed) return parsed.error().with("parameter detected-at");
    options.detected_at = *parsed;
  }
  if (!options.data_classes.empty() && !options.detected_at) {
    return invalid("parameter data-class needs --detected-at: the regulatory deadlines count from detection");
  }
  options.extra_roles = param_strings(params, "roles");
  options.only_channels = param_strings(params, "channel");
  auto timeout = parse_duration(param_string(params, "timeout", "30s"));
  if (!timeout) return timeout.error().with("parameter timeout");
  options.timeout = *timeout;
  auto max_attempts = param_integer<int>(params, "max-attempts", 5);
  if (!max_attempts) return max_attempts.error();
  options.max_attempts = *max_attempts;
  return options;
}

namespace {

// The message and everything each channel needs to say it.
Result<Outgoing> compose(const Options& options, Context& context, TimePoint at) {
  const auto& level = level_of(options.severity);
  const auto deadlines = options.detected_at
                             ? regulatory_deadlines(options.data_classes, *options.detected_at)
                             : std::vector<RegulatoryDeadline>{};
  const bool resolved = options.status == "resolved";
  const std::string next_update_due = resolved ? std::string() : format_utc(at + level.response_time);
  Fields fields = options.fields;
  fields["incident-id"] = options.incident_id;
  fields["severity"] = std::string(level.name);
  fields["status"] = capitalized(options.status);
  fields["next-update"] = resolved ? "none: the incident is resolved"
                                   : next_update_due + " (" + std::string(level.name) + ": every " +
                                         duration_text(level.response_time) + ")";
  if (!deadlines.empty()) fields["deadlines"] = deadlines_text(deadlines);
  std::string text;
  std::string template_name = options.template_name;
  if (!options.template_file.empty()) {
    auto custom = read_file(options.template_file);
    if (!custom) return custom.error().with("parameter template-file");
    text = std::move(*custom);
    template_name = options.template_file;
  } else {
    text = std::string(*builtin_template(options.template_name));
  }
  if (auto filled = fill_from_case_record(options, context, text, fields); !filled) return filled.error();
  auto message = render(template_name, text, fields);
  if (!message) return message.error();
  return Outgoing{
      options.incident_id,
      options.severity,
      capitalized(options.status),
      std::move(*message),
      next_update_due,
      deadlines,
      default_action(options),
      options.dedup_key.empty() ? dedup_key(options.incident_id, options.target) : options.dedup_key,
      options.target.empty() ? "irsteps" : options.target,
      options.links,
      at};
}

Action action_of(const Prepared& p, const std::vector<Channel>& channels, std::string detail, bool dry) {
  Action entry;
  entry.verb = p.verb;
  entry.target = {{"kind", type_name(p.channel->type)}, {"name", p.channel->name}};
  entry.detail = scrub(std::move(detail), channels);
  entry.dry_run = dry;
  if (dry) entry.request = p.shown;
  return entry;
}

// Sends, records each channel's outcome, and turns failures into the exit
// status: 1 naming the failed channels, 4 only when nothing went out.
Result<void> deliver(const Options& options, Context& context, const std::vector<Channel>& channels,
                     const std::vector<Prepared>& prepared, const Hooks& hooks) {
  Report& report = context.report();
  const auto outcomes = deliver_all(prepared, {options.timeout, options.max_attempts, hooks.sleeper});
  std::vector<std::string> sent;
  std::vector<std::string> failed;
  std::string reasons;
  bool all_transient = true;
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    const auto& channel = *prepared[i].channel;
    const std::string detail = scrub(outcomes[i].detail, channels);
    report.add_action(action_of(prepared[i], channels, detail, false));
    const std::initializer_list<log::Field> fields{
        {"channel", channel.name}, {"type", type_name(channel.type)}, {"detail", detail}};
    if (outcomes[i].sent) {
      sent.push_back(channel.name);
      log::info("notify.sent", fields);
    } else {
      failed.push_back(channel.name);
      all_transient = all_transient && outcomes[i].transient;
      reasons += (reasons.empty() ? "" : "; ") + channel.name + " (" + detail + ")";
      log::warn("notify.failed", fields);
    }
  }
  report.set_output("channels-sent", joined(sent));
  report.set_output("channels-failed", joined(failed));
  if (failed.empty()) return {};
  const std::string what = std::to_string(failed.size()) + " of " + std::to_string(prepared.size()) +
                           " channels failed: " + reasons;
  // A retry after a partial success would post twice to the channels that
  // got the message; only when nothing went out is the step worth retrying.
  if (sent.empty() && all_transient) return Error(Code::transient, what);
  return Error(Code::action_failed, what);
}

}  // namespace

Result<void> run_with(const Options& options, Context& context, const Hooks& hooks) {
  Report& report = context.report();
  const TimePoint at = hooks.clock();
  auto routing = load_routing(options.routing_file, process_environment());
  if (!routing) return routing.error();
  auto roles = roles_to_notify(options.severity);
  for (const auto& role : options.extra_roles) {
    if (std::find(roles.begin(), roles.end(), role) == roles.end()) roles.push_back(role);
  }
  auto out = compose(options, context, at);
  if (!out) return out.error();
  std::vector<std::string> skipped;
  auto selected = select_channels(options, *routing, out->action, roles, skipped);
  if (!selected) return selected.error();

  report.set_output("subject", out->message.subject);
  report.set_output("next-update-due", out->next_update_due);
  report.set_output("dedup-key", out->dedup_key);
  report.set_output("pagerduty-action", std::string(action_name(out->action)));
  report.set_output("deadlines", boost::json::serialize(deadlines_json(out->deadlines)));
  report.set_output("roles-notified", joined(roles));
  report.set_output("escalation", boost::json::serialize(escalation_plan(options.severity, at)));
  report.set_output("channels-skipped", joined(skipped));
  std::vector<Prepared> prepared;
  std::vector<std::string> names;
  for (const auto* channel : *selected) {
    prepared.push_back(prepare(*channel, *out));
    names.push_back(channel->name);
  }
  report.set_output("channels-selected", joined(names));
  if (!options.dry_run) return deliver(options, context, routing->channels, prepared, hooks);
  for (const auto& p : prepared) report.add_action(action_of(p, routing->channels, "would send", true));
  report.set_output("channels-sent", "");
  report.set_output("channels-failed", "");
  return {};
}

Result<void> run(const Options& options, Context& context) {
  return run_with(options, context, Hooks{});
}

const StepDef& step() {
  static const StepDef def = define_step<Options>(
      "notify", "notify stakeholders through Slack, PagerDuty, Teams, a signed webhook and e-mail",
      options_from, run);
  return def;
}

}  // namespace ir::steps::notify
