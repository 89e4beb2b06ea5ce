#include "rotate_secret.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/log.hpp"
#include "ir/core/time.hpp"

#include <openssl/crypto.h>

#include <algorithm>

namespace ir::steps::rotate_secret {
namespace {

std::string keys_text(const std::map<std::string, Secret>& values) {
  std::string text;
  for (const auto& entry : values) text += (text.empty() ? "" : ",") + entry.first;
  return text;
}

json::object annotations(const Options& options) {
  return {{rotated_at_annotation, format_utc(now())}, {k8s::incident_annotation, options.incident_id}};
}

// The body with every data value replaced, for --dry-run output and reports.
json::object redacted_data(const json::object& data) {
  json::object shown;
  for (const auto& entry : data) shown[entry.key()] = redacted;
  return shown;
}

void record(Report& report, const Options& options, std::string verb, const std::string& name,
            std::string_view uid, std::string detail, std::optional<json::object> request) {
  Action action;
  action.verb = std::move(verb);
  action.target = k8s::reference_of(k8s::resources::secrets, options.ns, name, uid);
  action.detail = std::move(detail);
  action.dry_run = options.dry_run;
  action.request = std::move(request);
  log::info(options.dry_run ? "k8s.planned" : "k8s.changed",
            {{"verb", action.verb}, {"kind", "Secret"}, {"namespace", options.ns}, {"name", name}});
  report.add_action(std::move(action));
}

// The new values sit base64-encoded in the request object: wiped once the
// request is made or the dry run has shown its redacted form (security
// review finding 14).
void wipe_data(json::object& object) {
  auto* data = object.if_contains("data");
  if (data == nullptr || !data->is_object()) return;
  for (auto& entry : data->get_object()) {
    if (!entry.value().is_string()) continue;
    auto& text = entry.value().get_string();
    OPENSSL_cleanse(text.data(), text.size());
  }
}

json::object new_data(const std::map<std::string, Secret>& values) {
  json::object data;
  for (const auto& [key, value] : values) data[key] = base64_encode(value.reveal());
  return data;
}

Result<Rotation> create_secret(k8s::Client& client, Report& report, const Options& options,
                               const std::string& name, const std::map<std::string, Secret>& values) {
  json::object object{{"apiVersion", "v1"},
                      {"kind", "Secret"},
                      {"type", "Opaque"},
                      {"metadata", json::object{{"name", name}, {"annotations", annotations(options)}}},
                      {"data", new_data(values)}};
  const std::string detail = "created with new values for " + keys_text(values);
  if (options.dry_run) {
    const json::object shown = redacted_data(object.at("data").as_object());
    wipe_data(object);
    object["data"] = shown;
    record(report, options, "create", name, {}, detail,
           json::object{{"method", "POST"},
                        {"path", k8s::Client::path(k8s::resources::secrets, options.ns)},
                        {"contentType", "application/json"},
                        {"body", std::move(object)}});
    return Rotation{"", true, {}};
  }
  auto created = client.create(k8s::resources::secrets, options.ns, object);
  wipe_data(object);
  if (!created) return created.error().with("create Secret " + name);
  record(report, options, "create", name, string_at(*created, {"metadata", "uid"}), detail, std::nullopt);
  return Rotation{string_at(*created, {"metadata", "resourceVersion"}),
                  true,
                  {},
                  string_at(*created, {"metadata", "uid"})};
}

Result<std::string> keep_previous(k8s::Client& client, Report& report, const Options& options,
                                  const json::object& live) {
  const std::string name = string_at(live, {"metadata", "name"});
  const std::string copy = previous_secret_name(options, name);
  const auto* data = find(live, {"data"});
  json::object object{{"apiVersion", "v1"},
                      {"kind", "Secret"},
                      {"type", string_at(live, {"type"}, "Opaque")},
                      {"metadata", json::object{{"name", copy},
                                                {"labels", json::object{{"irsteps.io/previous-of", name}}},
                                                {"annotations", annotations(options)}}},
                      {"data", data != nullptr && data->is_object() ? data->get_object() : json::object{}}};
  const std::string detail = "old data of Secret " + name + " kept for rollback";
  if (options.dry_run) {
    object["data"] = redacted_data(object.at("data").as_object());
    record(report, options, "create", copy, {}, detail,
           json::object{{"method", "POST"},
                        {"path", k8s::Client::path(k8s::resources::secrets, options.ns)},
                        {"contentType", "application/json"},
                        {"body", std::move(object)}});
    return copy;
  }
  auto created = client.create(k8s::resources::secrets, options.ns, object);
  // A re-run keeps the copy of the first run: that one holds the data from before the incident.
  if (!created && created.error().reason() == "AlreadyExists") return copy;
  if (!created) return created.error().with("keep the previous data of Secret " + name);
  record(report, options, "create", copy, string_at(*created, {"metadata", "uid"}), detail, std::nullopt);
  return copy;
}

}  // namespace

std::string previous_secret_name(const Options& options, const std::string& name) {
  std::string incident = options.incident_id;
  std::transform(incident.begin(), incident.end(), incident.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return (name + "-previous-" + incident).substr(0, 253);
}

Result<Rotation> update_secret(k8s::Client& client, Report& report, const Options& options,
                               const std::string& name, const std::map<std::string, Secret>& values,
                               const BeforeWrite& before_write) {
  std::string previous;
  for (int attempt = 1; attempt <= max_write_attempts; ++attempt) {
    auto live = client.get(k8s::resources::secrets, options.ns, name);
    if (!live) {
      if (live.error().code() != Code::not_found) return live.error().with("read Secret " + name);
      if (!options.create) {
        return Error(Code::not_found,
                     "Secret " + name + " not found in namespace " + options.ns + " (--create makes it)");
      }
      auto created = create_secret(client, report, options, name, values);
      if (created || created.error().reason() != "AlreadyExists") return created;
      continue;  // someone else created it meanwhile: rotate theirs
    }
    if (string_at(*live, {"type"}) == token_type) {
      return invalid("Secret " + name + " is a service-account token: use --revoke-service-account-tokens");
    }
    if (options.keep_previous && previous.empty()) {
      auto kept = keep_previous(client, report, options, *live);
      if (!kept) return kept.error();
      previous = *kept;
    }
    const std::string resource_version = string_at(*live, {"metadata", "resourceVersion"});
    json::object patch{{"metadata", json::object{{"resourceVersion", resource_version},
                                                 {"annotations", annotations(options)}}},
                       {"data", new_data(values)}};
    const std::string detail =
        "new values for " + keys_text(values) + " (precondition resourceVersion " + resource_version + ")";
    if (options.dry_run) {
      const json::object shown = redacted_data(patch.at("data").as_object());
      wipe_data(patch);
      patch["data"] = shown;
      record(report, options, "patch", name, string_at(*live, {"metadata", "uid"}), detail,
             json::object{{"method", "PATCH"},
                          {"path", k8s::Client::path(k8s::resources::secrets, options.ns, name)},
                          {"contentType", "application/merge-patch+json"},
                          {"body", std::move(patch)}});
      return Rotation{resource_version, false, previous, string_at(*live, {"metadata", "uid"})};
    }
    if (before_write) before_write(attempt);
    auto patched = client.patch(k8s::resources::secrets, options.ns, name, k8s::PatchType::merge, patch);
    wipe_data(patch);
    if (patched) {
      record(report, options, "patch", name, string_at(*patched, {"metadata", "uid"}), detail, std::nullopt);
      return Rotation{string_at(*patched, {"metadata", "resourceVersion"}), false, previous,
                      string_at(*patched, {"metadata", "uid"})};
    }
    if (patched.error().code() != Code::conflict) return patched.error().with("update Secret " + name);
    log::warn("secret.conflict", {{"name", name}, {"namespace", options.ns}, {"attempt", attempt}});
  }
  return Error(Code::conflict, "Secret " + name + " changed under every one of " +
                                   std::to_string(max_write_attempts) + " attempts to update it");
}

}  // namespace ir::steps::rotate_secret
