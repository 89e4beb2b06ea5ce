// Succeeded runs kept in a folder, so that a plugin whose container restarted
// (in the same agent pod: its emptyDir is kept) answers a call it already
// answered with the same node instead of running the step again. A second
// rotation of a Secret, or a second restart of its consumers, would be a new
// incident.
//
// Only Succeeded runs are kept: a Failed one is run again by the next call
// anyway (jobs.hpp), and a run cut short by the restart never finished.
//
// The folder is the plugin's own, but its contents are read as untrusted
// input (the agent's container mounts the whole volume it lives in): one file
// per run, named by the SHA-256 of the run's key (keys are made of what
// workflows send, never used as a path), written atomically (a reader never
// sees half a file); a file that is not a regular file, is over `max_bytes`,
// is not the JSON we write, is older than `keep_for` or names a key that does
// not hash to its name is removed unread. At most `max_kept` are loaded (the
// newest); Jobs forgets each run it drops, so the folder stays as small.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace ir::plugin {

class FinishedRuns {
 public:
  using Clock = std::chrono::system_clock;
  struct Run {
    std::string key;
    json::object node;
    Clock::time_point finished;
  };
  static constexpr std::size_t max_bytes = 256 * 1024;
  static constexpr std::size_t max_key_bytes = 4096;

  FinishedRuns(std::string dir, std::chrono::milliseconds keep_for, std::size_t max_kept);

  [[nodiscard]] const std::string& dir() const { return dir_; }

  // Makes the folder (0700) if needed; Code::action_failed when it cannot.
  [[nodiscard]] Result<void> prepare() const;

  // The runs on disk that are still to be kept, oldest first; removes the
  // others.
  [[nodiscard]] std::vector<Run> load() const;

  // Keeps a Succeeded run. Not Succeeded, a key or node too large: nothing
  // is written, and the error says why.
  [[nodiscard]] Result<void> save(const Run& run) const;

  void forget(const std::string& key) const;

 private:
  [[nodiscard]] std::string path_of(const std::string& key) const;

  std::string dir_;
  std::chrono::milliseconds keep_for_;
  std::size_t max_kept_;
};

}  // namespace ir::plugin
