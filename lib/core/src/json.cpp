#include "ir/core/json.hpp"

#include <yaml-cpp/yaml.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ir {
namespace {

json::value scalar_to_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() != "?") return json::value(text);  // quoted or explicitly tagged: a string
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  {
    errno = 0;
    char* end = nullptr;
    const long long number = std::strtoll(text.c_str(), &end, 10);
    if (errno == 0 && end != nullptr && *end == '\0' &&
        text.find_first_not_of("+-0123456789") == std::string::npos) {
      return json::value(static_cast<std::int64_t>(number));
    }
  }
  if (text.find_first_not_of("+-0123456789.eE") == std::string::npos &&
      text.find_first_of("0123456789") != std::string::npos) {
    char* end = nullptr;
    const double number = std::strtod(text.c_str(), &end);
    if (end != nullptr && *end == '\0') return json::value(number);
  }
  return json::value(text);
}

// YAML aliases share one node however often they are used, so a few lines
// of anchors can stand for billions of values once converted ("billion
// laughs", security review finding 20): the conversion counts what it makes
// and stops at a bound no real manifest, parameter file or alert comes near.
struct Budget {
  static constexpr int max_depth = 200;
  static constexpr std::size_t max_nodes = 2'000'000;
  static constexpr std::size_t max_bytes = 256 * 1024 * 1024;
  std::size_t nodes = 0;
  std::size_t bytes = 0;
};

Result<json::value> yaml_to_json(const YAML::Node& node, std::string_view what, Budget& budget, int depth) {
  if (depth > Budget::max_depth) {
    return invalid(std::string(what) + ": nested deeper than " + std::to_string(Budget::max_depth) +
                   " levels");
  }
  if (++budget.nodes > Budget::max_nodes) {
    return invalid(std::string(what) + ": more than " + std::to_string(Budget::max_nodes) +
                   " values once its aliases are expanded");
  }
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json::value(nullptr);
    case YAML::NodeType::Scalar:
      budget.bytes += node.Scalar().size();
      if (budget.bytes > Budget::max_bytes) {
        return invalid(std::string(what) + ": more than " + std::to_string(Budget::max_bytes >> 20) +
                       " MiB of text once its aliases are expanded");
      }
      return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      json::array array;
      for (const auto& item : node) {
        auto converted = yaml_to_json(item, what, budget, depth + 1);
        if (!converted) return converted.error();
        array.push_back(std::move(*converted));
      }
      return json::value(std::move(array));
    }
    case YAML::NodeType::Map: {
      json::object object;
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return invalid(std::string(what) + ": only scalar mapping keys are supported");
        }
        budget.bytes += entry.first.Scalar().size();
        auto converted = yaml_to_json(entry.second, what, budget, depth + 1);
        if (!converted) return converted.error();
        object[entry.first.Scalar()] = std::move(*converted);
      }
      return json::value(std::move(object));
    }
  }
  return json::value(nullptr);
}

}  // namespace

Result<json::value> parse_json(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) return invalid(std::string(what) + ": not valid JSON: " + ec.message());
  return value;
}

Result<std::vector<json::value>> parse_yaml_documents(std::string_view text, std::string_view what) {
  std::vector<json::value> documents;
  Budget budget;  // one for the whole text: many documents share it
  try {
    for (const auto& node : YAML::LoadAll(std::string(text))) {
      if (node.IsNull()) continue;
      auto converted = yaml_to_json(node, what, budget, 0);
      if (!converted) return converted.error();
      documents.push_back(std::move(*converted));
    }
  } catch (const YAML::Exception& e) {
    return invalid(std::string(what) + ": not valid YAML: line " + std::to_string(e.mark.line + 1) +
                   ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return documents;
}

Result<json::value> parse_yaml(std::string_view text, std::string_view what) {
  auto documents = parse_yaml_documents(text, what);
  if (!documents) return documents.error();
  if (documents->empty()) return json::value(json::object());
  if (documents->size() > 1) {
    return invalid(std::string(what) + ": expected one YAML document, found " +
                   std::to_string(documents->size()));
  }
  return std::move(documents->front());
}

Result<json::value> parse_json_or_yaml(std::string_view text, std::string_view what) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (text[first] == '{' || text[first] == '[')) {
    return parse_json(text, what);
  }
  return parse_yaml(text, what);
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return invalid("cannot read " + path + ": read error");
  return content.str();
}

namespace {

// The mode fopen gave a new file: 0666 less the umask. Linux shows the
// umask in /proc/self/status; umask(2) would change it for every thread.
mode_t new_file_mode() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Umask:", 0) == 0)
      return static_cast<mode_t>(0666 & ~std::stoul(line.substr(6), nullptr, 8));
  }
  return 0644;
}

bool write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

Result<void> sync_directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error(Code::action_failed, "cannot open " + dir + ": " + std::strerror(errno));
  const bool synced = ::fsync(fd) == 0;
  const std::string reason = std::strerror(errno);
  ::close(fd);
  if (!synced) return Error(Code::action_failed, "cannot sync " + dir + ": " + reason);
  return {};
}

Result<void> write_file_atomic(const std::string& path, std::string_view content) {
  // Security review finding 17: the temporary was path.tmp.<pid>, one name
  // for every thread of the plugin writing the same path, which truncated
  // and renamed each other's halves. mkstemp gives each call its own, in
  // the same folder so that the rename stays atomic.
  std::string temporary = path + ".tmp.XXXXXX";
  const int fd = ::mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) return Error(Code::action_failed, "cannot write " + path + ": " + std::strerror(errno));
  const bool written = write_all(fd, content) && ::fchmod(fd, new_file_mode()) == 0 && ::fsync(fd) == 0;
  const int error = errno;
  const bool closed = ::close(fd) == 0;
  if (!written || !closed || std::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(written && closed ? errno : error);
    std::remove(temporary.c_str());
    return Error(Code::action_failed, "cannot write " + path + ": " + reason);
  }
  // The rename is durable only once the folder is.
  if (auto synced = sync_directory_of(path); !synced) return synced.error().with("write " + path);
  return {};
}

namespace {
template <class Keys>
const json::value* walk(const json::value& root, const Keys& path) {
  const json::value* current = &root;
  for (const auto& key : path) {
    const auto* object = current->if_object();
    if (object == nullptr) return nullptr;
    const auto it = object->find(key);
    if (it == object->end()) return nullptr;
    current = &it->value();
  }
  return current;
}
}  // namespace

const json::value* find(const json::value& root, std::initializer_list<std::string_view> path) {
  return walk(root, path);
}

const json::value* find(const json::value& root, const std::vector<std::string>& path) {
  return walk(root, path);
}

const json::value* find(const json::object& root, std::initializer_list<std::string_view> path) {
  if (path.size() == 0) return nullptr;
  const auto it = root.find(*path.begin());
  if (it == root.end()) return nullptr;
  const json::value* current = &it->value();
  for (auto key = path.begin() + 1; key != path.end(); ++key) {
    const auto* object = current->if_object();
    if (object == nullptr) return nullptr;
    const auto next = object->find(*key);
    if (next == object->end()) return nullptr;
    current = &next->value();
  }
  return current;
}

std::string string_at(const json::object& root, std::initializer_list<std::string_view> path,
                      std::string_view fallback) {
  const json::value* found = find(root, path);
  if (found == nullptr || !found->is_string()) return std::string(fallback);
  return std::string(found->get_string());
}

std::string string_at(const json::value& root, std::initializer_list<std::string_view> path,
                      std::string_view fallback) {
  const json::value* found = find(root, path);
  if (found == nullptr || !found->is_string()) return std::string(fallback);
  return std::string(found->get_string());
}

namespace {

void sorted_into(const json::value& value, std::string& out) {
  if (const auto* object = value.if_object()) {
    std::vector<const json::key_value_pair*> entries;
    entries.reserve(object->size());
    for (const auto& entry : *object) entries.push_back(&entry);
    std::sort(entries.begin(), entries.end(),
              [](const auto* a, const auto* b) { return a->key() < b->key(); });
    out += '{';
    bool first = true;
    for (const auto* entry : entries) {
      if (!first) out += ',';
      first = false;
      out += json::serialize(json::value(entry->key()));
      out += ':';
      sorted_into(entry->value(), out);
    }
    out += '}';
  } else if (const auto* array = value.if_array()) {
    out += '[';
    bool first = true;
    for (const auto& item : *array) {
      if (!first) out += ',';
      first = false;
      sorted_into(item, out);
    }
    out += ']';
  } else {
    out += json::serialize(value);
  }
}

void pretty_into(const json::value& value, std::string& out, int indent) {
  const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
  const std::string inner(static_cast<std::size_t>(indent + 1) * 2, ' ');
  if (const auto* object = value.if_object()) {
    if (object->empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    bool first = true;
    for (const auto& entry : *object) {
      if (!first) out += ",\n";
      first = false;
      out += inner;
      out += json::serialize(json::value(entry.key()));
      out += ": ";
      pretty_into(entry.value(), out, indent + 1);
    }
    out += '\n';
    out += pad;
    out += '}';
  } else if (const auto* array = value.if_array()) {
    if (array->empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    bool first = true;
    for (const auto& item : *array) {
      if (!first) out += ",\n";
      first = false;
      out += inner;
      pretty_into(item, out, indent + 1);
    }
    out += '\n';
    out += pad;
    out += ']';
  } else {
    out += json::serialize(value);
  }
}

}  // namespace

std::string to_sorted_json(const json::value& value) {
  std::string out;
  sorted_into(value, out);
  return out;
}

std::string to_pretty_json(const json::value& value) {
  std::string out;
  pretty_into(value, out, 0);
  return out;
}

}  // namespace ir
