// The incident case record: a git repository holding one JSON record per step
// run, incidents/<id>/<UTC timestamp>-<step>.json, each added by its own
// commit whose author and message name the step and the incident. Records are
// new files with unique names, so concurrent writers never conflict: a push
// refused because the branch moved is replayed on the new head and retried.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"
#include "ir/git/repository.hpp"

#include <string>
#include <vector>

namespace ir::record {

struct Target {
  std::string url;              // --case-repo
  std::string branch = "main";  // --case-branch
  git::Credentials credentials;
  std::string cache_root = git::default_cache_root();
};

struct Appended {
  std::string path;     // incidents/<id>/<name>.json
  std::string commit;   // the record's commit id
  bool pushed = false;  // false: kept in the local mirror, pushed by the next append
  std::string problem;  // why it was not pushed
  // What kind of problem: Code::transient when a retry may push it (the
  // remote down, too much contention); Code::forbidden (credentials refused)
  // or Code::invalid_input (host key or certificate not trusted, no such
  // repository) when only fixing the case-repo parameters will.
  Code problem_code = Code::transient;
};

// Commits the result document of a step run and pushes it, bounded retries.
// Records left unpushed by earlier runs on this machine are pushed first.
// Code::invalid_input for a bad URL or missing incident id; a push that keeps
// failing returns pushed=false (the record is kept) and why, not an error.
[[nodiscard]] Result<Appended> append(const Target& target, const json::object& result_document);

struct Entry {
  std::string path;
  std::string commit;
  std::string author;     // "name <email>" of the commit
  std::string committed;  // RFC 3339 UTC time of the commit
  json::object document;  // the step's result document
};

// Every record of one incident on the branch, in timeline order (the
// documents' startTime, then path).
[[nodiscard]] Result<std::vector<Entry>> read_incident(const Target& target, std::string_view incident_id);

// Target from a step's parameters (case-repo, case-branch, case-repo-token-file,
// case-repo-username, case-repo-ssh-key, case-repo-known-hosts, case-repo-ca-file);
// nullopt when case-repo is not set.
[[nodiscard]] Result<std::optional<Target>> target_from_params(const json::object& params);

}  // namespace ir::record
