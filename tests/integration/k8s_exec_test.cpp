// exec over the WebSocket and streamed logs, through the real API server's
// node proxy to the test node agent.
#include "ir/k8s/client.hpp"

#include "ir/core/time.hpp"
#include "support/catch.hpp"
#include "support/cluster.hpp"

#include <algorithm>

using namespace ir;
using namespace ir::test;

namespace {

std::string pod_yaml(const std::string& name, const std::string& annotations) {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  annotations: {" + annotations +
         "}\nspec:\n  containers:\n  - {name: app, image: registry.example/app:1}\n";
}

struct Captured {
  std::string out, err;
  http::DataSink out_sink() {
    return [this](std::string_view d) {
      out.append(d);
      return true;
    };
  }
  http::DataSink err_sink() {
    return [this](std::string_view d) {
      err.append(d);
      return true;
    };
  }
};

}  // namespace

TEST_CASE("exec streams stdout and stderr and returns the exit code", "[integration][k8s][exec]") {
  TestNamespace ns("exec");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), pod_yaml("shell", "") + "---\n" +
                                    pod_yaml("distroless", "irsteps.io/test-no-shell: \"true\""));
  await_running(ns.name(), "shell");
  await_running(ns.name(), "distroless");
  auto& client = cluster.client();

  Captured c;
  auto result = client.exec(ns.name(), "shell", {"app", {"sh", "-c", "echo hi; echo err >&2; exit 3"}},
                            c.out_sink(), c.err_sink());
  REQUIRE(result);
  CHECK(result->exit_code == 3);
  CHECK(c.out == "hi\n");
  CHECK(c.err == "err\n");
  CHECK(result->protocol == "v5.channel.k8s.io");

  Captured input;
  k8s::ExecOptions with_stdin{"app", {"cat"}, std::string("evidence\nline two\n")};
  auto echoed = client.exec(ns.name(), "shell", with_stdin, input.out_sink(), input.err_sink());
  REQUIRE(echoed);
  CHECK(echoed->exit_code == 0);
  CHECK(input.out == "evidence\nline two\n");

  std::size_t bytes = 0;
  auto big = client.exec(
      ns.name(), "shell", {"app", {"head", "-c", "20000000", "/dev/zero"}},
      [&](std::string_view d) {
        bytes += d.size();
        return true;
      },
      c.err_sink());
  REQUIRE(big);
  CHECK(bytes == 20000000u);

  Captured none;
  auto missing = client.exec(ns.name(), "shell", {"app", {"no-such-tool"}}, none.out_sink(), none.err_sink());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Code::action_failed);
  CHECK(missing.error().describe().find("not found") != std::string::npos);

  Captured no_shell;
  auto distroless = client.exec(ns.name(), "distroless", {"app", {"sh", "-c", "ps"}}, no_shell.out_sink(),
                                no_shell.err_sink());
  REQUIRE(distroless);
  CHECK(distroless->exit_code == 126);

  auto unknown = client.exec(ns.name(), "no-such-pod", {"app", {"true"}}, none.out_sink(), none.err_sink());
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code() == Code::not_found);
}

TEST_CASE("logs stream current and previous instances with the kubelet's options",
          "[integration][k8s][logs]") {
  TestNamespace ns("logs");
  auto& cluster = Cluster::get();
  cluster.apply_yaml(ns.name(), pod_yaml("web",
                                         "irsteps.io/test-log: \"GET /admin 200\\nPOST /upload 201\", "
                                         "irsteps.io/test-restarts: \"1\""));
  await_running(ns.name(), "web");
  auto& client = cluster.client();
  std::string text;
  auto sink = [&](std::string_view d) {
    text.append(d);
    return true;
  };
  REQUIRE(client.logs(ns.name(), "web", {"app"}, sink));
  CHECK(text.find("GET /admin 200") != std::string::npos);
  CHECK(text.find("POST /upload 201") != std::string::npos);

  text.clear();
  k8s::LogOptions last;
  last.container = "app";
  last.tail_lines = 1;
  last.timestamps = true;
  REQUIRE(client.logs(ns.name(), "web", last, sink));
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  CHECK(parse_utc(text.substr(0, text.find(' '))));

  text.clear();
  k8s::LogOptions previous;
  previous.container = "app";
  previous.previous = true;
  REQUIRE(client.logs(ns.name(), "web", previous, sink));
  CHECK_FALSE(text.empty());

  cluster.apply_yaml(ns.name(), pod_yaml("fresh", ""));
  await_running(ns.name(), "fresh");
  auto none = client.logs(ns.name(), "fresh", previous, sink);
  REQUIRE_FALSE(none);
  CHECK(none.error().code() == Code::invalid_input);
}
