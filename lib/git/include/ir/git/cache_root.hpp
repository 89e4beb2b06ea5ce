// The folder where git mirrors and unpushed case records are kept. In a pod
// the root filesystem is read-only and runc sets HOME=/home/nonroot, a folder
// that does not exist: the configured folder may be unusable, and a step
// then works in a private folder of its own rather than failing.
#pragma once

#include "ir/core/error.hpp"

#include <string>

namespace ir::git {

// The folder as configured: IRSTEPS_CACHE_DIR, else $XDG_CACHE_HOME/irsteps,
// else $HOME/.cache/irsteps, else $TMPDIR/irsteps-cache. Makes nothing.
[[nodiscard]] std::string configured_cache_root();

// Why `dir` cannot be used as a cache (it cannot be created, or is not a
// writable folder), or an empty string when it can; creates it when missing.
[[nodiscard]] std::string cache_problem(const std::string& dir);

// The configured folder when it can be created and written. Otherwise a
// private folder made for this process with mkdtemp under $TMPDIR (else
// /tmp), mode 0700, with the warning `cache.fallback` naming the folder that
// was unusable, why, and the one used; the same folder for the rest of the
// process, removed at exit unless it holds case records that could not be
// pushed (their path is in the step's output case-record-pending).
// Code::invalid_input naming both folders when neither can be written.
[[nodiscard]] Result<std::string> usable_cache_root();

// usable_cache_root(), or the configured folder when nothing can be written
// (the error then comes from where the folder is used, naming it).
[[nodiscard]] std::string default_cache_root();

}  // namespace ir::git
