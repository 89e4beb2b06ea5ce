// irsteps-test-echo: a stand-in step for the playbook runner's tests. It
// keeps the step contract (one result document on stdout, outputs in
// --outputs-dir, exit codes) and does only what the test asks:
//   --name N               how it calls itself in --record lines
//   --out NAME=VALUE       an output (repeatable)
//   --exit CODE            exit code (default 0)
//   --exit-sequence 4,4,0 --state FILE   the n-th run (counted in FILE) exits with the n-th code
//   --record FILE          appends "name dry-run=<IRSTEPS_DRY_RUN> arg..." to FILE
//   --barrier DIR --parties N   waits until N runs have reached DIR: proves they run at once
//   --sleep SECONDS        sleeps (to be stopped by a deadline or a signal)
//   --env-out NAME         writes the environment variable NAME to output env-NAME
//   --warn TEXT            a warning in the result document
// Anything else (--incident-id, --dry-run...) is accepted and recorded.
#include <boost/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

int count_lines(const std::string& path) {
  std::ifstream in(path);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string name = "echo", outputs_dir, record, state, barrier, sequence;
  std::vector<std::pair<std::string, std::string>> outputs;
  std::vector<std::string> warnings;
  int exit_code = 0, parties = 0, sleep_seconds = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i], value;
    if (const auto eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
      value = args[++i];
    }
    if (flag == "--name") name = value;
    if (flag == "--outputs-dir") outputs_dir = value;
    if (flag == "--out") {
      const auto eq = value.find('=');
      outputs.emplace_back(value.substr(0, eq), eq == std::string::npos ? "" : value.substr(eq + 1));
    }
    if (flag == "--exit") exit_code = std::stoi(value);
    if (flag == "--exit-sequence") sequence = value;
    if (flag == "--state") state = value;
    if (flag == "--record") record = value;
    if (flag == "--barrier") barrier = value;
    if (flag == "--parties") parties = std::stoi(value);
    if (flag == "--sleep") sleep_seconds = std::stoi(value);
    if (flag == "--warn") warnings.push_back(value);
    if (flag == "--env-out") {
      const char* env = std::getenv(value.c_str());
      outputs.emplace_back("env-" + value, env == nullptr ? "<unset>" : env);
    }
  }
  if (!record.empty()) {
    const char* dry = std::getenv("IRSTEPS_DRY_RUN");
    std::ofstream out(record, std::ios::app);
    out << name << " dry-run=" << (dry == nullptr ? "" : dry);
    for (const auto& a : args) out << ' ' << a;
    out << '\n';
  }
  if (!sequence.empty() && !state.empty()) {
    const int run = count_lines(state);
    std::ofstream(state, std::ios::app) << "run\n";
    std::vector<int> codes;
    std::stringstream list(sequence);
    for (std::string item; std::getline(list, item, ',');) codes.push_back(std::stoi(item));
    exit_code = codes[std::min<std::size_t>(static_cast<std::size_t>(run), codes.size() - 1)];
  }
  if (!barrier.empty()) {
    fs::create_directories(barrier);
    std::ofstream(barrier + "/" + name + "-" + std::to_string(::getpid())) << "here\n";
    // Bounded only so that a broken runner fails the test instead of hanging it.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::distance(fs::directory_iterator(barrier), fs::directory_iterator()) < parties) {
      if (std::chrono::steady_clock::now() > give_up) {
        std::cerr << R"({"level":"error","event":"barrier.timeout","message":"the other parties never came"})"
                  << '\n';
        exit_code = 1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if (sleep_seconds > 0) std::this_thread::sleep_for(std::chrono::seconds(sleep_seconds));
  if (!outputs_dir.empty()) {
    fs::create_directories(outputs_dir);
    for (const auto& [key, value] : outputs) std::ofstream(outputs_dir + "/" + key) << value;
  }
  json::object document{{"apiVersion", "irsteps.io/v1"},
                        {"kind", "StepResult"},
                        {"step", "irsteps-test-echo"},
                        {"status", exit_code == 0 ? "succeeded" : "failed"}};
  document["dryRun"] = std::getenv("IRSTEPS_DRY_RUN") != nullptr;
  document["actions"] = json::array{json::object{{"verb", "echo"}, {"detail", name}}};
  json::object out_object;
  for (const auto& [key, value] : outputs) out_object[key] = value;
  document["outputs"] = out_object;
  json::array warning_list;
  for (const auto& w : warnings) warning_list.emplace_back(w);
  document["warnings"] = warning_list;
  if (exit_code != 0) {
    document["error"] = json::object{{"code", exit_code == 4 ? "transient" : "action_failed"},
                                     {"exitCode", exit_code},
                                     {"message", name + " was told to exit " + std::to_string(exit_code)}};
    std::cerr << R"({"level":"error","event":"step.failed","message":"told to fail"})" << '\n';
  }
  std::cout << json::serialize(document) << std::endl;
  return exit_code;
}
