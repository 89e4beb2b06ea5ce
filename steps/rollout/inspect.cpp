#include "rollout.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace ir::steps::rollout {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

std::string normalise_repository(std::string name) {
  const auto slash = name.find('/');
  if (slash == std::string::npos) return "docker.io/library/" + name;
  const std::string first = name.substr(0, slash);
  if (first == "index.docker.io") return normalise_repository(name.substr(slash + 1));
  if (first.find('.') == std::string::npos && first.find(':') == std::string::npos && first != "localhost") {
    return "docker.io/" + name;
  }
  return name;
}

std::string qualified(const json::value& object, std::string_view kind) {
  const std::string ns = string_at(object, {"metadata", "namespace"});
  return (ns.empty() ? "" : ns + "/") + std::string(kind) + "/" + string_at(object, {"metadata", "name"});
}

// The last time anything but status was written (managedFields), else creation.
std::string changed_at(const json::value& object) {
  std::string latest = string_at(object, {"metadata", "creationTimestamp"});
  const auto* fields = find(object, {"metadata", "managedFields"});
  if (fields == nullptr || !fields->is_array()) return latest;
  for (const auto& entry : fields->get_array()) {
    const auto* touched = find(entry, {"fieldsV1"});
    const bool status_only = touched != nullptr && touched->is_object() &&
                             touched->get_object().size() == 1 && touched->get_object().contains("f:status");
    const std::string time = string_at(entry, {"time"});
    if (!status_only && time > latest) latest = time;
  }
  return latest;
}

}  // namespace

Result<ImageRef> parse_image_ref(std::string_view text) {
  ImageRef ref;
  std::string name(text);
  if (name.rfind("sha256:", 0) == 0) {
    ref.digest = name;
    return ref;
  }
  if (const auto at = name.find('@'); at != std::string::npos) {
    ref.digest = name.substr(at + 1);
    name = name.substr(0, at);
  }
  const auto colon = name.rfind(':');
  const auto slash = name.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    ref.tag = name.substr(colon + 1);
    name = name.substr(0, colon);
  }
  if (name.empty() || (!ref.digest.empty() && ref.digest.rfind("sha256:", 0) != 0)) {
    return invalid("'" + std::string(text) +
                   "' is not an image reference (REPOSITORY[:TAG][@sha256:DIGEST])");
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  ref.repository = normalise_repository(name);
  return ref;
}

bool image_matches(const ImageRef& wanted, std::string_view image, std::string_view image_id) {
  if (!wanted.digest.empty()) {
    const std::string suffix = "@" + wanted.digest;
    auto ends_with = [&](std::string_view s) {
      return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
    };
    return ends_with(image_id) || ends_with(image) || image_id == wanted.digest;
  }
  auto actual = parse_image_ref(image);
  if (!actual) return false;
  return actual->repository == wanted.repository && actual->tag == wanted.tag;
}

Result<void> check_persistence(const Options& options, Context& context, k8s::Client& client) {
  const std::string since = options.since ? format_utc(*options.since) : std::string();
  json::array objects;
  std::vector<std::string> flagged;
  auto inspect = [&](const json::object& listed, std::string_view kind) {
    for (const auto& item : listed.at("items").as_array()) {
      const std::string created = string_at(item, {"metadata", "creationTimestamp"});
      const std::string changed = changed_at(item);
      // RFC 3339 UTC strings of one format compare as times.
      const bool late = !since.empty() && (created >= since || changed >= since);
      objects.push_back(json::object{
          {"object", qualified(item, kind)}, {"created", created}, {"changed", changed}, {"flagged", late}});
      if (late) {
        flagged.push_back(qualified(item, kind));
        context.warn(qualified(item, kind) + " was created or changed after " + since + " (created " +
                     created + ", changed " + changed + ")");
      }
    }
  };
  const k8s::ListOptions selector{options.selector, {}};
  for (const auto* resource :
       {&k8s::resources::pods, &k8s::resources::deployments, &k8s::resources::daemonsets,
        &k8s::resources::statefulsets, &k8s::resources::jobs}) {
    auto listed = client.list(*resource, options.ns, selector);
    if (!listed) return listed.error().with("list " + resource->plural);
    std::string kind = resource->kind;
    std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::tolower(c); });
    inspect(*listed, kind);
  }
  static const k8s::Resource cronjobs_v1{"batch", "v1", "cronjobs", "CronJob", true};
  auto cronjobs = client.list(cronjobs_v1, options.ns, selector);
  if (!cronjobs && cronjobs.error().code() == Code::not_found) {
    cronjobs = client.list(k8s::resources::cronjobs, options.ns, selector);
  }
  if (!cronjobs) return cronjobs.error().with("list cronjobs");
  inspect(*cronjobs, "cronjob");
  context.report().set_output("objects", boost::json::serialize(objects));
  context.report().set_output("flagged", joined(flagged));
  context.report().set_output("flagged-count", std::to_string(flagged.size()));
  return {};
}

}  // namespace ir::steps::rollout
