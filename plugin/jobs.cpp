#include "jobs.hpp"

#include "ir/core/log.hpp"

#include <algorithm>

namespace ir::plugin {

using steady = std::chrono::steady_clock;

Jobs::Jobs(JobLimits limits, std::shared_ptr<const FinishedRuns> finished)
    : limits_(limits), finished_(std::move(finished)) {
  limits_.max_concurrent = std::max<std::size_t>(1, limits_.max_concurrent);
  restore();
  workers_.reserve(limits_.max_concurrent);
  for (std::size_t i = 0; i < limits_.max_concurrent; ++i) workers_.emplace_back([this] { work_loop(); });
}

Jobs::~Jobs() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

// Succeeded runs of an earlier process, as if they had just been handed
// out: the same call gets the same node, and nothing runs.
void Jobs::restore() {
  if (!finished_) return;
  const auto runs = finished_->load();
  const auto now = steady::now();
  const auto wall = FinishedRuns::Clock::now();
  for (const auto& run : runs) {
    auto job = std::make_shared<Job>();
    job->key = run.key;
    job->label = "restored";
    job->phase = Phase::done;
    job->node = run.node;
    job->finished = now - std::chrono::duration_cast<steady::duration>(wall - run.finished);
    job->created = job->finished;
    job->collected = true;
    jobs_[run.key] = std::move(job);
  }
  if (!runs.empty()) log::info("runs.restored", {{"count", runs.size()}, {"folder", finished_->dir()}});
}

Jobs::Submitted Jobs::submit(const std::string& key, std::string label, Work work) {
  std::lock_guard lock(mutex_);
  expire_locked(steady::now());
  if (const auto it = jobs_.find(key); it != jobs_.end()) {
    const Job& known = *it->second;
    const bool handed_out_failure =
        known.phase == Phase::done && known.collected && string_at(known.node, {"phase"}) != "Succeeded";
    if (!handed_out_failure) return Submitted::existing;
    jobs_.erase(it);  // a retry: run again
  }
  if (stopping_) return Submitted::stopping;
  if (queue_.size() >= limits_.max_queued) return Submitted::busy;
  auto job = std::make_shared<Job>();
  job->key = key;
  job->label = std::move(label);
  job->work = std::move(work);
  jobs_.emplace(key, job);
  queue_.push_back(std::move(job));
  wake_.notify_one();
  return Submitted::started;
}

void Jobs::when_done(const std::string& key, std::function<void()> done) {
  {
    std::lock_guard lock(mutex_);
    const auto it = jobs_.find(key);
    if (it != jobs_.end() && it->second->phase != Phase::done) {
      it->second->watchers.push_back(std::move(done));
      return;
    }
  }
  done();
}

std::optional<Jobs::State> Jobs::collect(const std::string& key) {
  std::lock_guard lock(mutex_);
  const auto it = jobs_.find(key);
  if (it == jobs_.end()) return std::nullopt;
  auto& job = *it->second;
  State state{
      job.phase, {}, std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - job.created)};
  if (job.phase == Phase::done) {
    state.node = job.node;
    job.collected = true;
  }
  return state;
}

json::object Jobs::stats() const {
  std::lock_guard lock(mutex_);
  std::size_t kept = 0;
  for (const auto& entry : jobs_)
    kept += entry.second->phase == Phase::done && !entry.second->collected ? 1 : 0;
  return json::object{{"started", started_total_}, {"finished", finished_total_},
                      {"running", running_},       {"queued", queue_.size()},
                      {"uncollected", kept},       {"maxConcurrent", limits_.max_concurrent},
                      {"stopping", stopping_}};
}

bool Jobs::shutdown(std::chrono::milliseconds grace) {
  std::vector<std::function<void()>> watchers;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (const auto& job : queue_) {
      jobs_.erase(job->key);
      for (auto& watcher : job->watchers) watchers.push_back(std::move(watcher));
    }
    if (!queue_.empty()) log::warn("jobs.dropped", {{"queued", queue_.size()}});
    queue_.clear();
  }
  wake_.notify_all();
  // Those waiting for a dropped run answer now (the key is gone).
  for (auto& watcher : watchers) watcher();
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, grace, [this] { return running_ == 0; });
}

void Jobs::expire_locked(steady::time_point now) {
  std::vector<std::shared_ptr<Job>> done;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second->phase == Phase::done && now - it->second->finished > limits_.keep_for) {
      if (finished_) finished_->forget(it->first);
      it = jobs_.erase(it);
    } else {
      if (it->second->phase == Phase::done) done.push_back(it->second);
      ++it;
    }
  }
  if (done.size() <= limits_.max_kept) return;
  std::sort(done.begin(), done.end(), [](const auto& a, const auto& b) { return a->finished < b->finished; });
  for (std::size_t i = 0; i + limits_.max_kept < done.size(); ++i) {
    if (finished_) finished_->forget(done[i]->key);
    jobs_.erase(done[i]->key);
  }
}

void Jobs::work_loop() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      job = std::move(queue_.front());
      queue_.pop_front();
      job->phase = Phase::running;
      ++running_;
      ++started_total_;
    }
    const auto started = steady::now();
    log::info("job.started", {{"key", job->key}, {"step", job->label}});
    json::object node;
    try {
      node = job->work();
    } catch (const std::exception& e) {
      node = json::object{{"phase", "Failed"}, {"message", std::string("internal error: ") + e.what()}};
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started);
    // Written before the node is handed out: whoever saw Succeeded, a
    // restarted plugin still knows it.
    if (finished_ && string_at(node, {"phase"}) == "Succeeded") {
      if (auto saved = finished_->save({job->key, node, FinishedRuns::Clock::now()}); !saved) {
        log::warn("runs.not_saved", {{"key", job->key}, {"message", saved.error().describe()}});
      }
    }
    log::info("job.finished", {{"key", job->key},
                               {"step", job->label},
                               {"phase", node["phase"]},
                               {"duration_ms", elapsed.count()}});
    std::vector<std::function<void()>> watchers;
    {
      std::lock_guard lock(mutex_);
      job->node = std::move(node);
      job->phase = Phase::done;
      job->finished = steady::now();
      job->work = nullptr;
      watchers.swap(job->watchers);
      --running_;
      ++finished_total_;
      expire_locked(job->finished);
    }
    idle_.notify_all();
    for (auto& watcher : watchers) watcher();
  }
}

}  // namespace ir::plugin
