#include "templates.hpp"

#include <algorithm>
#include <cctype>

namespace ir::steps::notify {
namespace {

// The playbooks' wording, with the incident's fields in place of <...>.
constexpr std::string_view initial_notification = R"(Subject: [SECURITY INCIDENT] {{severity}} - {{title}}

Incident ID: {{incident-id}}
Severity: {{severity}}
Status: {{status}}

Summary:
{{summary}}

Impact:
{{impact}}

Current Actions:
{{current-actions}}

Next Update: {{next-update}}

Contact: {{contact}}
)";

constexpr std::string_view status_update = R"(Subject: [UPDATE] {{incident-id}} - {{title}}

Status: {{status}}

Progress since last update:
{{progress}}

Next steps:
{{next-steps}}

ETA for resolution: {{eta|not yet known}}

Next Update: {{next-update}}
)";

constexpr std::string_view post_incident_report = R"(Subject: Incident Report: {{incident-id}} - {{title}}

Incident Report: {{incident-id}}
Severity: {{severity}}
Status: {{status}}

1. Executive Summary
{{summary}}

2. Timeline of Events
{{timeline}}

3. Root Cause Analysis
{{root-cause|[TO BE WRITTEN BY THE INCIDENT TEAM: the root cause, how it was found, why it was possible]}}

4. Impact Assessment
{{impact|[TO BE WRITTEN BY THE INCIDENT TEAM: systems, data and people affected, for how long]}}

5. Response Actions
{{response-actions}}

6. Lessons Learned
[TO BE WRITTEN BY THE INCIDENT TEAM: what worked, what did not, what was missing]

7. Recommendations
[TO BE WRITTEN BY THE INCIDENT TEAM: changes to controls, tooling and playbooks, each with an owner]
)";

struct Placeholder {
  std::size_t begin = 0;  // of "{{"
  std::size_t end = 0;    // after "}}"
  std::string name;
  std::optional<std::string> fallback;
};

bool valid_name(std::string_view name) {
  if (name.empty() || std::islower(static_cast<unsigned char>(name.front())) == 0) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::islower(c) != 0 || std::isdigit(c) != 0 || c == '-';
  });
}

Result<std::vector<Placeholder>> scan(std::string_view text) {
  std::vector<Placeholder> found;
  std::size_t at = 0;
  while ((at = text.find("{{", at)) != std::string_view::npos) {
    const auto close = text.find("}}", at + 2);
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n');
    if (close == std::string_view::npos) {
      return invalid("line " + std::to_string(line) + ": '{{' without '}}'");
    }
    Placeholder placeholder{at, close + 2, {}, std::nullopt};
    std::string_view inside = text.substr(at + 2, close - at - 2);
    if (const auto bar = inside.find('|'); bar != std::string_view::npos) {
      placeholder.fallback = std::string(inside.substr(bar + 1));
      inside = inside.substr(0, bar);
    }
    while (!inside.empty() && inside.front() == ' ') inside.remove_prefix(1);
    while (!inside.empty() && inside.back() == ' ') inside.remove_suffix(1);
    if (!valid_name(inside)) {
      return invalid("line " + std::to_string(line) + ": '" + std::string(inside) +
                     "' is not a field name (lower-case letters, digits and '-')");
    }
    placeholder.name = std::string(inside);
    found.push_back(std::move(placeholder));
    at = close + 2;
  }
  return found;
}

std::string hint_for(const std::string& field) {
  static const std::vector<std::string_view> parameters = {
      "title",      "summary", "impact",  "current-actions", "progress",
      "next-steps", "eta",     "contact", "root-cause"};
  if (field == "timeline" || field == "response-actions") {
    return "--case-repo to build it from the incident's case record, or --" + field + " without one";
  }
  if (field == "deadlines") return "--data-class and --detected-at";
  if (std::find(parameters.begin(), parameters.end(), field) != parameters.end()) {
    return "--" + field + " or --field " + field + "=...";
  }
  return "--field " + field + "=...";
}

}  // namespace

std::optional<std::string_view> builtin_template(std::string_view name) {
  if (name == "initial-notification") return initial_notification;
  if (name == "status-update") return status_update;
  if (name == "post-incident-report") return post_incident_report;
  return std::nullopt;
}

const std::vector<std::string_view>& builtin_template_names() {
  static const std::vector<std::string_view> names = {"initial-notification", "status-update",
                                                      "post-incident-report"};
  return names;
}

Result<std::vector<std::string>> placeholders(std::string_view text) {
  auto found = scan(text);
  if (!found) return found.error();
  std::vector<std::string> names;
  for (const auto& p : *found) {
    if (std::find(names.begin(), names.end(), p.name) == names.end()) names.push_back(p.name);
  }
  return names;
}

Result<Message> render(std::string_view template_name, std::string_view text, const Fields& fields) {
  auto found = scan(text);
  if (!found) return found.error().with("template " + std::string(template_name));
  std::vector<std::string> missing;
  std::string filled;
  std::size_t copied = 0;
  bool placed_deadlines = false;
  for (const auto& p : *found) {
    filled.append(text.substr(copied, p.begin - copied));
    copied = p.end;
    if (p.name == "deadlines") placed_deadlines = true;
    const auto it = fields.find(p.name);
    if (it != fields.end() && !it->second.empty()) {
      filled += it->second;
    } else if (p.fallback) {
      filled += *p.fallback;
    } else if (std::find(missing.begin(), missing.end(), p.name) == missing.end()) {
      missing.push_back(p.name);
    }
  }
  filled.append(text.substr(copied));
  if (!missing.empty()) {
    std::string list;
    for (const auto& name : missing)
      list += (list.empty() ? "" : "; ") + name + " (give " + hint_for(name) + ")";
    return invalid("template " + std::string(template_name) + " needs " +
                   (missing.size() == 1 ? "a field" : "fields") + " the incident lacks: " + list);
  }
  Message message{std::string(template_name), {}, {}};
  std::string_view rest = filled;
  if (rest.rfind("Subject:", 0) == 0) {
    const auto newline = rest.find('\n');
    std::string_view subject = rest.substr(8, newline == std::string_view::npos ? rest.npos : newline - 8);
    while (!subject.empty() && subject.front() == ' ') subject.remove_prefix(1);
    message.subject = std::string(subject);
    rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
  } else {
    const auto id = fields.find("incident-id");
    message.subject = "[SECURITY INCIDENT] " + (id == fields.end() ? std::string() : id->second);
  }
  while (!rest.empty() && (rest.front() == '\n' || rest.front() == '\r')) rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r' || rest.back() == ' '))
    rest.remove_suffix(1);
  message.body = std::string(rest);
  if (const auto it = fields.find("deadlines");
      it != fields.end() && !it->second.empty() && !placed_deadlines) {
    message.body += "\n\nRegulatory Deadlines:\n" + it->second;
  }
  return message;
}

}  // namespace ir::steps::notify
