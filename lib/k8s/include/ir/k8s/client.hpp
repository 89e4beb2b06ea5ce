// A generic Kubernetes client keyed by group/version/resource: get, list with
// selectors and pagination, create, server-side apply (field manager
// "irsteps"), merge/JSON/strategic-merge patch, delete with preconditions,
// watch, and raw requests for subresources. API errors are decoded from the
// Status object into errors whose category maps to the exit codes.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"
#include "ir/http/client.hpp"
#include "ir/k8s/config.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ir::k8s {

struct Resource {
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;
  std::string kind;
  bool namespaced = true;
  // The version older API servers serve instead of `version`, e.g. CronJob:
  // batch/v1 since 1.21, batch/v1beta1 before (and gone in 1.25). When set,
  // the client asks the API server's discovery which one it serves (once per
  // client) and sends every request there; empty: `version` always.
  std::string older_version;

  [[nodiscard]] std::string api_version() const { return group.empty() ? version : group + "/" + version; }
};

namespace resources {
extern const Resource pods, services, events, secrets, serviceaccounts, namespaces, nodes, configmaps,
    networkpolicies, deployments, replicasets, statefulsets, daemonsets, jobs, cronjobs, roles, rolebindings,
    clusterroles, clusterrolebindings, leases, controllerrevisions, subjectaccessreviews;
}  // namespace resources

// "deployment", "deployments", "deploy", "Deployment" → the resource.
[[nodiscard]] Result<Resource> resource_for(std::string_view kind_or_plural);
// Every resource above, for the table of the APIs the project uses
// (docs/kubernetes-apis.md) and its test against a current API server's
// OpenAPI.
[[nodiscard]] const std::vector<const Resource*>& all_resources();

inline constexpr std::string_view field_manager = "irsteps";

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int page_size = 500;
};

enum class PatchType { merge, json, strategic };

struct DeleteOptions {
  std::optional<std::string> uid;               // precondition
  std::optional<std::string> resource_version;  // precondition
  std::optional<int> grace_period_seconds;
  std::string propagation = "Background";
};

struct ExecOptions {
  std::string container;  // empty: the pod's only container
  std::vector<std::string> command;
  std::optional<std::string> stdin_data;                        // sent, then stdin is closed (v5 protocol)
  std::chrono::milliseconds timeout = std::chrono::minutes(5);  // silence allowed between messages
};

struct ExecResult {
  int exit_code = 0;
  std::string protocol;  // the channel protocol the server chose
};

struct LogOptions {
  std::string container;
  bool previous = false;
  bool timestamps = false;
  bool follow = false;
  std::optional<std::int64_t> tail_lines;
  std::optional<std::int64_t> limit_bytes;
  std::string since_time;  // RFC 3339
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK
  json::object object;
};

class Client {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Client>> connect(ClusterConfig config,
                                                               http::RetryPolicy retry = {});

  [[nodiscard]] Result<json::object> get(const Resource& resource, std::string_view ns,
                                         std::string_view name);
  // Metadata only (PartialObjectMetadata): the object's data, a Secret's
  // values above all, never reaches the client. Needs the same `get` right.
  [[nodiscard]] Result<json::object> get_metadata(const Resource& resource, std::string_view ns,
                                                  std::string_view name);
  // All pages, as one list object whose "items" holds every item.
  [[nodiscard]] Result<json::object> list(const Resource& resource, std::string_view ns,
                                          const ListOptions& options = {});
  [[nodiscard]] Result<json::object> create(const Resource& resource, std::string_view ns,
                                            const json::object& object, bool server_dry_run = false);
  [[nodiscard]] Result<json::object> apply(const Resource& resource, std::string_view ns,
                                           std::string_view name, const json::object& object,
                                           bool force = true, bool server_dry_run = false);
  [[nodiscard]] Result<json::object> patch(const Resource& resource, std::string_view ns,
                                           std::string_view name, PatchType type, const json::value& body,
                                           bool server_dry_run = false, std::string_view subresource = {});
  [[nodiscard]] Result<json::object> remove(const Resource& resource, std::string_view ns,
                                            std::string_view name, const DeleteOptions& options = {});
  // Calls `on_event` for each event until it returns false or the server ends
  // the watch (timeout_seconds). A 410 Gone is Code::conflict with reason
  // "Expired": the caller relists.
  [[nodiscard]] Result<void> watch(const Resource& resource, std::string_view ns, const ListOptions& options,
                                   std::string_view resource_version, int timeout_seconds,
                                   const std::function<bool(const WatchEvent&)>& on_event);

  // Runs a command in a container over the exec WebSocket
  // (v5.channel.k8s.io, else v4.channel.k8s.io), streaming its stdout and
  // stderr to the sinks. A command that runs and exits non-zero is a result,
  // not an error; a command that cannot start is Code::action_failed.
  [[nodiscard]] Result<ExecResult> exec(std::string_view ns, std::string_view pod, const ExecOptions& options,
                                        const http::DataSink& out, const http::DataSink& err);
  // Streams a container's log through the API server.
  [[nodiscard]] Result<void> logs(std::string_view ns, std::string_view pod, const LogOptions& options,
                                  const http::DataSink& sink);

  // Evicts a pod through its eviction subresource, as `kubectl drain` does:
  // the API server refuses (429 TooManyRequests, retried as any 429) while
  // a PodDisruptionBudget allows no disruption, and deletes the pod with its
  // grace period otherwise. `uid` is a precondition: a pod of the same name
  // made since it was read is not touched (409). The Eviction's version is
  // the one the server's discovery names for pods/eviction (policy/v1beta1
  // up to 1.21, policy/v1 since 1.22), asked once per client.
  [[nodiscard]] Result<void> evict(std::string_view ns, std::string_view pod, std::string_view uid);
  [[nodiscard]] Result<std::string> eviction_api_version();
  [[nodiscard]] static json::object eviction(std::string_view api_version, std::string_view ns,
                                             std::string_view pod, std::string_view uid);

  // Any request under the API root, e.g. "/api/v1/namespaces/x/pods/y/log?...".
  [[nodiscard]] Result<http::Response> raw(const std::string& method, const std::string& path,
                                           const std::string& body = {},
                                           const std::string& content_type = {});
  [[nodiscard]] Result<http::Response> raw_stream(const std::string& path, const http::DataSink& sink,
                                                  std::chrono::milliseconds idle_timeout);

  [[nodiscard]] static std::string path(const Resource& resource, std::string_view ns,
                                        std::string_view name = {}, std::string_view subresource = {});

  // The resource as this API server serves it: `resource` itself, or for
  // one with an older_version, the version its discovery document
  // (/apis/GROUP/VERSION) lists the resource under; the answer is kept for
  // the client's life. Every request method above uses it.
  [[nodiscard]] Result<Resource> served(const Resource& resource);

  [[nodiscard]] const ClusterConfig& config() const { return credentials_.config(); }
  // Requests made (each attempt counts), for tests and benchmarks.
  [[nodiscard]] int requests() const noexcept { return requests_.load(); }

 private:
  Client(ClusterConfig config, http::RetryPolicy retry);
  [[nodiscard]] Result<void> build_transport();
  [[nodiscard]] Result<http::Response> send(http::Request request, const http::DataSink* sink = nullptr,
                                            std::chrono::milliseconds idle_timeout = {});
  [[nodiscard]] Result<json::object> object_from(const Result<http::Response>& response,
                                                 std::string_view what);

  CredentialSource credentials_;
  http::RetryPolicy retry_;
  std::unique_ptr<http::Client> http_;
  std::string transport_cert_;  // the exec plugin's certificate the transport was built with
  std::atomic<int> requests_{0};
  std::mutex served_mutex_;
  std::map<std::string, std::string> served_versions_;  // "group/plural" -> version
};

// "app=web,tier in (a,b),!canary" from a LabelSelector object.
[[nodiscard]] std::string selector_string(const json::object& label_selector);
// Whether a LabelSelector selects an object with these labels, as the API
// server decides it: every matchLabels entry and every matchExpressions
// term must hold; an empty selector selects everything; an unknown
// operator selects nothing.
[[nodiscard]] bool selector_matches(const json::object& label_selector, const json::object& labels);

// Decodes a non-2xx response (a Kubernetes Status, or anything else).
[[nodiscard]] Error error_from_response(const http::Response& response, std::string_view what);

}  // namespace ir::k8s
