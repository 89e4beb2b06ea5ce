#include "cordon.hpp"

#include "ir/core/json.hpp"
#include "ir/params/params.hpp"
#include "support/catch.hpp"

using namespace ir;
using namespace ir::steps::cordon;

namespace {

// The command line's way in: flags checked against the step's schema, then
// read into Options.
Result<Options> options(std::vector<std::string> args) {
  auto spec = ParamSpec::load("cordon");
  REQUIRE(spec);
  args.insert(args.begin(), {"--incident-id", "INC-2026-12-07-001"});
  auto parsed = parse_args(*spec, args, [](const std::string&) { return std::optional<std::string>(); });
  if (!parsed) return parsed.error();
  return options_from(parsed->params);
}

json::object pod(const std::string& spec_json) {
  auto parsed = parse_json(R"({"metadata": {"name": "web-0"}, "spec": )" + spec_json + "}", "pod");
  REQUIRE(parsed);
  return parsed->as_object();
}

}  // namespace

TEST_CASE("cordon reads nodes, or pods with their namespace", "[unit][cordon]") {
  auto nodes = options({"--node", "node-a,node-b"});
  REQUIRE(nodes);
  CHECK(nodes->nodes == std::vector<std::string>{"node-a", "node-b"});
  auto pods = options({"--namespace", "shop", "--pod", "web-0", "--pod", "web-1", "--if-host-access"});
  REQUIRE(pods);
  CHECK(pods->ns == "shop");
  CHECK(pods->pods == std::vector<std::string>{"web-0", "web-1"});
  CHECK(pods->if_host_access);
  auto release = options({"--release"});
  REQUIRE(release);
  CHECK(release->release);
}

TEST_CASE("cordon refuses what it cannot act on, naming the parameters", "[unit][cordon]") {
  for (const auto& [args, words] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{}, "give --node or --pod"},
           {{"--node", "a", "--namespace", "shop", "--pod", "web-0"}, "not both"},
           {{"--pod", "web-0"}, "--pod needs --namespace"},
           {{"--node", "a", "--if-host-access"}, "--if-host-access"},
           {{"--release", "--evict"}, "--evict empties nodes"},
           {{"--node", "Node_A"}, "node"},
           {{"--node", "../secrets"}, "node"}}) {
    INFO(words);
    auto read = options(args);
    REQUIRE(!read);
    CHECK(read.error().code() == Code::invalid_input);
    CHECK(read.error().describe().find(words) != std::string::npos);
  }
}

TEST_CASE("cordon tells a pod that could reach its host, and why", "[unit][cordon]") {
  CHECK(host_access(pod(R"({"containers": [{"name": "app"}]})")).empty());
  CHECK(host_access(pod(R"({"containers": [{"name": "app", "securityContext": {"privileged": false,
        "capabilities": {"add": ["NET_BIND_SERVICE"]}}}]})"))
            .empty());
  CHECK(host_access(pod(R"({"hostPID": true, "containers": [{"name": "app"}]})")) == "hostPID");
  CHECK(host_access(pod(R"({"containers": [{"name": "app", "securityContext": {"privileged": true}}]})")) ==
        "container app is privileged");
  CHECK(host_access(pod(R"({"volumes": [{"name": "root", "hostPath": {"path": "/"}}], "containers": []})")) ==
        "hostPath volume root");
  CHECK(host_access(pod(R"({"initContainers": [{"name": "init", "securityContext": {"capabilities":
        {"add": ["CAP_SYS_ADMIN"]}}}], "containers": []})")) == "container init adds SYS_ADMIN");
  CHECK(host_access(pod(R"({"hostNetwork": true, "ephemeralContainers": [{"name": "debug",
        "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}}]})")) ==
        "hostNetwork,container debug adds SYS_PTRACE");
}

TEST_CASE("cordon --evict spares the evidence, DaemonSets, mirror pods and pods nothing would recreate",
          "[unit][cordon]") {
  const auto with = [](const std::string& metadata, const std::string& phase = "Running") {
    auto parsed = parse_json(R"({"metadata": {"namespace": "shop", "name": "web-0", )" + metadata +
                                 R"(}, "status": {"phase": ")" + phase + R"("}})",
                             "pod");
    REQUIRE(parsed);
    return parsed->as_object();
  };
  const std::string replicaset =
      R"("ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d4", "controller": true}])";
  const std::vector<std::string> named{"shop/implant"};
  CHECK(kept_on_node(with(replicaset), named).empty());
  CHECK(kept_on_node(with(replicaset + R"(, "labels": {"irsteps.io/quarantine": "INC-2026-12-07-001"})"),
                     named) == "quarantined by INC-2026-12-07-001");
  CHECK(
      kept_on_node(with(R"("ownerReferences": [{"kind": "DaemonSet", "name": "falco", "controller": true}])"),
                   named) == "DaemonSet");
  // An owner that is not the controller does not count.
  CHECK(
      kept_on_node(with(R"("ownerReferences": [{"kind": "ReplicaSet", "name": "web", "controller": false}])"),
                   named) == "no controller would recreate it");
  CHECK(kept_on_node(with(R"("uid": "1")"), named) == "no controller would recreate it");
  CHECK(kept_on_node(with(replicaset + R"(, "annotations": {"kubernetes.io/config.mirror": "abc"})"),
                     named) == "mirror pod");
  CHECK(kept_on_node(with(replicaset, "Succeeded"), named) == "finished");
  CHECK(kept_on_node(with(replicaset + R"(, "deletionTimestamp": "2026-12-07T00:00:00Z")"), named) ==
        "terminating");
  CHECK(kept_on_node(with(replicaset), {"shop/web-0"}) == "named compromised pod");
}
