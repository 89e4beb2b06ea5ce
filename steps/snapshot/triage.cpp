// The exec side of a capture: the playbook's initial-assessment commands and
// the filesystem tar. Many images lack ps or netstat: each question has
// fallbacks down to reading /proc with whatever shell exists; an image with
// no shell at all is recorded as such.
#include "snapshot.hpp"

#include "ir/evidence/archive.hpp"

#include <fmt/format.h>

namespace ir::steps::snapshot {
namespace {

struct Attempt {
  std::vector<std::string> command;
};

enum class Ran { done, missing, failed };

std::string show(const std::vector<std::string>& command) {
  std::string text;
  for (const auto& part : command) text += (text.empty() ? "" : " ") + part;
  return text;
}

std::string pod_dir(const json::object& pod) {
  return string_at(pod, {"metadata", "namespace"}) + "/" + string_at(pod, {"metadata", "name"});
}

// Tries each command until one runs and succeeds; its stdout is the item. A
// command that is missing (126, 127) or fails (another exit status) gives way
// to the next; the last one's failure keeps its output, marked partial, with
// every failure named.
void first_that_runs(k8s::Client& client, const json::object& pod, const std::string& container,
                     const std::string& path, const std::vector<Attempt>& attempts, const std::string& hint,
                     evidence::Folder& folder, Tally& tally) {
  const std::string ns = string_at(pod, {"metadata", "namespace"});
  const std::string name = string_at(pod, {"metadata", "name"});
  const evidence::Provenance provenance{string_at(pod, {"metadata", "uid"}),
                                        string_at(pod, {"metadata", "resourceVersion"})};
  std::string tried;
  std::string failed;  // attempts that ran and failed, with why
  for (const auto& attempt : attempts) {
    const std::string source = "exec in " + container + ": " + show(attempt.command);
    tried += (tried.empty() ? "" : ", ") + show(attempt.command);
    auto writer = folder.begin(path, source, provenance);
    if (!writer) return count_failure(tally, writer.error(), folder, path, source);
    std::string err;
    std::optional<Error> write_error;
    auto result = client.exec(
        ns, name, {container, attempt.command, std::nullopt},
        [&](std::string_view data) {
          if (auto written = writer->write(data); !written) write_error = written.error();
          return !write_error;
        },
        [&](std::string_view data) {
          if (err.size() < 4096) err.append(data);
          return true;
        });
    if (write_error) return count_failure(tally, *write_error, folder, path, source);
    if (!result) {
      if (result.error().code() == Code::action_failed) continue;  // not in this image: try the next way
      return count_failure(tally, result.error(), folder, path, source);
    }
    if (result->exit_code == 126 || result->exit_code == 127) continue;
    if (result->exit_code != 0) {
      const std::string why =
          fmt::format("{}: exit status {}: {}", show(attempt.command), result->exit_code, err.substr(0, 300));
      // A tool that is there but fails (busybox's netstat has no -p): the
      // next way may still answer, and this attempt's output is dropped.
      if (&attempt != &attempts.back()) {
        failed += (failed.empty() ? "" : "; ") + why;
        continue;
      }
      return count(tally,
                   writer->commit(evidence::ItemStatus::partial, (failed.empty() ? "" : failed + "; ") + why),
                   folder, path, source);
    }
    return count(tally, writer->commit(), folder, path, source);
  }
  count_failure(tally,
                Error(Code::action_failed,
                      "none of these could run in the container (no such tools, no shell?): " + tried +
                          (failed.empty() ? "" : " (failed: " + failed + ")") + "; " + hint),
                folder, path, "exec in " + container);
}

// What the reason of an item says when the container could not run its
// commands at all: an image without a shell (distroless) is read through a
// debug container.
std::string without_tools_hint(const Options& options) {
  if (!options.via_ephemeral.empty())
    return "its files are read through the ephemeral debug container of --via-ephemeral instead";
  return "for an image without a shell or tar, --via-ephemeral IMAGE@sha256:... reads the container's files "
         "through an ephemeral debug container";
}

}  // namespace

void collect_triage(k8s::Client& client, const Options& options, const json::object& pod,
                    const std::string& container, evidence::Folder& folder, Tally& tally) {
  const std::string dir = pod_dir(pod) + "/triage/" + container + "/";
  const std::string hint = without_tools_hint(options);
  first_that_runs(
      client, pod, container, dir + "processes.txt",
      {{{"ps", "aux"}},
       {{"sh", "-c",
         "for p in /proc/[0-9]*; do printf '%s ' \"${p#/proc/}\"; tr '\\0' ' ' < \"$p/cmdline\" 2>/dev/null; "
         "echo; done"}}},
      hint, folder, tally);
  first_that_runs(client, pod, container, dir + "network.txt",
                  {{{"netstat", "-tulpn"}},
                   {{"ss", "-tulpn"}},
                   {{"sh", "-c",
                     "for f in /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6; do echo \"== $f\"; "
                     "cat \"$f\"; done"}}},
                  hint, folder, tally);
  std::vector<std::string> find_command{"find"};
  const auto paths = options.modified_paths.empty() ? std::vector<std::string>{"/"} : options.modified_paths;
  find_command.insert(find_command.end(), paths.begin(), paths.end());
  const auto minutes = std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::minutes>(options.modified_within).count());
  for (const char* part : {"-xdev", "-type", "f", "-mmin"}) find_command.emplace_back(part);
  find_command.push_back("-" + std::to_string(minutes));
  first_that_runs(client, pod, container, dir + "modified-files.txt", {{find_command}}, hint, folder, tally);
}

std::vector<std::string> tar_command(const Options& options, const std::string& root) {
  std::vector<std::string> command{"tar", "cf", "-", "-C", root};
  if (options.paths.empty()) {
    for (const char* part : {"--exclude=./proc", "--exclude=./sys", "--exclude=./dev", "--", "."})
      command.emplace_back(part);
  } else {
    // Security review finding 21: `/--checkpoint-action=exec=...` became
    // an option of tar once its '/' was stripped. After `--` nothing is an
    // option, and every path starts with "./": relative to the root, so
    // that it resolves under /proc/<pid>/root too, and never with '-'.
    command.emplace_back("--");
    for (const auto& path : options.paths) {
      const auto start = path.find_first_not_of('/');
      command.push_back(start == std::string::npos ? "." : "./" + path.substr(start));
    }
  }
  return command;
}

std::vector<std::string> listed_tar_command(const std::string& root) {
  // A name with a blank or a glob in it is split or expanded, never an
  // option (after --). `root` is "/" or "/proc/<pid>/root".
  return {"sh", "-c", "cd " + root + " && exec tar cf - -- $(ls -A | grep -v -x -e proc -e sys -e dev)"};
}

std::string filesystem_item(const Options& options, const json::object& pod, const std::string& container) {
  return pod_dir(pod) + "/filesystem/" + container + (options.gzip ? ".tar.gz" : ".tar");
}

std::string show_command(const std::vector<std::string>& command) {
  return show(command);
}

void collect_filesystem(k8s::Client& client, const Options& options, const json::object& pod,
                        const std::string& container, evidence::Folder& folder, Tally& tally) {
  const auto command = tar_command(options, "/");
  const std::string path = filesystem_item(options, pod, container);
  if (stream_tar(client, options, pod, container, command, path,
                 "exec in " + container + ": " + show(command), folder, tally, options.paths.empty(),
                 without_tools_hint(options))) {
    return;
  }
  // busybox's tar has no --exclude: the root's entries but /proc, /sys and
  // /dev are named instead, by its shell.
  const auto listed = listed_tar_command("/");
  stream_tar(client, options, pod, container, listed, path, "exec in " + container + ": " + show(listed),
             folder, tally, false, without_tools_hint(options));
}

bool stream_tar(k8s::Client& client, const Options& options, const json::object& pod,
                const std::string& exec_container, const std::vector<std::string>& command,
                const std::string& path, const std::string& source, evidence::Folder& folder, Tally& tally,
                bool may_refuse_options, const std::string& cannot_run_hint) {
  const std::string ns = string_at(pod, {"metadata", "namespace"});
  const std::string name = string_at(pod, {"metadata", "name"});
  auto writer = folder.begin(
      path, source, {string_at(pod, {"metadata", "uid"}), string_at(pod, {"metadata", "resourceVersion"})});
  if (!writer) {
    count_failure(tally, writer.error(), folder, path, source);
    return true;
  }
  bool limit_reached = false;
  std::optional<Error> write_error;
  std::string err;
  std::uint64_t raw_bytes = 0;
  // --gzip compresses on the way to disk; the hash is of the bytes on disk.
  std::optional<evidence::Gzip> gzip;
  if (options.gzip) gzip.emplace([&](std::string_view bytes) { return writer->write(bytes); });
  auto store = [&](std::string_view bytes) { return gzip ? gzip->write(bytes) : writer->write(bytes); };
  auto result = client.exec(
      ns, name, {exec_container, command, std::nullopt, std::chrono::minutes(10)},
      [&](std::string_view data) {
        const std::uint64_t room = options.max_bytes - raw_bytes;
        const std::string_view part =
            data.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(room, data.size())));
        if (auto written = store(part); !written) write_error = written.error();
        raw_bytes += part.size();
        limit_reached = raw_bytes >= options.max_bytes;
        return !write_error && !limit_reached;
      },
      [&](std::string_view data) {
        if (err.size() < 4096) err.append(data);
        return true;
      });
  if (!write_error && gzip) {
    if (auto finished = gzip->finish(); !finished) write_error = finished.error();
  }
  if (write_error) {
    count_failure(tally, *write_error, folder, path, source);
    return true;
  }
  if (limit_reached) {
    count(tally,
          writer->commit(evidence::ItemStatus::partial,
                         fmt::format("stopped at --max-bytes {}", options.max_bytes)),
          folder, path, source);
    return true;
  }
  if (!result) {
    if (writer->size() > 0) {
      ++tally.interrupted;
      count(tally, writer->commit(evidence::ItemStatus::partial, result.error().describe()), folder, path,
            source);
      return true;
    }
    // No such program in the container (the runtime's exec fails: "exec:
    // \"tar\": executable file not found in $PATH").
    if (result.error().code() == Code::action_failed && !cannot_run_hint.empty()) {
      count_failure(tally, Error(Code::action_failed, result.error().describe() + "; " + cannot_run_hint),
                    folder, path, source);
      return true;
    }
    count_failure(tally, result.error(), folder, path, source);
    return true;
  }
  if (result->exit_code != 0) {
    const bool refused = err.find("unrecognized option") != std::string::npos ||
                         err.find("invalid option") != std::string::npos ||
                         err.find("unknown option") != std::string::npos;
    if (may_refuse_options && refused && raw_bytes == 0) return false;  // the writer's file goes with it
    count(tally,
          writer->commit(evidence::ItemStatus::partial,
                         fmt::format("tar exit status {}: {}{}", result->exit_code, err.substr(0, 300),
                                     (result->exit_code == 126 || result->exit_code == 127) &&
                                             raw_bytes == 0 && !cannot_run_hint.empty()
                                         ? "; " + cannot_run_hint
                                         : "")),
          folder, path, source);
    return true;
  }
  count(tally, writer->commit(), folder, path, source);
  return true;
}

}  // namespace ir::steps::snapshot
