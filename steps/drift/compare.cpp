#include "drift.hpp"

#include "ir/core/log.hpp"
#include "ir/core/text_diff.hpp"
#include "ir/core/yaml_emit.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <set>

namespace ir::steps::drift {
namespace {

bool plain_key(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key.front())) != 0) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '$';
  });
}

bool is_nonempty_object(const json::value* value) {
  return value != nullptr && value->is_object() && !value->get_object().empty();
}

void walk(const json::value* live, const json::value* expected, const std::string& path,
          std::vector<Change>& out) {
  if (live != nullptr && expected != nullptr && *live == *expected) return;
  auto object_or_absent = [](const json::value* v) { return v == nullptr || v->is_object(); };
  // Objects are followed down to their leaves, also where one side has
  // nothing: a removed securityContext.runAsNonRoot is reported as that.
  if (object_or_absent(live) && object_or_absent(expected) &&
      (is_nonempty_object(live) || is_nonempty_object(expected))) {
    std::set<std::string> keys;
    for (const auto* side : {live, expected}) {
      if (side == nullptr) continue;
      for (const auto& entry : side->get_object()) keys.emplace(entry.key());
    }
    for (const auto& key : keys) {
      auto child = [&](const json::value* side) -> const json::value* {
        if (side == nullptr) return nullptr;
        const auto it = side->get_object().find(key);
        return it == side->get_object().end() ? nullptr : &it->value();
      };
      walk(child(live), child(expected), child_path(path, key), out);
    }
    return;
  }
  if (live != nullptr && expected != nullptr && live->is_array() && expected->is_array()) {
    const auto& a = live->get_array();
    const auto& b = expected->get_array();
    for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
      const json::value* left = i < a.size() ? &a[i] : nullptr;
      const json::value* right = i < b.size() ? &b[i] : nullptr;
      if (left != nullptr && right != nullptr) {
        walk(left, right, index_path(path, i), out);
      } else {
        out.push_back({index_path(path, i), left ? std::optional<json::value>(*left) : std::nullopt,
                       right ? std::optional<json::value>(*right) : std::nullopt});
      }
    }
    return;
  }
  out.push_back({path, live ? std::optional<json::value>(*live) : std::nullopt,
                 expected ? std::optional<json::value>(*expected) : std::nullopt});
}

std::string rendered(const json::object& object) {
  return to_yaml(json::value(object), YamlStyle{true});
}

}  // namespace

std::string child_path(std::string_view parent, std::string_view key) {
  if (plain_key(key)) return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
  return std::string(parent) + "[" + json::serialize(json::value(key)) + "]";
}

std::string index_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

json::object without_server_fields(json::object object) {
  object.erase("status");
  if (auto* metadata = object.if_contains("metadata"); metadata != nullptr && metadata->is_object()) {
    auto& fields = metadata->get_object();
    for (const char* key : {"managedFields", "resourceVersion", "uid", "generation", "selfLink",
                            "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"}) {
      fields.erase(key);
    }
  }
  return object;
}

std::vector<Change> changed_paths(const json::value* live, const json::value* expected) {
  std::vector<Change> changes;
  walk(live, expected, "", changes);
  return changes;
}

Comparison compare(const Target& target, std::optional<json::object> live, const json::object& merged) {
  Comparison comparison;
  const json::value after(without_server_fields(merged));
  if (live) {
    const json::value before(without_server_fields(*live));
    comparison.changes = changed_paths(&before, &after);
    if (!comparison.changes.empty()) {
      comparison.diff = unified_diff(
          rendered(before.get_object()), rendered(after.get_object()),
          {"live/" + target.ns + "/" + target.id(), "expected/" + target.ns + "/" + target.id(), 3});
    }
  } else {
    // A missing object is one change: all of it.
    comparison.changes.push_back({"", std::nullopt, after});
    comparison.diff = unified_diff("", rendered(after.get_object()),
                                   {"/dev/null", "expected/" + target.ns + "/" + target.id(), 3});
  }
  comparison.live = std::move(live);
  return comparison;
}

Result<LiveAndDryRun> live_and_dry_run(k8s::Client& client, const Target& target,
                                       const std::function<Result<json::object>()>& dry_run) {
  // Controllers write objects all the time (status, revision annotations); a
  // dry run based on a newer version than the one read would show their
  // writes as differences. A dry run keeps the resourceVersion it started from.
  constexpr int attempts = 5;
  for (int attempt = 1;; ++attempt) {
    std::optional<json::object> live;
    if (auto got = client.get(target.resource, target.ns, target.name)) {
      live = std::move(*got);
    } else if (got.error().code() != Code::not_found) {
      return got.error().with("read " + target.id() + " in namespace " + target.ns);
    }
    auto result = dry_run();
    if (!result) return result.error();
    const auto version = [](const json::object& object) {
      return string_at(object, {"metadata", "resourceVersion"});
    };
    if (!live || version(*live) == version(*result) || attempt == attempts) {
      return LiveAndDryRun{std::move(live), std::move(*result)};
    }
    log::debug("drift.reread", {{"object", target.id()}, {"attempt", attempt}});
  }
}

Result<Comparison> compare_live(k8s::Client& client, const Target& target) {
  // The server merges the expected object into the live one exactly as a
  // real apply would, defaults and admission included, and keeps nothing.
  auto both = live_and_dry_run(client, target, [&]() -> Result<json::object> {
    auto merged = client.apply(target.resource, target.ns, target.name, target.expected, true, true);
    if (!merged) return merged.error().with("server-side apply dry run of " + target.id());
    return merged;
  });
  if (!both) return both.error();
  return compare(target, std::move(both->live), both->dry_run);
}

json::value changes_json(const Target& target, const std::vector<Change>& changes) {
  json::array array;
  for (const auto& change : changes) {
    json::object entry{{"object", target.id()}, {"namespace", target.ns}, {"path", change.path}};
    entry["change"] = !change.old_value ? "added" : !change.new_value ? "removed" : "changed";
    if (change.old_value) entry["old"] = *change.old_value;
    if (change.new_value) entry["new"] = *change.new_value;
    array.push_back(std::move(entry));
  }
  return array;
}

}  // namespace ir::steps::drift
