#include "ir/record/case_record.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/log.hpp"
#include "ir/core/time.hpp"
#include "ir/params/params.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

namespace ir::record {
namespace {

namespace fs = std::filesystem;

std::string param(const json::object& params, std::string_view name) {
  const auto* value = params.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

struct Record {
  std::string path;     // incidents/<id>/<name>.json
  std::string content;  // the document, pretty JSON
  std::string step;
  std::string incident;
  std::string status;
  bool dry_run = false;
  std::size_t actions = 0;
  std::size_t evidence = 0;
};

Result<Record> make_record(const json::object& document) {
  Record r;
  r.incident = string_at(document, {"incidentId"});
  if (r.incident.empty()) return invalid("case-repo: a case record needs --incident-id");
  if (!valid_incident_id(r.incident))
    return invalid("case-repo: incident id " + r.incident + " is not INC-YYYY-MM-DD-NNN");
  r.step = string_at(document, {"step"});
  r.status = string_at(document, {"status"});
  const std::string start = string_at(document, {"startTime"});
  if (r.step.empty() || start.empty())
    return internal_error("case record: the result document has no step or startTime");
  std::string stamp;
  for (char c : start) {
    if (c != '-' && c != ':') stamp += c;
  }
  r.path = "incidents/" + r.incident + "/" + stamp + "-" + r.step + ".json";
  if (const auto* dry = document.if_contains("dryRun"); dry != nullptr && dry->is_bool())
    r.dry_run = dry->as_bool();
  if (const auto* a = document.if_contains("actions"); a != nullptr && a->is_array())
    r.actions = a->as_array().size();
  if (const auto* e = document.if_contains("evidence"); e != nullptr && e->is_array()) {
    r.evidence = e->as_array().size();
  }
  r.content = to_pretty_json(json::value(document)) + "\n";
  return r;
}

Result<Record> record_from_spool(const fs::path& file) {
  auto text = read_file(file.string());
  if (!text) return text.error();
  auto doc = parse_json(*text, file.string());
  if (!doc) return doc.error();
  if (!doc->is_object()) return invalid(file.string() + ": not a result document");
  return make_record(doc->as_object());
}

std::string message_for(const Record& r) {
  std::string m = r.incident + ": " + r.step + " " + r.status + (r.dry_run ? " (dry run)" : "") + "\n\n";
  m += "Incident: " + r.incident + "\n";
  m += "Step: " + r.step + "\n";
  m += "Status: " + r.status + "\n";
  m += "Dry-run: " + std::string(r.dry_run ? "true" : "false") + "\n";
  m += "Actions: " + std::to_string(r.actions) + "\n";
  m += "Evidence: " + std::to_string(r.evidence) + "\n";
  m += "Record: " + r.path + "\n";
  return m;
}

git::Signature author_for(const Record& r) {
  return {"irsteps " + r.step, r.step + "@irsteps.invalid"};
}

// Where records wait that could not be pushed, per repository and branch.
fs::path spool_dir(const Target& target) {
  return fs::path(target.cache_root) / "pending" /
         sha256_hex(target.url + "\n" + target.branch).substr(0, 24);
}

std::vector<fs::path> spooled(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".json") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Adds `record` on top of `parent`, under a free name. Returns the commit, or
// the parent unchanged when the very same record is already there (a retry).
Result<std::string> add(git::Mirror& mirror, const std::string& parent, Record& record) {
  const std::string base = record.path.substr(0, record.path.size() - 5);  // without .json
  for (int n = 1; n <= 100; ++n) {
    if (n > 1) record.path = base + "-" + std::to_string(n) + ".json";
    if (parent.empty()) break;
    auto existing = mirror.read(parent, record.path);
    if (!existing) return existing.error();
    if (!*existing) break;
    if (**existing == record.content) return parent;
  }
  return mirror.commit(parent, {{record.path, record.content}}, author_for(record), message_for(record));
}

}  // namespace

Result<std::optional<Target>> target_from_params(const json::object& params) {
  std::string url = param(params, "case-repo");
  if (url.empty()) return std::optional<Target>();
  Target target;
  target.url = std::move(url);
  if (auto branch = param(params, "case-branch"); !branch.empty()) target.branch = std::move(branch);
  auto credentials =
      git::credentials_from_files("case-repo", param(params, "case-repo-username"),
                                  param(params, "case-repo-token-file"), param(params, "case-repo-ssh-key"),
                                  param(params, "case-repo-known-hosts"), param(params, "case-repo-ca-file"));
  if (!credentials) return credentials.error();
  target.credentials = std::move(*credentials);
  if (auto checked = git::check_url(target.url, target.credentials); !checked) {
    return Error(checked.error()).with("case-repo");
  }
  return std::optional<Target>(std::move(target));
}

Result<Appended> append(const Target& target, const json::object& result_document) {
  auto ours = make_record(result_document);
  if (!ours) return ours.error();
  const fs::path spool = spool_dir(target);
  const auto waiting = spooled(spool);
  std::vector<Record> records;
  for (const auto& file : waiting) {
    auto r = record_from_spool(file);
    if (!r) {
      log::warn("case.spool_unreadable", {{"file", file.string()}, {"message", r.error().describe()}});
      continue;
    }
    records.push_back(std::move(*r));
  }

  Appended out;
  auto try_push = [&]() -> Result<void> {
    auto mirror = git::Mirror::open(target.url, target.credentials, target.cache_root);
    if (!mirror) return mirror.error();
    std::mt19937 random(std::random_device{}());
    // Every writer of an incident (a playbook runs several steps at once)
    // must land. A refused push means another writer was first; each round
    // lets at least one through, so the rounds are bounded by count and by
    // time, generously: a record that still cannot land is kept, not lost.
    constexpr int attempts = 40;
    constexpr auto give_up_after = std::chrono::minutes(2);
    const auto started = std::chrono::steady_clock::now();
    for (int attempt = 1;; ++attempt) {
      const auto round_started = std::chrono::steady_clock::now();
      // Optimistic: a mirror that knows the branch builds on what it saw
      // last and pushes; only a refused push (someone else was first)
      // costs a fetch. Saves a round trip in the common case.
      auto head = mirror->branch_head(target.branch);
      if (!head) return head.error();
      if (attempt > 1 || !head->has_value()) {
        if (auto fetched = mirror->fetch(); !fetched) return fetched;
        head = mirror->branch_head(target.branch);
        if (!head) return head.error();
      }
      std::string tip = head->value_or("");
      for (auto& r : records) {
        auto next = add(*mirror, tip, r);
        if (!next) return next.error();
        tip = std::move(*next);
      }
      Record mine = *ours;
      auto next = add(*mirror, tip, mine);
      if (!next) return next.error();
      tip = std::move(*next);
      out.path = mine.path;
      out.commit = tip;
      if (head->has_value() && **head == tip) return {};  // everything was there already
      auto pushed = mirror->push(tip, target.branch);
      if (pushed || pushed.error().code() != Code::conflict || attempt == attempts ||
          std::chrono::steady_clock::now() - started > give_up_after) {
        return pushed;
      }
      // Another writer got in first. Wait a random part of a window that
      // grows with each refusal and with the time a round takes here (a
      // slow server or machine makes long rounds, and writers that retry
      // sooner than a round would only collide again), then build on the
      // new head.
      log::info("case.push_retry", {{"attempt", attempt}, {"message", pushed.error().describe()}});
      const auto round = std::max<std::chrono::steady_clock::duration>(
          std::chrono::steady_clock::now() - round_started, std::chrono::milliseconds(20));
      const auto window = std::min<std::chrono::steady_clock::duration>(round * (1 << std::min(attempt, 4)),
                                                                        std::chrono::seconds(5));
      std::uniform_int_distribution<std::int64_t> pause(0, window.count());
      std::this_thread::sleep_for(std::chrono::steady_clock::duration(pause(random)));
    }
  };
  auto pushed = try_push();
  if (pushed) {
    out.pushed = true;
    std::error_code ec;
    for (const auto& file : waiting) fs::remove(file, ec);
    return out;
  }
  if (pushed.error().code() == Code::internal) return pushed.error();
  // Never dropped: kept on this machine and pushed by the next append.
  out.pushed = false;
  out.problem = pushed.error().describe();
  const Code code = pushed.error().code();
  out.problem_code = code == Code::forbidden || code == Code::invalid_input ? code : Code::transient;
  const fs::path file = spool / ours->incident / fs::path(ours->path).filename();
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (auto written = write_file_atomic(file.string(), ours->content); !written) {
    return Error(written.error()).with("keep the case record that could not be pushed");
  }
  out.path = file.string();
  out.commit.clear();
  return out;
}

Result<std::vector<Entry>> read_incident(const Target& target, std::string_view incident_id) {
  if (!valid_incident_id(incident_id)) {
    return invalid("incident id " + std::string(incident_id) + " is not INC-YYYY-MM-DD-NNN");
  }
  auto mirror = git::Mirror::open(target.url, target.credentials, target.cache_root);
  if (!mirror) return mirror.error();
  if (auto fetched = mirror->fetch(); !fetched) return fetched.error();
  auto head = mirror->branch_head(target.branch);
  if (!head) return head.error();
  std::vector<Entry> entries;
  if (!*head) return entries;
  const std::string dir = "incidents/" + std::string(incident_id);
  auto paths = mirror->list(**head, dir);
  if (!paths) return paths.error();
  auto history = mirror->history(**head, dir);
  if (!history) return history.error();
  std::map<std::string, const git::CommitInfo*> added;
  for (const auto& commit : *history) {
    for (const auto& path : commit.paths) added.emplace(path, &commit);
  }
  for (const auto& path : *paths) {
    if (!path.ends_with(".json")) continue;
    auto text = mirror->read(**head, path);
    if (!text) return text.error();
    auto doc = parse_json(text->value_or(""), path);
    if (!doc || !doc->is_object()) {
      return Error(Code::action_failed, "case record " + path + " is not a JSON object");
    }
    Entry entry;
    entry.path = path;
    entry.document = std::move(doc->as_object());
    if (auto it = added.find(path); it != added.end()) {
      entry.commit = it->second->id;
      entry.author = it->second->author_name + " <" + it->second->author_email + ">";
      entry.committed =
          format_utc(std::chrono::system_clock::time_point(std::chrono::seconds(it->second->time)));
    }
    entries.push_back(std::move(entry));
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    auto ka = string_at(a.document, {"startTime"});
    auto kb = string_at(b.document, {"startTime"});
    return ka != kb ? ka < kb : a.path < b.path;
  });
  return entries;
}

}  // namespace ir::record
