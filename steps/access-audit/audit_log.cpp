#include "audit_log.hpp"

#include "scan.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <regex>
#include <set>

namespace ir::steps::access_audit {
namespace {

constexpr std::size_t max_problems = 10;
constexpr std::size_t max_open_watches = 100000;
constexpr std::string_view write_verbs[] = {"create", "update", "patch", "delete"};

bool contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

bool has(std::string_view haystack, std::string_view needle) {
  return ::memmem(haystack.data(), haystack.size(), needle.data(), needle.size()) != nullptr;
}

std::string_view trim(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  return line;
}

std::vector<std::string> strings_at(const json::value& root, std::initializer_list<std::string_view> path) {
  std::vector<std::string> values;
  if (const auto* array = find(root, path); array != nullptr && array->is_array()) {
    for (const auto& item : array->get_array()) {
      if (item.is_string()) values.emplace_back(item.get_string());
    }
  }
  return values;
}

// The cheap test that decides whether a line is worth parsing: every event
// of the target names its resource, and either the object's name or is a
// list/watch of the collection. Plain substring tests, whatever the spacing;
// false positives are fine (the parse decides), misses are not.
class Prefilter {
 public:
  explicit Prefilter(const AuditFilter& filter)
      : resource_(filter.target.resource + "\""),
        name_(filter.target.name),
        collections_(contains(filter.verbs, "list") || contains(filter.verbs, "watch")) {}

  [[nodiscard]] bool candidate(std::string_view line) const {
    if (!name_.empty() && has(line, name_)) return has(line, resource_);
    if (!name_.empty() && !collections_) return false;
    if (!has(line, resource_)) return false;
    return name_.empty() || (collections_ && (has(line, "list\"") || has(line, "watch\"")));
  }

  // Needles of which every candidate contains at least one, so that the
  // lines without any are only checked for their framing: the resource, or
  // the name with the verbs of a collection read. When both would do, the
  // rarer in `sample` (the first chunk read).
  [[nodiscard]] std::vector<std::string> triggers(std::string_view sample) const {
    std::vector<std::string> by_resource{resource_};
    if (name_.empty()) return by_resource;
    std::vector<std::string> by_name{name_};
    if (collections_) {
      by_name.emplace_back("list\"");
      by_name.emplace_back("watch\"");
    }
    std::size_t name_hits = 0;
    for (const auto& needle : by_name) name_hits += occurrences(sample, needle);
    if (!collections_ || name_hits <= occurrences(sample, resource_)) return by_name;
    return by_resource;
  }

 private:
  std::string resource_;
  std::string name_;
  bool collections_;
};

// The next trigger in a chunk, searched for again only once passed.
class Triggers {
 public:
  void set(std::vector<std::string> needles, std::string_view sample) {
    needles_.emplace(std::move(needles), sample);
  }
  [[nodiscard]] bool empty() const { return !needles_.has_value(); }
  void new_chunk() { next_ = unknown; }
  std::size_t next(std::string_view chunk, std::size_t from) {
    if (next_ == unknown || next_ < from) next_ = needles_->find(chunk, from);
    return next_;
  }

 private:
  static constexpr std::size_t unknown = npos - 1;
  std::optional<Needles> needles_;
  std::size_t next_ = unknown;
};

// Plain files are read with read(), not through zlib (which would copy them
// once more), in chunks that stay in the cache for the scans above. Every
// line of a chunk is shorter than the limit unless carried over.
constexpr std::size_t chunk_bytes = 256 * 1024;
static_assert(chunk_bytes <= max_line_bytes);

bool is_gzip(int fd) {
  unsigned char magic[2] = {0, 0};
  return ::pread(fd, magic, sizeof magic, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

class LineReader {
 public:
  LineReader(const AuditFilter& filter, const std::function<void(const AuditEvent&)>& on_event,
             ReadStats& stats)
      : filter_(filter), prefilter_(filter), on_event_(on_event), stats_(stats), buffer_(chunk_bytes) {}

  void read_gzip(const std::string& file, gzFile gz) {
    start(file);
    for (;;) {
      const int n = gzread(gz, buffer_.data(), static_cast<unsigned>(buffer_.size()));
      if (n > 0) feed(std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
      int errnum = Z_OK;
      const char* message = gzerror(gz, &errnum);
      if (n < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
        problem(file_ + ": damaged after line " + std::to_string(line_no_) + " (" + message +
                "); the rest of this file is skipped");
        break;
      }
      if (n == 0) break;
    }
    finish();
  }

  // Up to the end seen while reading, as zlib did: a live log may grow.
  void read_plain(const std::string& file, int fd) {
    start(file);
    for (;;) {
      const ssize_t n = ::read(fd, buffer_.data(), buffer_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        problem(file_ + ": cannot be read after line " + std::to_string(line_no_) + " (" +
                std::strerror(errno) + "); the rest of this file is skipped");
        break;
      }
      if (n == 0) break;
      feed(std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
    }
    finish();
  }

 private:
  void start(const std::string& file) {
    file_ = file == "-" ? "<stdin>" : file;
    line_no_ = 0;
    carry_.clear();
    overflow_ = false;
    ++stats_.files;
  }

  void finish() {
    if (overflow_) {
      count_line();
      malformed("longer than " + std::to_string(max_line_bytes) + " bytes");
    } else if (!carry_.empty()) {
      const std::string last = std::move(carry_);
      carry_.clear();
      line(last);
    }
  }

  void count_line() {
    ++line_no_;
    ++stats_.lines;
  }

  void feed(std::string_view chunk) {
    stats_.bytes += chunk.size();
    if (triggers_.empty()) triggers_.set(prefilter_.triggers(chunk), chunk);
    if (!carry_.empty() || overflow_) {
      const auto* newline = static_cast<const char*>(std::memchr(chunk.data(), '\n', chunk.size()));
      if (newline == nullptr) {
        carry(chunk);
        return;
      }
      const auto length = static_cast<std::size_t>(newline - chunk.data());
      if (overflow_ || carry_.size() + length > max_line_bytes) {
        count_line();
        malformed("longer than " + std::to_string(max_line_bytes) + " bytes");
      } else {
        carry_.append(chunk.substr(0, length));
        line(carry_);
      }
      carry_.clear();
      overflow_ = false;
      chunk.remove_prefix(length + 1);
    }
    triggers_.new_chunk();
    const char* data = chunk.data();
    const auto* last_newline = static_cast<const char*>(::memrchr(data, '\n', chunk.size()));
    const std::size_t whole = last_newline == nullptr ? 0 : static_cast<std::size_t>(last_newline - data) + 1;
    std::size_t pos = 0;
    while (pos < whole) {
      const std::size_t trigger = triggers_.next(chunk, pos);
      std::size_t limit = whole;
      if (trigger < whole) {
        const auto* before = static_cast<const char*>(::memrchr(data + pos, '\n', trigger - pos));
        limit = before == nullptr ? pos : static_cast<std::size_t>(before - data) + 1;
      }
      std::uint64_t framed = 0;
      pos = framed_lines(chunk, pos, limit, framed);
      line_no_ += framed;
      stats_.lines += framed;
      if (pos == whole) break;
      // The trigger's line, or one the run check stopped at: on its own.
      const auto end = static_cast<std::size_t>(
          static_cast<const char*>(std::memchr(data + pos, '\n', whole - pos)) - data);
      line(chunk.substr(pos, end - pos), trigger < end);
      pos = end + 1;
    }
    carry(chunk.substr(whole));
  }

  void carry(std::string_view rest) {
    if (!overflow_ && carry_.size() + rest.size() > max_line_bytes) {
      overflow_ = true;
      carry_.clear();
    }
    if (!overflow_) carry_.append(rest);
  }

  void line(std::string_view text, bool maybe_candidate = true) {
    ++line_no_;
    ++stats_.lines;
    text = trim(text);
    if (text.empty()) return;
    if (!maybe_candidate || !prefilter_.candidate(text)) {
      if (text.front() != '{' || text.back() != '}') malformed("not a JSON object");
      return;
    }
    ++stats_.parsed;
    auto event = parse_event_line(text, filter_);
    if (!event) {
      malformed(event.error().message());
      return;
    }
    if (!*event) return;
    if (!keep_stage(**event)) return;
    ++stats_.matched;
    on_event_(**event);
  }

  // One record per request: the completion, except for watches, which are
  // recorded when they start (they may never complete within the log).
  bool keep_stage(const AuditEvent& event) {
    if (event.stage == "RequestReceived") return false;
    if (event.verb == "watch") {
      if (event.stage == "ResponseStarted") {
        if (open_watches_.size() < max_open_watches) open_watches_.insert(event.audit_id);
        return true;
      }
      return open_watches_.erase(event.audit_id) == 0;
    }
    return event.stage != "ResponseStarted";
  }

  void malformed(const std::string& why) {
    ++stats_.malformed;
    problem(file_ + ":" + std::to_string(line_no_) + ": " + why);
  }
  void problem(std::string text) {
    if (stats_.problems.size() < max_problems) stats_.problems.push_back(std::move(text));
  }

  const AuditFilter& filter_;
  Prefilter prefilter_;
  const std::function<void(const AuditEvent&)>& on_event_;
  ReadStats& stats_;
  std::string file_;
  std::uint64_t line_no_ = 0;
  std::string carry_;
  bool overflow_ = false;
  Triggers triggers_;
  std::vector<char> buffer_;
  std::set<std::string> open_watches_;
};

struct RotationKey {
  int order = 2;  // 0 dated, 1 numbered, 2 live
  std::string date;
  long number = 0;
  std::string name;
};

RotationKey rotation_key(const std::string& name) {
  static const std::regex numbered(R"(\.([0-9]{1,4})$)");
  static const std::regex dated(R"([0-9]{4}-?[0-9]{2}-?[0-9]{2})");
  RotationKey key{2, {}, 0, name};
  std::string stem = name;
  if (stem.ends_with(".gz")) stem.resize(stem.size() - 3);
  std::smatch match;
  if (std::regex_search(stem, match, numbered)) {
    key.order = 1;
    key.number = std::stol(match[1].str());
  } else if (std::regex_search(stem, match, dated)) {
    key.order = 0;
    for (const char c : stem.substr(static_cast<std::size_t>(match.position(0)))) {
      if (c >= '0' && c <= '9') key.date += c;
    }
  }
  return key;
}

}  // namespace

std::vector<std::string> rotation_order(std::vector<std::string> file_names) {
  std::stable_sort(file_names.begin(), file_names.end(), [](const std::string& a, const std::string& b) {
    const auto ka = rotation_key(std::filesystem::path(a).filename().string());
    const auto kb = rotation_key(std::filesystem::path(b).filename().string());
    if (ka.order != kb.order) return ka.order < kb.order;
    if (ka.date != kb.date) return ka.date < kb.date;
    if (ka.number != kb.number) return ka.number > kb.number;
    return ka.name < kb.name;
  });
  return file_names;
}

Result<std::vector<std::string>> expand_sources(const std::vector<std::string>& sources) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& source : sources) {
    std::error_code ec;
    if (source == "-") {
      files.push_back(source);
    } else if (fs::is_directory(source, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(source, ec)) {
        if (entry.is_regular_file(ec) && !entry.path().filename().string().starts_with(".")) {
          found.push_back(entry.path().string());
        }
      }
      if (ec) return invalid("cannot list audit log folder " + source + ": " + ec.message());
      for (auto& file : rotation_order(std::move(found))) files.push_back(std::move(file));
    } else if (fs::is_regular_file(source, ec)) {
      files.push_back(source);
    } else {
      return invalid("audit log " + source + " does not exist or is not a file or folder");
    }
  }
  return files;
}

Result<std::optional<AuditEvent>> parse_event_line(std::string_view line, const AuditFilter& filter) {
  unsigned char storage[16384];
  json::monotonic_resource resource(storage, sizeof storage);
  boost::system::error_code ec;
  const json::value doc = json::parse(line, ec, &resource);
  if (ec) return invalid("not JSON (" + ec.message() + ")");
  if (!doc.is_object()) return invalid("not a JSON object");
  const std::string kind = string_at(doc, {"kind"}, "Event");
  if (kind != "Event" || find(doc, {"verb"}) == nullptr) return invalid("not an audit.k8s.io Event");
  const Target& target = filter.target;
  if (string_at(doc, {"objectRef", "resource"}) != target.resource ||
      string_at(doc, {"objectRef", "apiGroup"}) != target.group) {
    return std::optional<AuditEvent>();
  }
  AuditEvent event;
  event.verb = string_at(doc, {"verb"});
  event.ns = string_at(doc, {"objectRef", "namespace"});
  event.name = string_at(doc, {"objectRef", "name"});
  event.subresource = string_at(doc, {"objectRef", "subresource"});
  event.collection = event.name.empty() && (event.verb == "list" || event.verb == "watch");
  if (!target.subresource.empty() && event.subresource != target.subresource)
    return std::optional<AuditEvent>();
  if (!target.ns.empty() && event.ns != target.ns && !(event.ns.empty() && event.collection)) {
    return std::optional<AuditEvent>();
  }
  if (!target.name.empty() && event.name != target.name && !event.collection)
    return std::optional<AuditEvent>();
  event.access = contains(filter.verbs, event.verb);
  const bool write =
      std::find(std::begin(write_verbs), std::end(write_verbs), event.verb) != std::end(write_verbs);
  if (!event.access && !(write && !event.collection)) return std::optional<AuditEvent>();

  event.time_text = string_at(doc, {"stageTimestamp"});
  if (event.time_text.empty()) event.time_text = string_at(doc, {"requestReceivedTimestamp"});
  auto time = parse_utc(event.time_text);
  if (!time) return invalid("no valid stageTimestamp");
  event.time = *time;
  if ((filter.since && event.time < *filter.since) || (filter.until && event.time > *filter.until)) {
    return std::optional<AuditEvent>();
  }
  event.audit_id = string_at(doc, {"auditID"});
  event.stage = string_at(doc, {"stage"});
  event.user = string_at(doc, {"user", "username"});
  event.groups = strings_at(doc, {"user", "groups"});
  event.impersonated_user = string_at(doc, {"impersonatedUser", "username"});
  event.user_agent = string_at(doc, {"userAgent"});
  event.source_ips = strings_at(doc, {"sourceIPs"});
  if (const auto* code = find(doc, {"responseStatus", "code"}); code != nullptr && code->is_int64()) {
    event.code = static_cast<int>(code->get_int64());
  }
  return std::optional<AuditEvent>(std::move(event));
}

Result<ReadStats> read_audit_logs(const std::vector<std::string>& files, const AuditFilter& filter,
                                  const std::function<void(const AuditEvent&)>& on_event) {
  ReadStats stats;
  LineReader reader(filter, on_event, stats);
  for (const auto& file : files) {
    const int fd = file == "-" ? ::dup(STDIN_FILENO) : ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return invalid("cannot open audit log " + file + ": " + std::strerror(errno));
    if (file != "-" && !is_gzip(fd)) {
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
      reader.read_plain(file, fd);
      ::close(fd);
      continue;
    }
    gzFile gz = gzdopen(fd, "rb");
    if (gz == nullptr) {
      ::close(fd);
      return invalid("cannot open audit log " + file + ": out of memory");
    }
    gzbuffer(gz, 256 * 1024);
    reader.read_gzip(file, gz);
    gzclose(gz);
  }
  return stats;
}

}  // namespace ir::steps::access_audit
