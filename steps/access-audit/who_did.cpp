// Who did and since when: the accesses found in the audit log, a summary per
// user, and the object's timeline.
#include "access_audit.hpp"

#include <algorithm>

namespace ir::steps::access_audit {
namespace {

constexpr std::size_t max_agents = 5;
constexpr std::size_t max_ips = 10;

json::array string_array(const std::vector<std::string>& values) {
  json::array array;
  for (const auto& value : values) array.emplace_back(value);
  return array;
}
json::array string_array(const std::set<std::string>& values) {
  json::array array;
  for (const auto& value : values) array.emplace_back(value);
  return array;
}

json::object event_json(const AuditEvent& event) {
  json::object out{{"time", event.time_text},
                   {"user", event.user},
                   {"groups", string_array(event.groups)},
                   {"userAgent", event.user_agent},
                   {"sourceIPs", string_array(event.source_ips)},
                   {"verb", event.verb},
                   {"code", event.code}};
  if (!event.impersonated_user.empty()) out["impersonatedUser"] = event.impersonated_user;
  if (!event.ns.empty()) out["namespace"] = event.ns;
  if (!event.name.empty()) out["name"] = event.name;
  if (!event.subresource.empty()) out["subresource"] = event.subresource;
  if (event.collection) out["collection"] = true;
  if (!event.audit_id.empty()) out["auditID"] = event.audit_id;
  return out;
}

bool succeeded(int code) {
  return code >= 200 && code < 300;
}

struct Entry {
  TimePoint time;
  json::object item;
};

void add_entry(std::vector<Entry>& entries, TimePoint time, const std::string& text, std::string event,
               json::object more = {}) {
  json::object item{{"time", text}, {"event", std::move(event)}};
  for (auto& field : more) item[field.key()] = std::move(field.value());
  entries.push_back({time, std::move(item)});
}

void add_object_history(std::vector<Entry>& entries, const json::object& object) {
  const std::string created = string_at(object, {"metadata", "creationTimestamp"});
  if (auto time = parse_utc(created)) add_entry(entries, *time, created, "created");
  if (const auto* fields = find(object, {"metadata", "managedFields"});
      fields != nullptr && fields->is_array()) {
    for (const auto& field : fields->get_array()) {
      const std::string when = string_at(field, {"time"});
      auto time = parse_utc(when);
      if (!time) continue;
      add_entry(entries, *time, when, "fields-managed",
                {{"manager", string_at(field, {"manager"})}, {"operation", string_at(field, {"operation"})}});
    }
  }
  const std::string rotated = string_at(object, {"metadata", "annotations", rotated_at_annotation});
  if (auto time = parse_utc(rotated)) {
    add_entry(entries, *time, rotated, "rotated", {{"by", "rotate-secret"}});
  }
}

}  // namespace

void AccessLog::add(const AuditEvent& event) {
  if (!event.access) {
    if (changes_.size() < max_accesses_) changes_.push_back(event);
    return;
  }
  ++total_;
  if (accesses_.size() < max_accesses_) accesses_.push_back(event);
  auto& user = users_[event.user];
  if (user.count == 0 || event.time < user.first) {
    user.first = event.time;
    user.first_text = event.time_text;
  }
  if (user.count == 0 || event.time > user.last) {
    user.last = event.time;
    user.last_text = event.time_text;
  }
  user.user = event.user;
  ++user.count;
  if (!succeeded(event.code)) ++user.denied;
  ++user.verbs[event.verb];
  user.groups.insert(event.groups.begin(), event.groups.end());
  if (user.user_agents.size() < max_agents) user.user_agents.insert(event.user_agent);
  for (const auto& ip : event.source_ips) {
    if (user.source_ips.size() < max_ips) user.source_ips.insert(ip);
  }
}

json::array AccessLog::accesses_json() const {
  std::vector<const AuditEvent*> sorted;
  for (const auto& event : accesses_) sorted.push_back(&event);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const AuditEvent* a, const AuditEvent* b) { return a->time < b->time; });
  json::array out;
  for (const auto* event : sorted) out.push_back(event_json(*event));
  return out;
}

json::array AccessLog::users_json() const {
  json::array out;
  for (const auto& [name, user] : users_) {
    json::object verbs;
    for (const auto& [verb, count] : user.verbs) verbs[verb] = count;
    out.push_back(json::object{{"user", name},
                               {"accesses", user.count},
                               {"denied", user.denied},
                               {"verbs", std::move(verbs)},
                               {"groups", string_array(user.groups)},
                               {"userAgents", string_array(user.user_agents)},
                               {"sourceIPs", string_array(user.source_ips)},
                               {"firstAccess", user.first_text},
                               {"lastAccess", user.last_text}});
  }
  return out;
}

json::array build_timeline(const json::object* object, const AccessLog& log) {
  std::vector<Entry> entries;
  if (object != nullptr) add_object_history(entries, *object);
  for (const auto& change : log.changes()) {
    add_entry(entries, change.time, change.time_text, "audited-" + change.verb,
              {{"user", change.user}, {"code", change.code}});
  }
  for (const auto& [name, user] : log.users()) {
    add_entry(entries, user.first, user.first_text, "first-access", {{"user", name}});
    if (user.count > 1) add_entry(entries, user.last, user.last_text, "last-access", {{"user", name}});
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.time < b.time; });
  json::array out;
  for (auto& entry : entries) out.push_back(std::move(entry.item));
  return out;
}

}  // namespace ir::steps::access_audit
