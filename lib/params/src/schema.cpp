#include "ir/params/schema.hpp"

#include "ir/core/time.hpp"
#include "ir/params/params.hpp"

#include <boost/json/serialize.hpp>

#include <cmath>
#include <set>

namespace ir {

class SchemaWalker {
 public:
  SchemaWalker(const Schema& schema, std::vector<SchemaProblem>& problems)
      : schema_(schema), problems_(problems) {}

  void check(const json::value& schema, const json::value& instance, const std::string& path, int depth);

 private:
  const json::value* resolve(std::string_view ref) const;
  std::shared_ptr<const std::regex> pattern(const std::string& text);
  void add(const std::string& path, std::string message) { problems_.push_back({path, std::move(message)}); }
  bool passes(const json::value& schema, const json::value& instance, const std::string& path, int depth) {
    std::vector<SchemaProblem> scratch;
    SchemaWalker inner(schema_, scratch);
    inner.check(schema, instance, path, depth);
    return scratch.empty();
  }
  void check_type(const json::object& schema, const json::value& instance, const std::string& path);
  void check_object(const json::object& schema, const json::object& instance, const std::string& path,
                    int depth);
  void check_array(const json::object& schema, const json::array& instance, const std::string& path,
                   int depth);
  void check_string(const json::object& schema, const json::string& instance, const std::string& path);
  void check_number(const json::object& schema, double value, const std::string& path);
  void check_combinators(const json::object& schema, const json::value& instance, const std::string& path,
                         int depth);

  const Schema& schema_;
  std::vector<SchemaProblem>& problems_;
};

namespace {

// Bounds on strings whatever the schema says (security review finding 10):
// a value matched against a pattern is at most kLongestPatterned characters
// (names, references, times: a few hundred at most), any other string at
// most kLongestString (a notification's text is the longest we take).
constexpr std::size_t kLongestPatterned = 4096;
constexpr std::size_t kLongestString = 4 * 1024 * 1024;

bool is_integer(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (v.is_double()) {
    const double d = v.get_double();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

bool has_type(const json::value& v, std::string_view type) {
  if (type == "string") return v.is_string();
  if (type == "integer") return is_integer(v);
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_bool();
  if (type == "array") return v.is_array();
  if (type == "object") return v.is_object();
  if (type == "null") return v.is_null();
  return false;
}

std::string type_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return "string";
    case json::kind::int64:
    case json::kind::uint64:
      return "integer";
    case json::kind::double_:
      return "number";
    case json::kind::bool_:
      return "boolean";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
    case json::kind::null:
      return "null";
  }
  return "value";
}

double as_number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

bool equal(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return as_number(a) == as_number(b);
  return a == b;
}

std::string escape_pointer(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

std::string unescape_pointer(std::string_view token) {
  std::string out;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size()) {
      out += token[i + 1] == '1' ? '/' : '~';
      ++i;
    } else {
      out += token[i];
    }
  }
  return out;
}

std::size_t utf8_length(std::string_view s) {
  std::size_t count = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++count;
  }
  return count;
}

// A schema may say in its own words what a failed combinator means.
std::string custom_message(const json::object& schema, std::string fallback) {
  if (const auto it = schema.find("x-message"); it != schema.end() && it->value().is_string()) {
    return std::string(it->value().get_string());
  }
  return fallback;
}

std::string short_value(const json::value& v) {
  std::string text = json::serialize(v);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

}  // namespace

// A reference is local ("#/properties/x") or into another of the
// compiled-in schemas by its file name ("common.schema.json#/properties/x",
// relative to our $id, so other validators given both files agree). The
// fragment taken from another schema must not hold local references of its
// own: they would resolve against this document.
const json::value* SchemaWalker::resolve(std::string_view ref) const {
  const auto hash = ref.find('#');
  if (hash == std::string_view::npos) return nullptr;
  const json::value* current = schema_.document_.get();
  if (hash > 0) {
    constexpr std::string_view suffix = ".schema.json";
    const std::string_view file = ref.substr(0, hash);
    if (!file.ends_with(suffix) || file.find('/') != std::string_view::npos) return nullptr;
    std::lock_guard lock(schema_.cache_->mutex);
    auto& slot = schema_.cache_->documents[std::string(file)];
    if (!slot) {
      const auto text = embedded_schema(file.substr(0, file.size() - suffix.size()));
      if (!text) return nullptr;
      auto parsed = parse_json(*text, file);
      if (!parsed) return nullptr;
      slot = std::make_shared<const json::value>(std::move(*parsed));
    }
    current = slot.get();
  }
  std::string_view rest = ref.substr(hash + 1);
  while (!rest.empty()) {
    if (rest[0] != '/') return nullptr;
    rest.remove_prefix(1);
    const auto slash = rest.find('/');
    const std::string token = unescape_pointer(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (const auto* object = current->if_object()) {
      const auto it = object->find(token);
      if (it == object->end()) return nullptr;
      current = &it->value();
    } else if (const auto* array = current->if_array()) {
      const std::size_t index = std::stoul(token);
      if (index >= array->size()) return nullptr;
      current = &(*array)[index];
    } else {
      return nullptr;
    }
  }
  return current;
}

std::shared_ptr<const std::regex> SchemaWalker::pattern(const std::string& text) {
  std::lock_guard lock(schema_.cache_->mutex);
  auto& slot = schema_.cache_->patterns[text];
  if (!slot) slot = std::make_shared<const std::regex>(text, std::regex::ECMAScript);
  return slot;
}

void SchemaWalker::check(const json::value& schema_value, const json::value& instance,
                         const std::string& path, int depth) {
  if (depth > 64) {
    add(path, "schema nesting too deep (a $ref cycle?)");
    return;
  }
  if (schema_value.is_bool()) {
    if (!schema_value.get_bool()) add(path, "no value is allowed here");
    return;
  }
  const auto* schema = schema_value.if_object();
  if (schema == nullptr) return;

  if (const auto it = schema->find("$ref"); it != schema->end() && it->value().is_string()) {
    const json::value* target = resolve(it->value().get_string());
    if (target == nullptr) {
      add(path, "schema reference " + std::string(it->value().get_string()) + " not found");
    } else {
      check(*target, instance, path, depth + 1);
    }
  }
  check_type(*schema, instance, path);
  if (const auto it = schema->find("enum"); it != schema->end() && it->value().is_array()) {
    bool found = false;
    std::string choices;
    for (const auto& choice : it->value().get_array()) {
      found = found || equal(choice, instance);
      if (!choices.empty()) choices += ", ";
      choices += json::serialize(choice);
    }
    if (!found) add(path, short_value(instance) + " is not one of " + choices);
  }
  if (const auto it = schema->find("const"); it != schema->end() && !equal(it->value(), instance)) {
    add(path, "must be " + json::serialize(it->value()));
  }
  if (const auto* object = instance.if_object()) check_object(*schema, *object, path, depth);
  if (const auto* array = instance.if_array()) check_array(*schema, *array, path, depth);
  if (const auto* string = instance.if_string()) check_string(*schema, *string, path);
  if (instance.is_number()) check_number(*schema, as_number(instance), path);
  check_combinators(*schema, instance, path, depth);
}

void SchemaWalker::check_type(const json::object& schema, const json::value& instance,
                              const std::string& path) {
  const auto it = schema.find("type");
  if (it == schema.end()) return;
  const json::value& type = it->value();
  if (type.is_string()) {
    if (!has_type(instance, type.get_string())) {
      add(path, "must be of type " + std::string(type.get_string()) + ", not " + type_of(instance));
    }
  } else if (type.is_array()) {
    std::string names;
    for (const auto& t : type.get_array()) {
      if (t.is_string() && has_type(instance, t.get_string())) return;
      if (!names.empty()) names += " or ";
      names += t.is_string() ? std::string(t.get_string()) : std::string("?");
    }
    add(path, "must be of type " + names + ", not " + type_of(instance));
  }
}

void SchemaWalker::check_object(const json::object& schema, const json::object& instance,
                                const std::string& path, int depth) {
  if (const auto it = schema.find("required"); it != schema.end() && it->value().is_array()) {
    for (const auto& name : it->value().get_array()) {
      if (name.is_string() && !instance.contains(name.get_string())) {
        add(path + "/" + escape_pointer(name.get_string()), "is required");
      }
    }
  }
  const json::object* properties = nullptr;
  if (const auto it = schema.find("properties"); it != schema.end()) {
    properties = it->value().if_object();
  }
  const json::object* pattern_properties = nullptr;
  if (const auto it = schema.find("patternProperties"); it != schema.end()) {
    pattern_properties = it->value().if_object();
  }
  const json::value* additional = nullptr;
  if (const auto it = schema.find("additionalProperties"); it != schema.end()) {
    additional = &it->value();
  }
  for (const auto& entry : instance) {
    const std::string child = path + "/" + escape_pointer(entry.key());
    bool matched = false;
    if (properties != nullptr) {
      if (const auto p = properties->find(entry.key()); p != properties->end()) {
        matched = true;
        check(p->value(), entry.value(), child, depth + 1);
      }
    }
    if (pattern_properties != nullptr && entry.key().size() > kLongestPatterned) {
      add(child, "has a name longer than " + std::to_string(kLongestPatterned) + " characters");
      continue;
    }
    if (pattern_properties != nullptr) {
      for (const auto& pp : *pattern_properties) {
        if (std::regex_search(std::string(entry.key()), *pattern(std::string(pp.key())))) {
          matched = true;
          check(pp.value(), entry.value(), child, depth + 1);
        }
      }
    }
    if (!matched && additional != nullptr) {
      if (additional->is_bool() && !additional->get_bool()) {
        add(child, "is not a known field");
      } else {
        check(*additional, entry.value(), child, depth + 1);
      }
    }
  }
  if (const auto it = schema.find("dependentRequired"); it != schema.end() && it->value().is_object()) {
    for (const auto& dependency : it->value().get_object()) {
      if (!instance.contains(dependency.key()) || !dependency.value().is_array()) continue;
      for (const auto& name : dependency.value().get_array()) {
        if (name.is_string() && !instance.contains(name.get_string())) {
          add(path + "/" + escape_pointer(name.get_string()),
              "is required when " + std::string(dependency.key()) + " is given");
        }
      }
    }
  }
  if (const auto it = schema.find("minProperties"); it != schema.end() && it->value().is_number()) {
    if (static_cast<double>(instance.size()) < as_number(it->value())) {
      add(path, "must have at least " + json::serialize(it->value()) + " fields");
    }
  }
  if (const auto it = schema.find("maxProperties"); it != schema.end() && it->value().is_number()) {
    if (static_cast<double>(instance.size()) > as_number(it->value())) {
      add(path, "must have at most " + json::serialize(it->value()) + " fields");
    }
  }
}

void SchemaWalker::check_array(const json::object& schema, const json::array& instance,
                               const std::string& path, int depth) {
  // 2020-12: prefixItems for the first elements, items for the rest.
  std::size_t prefix = 0;
  if (const auto it = schema.find("prefixItems"); it != schema.end() && it->value().is_array()) {
    const auto& schemas = it->value().get_array();
    for (; prefix < schemas.size() && prefix < instance.size(); ++prefix) {
      check(schemas[prefix], instance[prefix], path + "/" + std::to_string(prefix), depth + 1);
    }
    prefix = schemas.size();
  }
  if (const auto it = schema.find("items"); it != schema.end() && !it->value().is_array()) {
    for (std::size_t i = prefix; i < instance.size(); ++i) {
      check(it->value(), instance[i], path + "/" + std::to_string(i), depth + 1);
    }
  }
  if (const auto it = schema.find("minItems"); it != schema.end() && it->value().is_number()) {
    if (static_cast<double>(instance.size()) < as_number(it->value())) {
      add(path, "must have at least " + json::serialize(it->value()) + " items");
    }
  }
  if (const auto it = schema.find("maxItems"); it != schema.end() && it->value().is_number()) {
    if (static_cast<double>(instance.size()) > as_number(it->value())) {
      add(path, "must have at most " + json::serialize(it->value()) + " items");
    }
  }
  if (const auto it = schema.find("uniqueItems");
      it != schema.end() && it->value().is_bool() && it->value().get_bool()) {
    std::set<std::string> seen;
    for (const auto& item : instance) {
      if (!seen.insert(to_sorted_json(item)).second) {
        add(path, short_value(item) + " is given twice");
      }
    }
  }
}

void SchemaWalker::check_string(const json::object& schema, const json::string& instance,
                                const std::string& path) {
  const std::string_view text(instance.data(), instance.size());
  const std::size_t length = utf8_length(text);
  if (const auto it = schema.find("minLength"); it != schema.end() && it->value().is_number()) {
    if (static_cast<double>(length) < as_number(it->value())) {
      add(path, length == 0 ? "must not be empty"
                            : "must be at least " + json::serialize(it->value()) + " characters");
    }
  }
  // The length is checked before the pattern, and a patterned string is
  // never longer than kLongestPatterned when it reaches std::regex, which
  // recurses once per character matched: a parameter of a few hundred
  // thousand characters would otherwise overflow the stack (security review
  // finding 10); the plugin runs this on every call.
  if (const auto it = schema.find("maxLength"); it != schema.end() && it->value().is_number()) {
    if (static_cast<double>(length) > as_number(it->value())) {
      add(path, "must be at most " + json::serialize(it->value()) + " characters");
      return;
    }
  }
  if (length > kLongestString) {
    add(path, "must be at most " + std::to_string(kLongestString) + " characters");
    return;
  }
  if (const auto it = schema.find("pattern"); it != schema.end() && it->value().is_string()) {
    if (length > kLongestPatterned) {
      add(path, "must be at most " + std::to_string(kLongestPatterned) + " characters");
      return;
    }
    const std::string expression(it->value().get_string());
    if (!std::regex_search(std::string(text), *pattern(expression))) {
      std::string hint = "does not match the pattern " + expression;
      if (const auto d = schema.find("x-format-hint"); d != schema.end() && d->value().is_string()) {
        hint = "must look like " + std::string(d->value().get_string());
      }
      add(path, short_value(json::value(instance)) + " " + hint);
    }
  }
  if (const auto it = schema.find("format"); it != schema.end() && it->value() == "date-time") {
    if (!parse_utc(text)) add(path, short_value(json::value(instance)) + " is not an RFC 3339 time");
  }
}

void SchemaWalker::check_number(const json::object& schema, double value, const std::string& path) {
  auto bound = [&](std::string_view key, auto violates, std::string_view words) {
    if (const auto it = schema.find(key); it != schema.end() && it->value().is_number()) {
      if (violates(value, as_number(it->value()))) {
        add(path, std::string("must be ") + std::string(words) + " " + json::serialize(it->value()));
      }
    }
  };
  bound(
      "minimum", [](double v, double b) { return v < b; }, "at least");
  bound(
      "maximum", [](double v, double b) { return v > b; }, "at most");
  bound(
      "exclusiveMinimum", [](double v, double b) { return v <= b; }, "more than");
  bound(
      "exclusiveMaximum", [](double v, double b) { return v >= b; }, "less than");
}

void SchemaWalker::check_combinators(const json::object& schema, const json::value& instance,
                                     const std::string& path, int depth) {
  if (const auto it = schema.find("allOf"); it != schema.end() && it->value().is_array()) {
    for (const auto& sub : it->value().get_array()) check(sub, instance, path, depth + 1);
  }
  if (const auto it = schema.find("anyOf"); it != schema.end() && it->value().is_array()) {
    bool any = false;
    for (const auto& sub : it->value().get_array()) any = any || passes(sub, instance, path, depth + 1);
    if (!any) add(path, custom_message(schema, "matches none of the allowed forms"));
  }
  if (const auto it = schema.find("oneOf"); it != schema.end() && it->value().is_array()) {
    int count = 0;
    for (const auto& sub : it->value().get_array()) count += passes(sub, instance, path, depth + 1) ? 1 : 0;
    if (count != 1) {
      add(path, custom_message(schema, count == 0 ? "matches none of the allowed forms"
                                                  : "matches more than one of the exclusive forms"));
    }
  }
  if (const auto it = schema.find("not"); it != schema.end()) {
    if (passes(it->value(), instance, path, depth + 1)) {
      add(path, custom_message(schema, "is not allowed in this form"));
    }
  }
  if (const auto it = schema.find("if"); it != schema.end()) {
    const bool condition = passes(it->value(), instance, path, depth + 1);
    const auto branch = schema.find(condition ? "then" : "else");
    // An if that is its object's only combinator says what its failed
    // branch means in the object's x-message ("parameter sbom: give a
    // baseline"), rather than what the branch found missing.
    const bool own_message = schema.contains("x-message") && !schema.contains("anyOf") &&
                             !schema.contains("oneOf") && !schema.contains("not");
    if (branch == schema.end()) {
    } else if (own_message) {
      if (!passes(branch->value(), instance, path, depth + 1)) add(path, custom_message(schema, ""));
    } else {
      check(branch->value(), instance, path, depth + 1);
    }
  }
}

Schema::Schema(json::value document)
    : document_(std::make_shared<const json::value>(std::move(document))),
      cache_(std::make_shared<Cache>()) {}

Result<Schema> Schema::from_json(json::value document) {
  if (!document.is_object() && !document.is_bool()) {
    return invalid("a JSON Schema must be an object");
  }
  return Schema(std::move(document));
}

Result<Schema> Schema::from_text(std::string_view text, std::string_view what) {
  auto parsed = parse_json(text, what);
  if (!parsed) return parsed.error();
  return from_json(std::move(*parsed));
}

std::vector<SchemaProblem> Schema::validate(const json::value& instance) const {
  std::vector<SchemaProblem> problems;
  SchemaWalker walker(*this, problems);
  try {
    walker.check(*document_, instance, "", 0);
  } catch (const std::regex_error& e) {
    problems.push_back({"", std::string("the schema has an invalid pattern: ") + e.what()});
  }
  return problems;
}

Result<std::vector<SchemaProblem>> Schema::validate_at(const json::value& instance,
                                                       std::string_view pointer) const {
  std::vector<SchemaProblem> problems;
  SchemaWalker walker(*this, problems);
  json::object ref;
  ref["$ref"] = pointer;
  walker.check(json::value(std::move(ref)), instance, "", 0);
  if (problems.size() == 1 && problems.front().message.find("schema reference") == 0) {
    return invalid(problems.front().message);
  }
  return problems;
}

}  // namespace ir
