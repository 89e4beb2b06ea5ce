// The images of containers/ built for real: buildah (chroot isolation, vfs
// storage, --pull=never --timestamp 0) from the built binaries, pushed to
// Debian's docker-registry on 127.0.0.1, and run with podman (runtime runc)
// as Argo would run them: --version, --help, and a --dry-run of each step
// against the local control plane; each at most 15 MB as pulled
// (compressed) and, from the release build, unpacked. Then the project
// checks its own supply chain: the pushed verify-image image is signed with a
// private Sigstore (tests/support/sigstore-sign.py) and verified by the
// verify-image image itself, also through its GitHub action; a second build
// gives the same digests.
#include "ir/core/encoding.hpp"
#include "ir/driver/step.hpp"
#include "irsteps/step_list.hpp"
#include "service/registry_fixture.hpp"
#include "support/skip.hpp"
#include "support/step_runner.hpp"

#include <zlib.h>
#include <boost/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <regex>

using namespace ir;
using namespace ir::test;
namespace fs = std::filesystem;

namespace {

const std::string source_dir = IRSTEPS_SOURCE_DIR;
// Every step's image (steps/CMakeLists.txt) and the plugin's, as build.sh
// builds them.
const std::vector<std::string> images = [] {
  std::vector<std::string> names;
  for (const auto& step : ir::generated::step_list) names.emplace_back(step.name);
  names.emplace_back("irsteps-plugin");
  return names;
}();

bool have_container_tools() {
#if defined(__SANITIZE_ADDRESS__)
  // Images are made of release binaries: the sanitizer runtime in a FROM
  // scratch image is not what anyone ships.
  skip_test("the images are built and tested from the release build");
  return false;
#endif
  auto found = run_process(
      {"sh", "-c", "command -v buildah && command -v podman && command -v runc && command -v skopeo"});
  if (found && found->exit_status == 0) return true;
  skip_test("buildah, podman, runc or skopeo is not installed (scripts/install-deps.sh)");
  return false;
}

// podman's settings for this host: runc (crun fails on its cgroup layout),
// cgroupfs, no network namespace unless asked, bounded ulimits.
struct Podman {
  TempDir dir;
  Podman() {
    REQUIRE(
        write_file_atomic(dir / "containers.conf",
                          "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n"
                          "netns = \"none\"\n\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n"
                          "events_logger = \"none\"\n"));
  }
  ProcessOutput run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"podman", "--storage-driver", "vfs"});
    ProcessOptions options;
    options.extra_env = {{"CONTAINERS_CONF", dir / "containers.conf"}};
    options.timeout = std::chrono::seconds(120);
    auto out = run_process(args, options);
    REQUIRE(out);
    return *out;
  }
};

void buildah(std::vector<std::string> args) {
  args.insert(args.begin(), {"buildah", "--storage-driver", "vfs"});
  ProcessOptions options;
  options.timeout = std::chrono::seconds(300);
  auto out = run_process(args, options);
  REQUIRE(out);
  INFO(out->err);
  REQUIRE(out->exit_status == 0);
}

// The GitHub action workflows/github/STEP built as GitHub builds it, from its
// Dockerfile, FROM the published image, which is this build's (tagged with
// that name, so that the build needs no network). The image's name.
std::string build_action(const std::string& step, const std::string& version) {
  const std::string dir = source_dir + "/workflows/github/" + step;
  const auto dockerfile = read_file(dir + "/Dockerfile");
  REQUIRE(dockerfile);
  static const std::regex from_line(R"(\nFROM (\S+)\n)");
  std::smatch from;
  REQUIRE(std::regex_search(*dockerfile, from, from_line));
  buildah({"tag", "localhost/irsteps/" + step + ":" + version, from[1].str()});
  const std::string image = "localhost/irsteps/action-" + step + ":" + version;
  buildah({"bud", "--quiet", "--isolation", "chroot", "--pull=never", "--timestamp", "0", "-t", image, "-f",
           dir + "/Dockerfile", dir});
  return image;
}

struct ActionRun {
  ProcessOutput process;
  std::string output;   // what the step appended to GITHUB_OUTPUT
  std::string summary;  // and to GITHUB_STEP_SUMMARY
};

// Runs `image` as GitHub runs a Docker action: as root (no --user), in
// /github/workspace (`workspace`), with the runner's GITHUB_OUTPUT and job
// summary files, made by the runner's own (non-root) user, mounted; the
// arguments and environment of action.yml with `inputs` filled in and the
// other inputs at their defaults.
ActionRun run_docker_action(const Podman& podman, const std::string& step, const std::string& image,
                            const TempDir& workspace, const std::map<std::string, std::string>& inputs) {
  auto action =
      parse_yaml(*read_file(source_dir + "/workflows/github/" + step + "/action.yml"), "action.yml");
  REQUIRE(action);
  for (const auto& [name, value] : inputs) {
    INFO(name);
    REQUIRE(find(*action, {"inputs", name}) != nullptr);  // a misspelt input
  }
  static const std::regex expression(R"(\$\{\{ inputs\.([A-Za-z0-9_-]+) \}\})");
  auto fill = [&](const std::string& text) {
    std::smatch m;
    REQUIRE(std::regex_search(text, m, expression));
    const std::string input = m[1].str();
    const auto given = inputs.find(input);
    const std::string value =
        given != inputs.end() ? given->second : string_at(*action, {"inputs", input, "default"});
    return m.prefix().str() + value + m.suffix().str();
  };
  TempDir commands;
  REQUIRE(write_file_atomic(commands / "set_output", ""));
  REQUIRE(write_file_atomic(commands / "step_summary", ""));
  for (const auto* name : {"", "/set_output", "/step_summary"}) {
    REQUIRE(::chown((commands.path() + name).c_str(), 1001, 1001) == 0);
  }
  fs::permissions(commands.path(), fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
  std::vector<std::string> argv{"run",       "--rm",
                                "--network", "host",
                                "--workdir", "/github/workspace",
                                "-v",        workspace.path() + ":/github/workspace",
                                "-v",        commands.path() + ":/github/file_commands",
                                "-e",        "GITHUB_ACTIONS=true",
                                "-e",        "GITHUB_OUTPUT=/github/file_commands/set_output",
                                "-e",        "GITHUB_STEP_SUMMARY=/github/file_commands/step_summary"};
  if (const auto* env = find(*action, {"runs", "env"}); env != nullptr) {
    for (const auto& entry : env->as_object()) {
      argv.insert(argv.end(),
                  {"-e", std::string(entry.key()) + "=" + fill(std::string(entry.value().as_string()))});
    }
  }
  argv.insert(argv.end(), {"--entrypoint", string_at(*action, {"runs", "entrypoint"}), image});
  for (const auto& arg : find(*action, {"runs", "args"})->as_array())
    argv.push_back(fill(std::string(arg.as_string())));
  ActionRun run{podman.run(argv), *read_file(commands / "set_output"), *read_file(commands / "step_summary")};
  return run;
}

// NAME -> image id, from containers/build.sh.
std::map<std::string, std::string> build_images(const std::string& prefix) {
  ProcessOptions options;
  options.timeout = std::chrono::seconds(900);
  auto out = run_process(
      {source_dir + "/containers/build.sh", fs::path(binary("isolate")).parent_path().string(), prefix},
      options);
  REQUIRE(out);
  INFO(out->err);
  REQUIRE(out->exit_status == 0);
  std::map<std::string, std::string> built;
  std::istringstream lines(out->out);
  for (std::string name, id; lines >> name >> id;) built[name] = id;
  return built;
}

// The size of a gzip layer unpacked: the tar stream a node extracts.
std::int64_t gunzipped_size(std::string gzip) {
  z_stream stream{};
  REQUIRE(inflateInit2(&stream, 15 + 16) == Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(gzip.data());
  stream.avail_in = static_cast<uInt>(gzip.size());
  std::vector<unsigned char> buffer(1 << 16);
  std::int64_t size = 0;
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = buffer.data();
    stream.avail_out = static_cast<uInt>(buffer.size());
    status = inflate(&stream, Z_NO_FLUSH);
    size += static_cast<std::int64_t>(buffer.size() - stream.avail_out);
  }
  inflateEnd(&stream);
  CHECK(status == Z_STREAM_END);
  return size;
}

std::string run_signer(std::vector<std::string> args) {
  args.insert(args.begin(), {"/usr/bin/python3", source_dir + "/tests/support/sigstore-sign.py"});
  auto out = run_process(args);
  REQUIRE(out);
  INFO(out->err);
  REQUIRE(out->exit_status == 0);
  return out->out;
}

}  // namespace

TEST_CASE(
    "containers: every image builds offline, is small, runs with podman, and verifies its own signature",
    "[integration][containers]") {
  if (!have_container_tools() || !have_docker_registry()) return;
  const std::string version(irsteps_version());
  const auto built = build_images("localhost/irsteps");
  REQUIRE(built.size() == images.size());

  // The same binaries give the same images.
  const auto again = build_images("localhost/irsteps");
  CHECK(again == built);

  LocalRegistry local;
  oci::RegistryOptions registry_options;
  registry_options.plain_http = true;
  oci::Registry registry(local.host(), registry_options);
  std::map<std::string, std::string> digests;
  for (const auto& name : images) {
    const std::string target = local.host() + "/irsteps/" + name + ":" + version;
    buildah({"push", "--tls-verify=false", "--quiet", "localhost/irsteps/" + name + ":" + version,
             "docker://" + target});
    auto manifest = registry.manifest("irsteps/" + name, version);
    REQUIRE(manifest);
    digests[name] = manifest->digest;
    // At most 15 MB as pulled, and unpacked on the node when the binaries
    // link their dependencies statically, as the release build and the
    // Dockerfile do (a dynamic build's images carry the shared libraries).
    std::int64_t compressed = 0;
    std::int64_t unpacked = 0;
    for (const auto& layer : manifest->layers()) {
      compressed += layer.size;
      // Over 15 MB fails below anyway: a bigger layer is not read whole.
      auto blob = registry.blob("irsteps/" + name, layer, 64 * oci::limits::mib);
      REQUIRE(blob);
      unpacked += gunzipped_size(std::move(*blob));
    }
    WARN(name << ": " << compressed << " bytes compressed, " << unpacked << " unpacked");
    CHECK(compressed <= 15 * 1000 * 1000);
    CHECK(unpacked > compressed);
#if IRSTEPS_STATIC_DEPS
    // The plugin carries every step that runs in it (plugin/all_steps.hpp):
    // 16 MB unpacked; a step image carries one step: 15 MB.
    CHECK(unpacked <= (name == "irsteps-plugin" ? 16 : 15) * 1000 * 1000);
#endif
    // OCI labels, and a user that is not root.
    auto config = registry.blob("irsteps/" + name, *manifest->config(), oci::limits::config_bytes);
    REQUIRE(config);
    auto doc = parse_json(*config, "image config");
    REQUIRE(doc);
    CHECK(string_at(*doc, {"config", "User"}) == "65532:65532");
    CHECK(string_at(*doc, {"config", "Labels", "org.opencontainers.image.version"}) == version);
    CHECK(!string_at(*doc, {"config", "Labels", "org.opencontainers.image.revision"}).empty());
    CHECK(string_at(*doc, {"config", "Labels", "org.opencontainers.image.source"}).starts_with("https://"));
  }

  Podman podman;
  for (const auto& name : images) {
    INFO(name);
    const std::string image = "localhost/irsteps/" + name + ":" + version;
    const auto shown = podman.run({"run", "--rm", image, "--version"});
    CHECK(shown.exit_status == 0);
    CHECK(shown.out.find(version) != std::string::npos);
    const auto help = podman.run({"run", "--rm", image, "--help"});
    CHECK(help.exit_status == 0);
    CHECK(help.out.find("sage") != std::string::npos);
    // No shell in the image.
    CHECK(podman.run({"run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "true"}).exit_status != 0);
  }

  // A --dry-run of each step in its image, against the control plane.
  TestNamespace ns("images");
  Cluster::get().apply_yaml(ns.name(), deployment_yaml("web", 1));
  Cluster::get().apply_yaml(
      ns.name(), "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: x}\n");
  running_pods(ns.name(), "app=web", 1);
  TempDir files;
  REQUIRE(write_file_atomic(files / "web.yaml", deployment_yaml("web", 1)));
  REQUIRE(write_file_atomic(
      files / "routing.yaml",
      "channels:\n  - {name: siem, type: webhook, url: 'https://siem.invalid/hook', secret-file: "
      "/files/hook-secret}\n"));
  REQUIRE(write_file_atomic(files / "hook-secret", "image-test-hook-secret\n"));
  // The images run as uid 65532: the files they read must be readable by it.
  auto kubeconfig = read_file(Cluster::get().kubeconfig());
  REQUIRE(kubeconfig);
  REQUIRE(write_file_atomic(files / "kubeconfig", *kubeconfig));
  fs::permissions(files.path(), fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
  for (const auto& entry : fs::directory_iterator(files.path()))
    fs::permissions(entry.path(), fs::perms::others_read, fs::perm_options::add);
  const std::string incident = "--incident-id=INC-2026-11-27-901";
  const std::vector<std::pair<std::string, std::vector<std::string>>> dry_runs = {
      {"isolate", {incident, "--namespace", ns.name(), "--selector", "app=web"}},
      {"snapshot", {incident, "--namespace", ns.name(), "--selector", "app=web", "--out", "/tmp/evidence"}},
      {"rotate-secret", {incident, "--namespace", ns.name(), "--secret", "db", "--key", "password"}},
      {"rollout", {"restart", "deployment/web", incident, "--namespace", ns.name()}},
      {"access-audit", {incident, "--resource", "secrets/db", "--namespace", ns.name()}},
      {"drift", {incident, "--expected", "/files/web.yaml", "--namespace", ns.name()}},
      {"notify",
       {incident, "--routing", "/files/routing.yaml", "--severity", "high", "--title", "t", "--summary", "s",
        "--impact", "i", "--current-actions", "a", "--contact", "c"}},
  };
  for (const auto& [name, args] : dry_runs) {
    INFO(name);
    std::vector<std::string> argv{"run",
                                  "--rm",
                                  "--network",
                                  "host",
                                  "--read-only",
                                  "--tmpfs",
                                  "/tmp",
                                  "-v",
                                  files.path() + ":/files:ro",
                                  "-e",
                                  "KUBECONFIG=/files/kubeconfig",
                                  "localhost/irsteps/" + name + ":" + version};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--dry-run");
    const auto out = podman.run(argv);
    INFO("stderr: " << out.err << "\nstdout: " << out.out);
    CHECK(out.exit_status == 0);
    auto doc = parse_json(out.out, "result");
    REQUIRE(doc);
    CHECK(string_at(*doc, {"status"}) == "succeeded");
    CHECK(find(*doc, {"dryRun"})->as_bool());
  }

  // The plugin's --dry-run, run as Argo's agent pod runs it (plugin.yaml):
  // read-only root, uid 65532 with group 0, and the token file as the
  // agent writes it, mode 0440, owned by group 0. With the image's own group
  // (65532) the token cannot be read, and the dry run says so.
  REQUIRE(write_file_atomic(files / "token", "image-test-agent-token\n"));
  fs::permissions(files / "token", fs::perms::owner_read | fs::perms::group_read, fs::perm_options::replace);
  auto plugin_dry_run = [&](const std::string& user) {
    return podman.run({"run", "--rm", "--read-only", "--user", user, "-v",
                       files.path() + "/token:/var/run/argo/token:ro",
                       "localhost/irsteps/irsteps-plugin:" + version, "--dry-run"});
  };
  const auto plugin_ready = plugin_dry_run("65532:0");
  INFO("stderr: " << plugin_ready.err << "\nstdout: " << plugin_ready.out);
  CHECK(plugin_ready.exit_status == 0);
  auto plugin_report = parse_json(plugin_ready.out, "plugin dry-run");
  REQUIRE(plugin_report);
  CHECK(string_at(*plugin_report, {"status"}) == "ready");
  CHECK(find(*plugin_report, {"steps"})->as_array().size() == std::size(ir::generated::step_list));
  CHECK(plugin_ready.out.find("image-test-agent-token") == std::string::npos);
  const auto plugin_refused = plugin_dry_run("65532:65532");
  CHECK(plugin_refused.exit_status == 2);
  CHECK(plugin_refused.err.find("--token-file") != std::string::npos);

  // The project checks its own supply chain: the verify-image image, signed,
  // verifies itself in the registry.
  TempDir sigstore;
  run_signer({"init", sigstore.path()});
  fs::permissions(sigstore.path(), fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
  fs::permissions(sigstore / "trusted_root.json", fs::perms::others_read, fs::perm_options::add);
  const std::string digest = digests.at("verify-image");
  const std::string identity =
      "https://github.com/irsteps/irsteps/.github/workflows/release.yml@refs/tags/v" + version;
  // A cosign signature of the image in `in` (at `host`), as release.yml
  // makes one: a simple-signing payload naming the repository, keyless.
  auto sign_in = [&](oci::Registry& in, const std::string& host) {
    const std::string payload = boost::json::serialize(
        boost::json::object{{"critical",
                             {{"identity", {{"docker-reference", host + "/irsteps/verify-image"}}},
                              {"image", {{"docker-manifest-digest", digest}}},
                              {"type", "cosign container image signature"}}}});
    REQUIRE(write_file_atomic(sigstore / "payload.json", payload));
    auto annotations = parse_json(
        run_signer({"legacy", sigstore.path(), "--payload", sigstore / "payload.json", "--identity", identity,
                    "--issuer", "https://token.actions.githubusercontent.com"}),
        "annotations");
    REQUIRE(annotations);
    push_legacy_signature(in, "irsteps/verify-image", digest, payload, annotations->as_object());
  };
  sign_in(registry, local.host());
  const auto verified = podman.run(
      {"run", "--rm", "--network", "host", "-v", sigstore.path() + ":/trust:ro",
       "localhost/irsteps/verify-image:" + version, local.host() + "/irsteps/verify-image:" + version,
       "--allow-http-registry", "--trusted-root", "/trust/trusted_root.json", "--certificate-identity",
       identity, "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"});
  INFO("stderr: " << verified.err << "\nstdout: " << verified.out);
  REQUIRE(verified.exit_status == 0);
  auto result = parse_json(verified.out, "result");
  REQUIRE(result);
  CHECK(string_at(*result, {"outputs", "digest"}) == digest);
  CHECK(string_at(*result, {"outputs", "signers"}) == identity);

  // The GitHub action (workflows/github/verify-image): its Dockerfile, FROM
  // the published image with USER 0, built as GitHub builds it, and run as
  // GitHub runs a Docker action: as root, in /github/workspace, with the
  // runner's GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files (owned by the
  // runner's user) mounted, and the arguments of action.yml with the inputs
  // filled in. The image is verified in a registry with TLS, as ghcr.io.
  LocalRegistry secure(RegistrySetup{"", "", true});
  TempDir certs;
  REQUIRE(write_file_atomic(certs / "ca.crt", secure.ca_pem()));
  ProcessOptions copy_options;
  copy_options.timeout = std::chrono::seconds(300);
  auto copied = run_process(
      {"skopeo", "copy", "--quiet", "--preserve-digests", "--src-tls-verify=false", "--dest-cert-dir",
       certs.path(), "docker://" + local.host() + "/irsteps/verify-image:" + version,
       "docker://" + secure.host() + "/irsteps/verify-image:" + version},
      copy_options);
  REQUIRE(copied);
  INFO(copied->err);
  REQUIRE(copied->exit_status == 0);
  oci::RegistryOptions secure_options;
  secure_options.ca_pem = secure.ca_pem();
  oci::Registry secure_registry(secure.host(), secure_options);
  sign_in(secure_registry, secure.host());

  const std::string action = build_action("verify-image", version);
  TempDir workspace;
  REQUIRE(write_file_atomic(workspace / "trusted_root.json", *read_file(sigstore / "trusted_root.json")));
  REQUIRE(write_file_atomic(workspace / "registry-ca.pem", secure.ca_pem()));
  auto run_action = [&](const std::map<std::string, std::string>& inputs) {
    return run_docker_action(podman, "verify-image", action, workspace, inputs);
  };
  const std::map<std::string, std::string> inputs{
      {"image", secure.host() + "/irsteps/verify-image:" + version},
      {"certificate-identity", identity},
      {"certificate-oidc-issuer", "https://token.actions.githubusercontent.com"},
      {"trusted-root", "trusted_root.json"},
      {"registry-ca-file", "registry-ca.pem"}};
  const auto passed = run_action(inputs);
  INFO("stderr: " << passed.process.err << "\nGITHUB_OUTPUT: " << passed.output);
  CHECK(passed.process.exit_status == 0);
  CHECK(passed.output.find(digest) != std::string::npos);
  CHECK(passed.output.find(identity) != std::string::npos);
  CHECK(passed.output.find("verdict") != std::string::npos);
  CHECK(passed.summary.find(digest) != std::string::npos);

  // Another signer expected: rejected (exit 3), with an ::error annotation,
  // and the verdict still in the outputs.
  auto other = inputs;
  other["certificate-identity"] =
      "https://github.com/irsteps/irsteps/.github/workflows/other.yml@refs/heads/main";
  const auto rejected = run_action(other);
  INFO("stderr: " << rejected.process.err);
  CHECK(rejected.process.exit_status == 3);
  CHECK((rejected.process.err + rejected.process.out).find("::error") != std::string::npos);
  CHECK(rejected.output.find("verdict") != std::string::npos);
  CHECK(!rejected.summary.empty());

  // The notify action the same way: a dry run of the initial notification,
  // its outputs and summary in the runner's files, the channel's secret in
  // none of what it wrote.
  const std::string notify_action = build_action("notify", version);
  TempDir notify_workspace;
  const std::string hook_secret = "action-hook-secret-5d2e81";
  REQUIRE(write_file_atomic(notify_workspace / "hook-secret", hook_secret + "\n"));
  REQUIRE(write_file_atomic(notify_workspace / "routing.yaml",
                            "channels:\n  - {name: siem, type: webhook, url: 'https://siem.invalid/hook', "
                            "secret-file: hook-secret}\n"));
  const auto notified = run_docker_action(podman, "notify", notify_action, notify_workspace,
                                          {{"incident-id", "INC-2026-11-27-902"},
                                           {"routing", "routing.yaml"},
                                           {"severity", "high"},
                                           {"title", "Unsigned image in shop/web"},
                                           {"summary", "verify-image rejected the image"},
                                           {"impact", "shop web pods"},
                                           {"current-actions", "deployment scaled to zero"},
                                           {"contact", "Alice (IC)"},
                                           {"roles", "security-lead,on-call-engineer"},
                                           {"dry-run", "true"}});
  INFO("stderr: " << notified.process.err << "\nGITHUB_OUTPUT: " << notified.output);
  CHECK(notified.process.exit_status == 0);
  CHECK(notified.output.find("Unsigned image in shop/web") != std::string::npos);
  CHECK(notified.output.find("dedup-key") != std::string::npos);
  CHECK(!notified.summary.empty());
  for (const auto* text :
       {&notified.output, &notified.summary, &notified.process.out, &notified.process.err}) {
    CHECK(text->find(hook_secret) == std::string::npos);
  }
}
