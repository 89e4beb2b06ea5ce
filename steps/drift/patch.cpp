#include "drift.hpp"

#include <algorithm>

namespace ir::steps::drift {
namespace {

// The merge keys of the lists a fix touches (the API's patchMergeKey); other
// lists are replaced whole, as a JSON merge patch does.
std::string merge_key(std::string_view field, const json::array& items) {
  static constexpr std::pair<std::string_view, std::string_view> keys[] = {
      {"containers", "name"},
      {"initContainers", "name"},
      {"ephemeralContainers", "name"},
      {"volumes", "name"},
      {"env", "name"},
      {"imagePullSecrets", "name"},
      {"volumeMounts", "mountPath"},
      {"volumeDevices", "devicePath"},
      {"hostAliases", "ip"},
  };
  for (const auto& [name, key] : keys) {
    if (name == field) return std::string(key);
  }
  if (field == "ports") {
    // Container ports merge by containerPort, a Service's by port.
    const bool container = std::any_of(items.begin(), items.end(), [](const json::value& item) {
      return item.is_object() && item.get_object().contains("containerPort");
    });
    return container ? "containerPort" : "port";
  }
  return {};
}

bool keyed_by(const json::array& items, const std::string& key) {
  return std::all_of(items.begin(), items.end(), [&](const json::value& item) {
    return item.is_object() && item.get_object().contains(key);
  });
}

json::value strategic(json::value target, const json::value& patch, std::string_view field);

json::array merged_list(json::array target, const json::array& patch, const std::string& key) {
  for (const auto& item : patch) {
    const auto& wanted = item.get_object().at(key);
    const auto it = std::find_if(target.begin(), target.end(), [&](const json::value& existing) {
      const auto* object = existing.if_object();
      return object != nullptr && object->contains(key) && object->at(key) == wanted;
    });
    const auto* directive = item.get_object().if_contains("$patch");
    if (directive != nullptr && directive->is_string() && directive->get_string() == "delete") {
      if (it != target.end()) target.erase(it);
      continue;
    }
    if (it == target.end()) {
      target.push_back(strategic(json::object(), item, {}));
    } else {
      *it = strategic(std::move(*it), item, {});
    }
  }
  return target;
}

json::value strategic(json::value target, const json::value& patch, std::string_view field) {
  if (const auto* patch_array = patch.if_array()) {
    const std::string key = merge_key(field, *patch_array);
    if (!key.empty() && target.is_array() && keyed_by(*patch_array, key)) {
      return merged_list(std::move(target.get_array()), *patch_array, key);
    }
    return patch;
  }
  const auto* patch_object = patch.if_object();
  if (patch_object == nullptr) return patch;
  if (!target.is_object()) target = json::object();
  auto& object = target.get_object();
  for (const auto& entry : *patch_object) {
    if (entry.key().starts_with("$")) continue;  // directives this merge does not need
    if (entry.value().is_null()) {
      object.erase(entry.key());
      continue;
    }
    auto it = object.find(entry.key());
    json::value current = it == object.end() ? json::value() : std::move(it->value());
    object[entry.key()] = strategic(std::move(current), entry.value(), entry.key());
  }
  return target;
}

}  // namespace

json::value merge_patched(json::value target, const json::value& patch) {
  const auto* patch_object = patch.if_object();
  if (patch_object == nullptr) return patch;
  if (!target.is_object()) target = json::object();
  auto& object = target.get_object();
  for (const auto& entry : *patch_object) {
    if (entry.value().is_null()) {
      object.erase(entry.key());
      continue;
    }
    auto it = object.find(entry.key());
    json::value current = it == object.end() ? json::value() : std::move(it->value());
    object[entry.key()] = merge_patched(std::move(current), entry.value());
  }
  return target;
}

json::value strategic_patched(json::value target, const json::value& patch) {
  return strategic(std::move(target), patch, {});
}

}  // namespace ir::steps::drift
