// A step run in this process, the way its binary runs it, against a
// Kubernetes API server the test scripts: the step's own run() through the
// driver's run_step, with parameters parsed and validated against its schema
// from command-line arguments, and a Context whose client talks HTTPS to a
// local server with a CA and bearer token of its own. A step's logic gets
// fast unit tests this way, with no control plane (the integration tests
// keep the real one).
//
//   ScriptedApi api;
//   api.on("GET", "/api/v1/namespaces/shop/pods/web-1", api_object(pod));
//   auto run = run_step_in_process(snapshot::step(), {"--incident-id", ...}, &api);
//   REQUIRE_STEP_EXIT(run, 0);
#pragma once

#include "ir/core/json.hpp"
#include "ir/driver/step.hpp"
#include "support/catch.hpp"
#include "support/git_server.hpp"
#include "support/http_server.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ir::test {

// An API server on 127.0.0.1 over TLS (its certificate from a CA made for
// it) that answers from routes: an exact method and path (the query is not
// part of it), else 404 with a Kubernetes Status. It writes a kubeconfig
// that trusts its CA and authenticates with a bearer token.
class ScriptedApi {
 public:
  using Route = std::function<Reply(const SeenRequest&)>;

  ScriptedApi();
  ~ScriptedApi();
  ScriptedApi(const ScriptedApi&) = delete;
  ScriptedApi& operator=(const ScriptedApi&) = delete;

  // A later route for the same method and path replaces an earlier one.
  void on(const std::string& method, const std::string& path, Route route);
  void on(const std::string& method, const std::string& path, Reply reply);

  [[nodiscard]] const std::string& kubeconfig() const { return kubeconfig_; }
  // The bearer token of the kubeconfig: a secret that no output may show.
  [[nodiscard]] const std::string& token() const { return token_; }
  [[nodiscard]] std::vector<SeenRequest> requests() const { return server_->requests(); }
  // How many requests had this method and path (query ignored).
  [[nodiscard]] int count(const std::string& method, const std::string& path) const;

 private:
  Reply answer(const SeenRequest& request);

  TempDir dir_;
  std::string token_;
  std::string kubeconfig_;
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, Route>> routes_;  // "METHOD /path"
  std::unique_ptr<HttpServer> server_;
};

// 200 with `object` as JSON; a Kubernetes Status of `code` with `reason`.
[[nodiscard]] Reply api_object(const json::value& object);
[[nodiscard]] Reply api_status(int code, const std::string& reason, const std::string& message);
// A list of kind `kind` ("PodList") holding `items`.
[[nodiscard]] Reply api_list(const std::string& kind, json::array items = {});
// The path of a request without its query.
[[nodiscard]] std::string path_of(const SeenRequest& request);

struct StepOutcome {
  int exit_code = -1;
  json::object result;  // the result document the binary prints on stdout
  std::string log;      // what went to stderr: the driver's log lines

  [[nodiscard]] std::string output(const std::string& name) const;
  [[nodiscard]] std::string status() const;
  [[nodiscard]] std::string error_message() const;
  // The result document and the log, to search for what must not be there.
  [[nodiscard]] std::string all_text() const;
};

// Runs `step` as `<step> ARGS` would, without reading the environment: the
// driver's run_step with a Context whose client is `api`'s (none: a
// kubeconfig that does not exist, so a step that needs the API fails). The
// result document is checked against result.schema.json, and its status
// against the exit code.
[[nodiscard]] StepOutcome run_step_in_process(const StepDef& step, const std::vector<std::string>& args,
                                              const ScriptedApi* api = nullptr);

// Shows the result and the log when the exit code is not the expected one.
#define REQUIRE_STEP_EXIT(run, code)                                                                     \
  do {                                                                                                   \
    INFO("log: " << (run).log << "\nresult: " << ::ir::to_pretty_json(::ir::json::value((run).result))); \
    REQUIRE((run).exit_code == (code));                                                                  \
  } while (false)

}  // namespace ir::test
