#include "drift.hpp"

#include "ir/core/yaml_emit.hpp"

#include <algorithm>
#include <cctype>

namespace ir::steps::drift {
namespace {

// The kinds drift compares: the workloads the checks apply to and the
// objects that configure them. Secrets are left out on purpose: their values
// would appear in the diff.
const k8s::Resource* const supported[] = {
    &k8s::resources::deployments,
    &k8s::resources::statefulsets,
    &k8s::resources::daemonsets,
    &k8s::resources::pods,
    &k8s::resources::jobs,
    &k8s::resources::cronjobs,
    &k8s::resources::services,
    &k8s::resources::configmaps,
    &k8s::resources::serviceaccounts,
    &k8s::resources::networkpolicies,
};

std::string supported_kinds() {
  std::string text;
  for (const auto* resource : supported) text += (text.empty() ? "" : ", ") + resource->kind;
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_marker(std::string_view line) {
  return line.substr(0, 3) == "---" &&
         (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r' || line[3] == '\n');
}

std::vector<std::string> split_chunks(std::string_view text) {
  std::vector<std::string> chunks(1);
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end + 1;
    const auto line = text.substr(start, end - start);
    if (is_marker(line) && !chunks.back().empty()) chunks.emplace_back();
    chunks.back().append(line);
    start = end;
  }
  return chunks;
}

Result<k8s::Resource> resource_of(const json::object& document, const std::string& where) {
  const std::string api_version = string_at(document, {"apiVersion"});
  const std::string kind = string_at(document, {"kind"});
  if (api_version.empty() || kind.empty()) return invalid(where + ": no apiVersion or kind");
  const auto slash = api_version.find('/');
  const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  const std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
  for (const auto* resource : supported) {
    if (resource->kind == kind && resource->group == group) {
      k8s::Resource found = *resource;
      found.version = version;  // the manifest's version (CronJob: batch/v1 or v1beta1), as it is
      found.older_version.clear();
      return found;
    }
  }
  if (kind == "Secret") {
    return invalid(where + ": drift does not compare Secrets, since their values would appear in its output");
  }
  return invalid(where + ": " + api_version + " " + kind + " is not a kind drift compares (" +
                 supported_kinds() + ")");
}

// API servers before 1.21 refuse a server-side apply whose Service ports
// omit `protocol`, a key of that list they do not default in the apply
// path (kubernetes/kubernetes#91690); TCP is what they default it to.
void default_port_protocols(json::object& object) {
  if (string_at(object, {"kind"}) != "Service") return;
  auto* spec = object.if_contains("spec");
  auto* ports = spec != nullptr && spec->is_object() ? spec->get_object().if_contains("ports") : nullptr;
  if (ports == nullptr || !ports->is_array()) return;
  for (auto& port : ports->get_array()) {
    if (port.is_object() && !port.get_object().contains("protocol")) port.get_object()["protocol"] = "TCP";
  }
}

}  // namespace

std::string Target::id() const {
  return lower(resource.kind) + "/" + name;
}

Result<Manifest> parse_manifest(std::string_view text, std::string source) {
  auto parsed = parse_yaml_documents(text, source);
  if (!parsed) return parsed.error();
  Manifest manifest;
  manifest.source = std::move(source);
  for (std::size_t i = 0; i < parsed->size(); ++i) {
    auto& document = (*parsed)[i];
    if (!document.is_object()) {
      return invalid(manifest.source + ": document " + std::to_string(i + 1) + " is not a YAML mapping");
    }
    manifest.documents.push_back(std::move(document.get_object()));
  }
  if (manifest.documents.empty()) return invalid(manifest.source + ": no objects in the manifest");
  // Each chunk between "---" lines holds at most one document; when the text
  // is unusual ("..." lines), a fix rewrites the whole file instead.
  manifest.chunks = split_chunks(text);
  for (std::size_t chunk = 0; chunk < manifest.chunks.size(); ++chunk) {
    auto documents = parse_yaml_documents(manifest.chunks[chunk], manifest.source);
    if (!documents || documents->size() > 1) {
      manifest.chunk_of.clear();
      break;
    }
    if (documents->size() == 1) manifest.chunk_of.push_back(chunk);
  }
  if (manifest.chunk_of.size() != manifest.documents.size()) manifest.chunk_of.clear();
  return manifest;
}

std::string render_manifest(const Manifest& manifest, const std::map<std::size_t, json::object>& replaced) {
  if (manifest.chunk_of.empty()) {
    std::string text;
    for (std::size_t i = 0; i < manifest.documents.size(); ++i) {
      const auto it = replaced.find(i);
      if (i > 0) text += "---\n";
      text += to_yaml(json::value(it != replaced.end() ? it->second : manifest.documents[i]));
    }
    return text;
  }
  auto chunks = manifest.chunks;
  for (const auto& [index, object] : replaced) {
    auto& chunk = chunks[manifest.chunk_of.at(index)];
    std::string head;
    if (is_marker(chunk.substr(0, chunk.find('\n')))) head = chunk.substr(0, chunk.find('\n') + 1);
    if (!head.empty() && head.back() != '\n') head += '\n';
    chunk = head + to_yaml(json::value(object));
  }
  std::string text;
  for (const auto& chunk : chunks) {
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += chunk;
  }
  return text;
}

Result<std::vector<Target>> targets_of(const Manifest& manifest, const Options& options) {
  std::string wanted_kind, wanted_name;
  if (!options.object.empty()) {
    const auto slash = options.object.find('/');
    auto resource = k8s::resource_for(options.object.substr(0, slash));
    if (!resource) return resource.error().with("parameter object");
    wanted_kind = resource->kind;
    wanted_name = options.object.substr(slash + 1);
  }
  std::vector<Target> targets;
  for (std::size_t i = 0; i < manifest.documents.size(); ++i) {
    const auto& document = manifest.documents[i];
    const std::string where = manifest.source + ": document " + std::to_string(i + 1);
    auto resource = resource_of(document, where);
    if (!resource) return resource.error();
    Target target{*resource, {}, string_at(document, {"metadata", "name"}), document, i};
    if (target.name.empty()) return invalid(where + ": no metadata.name");
    if (!wanted_kind.empty() && (target.resource.kind != wanted_kind || target.name != wanted_name)) continue;
    const std::string own_ns = string_at(document, {"metadata", "namespace"});
    if (!own_ns.empty() && !options.ns.empty() && own_ns != options.ns) {
      return invalid(where + " (" + target.id() + ") is in namespace " + own_ns + ", not in " + options.ns +
                     " (parameter namespace)");
    }
    target.ns = !own_ns.empty() ? own_ns : !options.ns.empty() ? options.ns : "default";
    auto& metadata = target.expected["metadata"];
    if (!metadata.is_object()) return invalid(where + ": metadata is not a mapping");
    metadata.get_object()["namespace"] = target.ns;
    default_port_protocols(target.expected);
    for (const auto& other : targets) {
      if (other.id() == target.id() && other.ns == target.ns) {
        return invalid(where + ": " + target.id() + " appears twice in the manifest");
      }
    }
    targets.push_back(std::move(target));
  }
  if (targets.empty()) return invalid("parameter object: no " + options.object + " in " + manifest.source);
  return targets;
}

}  // namespace ir::steps::drift
