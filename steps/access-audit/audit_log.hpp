// Who did: Kubernetes audit events (audit.k8s.io/v1 Event, one JSON object a
// line) streamed from files, folders of rotated files (gzip through zlib,
// plain files read as they are) or standard input, in constant memory. Only
// lines that can concern the target are parsed; every other line is checked
// for framing, whole runs of lines at once, so that a malformed line is
// always counted and never fatal.
#pragma once

#include "rbac.hpp"

#include "ir/core/error.hpp"
#include "ir/core/time.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ir::steps::access_audit {

struct AuditFilter {
  Target target;
  std::vector<std::string> verbs;  // accesses; writes on the object are always passed on (timeline)
  std::optional<TimePoint> since;
  std::optional<TimePoint> until;
};

struct AuditEvent {
  TimePoint time;
  std::string time_text;  // stageTimestamp as written
  std::string audit_id;
  std::string stage;
  std::string verb;
  std::string user;
  std::vector<std::string> groups;
  std::string impersonated_user;
  std::string user_agent;
  std::vector<std::string> source_ips;
  int code = 0;
  std::string ns;
  std::string name;
  std::string subresource;
  bool collection = false;  // a list or watch of the collection, which returns the object
  bool access = false;      // one of the filter's verbs; else a write on the object
};

struct ReadStats {
  std::uint64_t files = 0;
  std::uint64_t lines = 0;
  std::uint64_t bytes = 0;  // uncompressed
  std::uint64_t parsed = 0;
  std::uint64_t matched = 0;
  std::uint64_t malformed = 0;
  std::vector<std::string> problems;  // the first few malformed lines and damaged files, with file:line
};

inline constexpr std::size_t max_line_bytes = 16 * 1024 * 1024;

// A folder's files in the order they were written: the dated rotations of
// kube-apiserver (audit-2026-11-26T17-29-04.000.log[.gz]) oldest first, then
// logrotate's numbered ones (audit.log.2.gz before audit.log.1), then the
// live file.
[[nodiscard]] std::vector<std::string> rotation_order(std::vector<std::string> file_names);

// Files, folders (expanded in rotation order, hidden files skipped) and "-"
// for standard input. A source that does not exist is invalid input.
[[nodiscard]] Result<std::vector<std::string>> expand_sources(const std::vector<std::string>& sources);

// Reads every source in turn and calls `on_event` for each event of the
// target that passes the filter. A damaged gzip stream ends its file with a
// problem recorded, not the run.
[[nodiscard]] Result<ReadStats> read_audit_logs(const std::vector<std::string>& files,
                                                const AuditFilter& filter,
                                                const std::function<void(const AuditEvent&)>& on_event);

// One line, for tests and fuzzing: nullopt when it is not an event of the
// target; an error when it is not an audit event at all.
[[nodiscard]] Result<std::optional<AuditEvent>> parse_event_line(std::string_view line,
                                                                 const AuditFilter& filter);

}  // namespace ir::steps::access_audit
