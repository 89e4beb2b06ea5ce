// spec.synchronization.mutexes: a run of a workflow holds its mutexes from
// before its entrypoint until after its exit handler, as Argo's controller
// holds a workflow-level lock (workflow/controller/operator.go: TryAcquire
// before the first node, Release once the workflow is fulfilled). Here a
// mutex is an flock() on a file named after the lock's key in a folder only
// this user can write, so runs of the runner on one machine exclude each
// other the way workflows in one namespace do under one controller.
#pragma once

#include "ir/core/error.hpp"

#include <chrono>
#include <functional>
#include <string>

namespace playbook {

// Where the lock files live: $IRSTEPS_PLAYBOOK_LOCK_DIR, else
// $XDG_RUNTIME_DIR/irsteps-playbook-locks, else
// <temporary folder>/irsteps-playbook-locks-<uid>.
[[nodiscard]] std::string default_lock_dir();

class HeldMutex {
 public:
  HeldMutex() = default;
  HeldMutex(const HeldMutex&) = delete;
  HeldMutex& operator=(const HeldMutex&) = delete;
  HeldMutex(HeldMutex&& other) noexcept;
  HeldMutex& operator=(HeldMutex&& other) noexcept;
  ~HeldMutex();

  // Takes the lock KEY ("<namespace>/Mutex/<name>", Argo's spelling) in
  // DIR, waiting while another run holds it: `waiting` is called once when
  // it must wait, and `keep_waiting` every poll (false gives up: cancelled).
  [[nodiscard]] static ir::Result<HeldMutex> acquire(const std::string& dir, const std::string& key,
                                                     const std::function<void()>& waiting,
                                                     const std::function<bool()>& keep_waiting);

 private:
  int fd_ = -1;
};

}  // namespace playbook
