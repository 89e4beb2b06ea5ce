// Every kind of credential a kubeconfig can hold reaches the real API server
// and none of it reaches any output: client certificates, exec credential
// plugins, token files. Each run logs at debug level with the GitHub outputs
// on, and everything it wrote is searched.
#include "support/skip.hpp"
#include "support/step_runner.hpp"

#include <boost/json/serialize.hpp>

#include <filesystem>

using namespace ir;
using namespace ir::test;
namespace fs = std::filesystem;

namespace {

struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& name) : dir(fs::temp_directory_path() / name) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

// Runs isolate in dry-run (reads only) with `kubeconfig` and returns all it
// printed or wrote.
std::string run_and_collect(const std::string& kubeconfig, const std::string& ns, const Scratch& scratch) {
  auto run = run_step_binary(
      "isolate",
      {"--incident-id", "INC-2026-11-26-301", "--namespace", ns, "--selector", "app=web", "--dry-run",
       "--kubeconfig", kubeconfig, "--log-level", "debug", "--outputs-dir", scratch.file("outputs")},
      {{"GITHUB_OUTPUT", scratch.file("github-output")},
       {"GITHUB_STEP_SUMMARY", scratch.file("github-summary")},
       {"GITHUB_ACTIONS", "true"}});
  REQUIRE_EXIT(run, 0);
  std::string everything = run.all_text();
  for (const auto& entry : fs::recursive_directory_iterator(scratch.dir)) {
    if (entry.is_regular_file() && entry.path().string().find(".kubeconfig") == std::string::npos &&
        entry.path().filename() != "plugin.sh") {
      everything += *read_file(entry.path().string());
    }
  }
  return everything;
}

// The base64 body of a PEM block, the part that would leak.
std::string pem_body(const std::string& pem) {
  const auto start = pem.find('\n') + 1;
  return pem.substr(start, pem.find('\n', start) - start);
}

}  // namespace

TEST_CASE("client certificates, exec plugins and token files authenticate and never leak",
          "[integration][credentials]") {
  auto& cluster = Cluster::get();
  if (cluster.state_dir().empty()) {
    skip_test("needs the local control plane's admin certificate and token, not IRSTEPS_TEST_KUBECONFIG");
    return;
  }
  TestNamespace ns("creds");
  cluster.apply_yaml(ns.name(), deployment_yaml("web", 1));
  running_pods(ns.name(), "app=web", 1);
  const std::string token = cluster.admin_token();
  REQUIRE_FALSE(token.empty());
  auto base = parse_yaml(*read_file(cluster.kubeconfig()), "kubeconfig");
  REQUIRE(base);
  auto with_user = [&](const json::object& user, const std::string& path) {
    json::value config = *base;
    for (auto& entry : config.as_object()["users"].as_array()) entry.as_object()["user"] = user;
    REQUIRE(write_file_atomic(path, boost::json::serialize(config)));
  };

  SECTION("client certificate and key from files") {
    Scratch scratch("irsteps-creds-cert");
    const std::string pki = cluster.state_dir() + "/pki/";
    const auto key = read_file(pki + "admin.key");
    REQUIRE(key);
    with_user({{"client-certificate", pki + "admin.crt"}, {"client-key", pki + "admin.key"}},
              scratch.file("cert.kubeconfig"));
    const auto everything = run_and_collect(scratch.file("cert.kubeconfig"), ns.name(), scratch);
    CHECK(everything.find(pem_body(*key)) == std::string::npos);
  }

  SECTION("an exec credential plugin") {
    Scratch scratch("irsteps-creds-exec");
    REQUIRE(write_file_atomic(scratch.file("plugin.sh"),
                              "#!/bin/sh\nprintf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
                              "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' \"$(cat " +
                                  cluster.state_dir() + "/pki/admin.token)\"\n"));
    fs::permissions(scratch.file("plugin.sh"), fs::perms::owner_all);
    with_user({{"exec", json::object{{"apiVersion", "client.authentication.k8s.io/v1beta1"},
                                     {"command", scratch.file("plugin.sh")}}}},
              scratch.file("exec.kubeconfig"));
    const auto everything = run_and_collect(scratch.file("exec.kubeconfig"), ns.name(), scratch);
    CHECK(everything.find(token) == std::string::npos);
  }

  SECTION("a token file") {
    Scratch scratch("irsteps-creds-tokenfile");
    with_user({{"tokenFile", cluster.state_dir() + "/pki/admin.token"}}, scratch.file("file.kubeconfig"));
    const auto everything = run_and_collect(scratch.file("file.kubeconfig"), ns.name(), scratch);
    CHECK(everything.find(token) == std::string::npos);
  }
}
