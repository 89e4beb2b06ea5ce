// Step runs in the background, keyed so that Argo's repeated calls for one
// node find the run they started instead of starting another. A fixed pool
// of workers bounds how many steps run at once; more wait in a bounded
// queue.
//
// A finished run is kept for `keep_for` (the oldest dropped first beyond
// `max_kept`), and what happens to the same call after its node was handed
// out depends on the node:
// - Succeeded: the call gets the same node again, and nothing runs. Argo
//   asks again when its agent restarts before it recorded the result; a
//   second rotation of a Secret, or a second restart of its consumers,
//   would be a new incident.
// - Failed: the call is a retry (Argo's retryStrategy sends exactly the
//   same request, and it sends no node id) and runs the step again.
// With a FinishedRuns folder, Succeeded runs are also written there before
// their node is handed out and read back at start: a plugin restarted in the
// same pod still gives the node again without a second run.
#pragma once

#include "finished_runs.hpp"

#include "ir/core/json.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ir::plugin {

struct JobLimits {
  std::size_t max_concurrent = 4;
  std::size_t max_queued = 64;
  std::chrono::milliseconds keep_for = std::chrono::minutes(10);
  std::size_t max_kept = 256;
};

class Jobs {
 public:
  using Work = std::function<json::object()>;  // returns the node
  enum class Phase { queued, running, done };
  enum class Submitted { started, existing, busy, stopping };

  // `finished`: where Succeeded runs are kept across restarts (loaded now);
  // null keeps them in memory only.
  explicit Jobs(JobLimits limits, std::shared_ptr<const FinishedRuns> finished = nullptr);
  ~Jobs();
  Jobs(const Jobs&) = delete;
  Jobs& operator=(const Jobs&) = delete;

  // Queues `work` under `key` unless a run with that key is already queued,
  // running, or finished and either not collected yet or Succeeded.
  [[nodiscard]] Submitted submit(const std::string& key, std::string label, Work work);
  // Calls `done` once when the run finishes, at once if it has (or if the
  // key is unknown). Called on a worker thread or this one: keep it short.
  void when_done(const std::string& key, std::function<void()> done);

  struct State {
    Phase phase = Phase::queued;
    json::object node;  // when done
    std::chrono::milliseconds age{0};
  };
  // The run's phase, and its node once finished.
  [[nodiscard]] std::optional<State> collect(const std::string& key);

  [[nodiscard]] json::object stats() const;

  // Takes no more runs and drops the queue; waits up to `grace` for the
  // running ones. True when none is left running.
  [[nodiscard]] bool shutdown(std::chrono::milliseconds grace);

 private:
  struct Job {
    std::string key;
    std::string label;
    Work work;
    Phase phase = Phase::queued;
    json::object node;
    std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point finished;
    std::vector<std::function<void()>> watchers;
    bool collected = false;
  };
  void work_loop();
  void expire_locked(std::chrono::steady_clock::time_point now);

  void restore();

  JobLimits limits_;
  std::shared_ptr<const FinishedRuns> finished_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::size_t running_ = 0;
  std::size_t started_total_ = 0;
  std::size_t finished_total_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace ir::plugin
