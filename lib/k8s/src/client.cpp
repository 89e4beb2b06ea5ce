#include "ir/k8s/client.hpp"

#include "ir/core/log.hpp"
#include "ir/k8s/admission.hpp"
#include "ir/k8s/names.hpp"

#include <openssl/crypto.h>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace ir::k8s {

namespace resources {
const Resource pods{"", "v1", "pods", "Pod", true};
const Resource services{"", "v1", "services", "Service", true};
const Resource events{"", "v1", "events", "Event", true};
const Resource secrets{"", "v1", "secrets", "Secret", true};
const Resource serviceaccounts{"", "v1", "serviceaccounts", "ServiceAccount", true};
const Resource namespaces{"", "v1", "namespaces", "Namespace", false};
const Resource nodes{"", "v1", "nodes", "Node", false};
const Resource configmaps{"", "v1", "configmaps", "ConfigMap", true};
const Resource networkpolicies{"networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true};
const Resource deployments{"apps", "v1", "deployments", "Deployment", true};
const Resource replicasets{"apps", "v1", "replicasets", "ReplicaSet", true};
const Resource statefulsets{"apps", "v1", "statefulsets", "StatefulSet", true};
const Resource daemonsets{"apps", "v1", "daemonsets", "DaemonSet", true};
const Resource jobs{"batch", "v1", "jobs", "Job", true};
const Resource cronjobs{"batch", "v1", "cronjobs", "CronJob", true, "v1beta1"};
const Resource roles{"rbac.authorization.k8s.io", "v1", "roles", "Role", true};
const Resource rolebindings{"rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true};
const Resource clusterroles{"rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false};
const Resource clusterrolebindings{"rbac.authorization.k8s.io", "v1", "clusterrolebindings",
                                   "ClusterRoleBinding", false};
const Resource leases{"coordination.k8s.io", "v1", "leases", "Lease", true};
const Resource controllerrevisions{"apps", "v1", "controllerrevisions", "ControllerRevision", true};
const Resource subjectaccessreviews{"authorization.k8s.io", "v1", "subjectaccessreviews",
                                    "SubjectAccessReview", false};
const Resource validatingadmissionpolicies{"admissionregistration.k8s.io", "v1",
                                           "validatingadmissionpolicies", "ValidatingAdmissionPolicy", false};
const Resource validatingadmissionpolicybindings{"admissionregistration.k8s.io", "v1",
                                                 "validatingadmissionpolicybindings",
                                                 "ValidatingAdmissionPolicyBinding", false};
}  // namespace resources

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string query_join(const std::string& path, const std::string& query) {
  if (query.empty()) return path;
  return path + (path.find('?') == std::string::npos ? "?" : "&") + query;
}

}  // namespace

const std::vector<const Resource*>& all_resources() {
  static const std::vector<const Resource*> all{
      &resources::pods,
      &resources::services,
      &resources::events,
      &resources::secrets,
      &resources::serviceaccounts,
      &resources::namespaces,
      &resources::nodes,
      &resources::configmaps,
      &resources::networkpolicies,
      &resources::deployments,
      &resources::replicasets,
      &resources::statefulsets,
      &resources::daemonsets,
      &resources::jobs,
      &resources::cronjobs,
      &resources::roles,
      &resources::rolebindings,
      &resources::clusterroles,
      &resources::clusterrolebindings,
      &resources::leases,
      &resources::controllerrevisions,
      &resources::subjectaccessreviews,
      &resources::validatingadmissionpolicies,
      &resources::validatingadmissionpolicybindings,
  };
  return all;
}

Result<Resource> resource_for(std::string_view kind_or_plural) {
  static const std::pair<std::string_view, const Resource*> aliases[] = {
      {"po", &resources::pods},
      {"svc", &resources::services},
      {"ev", &resources::events},
      {"sa", &resources::serviceaccounts},
      {"ns", &resources::namespaces},
      {"no", &resources::nodes},
      {"cm", &resources::configmaps},
      {"netpol", &resources::networkpolicies},
      {"deploy", &resources::deployments},
      {"rs", &resources::replicasets},
      {"sts", &resources::statefulsets},
      {"ds", &resources::daemonsets},
      {"cj", &resources::cronjobs},
  };

  const std::string wanted = lower(kind_or_plural);
  for (const auto& [alias, resource] : aliases) {
    if (alias == wanted) return *resource;
  }
  for (const Resource* resource : all_resources()) {
    if (resource->plural == wanted || lower(resource->kind) == wanted) return *resource;
  }
  return invalid("unknown kind '" + std::string(kind_or_plural) + "'");
}

bool selector_matches(const json::object& label_selector, const json::object& labels) {
  if (const auto* match = label_selector.if_contains("matchLabels"); match != nullptr && match->is_object()) {
    for (const auto& entry : match->get_object()) {
      const auto* value = labels.if_contains(entry.key());
      if (value == nullptr || *value != entry.value()) return false;
    }
  }
  const auto* expressions = label_selector.if_contains("matchExpressions");
  if (expressions == nullptr || !expressions->is_array()) return true;
  for (const auto& expression : expressions->get_array()) {
    const auto* value = labels.if_contains(string_at(expression, {"key"}));
    const std::string op = string_at(expression, {"operator"});
    bool in = false;
    if (const auto* values = find(expression, {"values"}); values != nullptr && values->is_array() && value) {
      in = std::find(values->get_array().begin(), values->get_array().end(), *value) !=
           values->get_array().end();
    }
    if (op == "In"             ? !in
        : op == "NotIn"        ? in
        : op == "Exists"       ? value == nullptr
        : op == "DoesNotExist" ? value != nullptr
                               : true) {
      return false;
    }
  }
  return true;
}

std::string selector_string(const json::object& label_selector) {
  std::string text;
  auto append = [&](const std::string& term) {
    if (!text.empty()) text += ',';
    text += term;
  };
  if (const auto* labels = label_selector.if_contains("matchLabels");
      labels != nullptr && labels->is_object()) {
    for (const auto& entry : labels->get_object()) {
      append(std::string(entry.key()) + "=" +
             (entry.value().is_string() ? std::string(entry.value().get_string()) : ""));
    }
  }
  if (const auto* expressions = label_selector.if_contains("matchExpressions");
      expressions != nullptr && expressions->is_array()) {
    for (const auto& expression : expressions->get_array()) {
      const std::string key = string_at(expression, {"key"});
      const std::string op = string_at(expression, {"operator"});
      std::string values;
      if (const auto* list = find(expression, {"values"}); list != nullptr && list->is_array()) {
        for (const auto& v : list->get_array()) {
          if (!values.empty()) values += ',';
          if (v.is_string()) values += std::string(v.get_string());
        }
      }
      if (op == "In")
        append(key + " in (" + values + ")");
      else if (op == "NotIn")
        append(key + " notin (" + values + ")");
      else if (op == "Exists")
        append(key);
      else if (op == "DoesNotExist")
        append("!" + key);
    }
  }
  return text;
}

Error error_from_response(const http::Response& response, std::string_view what) {
  std::string message;
  std::string reason;
  if (auto parsed = parse_json(response.body, "response"); parsed && parsed->is_object()) {
    message = string_at(*parsed, {"message"});
    reason = string_at(*parsed, {"reason"});
  }
  if (message.empty()) {
    message = response.body.substr(0, 200);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
  }
  if (message.empty()) message = "HTTP " + std::to_string(response.status);
  Code code = Code::action_failed;
  switch (response.status) {
    case 400:
    case 422:
      code = Code::invalid_input;
      break;
    case 401:
      code = Code::forbidden;
      message = "the API server rejected the credentials (401 Unauthorized)";
      break;
    case 403:
      code = Code::forbidden;
      break;
    case 404:
      code = Code::not_found;
      break;
    case 409:
      code = Code::conflict;
      break;
    case 410:
      code = Code::conflict;
      break;
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      code = Code::transient;
      message += " (HTTP " + std::to_string(response.status) + " after " + std::to_string(response.attempts) +
                 " attempts)";
      break;
    default:
      break;
  }
  return Error(code, message).with(std::string(what)).with_reason(std::move(reason));
}

Client::Client(ClusterConfig config, http::RetryPolicy retry)
    : credentials_(std::move(config)), retry_(retry) {}

Result<std::unique_ptr<Client>> Client::connect(ClusterConfig config, http::RetryPolicy retry) {
  for (const auto& warning : config.warnings) log::warn("k8s.config", {{"message", warning}});
  std::unique_ptr<Client> client(new Client(std::move(config), retry));
  if (auto built = client->build_transport(); !built) return built.error();
  return client;
}

Result<void> Client::build_transport() {
  auto credentials = credentials_.current();
  if (!credentials) return credentials.error();
  http::Tls tls;
  tls.ca_pem = config().tls.ca_pem;
  tls.insecure_skip_verify = config().tls.insecure_skip_verify;
  if (!credentials->client_cert_pem.empty()) {
    tls.client_cert_pem = credentials->client_cert_pem;
    tls.client_key_pem = credentials->client_key_pem;
  } else {
    tls.client_cert_pem = config().tls.client_cert_pem;
    tls.client_key_pem = config().tls.client_key_pem;
  }
  transport_cert_ = credentials->client_cert_pem;
  http_ = std::make_unique<http::Client>(std::move(tls), retry_);
  return {};
}

Result<http::Response> Client::send(http::Request request, const http::DataSink* sink,
                                    std::chrono::milliseconds idle_timeout) {
  // The body may carry a Secret's values: wiped when the request is done,
  // whatever the outcome (security review finding 14).
  struct WipeBody {
    std::string& body;
    ~WipeBody() { OPENSSL_cleanse(body.data(), body.size()); }
  } wipe_body{request.body};
  const std::string path = request.url;
  if (auto plain = check_request_path(path); !plain) return plain.error();
  request.url = config().server + request.url;
  if (request.headers.empty() || request.headers.front().first != "Accept") {
    request.headers.insert(request.headers.begin(), {"Accept", "application/json"});
  }
  for (int pass = 0; pass < 2; ++pass) {
    auto credentials = credentials_.current();
    if (!credentials) return credentials.error();
    if (credentials->client_cert_pem != transport_cert_) {
      if (auto rebuilt = build_transport(); !rebuilt) return rebuilt.error();
    }
    request.bearer_token = credentials->token;
    const auto started = std::chrono::steady_clock::now();
    const int before = http_->attempts();
    auto response = sink == nullptr ? http_->send(request) : http_->stream(request, *sink, idle_timeout);
    requests_.fetch_add(http_->attempts() - before);
    const auto latency =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    const std::string shown = path.substr(0, path.find('?'));
    if (!response) {
      log::warn("k8s.request",
                {{"method", request.method}, {"path", shown}, {"error", response.error().describe()}});
      return response;
    }
    log::info("k8s.request", {{"method", request.method},
                              {"path", shown},
                              {"status", response->status},
                              {"latency_ms", latency.count()}});
    // Projected tokens rotate and exec credentials expire: fetch fresh ones
    // once, then give up.
    if (response->status == 401 && pass == 0) {
      credentials_.invalidate();
      continue;
    }
    return response;
  }
  return internal_error("unreachable");
}

Result<Resource> Client::served(const Resource& resource) {
  if (resource.older_version.empty()) return resource;
  const std::string key = resource.group + "/" + resource.plural;
  {
    std::lock_guard lock(served_mutex_);
    if (const auto it = served_versions_.find(key); it != served_versions_.end()) {
      Resource found = resource;
      found.version = it->second;
      return found;
    }
  }
  // The discovery document of the newer group version lists its resources
  // (an APIResourceList); a server that predates it answers 404 for the
  // whole group version, or serves the group version without this resource.
  http::Request request;
  request.url = "/apis/" + resource.group + "/" + resource.version;
  auto response = send(std::move(request));
  if (!response)
    return response.error().with("discover which version of " + resource.kind + " the API server serves");
  std::string version = resource.older_version;
  if (response->status >= 200 && response->status < 300) {
    auto document = parse_json(response->body, "discovery of " + resource.api_version());
    if (!document) return document.error();
    const auto* listed = find(*document, {"resources"});
    if (listed != nullptr && listed->is_array()) {
      for (const auto& item : listed->get_array()) {
        if (string_at(item, {"name"}) == resource.plural) version = resource.version;
      }
    }
  } else if (response->status != 404) {
    return error_from_response(*response,
                               "discover which version of " + resource.kind + " the API server serves");
  }
  log::debug("k8s.served", {{"kind", resource.kind}, {"api_version", resource.group + "/" + version}});
  std::lock_guard lock(served_mutex_);
  served_versions_.emplace(key, version);
  Resource found = resource;
  found.version = version;
  return found;
}

std::string Client::path(const Resource& resource, std::string_view ns, std::string_view name,
                         std::string_view subresource) {
  std::string p = resource.group.empty() ? "/api/" + resource.version
                                         : "/apis/" + resource.group + "/" + resource.version;
  if (resource.namespaced && !ns.empty()) p += "/namespaces/" + std::string(ns);
  p += "/" + resource.plural;
  if (!name.empty()) p += "/" + std::string(name);
  if (!subresource.empty()) p += "/" + std::string(subresource);
  return p;
}

Result<json::object> Client::object_from(const Result<http::Response>& response, std::string_view what) {
  if (!response) return response.error().with(std::string(what));
  if (response->status < 200 || response->status >= 300) return error_from_response(*response, what);
  auto parsed = parse_json(response->body, what);
  if (!parsed) return parsed.error();
  if (!parsed->is_object())
    return Error(Code::action_failed, "the API server answered with a non-object").with(std::string(what));
  return std::move(parsed->get_object());
}

namespace {
std::string describe(const Resource& resource, std::string_view ns, std::string_view name) {
  std::string text = resource.kind;
  if (!name.empty()) text += " " + std::string(name);
  if (resource.namespaced && !ns.empty()) text += " in namespace " + std::string(ns);
  return text;
}
}  // namespace

Result<json::object> Client::get(const Resource& resource_asked, std::string_view ns, std::string_view name) {
  auto served_resource = served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  http::Request request;
  request.url = path(resource, ns, name);
  return object_from(send(std::move(request)), "get " + describe(resource, ns, name));
}

Result<json::object> Client::get_metadata(const Resource& resource_asked, std::string_view ns,
                                          std::string_view name) {
  auto served_resource = served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  http::Request request;
  request.url = path(resource, ns, name);
  request.headers.emplace_back(
      "Accept", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;q=0.9");
  return object_from(send(std::move(request)), "get metadata of " + describe(resource, ns, name));
}

Result<json::object> Client::list(const Resource& resource_asked, std::string_view ns,
                                  const ListOptions& options) {
  auto served_resource = served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  json::object result;
  json::array items;
  std::string continue_token;
  do {
    std::string query = "limit=" + std::to_string(options.page_size);
    if (!options.label_selector.empty())
      query += "&labelSelector=" + http::url_encode(options.label_selector);
    if (!options.field_selector.empty())
      query += "&fieldSelector=" + http::url_encode(options.field_selector);
    if (!continue_token.empty()) query += "&continue=" + http::url_encode(continue_token);
    http::Request request;
    request.url = query_join(path(resource, ns), query);
    auto page = object_from(send(std::move(request)), "list " + describe(resource, ns, {}));
    if (!page) return page.error();
    if (auto* page_items = page->if_contains("items"); page_items != nullptr && page_items->is_array()) {
      for (auto& item : page_items->get_array()) items.push_back(std::move(item));
    }
    continue_token = string_at(*page, {"metadata", "continue"});
    if (result.empty()) {
      result = std::move(*page);
    } else if (auto* metadata = page->if_contains("metadata")) {
      result["metadata"] = std::move(*metadata);
    }
  } while (!continue_token.empty());
  result["items"] = std::move(items);
  return result;
}

Result<json::object> Client::create(const Resource& resource_asked, std::string_view ns,
                                    const json::object& object, bool server_dry_run) {
  auto served_resource = served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  http::Request request;
  request.method = "POST";
  request.url = query_join(path(resource, ns), std::string("fieldManager=") + std::string(field_manager) +
                                                   (server_dry_run ? "&dryRun=All" : ""));
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = json::serialize(object);
  return object_from(send(std::move(request)),
                     "create " + describe(resource, ns, string_at(object, {"metadata", "name"})));
}

Result<json::object> Client::apply(const Resource& resource_asked, std::string_view ns, std::string_view name,
                                   const json::object& object, bool force, bool server_dry_run) {
  auto served_resource = served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  http::Request request;
  request.method = "PATCH";
  std::string query = "fieldManager=" + std::string(field_manager);
  if (force) query += "&force=true";
  if (server_dry_run) query += "&dryRun=All";
  request.url = query_join(path(resource, ns, name), query);
  // JSON is YAML, and the API server accepts it as an apply patch.
  request.headers.emplace_back("Content-Type", "application/apply-patch+yaml");
  request.body = json::serialize(object);
  return object_from(send(std::move(request)), "apply " + describe(resource, ns, name));
}

Result<json::object> Client::patch(const Resource& resource_asked, std::string_view ns, std::string_view name,
                                   PatchType type, const json::value& body, bool server_dry_run,
                                   std::string_view subresource) {
  auto served_resource = served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  http::Request request;
  request.method = "PATCH";
  std::string query = "fieldManager=" + std::string(field_manager);
  if (server_dry_run) query += "&dryRun=All";
  request.url = query_join(path(resource, ns, name, subresource), query);
  const char* content_type = type == PatchType::merge  ? "application/merge-patch+json"
                             : type == PatchType::json ? "application/json-patch+json"
                                                       : "application/strategic-merge-patch+json";
  request.headers.emplace_back("Content-Type", content_type);
  request.body = json::serialize(body);
  return object_from(send(std::move(request)), "patch " + describe(resource, ns, name));
}

Result<json::object> Client::remove(const Resource& resource_asked, std::string_view ns,
                                    std::string_view name, const DeleteOptions& options) {
  auto served_resource = served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  json::object body{
      {"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", options.propagation}};
  if (options.uid || options.resource_version) {
    json::object preconditions;
    if (options.uid) preconditions["uid"] = *options.uid;
    if (options.resource_version) preconditions["resourceVersion"] = *options.resource_version;
    body["preconditions"] = std::move(preconditions);
  }
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  http::Request request;
  request.method = "DELETE";
  request.url = path(resource, ns, name);
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = json::serialize(body);
  return object_from(send(std::move(request)), "delete " + describe(resource, ns, name));
}

Result<void> Client::watch(const Resource& resource_asked, std::string_view ns, const ListOptions& options,
                           std::string_view resource_version, int timeout_seconds,
                           const std::function<bool(const WatchEvent&)>& on_event) {
  auto served_resource = served(resource_asked);
  if (!served_resource) return served_resource.error();
  const Resource& resource = *served_resource;
  std::string query = "watch=1&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(timeout_seconds);
  if (!resource_version.empty()) query += "&resourceVersion=" + http::url_encode(resource_version);
  if (!options.label_selector.empty()) query += "&labelSelector=" + http::url_encode(options.label_selector);
  if (!options.field_selector.empty()) query += "&fieldSelector=" + http::url_encode(options.field_selector);
  http::Request request;
  request.url = query_join(path(resource, ns), query);
  std::string pending;
  std::optional<Error> failure;
  const http::DataSink sink = [&](std::string_view chunk) {
    pending.append(chunk);
    std::size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      if (line.empty()) continue;
      auto parsed = parse_json(line, "watch event");
      if (!parsed || !parsed->is_object()) continue;
      WatchEvent event;
      event.type = string_at(*parsed, {"type"});
      if (const auto* object = find(*parsed, {"object"}); object != nullptr && object->is_object()) {
        event.object = object->get_object();
      }
      if (event.type == "ERROR") {
        http::Response status;
        status.status = 500;
        if (const auto* code = find(event.object, {"code"}); code != nullptr && code->is_int64()) {
          status.status = static_cast<long>(code->get_int64());
        }
        status.body = json::serialize(event.object);
        failure = error_from_response(status, "watch " + resource.plural);
        if (status.status == 410) failure = std::move(*failure).with_reason("Expired");
        return false;
      }
      if (!on_event(event)) return false;
    }
    return true;
  };
  auto response = send(std::move(request), &sink, std::chrono::seconds(timeout_seconds + 30));
  if (failure) return *failure;
  if (!response) return response.error();
  if (response->status < 200 || response->status >= 300) {
    return error_from_response(*response, "watch " + resource.plural);
  }
  return {};
}

Result<std::string> Client::eviction_api_version() {
  const std::string key = "pods/eviction";
  {
    std::lock_guard lock(served_mutex_);
    if (const auto it = served_versions_.find(key); it != served_versions_.end()) return it->second;
  }
  // The core group's discovery lists the subresource with the group and
  // version of its body (k8s.io/apiserver's APIResource.Group/Version for a
  // subresource of another kind).
  http::Request request;
  request.url = "/api/v1";
  auto document = object_from(send(std::move(request)), "discover the API server's pod eviction");
  if (!document) return document.error();
  std::string version;
  if (const auto* listed = find(*document, {"resources"}); listed != nullptr && listed->is_array()) {
    for (const auto& item : listed->get_array()) {
      if (string_at(item, {"name"}) != key) continue;
      const std::string group = string_at(item, {"group"});
      const std::string item_version = string_at(item, {"version"});
      version = group.empty() || item_version.empty() ? "policy/v1beta1" : group + "/" + item_version;
    }
  }
  if (version.empty())
    return Error(Code::action_failed, "the API server serves no pods/eviction subresource");
  std::lock_guard lock(served_mutex_);
  served_versions_.emplace(key, version);
  return version;
}

json::object Client::eviction(std::string_view api_version, std::string_view ns, std::string_view pod,
                              std::string_view uid) {
  json::object body{{"apiVersion", api_version},
                    {"kind", "Eviction"},
                    {"metadata", json::object{{"name", pod}, {"namespace", ns}}}};
  if (!uid.empty()) body["deleteOptions"] = json::object{{"preconditions", json::object{{"uid", uid}}}};
  return body;
}

Result<void> Client::evict(std::string_view ns, std::string_view pod, std::string_view uid) {
  auto version = eviction_api_version();
  if (!version) return version.error();
  http::Request request;
  request.method = "POST";
  request.url = path(resources::pods, ns, pod, "eviction");
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = json::serialize(eviction(*version, ns, pod, uid));
  auto response = send(std::move(request));
  const std::string what = "evict pod " + std::string(pod) + " in namespace " + std::string(ns);
  if (!response) return response.error().with(what);
  if (response->status < 200 || response->status >= 300) return error_from_response(*response, what);
  return {};
}

Result<http::Response> Client::raw(const std::string& method, const std::string& path,
                                   const std::string& body, const std::string& content_type) {
  http::Request request;
  request.method = method;
  request.url = path;
  request.body = body;
  if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
  return send(std::move(request));
}

Result<http::Response> Client::raw_stream(const std::string& path, const http::DataSink& sink,
                                          std::chrono::milliseconds idle_timeout) {
  http::Request request;
  request.url = path;
  return send(std::move(request), &sink, idle_timeout);
}

}  // namespace ir::k8s
