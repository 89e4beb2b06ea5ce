// rotate-secret: the data-exposure playbook's "Rotate exposed credentials
// immediately", "Revoke access tokens" and "Restart pods to pick up new
// secrets". The new value is made inside the step (or read from a file, an
// environment variable or stdin), held in ir::Secret and never printed; the
// Secret is updated under a resourceVersion precondition; its consumers are
// found, restarted once each and awaited.
#pragma once

#include "ir/core/secret.hpp"
#include "ir/driver/step.hpp"
#include "ir/k8s/workload.hpp"

#include <chrono>
#include <functional>
#include <iosfwd>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace ir::steps::rotate_secret {

inline constexpr std::string_view rotated_at_annotation = "irsteps.io/rotatedAt";
inline constexpr std::string_view token_type = "kubernetes.io/service-account-token";
inline constexpr int max_write_attempts = 5;

enum class Source { generate, file, env, stdin_stream };
enum class Charset { alnum, hex, base64, urlsafe, printable };

struct Options : CommonOptions {
  std::string ns;
  std::vector<std::string> secrets;
  std::vector<std::string> keys;
  Source source = Source::generate;
  std::string from_file;
  std::string from_env;
  std::size_t length = 32;
  Charset charset = Charset::alnum;
  bool create = false;
  bool keep_previous = false;
  std::string restart = "auto";  // auto, none, or KIND/NAME,...
  std::size_t max_concurrent_restarts = 0;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  std::string revoke_service_account;
};

[[nodiscard]] Result<Options> options_from(const json::object& params);
[[nodiscard]] Result<void> run(const Options& options, Context& context);
[[nodiscard]] const StepDef& step();

// value.cpp: the new value, from a CSPRNG or from the named source.
[[nodiscard]] std::string_view charset_characters(Charset charset);
[[nodiscard]] Result<Secret> generate_value(std::size_t length, Charset charset);
[[nodiscard]] Result<Secret> read_value(const Options& options, std::istream& in);

// consumers.cpp: who uses a Secret, and how.
// "env", "envFrom", "volume", "projected", "imagePullSecrets" for each way
// the pod spec refers to `secret`.
[[nodiscard]] std::set<std::string> secret_references(const json::object& pod_spec, std::string_view secret);
[[nodiscard]] bool runs_as(const json::object& pod_spec, std::string_view service_account);

struct Consumers {
  std::vector<k8s::Workload> workloads;  // restartable, in discovery order
  std::vector<std::string> described;    // "deployment/web (env, volume)"
  std::vector<std::string> cronjobs;
  std::vector<std::string> bare_pods;
};
// Consumers of any of `secrets`, and (when `service_account` is set) the
// workloads whose pods run as it.
[[nodiscard]] Result<Consumers> find_consumers(k8s::Client& client, const std::string& ns,
                                               const std::vector<std::string>& secrets,
                                               const std::string& service_account);

// update.cpp: the Secret write with a resourceVersion precondition, retried
// on conflict. `before_write` runs between read and write (tests use it to
// make a conflicting writer).
using BeforeWrite = std::function<void(int attempt)>;
struct Rotation {
  std::string resource_version;
  bool created = false;
  std::string previous_secret;  // with --keep-previous
  std::string uid;
};
[[nodiscard]] Result<Rotation> update_secret(k8s::Client& client, Report& report, const Options& options,
                                             const std::string& name,
                                             const std::map<std::string, Secret>& values,
                                             const BeforeWrite& before_write = {});
[[nodiscard]] std::string previous_secret_name(const Options& options, const std::string& name);

}  // namespace ir::steps::rotate_secret
