#include "ir/k8s/writer.hpp"

#include "ir/core/log.hpp"

#include <boost/json/serialize.hpp>

#include <csignal>
#include <cstdlib>

namespace ir::k8s {

json::object reference_of(const Resource& resource, std::string_view ns, std::string_view name,
                          std::string_view uid) {
  json::object ref{{"apiVersion", resource.api_version()}, {"kind", resource.kind}, {"name", name}};
  if (resource.namespaced && !ns.empty()) ref["namespace"] = ns;
  if (!uid.empty()) ref["uid"] = uid;
  return ref;
}

void Writer::record(std::string verb, const Resource& resource, std::string_view ns, std::string_view name,
                    std::string_view uid, std::string detail, std::optional<json::object> request) {
  Action action;
  action.verb = std::move(verb);
  action.target = reference_of(resource, ns, name, uid);
  action.detail = std::move(detail);
  action.dry_run = dry_run_;
  action.request = std::move(request);
  log::info(dry_run_ ? "k8s.planned" : "k8s.changed",
            {{"verb", action.verb}, {"kind", resource.kind}, {"namespace", ns}, {"name", name}});
  report_.add_action(std::move(action));
  if (!dry_run_) stop_if_asked();
}

// Test hook: IRSTEPS_TEST_STOP_AFTER_CHANGES=N makes the process stop itself
// (SIGSTOP) right after its Nth change, so that a test can take the API
// server away at an exact point of a run and then let the step go on.
void Writer::stop_if_asked() {
  static const long stop_after = [] {
    const char* value = std::getenv("IRSTEPS_TEST_STOP_AFTER_CHANGES");
    return value != nullptr ? std::strtol(value, nullptr, 10) : 0L;
  }();
  static long changes = 0;
  if (stop_after > 0 && ++changes == stop_after) std::raise(SIGSTOP);
}

namespace {
json::object request_of(std::string method, std::string path, std::string content_type, json::value body) {
  json::object request{{"method", std::move(method)}, {"path", std::move(path)}};
  if (!content_type.empty()) request["contentType"] = std::move(content_type);
  if (!body.is_null()) request["body"] = std::move(body);
  return request;
}
std::string uid_of(const json::object& object) {
  return string_at(object, {"metadata", "uid"});
}
}  // namespace

bool contained_in(const json::value& desired, const json::value* live) {
  if (const auto* object = desired.if_object()) {
    if (live == nullptr) return object->empty();
    const auto* live_object = live->if_object();
    if (live_object == nullptr) return false;
    for (const auto& entry : *object) {
      const auto it = live_object->find(entry.key());
      if (!contained_in(entry.value(), it == live_object->end() ? nullptr : &it->value())) return false;
    }
    return true;
  }
  if (const auto* array = desired.if_array()) {
    if (live == nullptr) return array->empty();
    const auto* live_array = live->if_array();
    if (live_array == nullptr || live_array->size() != array->size()) return false;
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (!contained_in((*array)[i], &(*live_array)[i])) return false;
    }
    return true;
  }
  return live != nullptr && *live == desired;
}

Result<std::optional<json::object>> Writer::ensure(const Resource& resource_asked, std::string_view ns,
                                                   const json::object& object, std::string detail,
                                                   const KeepFromLive& keep_from_live) {
  // The version the API server serves, in the request and the record alike.
  auto served_resource = client_.served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  const std::string name = string_at(object, {"metadata", "name"});
  auto compare_and_apply = [&](const json::object& live) -> Result<std::optional<json::object>> {
    json::object wanted = object;
    if (keep_from_live) keep_from_live(wanted, live);
    json::object desired = wanted;
    desired.erase("apiVersion");
    desired.erase("kind");
    const json::value live_value(live);
    if (contained_in(json::value(std::move(desired)), &live_value)) {
      log::info("k8s.unchanged", {{"kind", resource.kind}, {"namespace", ns}, {"name", name}});
      return std::optional<json::object>(live);
    }
    return apply(resource, ns, wanted, std::move(detail));
  };
  if (dry_run_) {
    auto live = client_.get(resource, ns, name);
    if (live) return compare_and_apply(*live);
    if (live.error().code() != Code::not_found) return live.error();
    return create(resource, ns, object, std::move(detail), false);
  }
  auto created = client_.create(resource, ns, object);
  if (created) {
    record("create", resource, ns, name, uid_of(*created), std::move(detail), std::nullopt);
    return std::optional<json::object>(std::move(*created));
  }
  if (created.error().reason() != "AlreadyExists") return created.error();
  auto live = client_.get(resource, ns, name);
  if (!live) return live.error();
  return compare_and_apply(*live);
}

Result<std::optional<json::object>> Writer::apply(const Resource& resource_asked, std::string_view ns,
                                                  const json::object& object, std::string detail) {
  // The version the API server serves, in the request and the record alike.
  auto served_resource = client_.served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  const std::string name = string_at(object, {"metadata", "name"});
  if (dry_run_) {
    record("apply", resource, ns, name, {}, std::move(detail),
           request_of("PATCH", Client::path(resource, ns, name) + "?fieldManager=irsteps&force=true",
                      "application/apply-patch+yaml", object));
    return std::optional<json::object>();
  }
  auto applied = client_.apply(resource, ns, name, object);
  if (!applied) return applied.error();
  record("apply", resource, ns, name, uid_of(*applied), std::move(detail), std::nullopt);
  return std::optional<json::object>(std::move(*applied));
}

Result<std::optional<json::object>> Writer::merge_patch(const Resource& resource, std::string_view ns,
                                                        std::string_view name, const json::value& patch,
                                                        std::string detail) {
  return this->patch(resource, ns, name, PatchType::merge, patch, std::move(detail));
}

Result<std::optional<json::object>> Writer::patch(const Resource& resource_asked, std::string_view ns,
                                                  std::string_view name, PatchType type,
                                                  const json::value& body, std::string detail) {
  // The version the API server serves, in the request and the record alike.
  auto served_resource = client_.served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  if (dry_run_) {
    const char* content_type = type == PatchType::json        ? "application/json-patch+json"
                               : type == PatchType::strategic ? "application/strategic-merge-patch+json"
                                                              : "application/merge-patch+json";
    record("patch", resource, ns, name, {}, std::move(detail),
           request_of("PATCH", Client::path(resource, ns, name), content_type, body));
    return std::optional<json::object>();
  }
  auto patched = client_.patch(resource, ns, name, type, body);
  if (!patched) return patched.error();
  record("patch", resource, ns, name, uid_of(*patched), std::move(detail), std::nullopt);
  return std::optional<json::object>(std::move(*patched));
}

Result<std::optional<json::object>> Writer::create(const Resource& resource_asked, std::string_view ns,
                                                   const json::object& object, std::string detail,
                                                   bool exists_ok) {
  // The version the API server serves, in the request and the record alike.
  auto served_resource = client_.served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  const std::string name = string_at(object, {"metadata", "name"});
  if (dry_run_) {
    record("create", resource, ns, name, {}, std::move(detail),
           request_of("POST", Client::path(resource, ns), "application/json", object));
    return std::optional<json::object>();
  }
  auto created = client_.create(resource, ns, object);
  if (!created) {
    if (exists_ok && created.error().reason() == "AlreadyExists") return std::optional<json::object>();
    return created.error();
  }
  record("create", resource, ns, name, uid_of(*created), std::move(detail), std::nullopt);
  return std::optional<json::object>(std::move(*created));
}

Result<bool> Writer::remove(const Resource& resource_asked, std::string_view ns, std::string_view name,
                            const DeleteOptions& options, std::string detail, bool missing_ok) {
  // The version the API server serves, in the request and the record alike.
  auto served_resource = client_.served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  if (dry_run_) {
    record("delete", resource, ns, name, options.uid.value_or(""), std::move(detail),
           request_of("DELETE", Client::path(resource, ns, name), {}, nullptr));
    return true;
  }
  auto removed = client_.remove(resource, ns, name, options);
  if (!removed) {
    if (missing_ok && removed.error().code() == Code::not_found) return false;
    return removed.error();
  }
  record("delete", resource, ns, name, options.uid.value_or(""), std::move(detail), std::nullopt);
  return true;
}

Result<bool> Writer::evict(std::string_view ns, std::string_view name, std::string_view uid,
                           std::string detail) {
  if (dry_run_) {
    auto version = client_.eviction_api_version();
    if (!version) return version.error();
    record("evict", resources::pods, ns, name, uid, std::move(detail),
           request_of("POST", Client::path(resources::pods, ns, name, "eviction"), "application/json",
                      Client::eviction(*version, ns, name, uid)));
    return true;
  }
  auto evicted = client_.evict(ns, name, uid);
  if (!evicted) {
    if (evicted.error().code() == Code::not_found) return false;
    return evicted.error();
  }
  record("evict", resources::pods, ns, name, uid, std::move(detail), std::nullopt);
  return true;
}

}  // namespace ir::k8s
