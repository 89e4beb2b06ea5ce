#include "ir/k8s/config.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"
#include "ir/core/log.hpp"
#include "ir/core/process.hpp"
#include "ir/core/time.hpp"
#include "ir/http/client.hpp"

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <filesystem>
#include <map>

namespace ir::k8s {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_paths(std::string_view text) {
  std::vector<std::string> paths;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto colon = text.find(':', start);
    std::string item(
        text.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (!item.empty()) paths.push_back(std::move(item));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  return paths;
}

std::string resolve_path(const std::string& path, const std::string& base_file) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(base_file).parent_path() / path).string();
}

struct NamedEntry {
  json::object value;
  std::string file;  // where it came from, for relative paths
};

// kubectl's merge rule: the first file that defines a name wins.
void merge_named(const json::value& document, std::string_view list, std::string_view field,
                 const std::string& file, std::map<std::string, NamedEntry>& into) {
  const auto* items = find(document, {list});
  if (items == nullptr || !items->is_array()) return;
  for (const auto& item : items->get_array()) {
    const std::string name = string_at(item, {"name"});
    const auto* body = find(item, {field});
    if (name.empty() || body == nullptr || !body->is_object() || into.count(name) != 0) continue;
    into[name] = {body->get_object(), file};
  }
}

Result<std::string> file_or_data(const json::object& entry, std::string_view file_key,
                                 std::string_view data_key, const std::string& base) {
  if (const auto it = entry.find(data_key); it != entry.end() && it->value().is_string()) {
    auto decoded = base64_decode(it->value().get_string());
    if (!decoded) return invalid(std::string(data_key) + " is not valid base64");
    return std::move(*decoded);
  }
  if (const auto it = entry.find(file_key); it != entry.end() && it->value().is_string()) {
    auto content = read_file(resolve_path(std::string(it->value().get_string()), base));
    if (!content) return content.error().with(std::string(file_key));
    return std::move(*content);
  }
  return std::string();
}

Result<ExecPlugin> parse_exec(const json::object& exec) {
  ExecPlugin plugin;
  plugin.api_version = string_at(exec, {"apiVersion"});
  plugin.command = string_at(exec, {"command"});
  plugin.install_hint = string_at(exec, {"installHint"});
  if (plugin.command.empty()) return invalid("exec.command is empty");
  if (plugin.api_version != "client.authentication.k8s.io/v1" &&
      plugin.api_version != "client.authentication.k8s.io/v1beta1") {
    return invalid("exec.apiVersion '" + plugin.api_version +
                   "' is not supported (use client.authentication.k8s.io/v1 or v1beta1)");
  }
  if (const auto it = exec.find("args"); it != exec.end() && it->value().is_array()) {
    for (const auto& arg : it->value().get_array()) {
      if (arg.is_string()) plugin.args.emplace_back(arg.get_string());
    }
  }
  if (const auto it = exec.find("env"); it != exec.end() && it->value().is_array()) {
    for (const auto& var : it->value().get_array()) {
      plugin.env.emplace_back(string_at(var, {"name"}), string_at(var, {"value"}));
    }
  }
  if (const auto it = exec.find("provideClusterInfo"); it != exec.end() && it->value().is_bool()) {
    plugin.provide_cluster_info = it->value().get_bool();
  }
  return plugin;
}

}  // namespace

Result<ClusterConfig> in_cluster_config(const EnvLookup& env, const std::string& service_account_dir) {
  const auto host = env("KUBERNETES_SERVICE_HOST");
  const auto port = env("KUBERNETES_SERVICE_PORT");
  if (!host || !port || host->empty() || port->empty()) {
    return invalid(
        "no kubeconfig found and not running in a cluster "
        "(KUBERNETES_SERVICE_HOST/PORT are not set); give --kubeconfig or set KUBECONFIG");
  }
  ClusterConfig config;
  const bool ipv6 = host->find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;
  auto ca = read_file(service_account_dir + "/ca.crt");
  if (!ca) return ca.error().with("in-cluster configuration");
  config.tls.ca_pem = std::move(*ca);
  config.token_file = service_account_dir + "/token";
  if (auto ns = read_file(service_account_dir + "/namespace")) {
    std::string value = *ns;
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
    if (!value.empty()) config.default_namespace = value;
  }
  config.source = "in-cluster";
  return config;
}

Result<ClusterConfig> kubeconfig_config(const std::vector<std::string>& files, const std::string& context) {
  std::map<std::string, NamedEntry> clusters, users, contexts;
  std::string current_context;
  std::string first_file;
  for (const auto& file : files) {
    auto text = read_file(file);
    if (!text) return text.error().with("kubeconfig");
    auto document = parse_yaml(*text, file);
    if (!document) return document.error();
    if (first_file.empty()) first_file = file;
    merge_named(*document, "clusters", "cluster", file, clusters);
    merge_named(*document, "users", "user", file, users);
    merge_named(*document, "contexts", "context", file, contexts);
    if (current_context.empty()) current_context = string_at(*document, {"current-context"});
  }
  const std::string context_name = context.empty() ? current_context : context;
  const std::string where = files.size() == 1 ? files.front() : "KUBECONFIG files";
  if (context_name.empty()) return invalid(where + " has no current-context; give --context");
  const auto ctx = contexts.find(context_name);
  if (ctx == contexts.end()) return invalid("context '" + context_name + "' is not in " + where);
  const json::value ctx_value(ctx->second.value);
  const std::string cluster_name = string_at(ctx_value, {"cluster"});
  const std::string user_name = string_at(ctx_value, {"user"});
  const auto cluster = clusters.find(cluster_name);
  if (cluster == clusters.end()) {
    return invalid("context '" + context_name + "' names cluster '" + cluster_name +
                   "', which is not defined");
  }

  ClusterConfig config;
  config.source = where + ", context " + context_name;
  const json::value cluster_value(cluster->second.value);
  config.server = string_at(cluster_value, {"server"});
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return invalid("cluster '" + cluster_name + "' has no https:// server address");
  }
  if (config.server.rfind("http://", 0) == 0) {
    // Plain HTTP carries the bearer token in clear and the API server's
    // answers without integrity: only to a server on this machine.
    auto parsed = boost::urls::parse_uri(config.server);
    // Boost.URL 1.81 reads "http://127.0.0.1.example/" as the host 127.0.0.1
    // and the path ".example/", where a resolver (libgit2, DNS) sees the name
    // 127.0.0.1.example: after an authority a path starts with '/'.
    const bool misread = parsed && !parsed->encoded_path().empty() && parsed->encoded_path().front() != '/';
    if (!parsed || misread || !ir::http::is_loopback_host(std::string(parsed->encoded_host_address()))) {
      return invalid("cluster '" + cluster_name + "' has the http:// server " + config.server +
                     ": refused, as plain HTTP would send the credentials in clear and let anyone on the "
                     "way answer for the API server; use https:// (http:// is accepted only to 127.0.0.1, "
                     "::1 or localhost)");
    }
  }
  auto ca = file_or_data(cluster->second.value, "certificate-authority", "certificate-authority-data",
                         cluster->second.file);
  if (!ca) return ca.error().with("cluster '" + cluster_name + "'");
  config.tls.ca_pem = std::move(*ca);
  if (const auto* skip = find(cluster_value, {"insecure-skip-tls-verify"});
      skip != nullptr && skip->is_bool() && skip->get_bool()) {
    config.tls.insecure_skip_verify = true;
    config.warnings.push_back("cluster '" + cluster_name +
                              "' sets insecure-skip-tls-verify: the API server's identity is NOT checked");
  }
  if (!string_at(cluster_value, {"proxy-url"}).empty()) {
    config.warnings.push_back("cluster '" + cluster_name +
                              "' sets proxy-url, which irsteps ignores; use HTTPS_PROXY");
  }
  if (const auto ns = string_at(ctx_value, {"namespace"}); !ns.empty()) config.default_namespace = ns;

  if (user_name.empty()) return config;
  const auto user = users.find(user_name);
  if (user == users.end()) {
    return invalid("context '" + context_name + "' names user '" + user_name + "', which is not defined");
  }
  const json::object& u = user->second.value;
  const std::string user_where = "user '" + user_name + "'";
  if (u.contains("auth-provider")) {
    return invalid(user_where + " uses a legacy auth-provider; use an exec credential plugin instead");
  }
  if (u.contains("username") || u.contains("password")) {
    return invalid(user_where +
                   " uses basic authentication, which Kubernetes removed; use a token or certificate");
  }
  if (const auto it = u.find("token");
      it != u.end() && it->value().is_string() && !it->value().get_string().empty()) {
    config.token = Secret(std::string(it->value().get_string()));
  } else if (const auto tf = u.find("tokenFile"); tf != u.end() && tf->value().is_string()) {
    config.token_file = resolve_path(std::string(tf->value().get_string()), user->second.file);
  }
  auto cert = file_or_data(u, "client-certificate", "client-certificate-data", user->second.file);
  if (!cert) return cert.error().with(user_where);
  auto key = file_or_data(u, "client-key", "client-key-data", user->second.file);
  if (!key) return key.error().with(user_where);
  if (cert->empty() != key->empty())
    return invalid(user_where +
                   " has a client certificate without its key, or a key without its certificate");
  config.tls.client_cert_pem = std::move(*cert);
  config.tls.client_key_pem = Secret(std::move(*key));
  if (const auto it = u.find("exec"); it != u.end() && it->value().is_object()) {
    auto plugin = parse_exec(it->value().get_object());
    if (!plugin) return plugin.error().with(user_where);
    config.exec = std::move(*plugin);
  }
  return config;
}

Result<ClusterConfig> load_config(const ConfigRequest& request) {
  std::vector<std::string> files;
  if (!request.kubeconfig.empty()) {
    files = split_paths(request.kubeconfig);
  } else if (auto env_list = request.env("KUBECONFIG"); env_list && !env_list->empty()) {
    for (auto& path : split_paths(*env_list)) {
      if (fs::exists(path)) files.push_back(path);
    }
  }
  if (files.empty() && request.kubeconfig.empty()) {
    if (auto home = request.env("HOME")) {
      const std::string path = *home + "/.kube/config";
      if (fs::exists(path)) files.push_back(path);
    }
  }
  if (files.empty()) {
    if (!request.context.empty()) return invalid("--context was given but no kubeconfig was found");
    return in_cluster_config(request.env, request.service_account_dir);
  }
  auto config = kubeconfig_config(files, request.context);
  if (!config) return config.error();
  return config;
}

Result<Credentials> CredentialSource::current() {
  std::lock_guard lock(mutex_);
  if (cached_ && (!expires_ || *expires_ > std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    return *cached_;
  }
  Credentials credentials;
  if (config_.exec) {
    auto from_exec = run_exec_plugin();
    if (!from_exec) return from_exec.error();
    credentials = std::move(*from_exec);
  } else if (config_.token) {
    credentials.token = config_.token;
  } else if (!config_.token_file.empty()) {
    auto text = read_file(config_.token_file);
    if (!text) return text.error().with("service-account token");
    std::string value = std::move(*text);
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r' || value.back() == ' '))
      value.pop_back();
    credentials.token = Secret(std::move(value));
  }
  cached_ = credentials;
  // A token file can rotate under us at any time: never cache it across builds.
  if (!config_.exec && !config_.token_file.empty()) cached_.reset();
  return credentials;
}

void CredentialSource::invalidate() {
  std::lock_guard lock(mutex_);
  cached_.reset();
  expires_.reset();
}

Result<Credentials> CredentialSource::run_exec_plugin() {
  const ExecPlugin& plugin = *config_.exec;
  json::object info;
  info["kind"] = "ExecCredential";
  info["apiVersion"] = plugin.api_version;
  json::object spec;
  spec["interactive"] = false;
  if (plugin.provide_cluster_info) {
    json::object cluster;
    cluster["server"] = config_.server;
    if (!config_.tls.ca_pem.empty())
      cluster["certificate-authority-data"] = base64_encode(config_.tls.ca_pem);
    spec["cluster"] = std::move(cluster);
  }
  info["spec"] = std::move(spec);
  ProcessOptions options;
  options.extra_env = plugin.env;
  options.extra_env.emplace_back("KUBERNETES_EXEC_INFO", json::serialize(info));
  std::vector<std::string> argv{plugin.command};
  argv.insert(argv.end(), plugin.args.begin(), plugin.args.end());
  const std::string what = "exec credential plugin " + plugin.command;
  auto output = run_process(argv, options);
  if (!output) {
    Error e = output.error();
    if (!plugin.install_hint.empty()) e = std::move(e).with(plugin.install_hint);
    return e.with(what);
  }
  if (output->exit_status != 0) {
    // The plugin's stderr explains the failure; its stdout may hold credentials
    // and is never shown.
    std::string detail = output->err.substr(0, 300);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
    return Error(Code::forbidden, "exited with status " + std::to_string(output->exit_status) +
                                      (detail.empty() ? "" : ": " + detail))
        .with(what);
  }
  auto document = parse_json(output->out, what + " output");
  if (!document)
    return Error(Code::forbidden, "its output is not an ExecCredential JSON document").with(what);
  const auto* status = find(*document, {"status"});
  if (status == nullptr || !status->is_object())
    return Error(Code::forbidden, "its output has no status").with(what);
  Credentials credentials;
  if (const auto token = string_at(*status, {"token"}); !token.empty()) credentials.token = Secret(token);
  credentials.client_cert_pem = string_at(*status, {"clientCertificateData"});
  credentials.client_key_pem = Secret(string_at(*status, {"clientKeyData"}));
  if (!credentials.token && credentials.client_cert_pem.empty()) {
    return Error(Code::forbidden, "its status has neither a token nor a client certificate").with(what);
  }
  if (const auto expiry = string_at(*status, {"expirationTimestamp"}); !expiry.empty()) {
    auto when = parse_utc(expiry);
    if (when) expires_ = *when;
  }
  return credentials;
}

}  // namespace ir::k8s
