#include "ir/params/params.hpp"

#include <boost/json/serialize.hpp>
#include <boost/program_options.hpp>

#include <fmt/format.h>
#include <cctype>
#include <cstdlib>
#include <limits>

namespace ir {
namespace po = boost::program_options;

namespace {

// Parameters the driver handles itself; they are not step parameters.
constexpr std::string_view builtin_flags[] = {"help", "version", "params"};

std::string type_of_property(const json::value& schema) {
  if (const auto* type = find(schema, {"type"}); type != nullptr && type->is_string()) {
    return std::string(type->get_string());
  }
  return "string";
}

// The one-letter flag a schema gives a property ("x-short": "a" for -a), as
// cosign spells the options users know from it; "" when there is none.
std::string short_flag(const json::value& schema) {
  if (const auto* letter = find(schema, {"x-short"}); letter != nullptr && letter->is_string()) {
    return std::string(letter->get_string());
  }
  return {};
}

std::string item_type(const json::value& schema) {
  if (const auto* items = find(schema, {"items"})) return type_of_property(*items);
  return "string";
}

// "allow-cidr[1]" from "/allow-cidr/1".
std::string param_from_pointer(const std::string& pointer) {
  if (pointer.empty()) return "parameters";
  std::string name;
  std::size_t pos = 1;
  bool first = true;
  while (pos <= pointer.size()) {
    const auto next = pointer.find('/', pos);
    const std::string token = pointer.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    const bool numeric = !token.empty() && token.find_first_not_of("0123456789") == std::string::npos;
    if (first)
      name = token;
    else if (numeric)
      name += "[" + token + "]";
    else
      name += "." + token;
    first = false;
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return name;
}

Result<json::value> coerce_scalar(const std::string& type, const json::value& value,
                                  const std::string& name) {
  if (!value.is_string()) return value;
  const std::string text(value.get_string());
  if (type == "integer") {
    errno = 0;
    char* end = nullptr;
    const long long number = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || errno != 0 || end == nullptr || *end != '\0') {
      return invalid("parameter " + name + ": '" + text + "' is not a whole number");
    }
    return json::value(static_cast<std::int64_t>(number));
  }
  if (type == "number") {
    char* end = nullptr;
    const double number = std::strtod(text.c_str(), &end);
    if (text.empty() || end == nullptr || *end != '\0') {
      return invalid("parameter " + name + ": '" + text + "' is not a number");
    }
    return json::value(number);
  }
  if (type == "boolean") {
    if (text == "true" || text == "1" || text == "yes") return json::value(true);
    if (text == "false" || text == "0" || text == "no") return json::value(false);
    return invalid("parameter " + name + ": '" + text + "' is not true or false");
  }
  if (type == "object") {
    auto parsed = parse_json(text, "parameter " + name);
    if (!parsed) return parsed.error();
    return std::move(*parsed);
  }
  return value;
}

// Whether a list parameter's items cannot hold a comma ("x-comma-list":
// true in its schema: names, CIDRs, enums), so "a,b" is two items.
bool comma_list(const json::value& schema) {
  const auto* flag = find(schema, {"x-comma-list"});
  return flag != nullptr && flag->is_bool() && flag->get_bool();
}

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// One rule for a list parameter, whatever its source (flag, repeated flag,
// environment, --params file, Argo argument, plugin): each string given is
// a JSON array when it starts with '[', else a comma-separated list when
// the items cannot hold a comma, else one item. Empty items are dropped: an
// optional parameter Argo passes as "" is "not given".
Result<json::array> list_items(const json::value& schema, const json::value& value, const std::string& name) {
  json::array given;
  if (const auto* many = value.if_array())
    given = *many;
  else
    given.push_back(value);
  json::array items;
  for (auto& item : given) {
    if (!item.is_string()) {
      items.push_back(std::move(item));
      continue;
    }
    const std::string_view text = trimmed(item.get_string());
    if (text.starts_with('[')) {
      auto parsed = parse_json(text, "parameter " + name);
      if (!parsed) return parsed.error();
      if (!parsed->is_array())
        return invalid("parameter " + name + ": '[' starts a JSON array, and this is not one");
      for (auto& inner : parsed->get_array()) {
        if (!(inner.is_string() && inner.get_string().empty())) items.push_back(std::move(inner));
      }
    } else if (comma_list(schema)) {
      std::size_t start = 0;
      while (start <= text.size()) {
        const auto comma = text.find(',', start);
        const auto piece = trimmed(
            text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (!piece.empty()) items.emplace_back(piece);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
    } else if (!text.empty()) {
      items.push_back(std::move(item));
    }
  }
  return items;
}

}  // namespace

Result<ParamSpec> ParamSpec::from_documents(std::string_view step_name, const json::value& step_schema,
                                            const json::value& common_schema) {
  if (!step_schema.is_object())
    return internal_error("schema of " + std::string(step_name) + " is not an object");
  json::object merged = step_schema.get_object();
  json::object properties;
  if (const auto* common = find(common_schema, {"properties"}); common != nullptr && common->is_object()) {
    properties = common->get_object();
  }
  if (const auto* own = find(step_schema, {"properties"}); own != nullptr && own->is_object()) {
    for (const auto& entry : own->get_object()) properties[entry.key()] = entry.value();
  }
  merged["properties"] = std::move(properties);
  merged["additionalProperties"] = false;
  // The common "required" list (e.g. incident-id) applies to every step,
  // unless the step has a mode without it (`snapshot verify`) and says when
  // it is required itself.
  json::array required;
  const auto* optional = find(step_schema, {"x-incident-optional"});
  const bool common_optional = optional != nullptr && optional->is_bool() && optional->get_bool();
  for (const auto* source :
       {common_optional ? nullptr : find(common_schema, {"required"}), find(step_schema, {"required"})}) {
    if (source != nullptr && source->is_array()) {
      for (const auto& name : source->get_array()) required.push_back(name);
    }
  }
  merged["required"] = std::move(required);
  auto schema = Schema::from_json(json::value(std::move(merged)));
  if (!schema) return schema.error();
  return ParamSpec(std::string(step_name), std::move(*schema));
}

Result<ParamSpec> ParamSpec::load(std::string_view step_name) {
  const auto step_text = embedded_schema(step_name);
  const auto common_text = embedded_schema("common");
  if (!step_text || !common_text) {
    return internal_error("no compiled-in schema for step " + std::string(step_name));
  }
  auto step = parse_json(*step_text, std::string(step_name) + ".schema.json");
  auto common = parse_json(*common_text, "common.schema.json");
  if (!step) return step.error();
  if (!common) return common.error();
  return from_documents(step_name, *step, *common);
}

bool valid_incident_id(std::string_view id) {
  static const auto schema =
      Schema::from_json(json::object{{"$ref", "common.schema.json#/properties/incident-id"}});
  return schema && schema->validate(json::value(id)).empty();
}

const json::object& ParamSpec::properties() const {
  return schema_.document().get_object().at("properties").get_object();
}

std::string ParamSpec::description() const {
  return string_at(schema_.document(), {"description"});
}

std::optional<std::string> ParamSpec::positional() const {
  for (const auto& entry : properties()) {
    if (const auto* flag = find(entry.value(), {"x-positional"});
        flag != nullptr && flag->is_bool() && flag->get_bool()) {
      return std::string(entry.key());
    }
  }
  return std::nullopt;
}

std::string ParamSpec::help_text() const {
  std::string text = fmt::format("Usage: {} [options]{}\n\n{}\n\nOptions:\n", step_,
                                 positional() ? " " + *positional() + "..." : "", description());
  auto line = [&](std::string flag, const std::string& help) {
    text += fmt::format("  {:<28} {}\n", flag, help);
  };
  line("--help", "print this help and exit");
  line("--version", "print the version and exit");
  line("--params FILE", "read parameters from a JSON or YAML file");
  for (const auto& entry : properties()) {
    const std::string type = type_of_property(entry.value());
    const std::string short_name = short_flag(entry.value());
    std::string flag = (short_name.empty() ? "" : "-" + short_name + ", ") + "--" + std::string(entry.key());
    const auto* choices = find(entry.value(), {"enum"});
    if (choices != nullptr && choices->is_array()) {
      std::string names;
      for (const auto& choice : choices->get_array()) {
        names += (names.empty() ? "" : "|") +
                 (choice.is_string() ? std::string(choice.get_string()) : json::serialize(choice));
      }
      flag += " " + names;
    } else if (type == "array") {
      flag += " " + item_type(entry.value()) + "...";
    } else if (type != "boolean") {
      flag += " " + type;
    }
    std::string help = string_at(entry.value(), {"description"});
    const auto* def = find(entry.value(), {"default"});
    if (def != nullptr && !(def->is_bool() && !def->get_bool())) {
      help +=
          " (default " + (def->is_string() ? std::string(def->get_string()) : json::serialize(*def)) + ")";
    }
    line(flag, help);
  }
  text +=
      "\nEvery option can also be set in the environment as IRSTEPS_<NAME> "
      "(e.g. IRSTEPS_NAMESPACE) or in --params. A list (TYPE...) is the flag repeated, a JSON\n"
      "array ('[\"a\",\"b\"]'), or, where its items cannot hold a comma, a,b.\n";
  return text;
}

std::string env_name(std::string_view param) {
  std::string name = "IRSTEPS_";
  for (char c : param)
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

Result<json::object> finalize_params(const ParamSpec& spec, json::object params) {
  const auto& properties = spec.properties();
  // An empty string is "not given": Argo templates pass every optional
  // parameter, empty when the workflow leaves it out.
  for (auto it = params.begin(); it != params.end();) {
    const auto property = properties.find(it->key());
    const std::string name(it->key());
    if (property != properties.end() && type_of_property(property->value()) == "array") {
      auto items = list_items(property->value(), it->value(), name);
      if (!items) return items.error();
      if (items->empty()) {
        it = params.erase(it);
        continue;
      }
      const std::string inner = item_type(property->value());
      for (std::size_t i = 0; i < items->size(); ++i) {
        auto converted = coerce_scalar(inner, (*items)[i], name + "[" + std::to_string(i) + "]");
        if (!converted) return converted.error();
        (*items)[i] = std::move(*converted);
      }
      it->value() = std::move(*items);
    } else if (it->value().is_string() && it->value().get_string().empty()) {
      it = params.erase(it);
      continue;
    } else if (property != properties.end()) {
      // Unknown names are left for the schema to report below.
      auto converted = coerce_scalar(type_of_property(property->value()), it->value(), name);
      if (!converted) return converted.error();
      it->value() = std::move(*converted);
    }
    ++it;
  }
  const auto problems = spec.schema().validate(json::value(params));
  if (!problems.empty()) {
    std::string message;
    for (const auto& problem : problems) {
      if (!message.empty()) message += "; ";
      message += problem.path.empty()
                     ? problem.message
                     : "parameter " + param_from_pointer(problem.path) + ": " + problem.message;
    }
    return invalid(message);
  }
  for (const auto& entry : properties) {
    if (params.contains(entry.key())) continue;
    if (const auto* def = find(entry.value(), {"default"})) params[entry.key()] = *def;
  }
  return params;
}

Result<ParsedArgs> parse_args(const ParamSpec& spec, const std::vector<std::string>& args,
                              const EnvLookup& env) {
  po::options_description options;
  options.add_options()("help", "")("version", "")("params", po::value<std::string>(), "");
  for (const auto& entry : spec.properties()) {
    const std::string name(entry.key());
    // "annotation,a": Program_options' spelling of a long name with its
    // short one; the value lands under the long name either way.
    const std::string spelling =
        name + (short_flag(entry.value()).empty() ? "" : "," + short_flag(entry.value()));
    const std::string type = type_of_property(entry.value());
    if (type == "array") {
      options.add_options()(spelling.c_str(), po::value<std::vector<std::string>>()->composing(), "");
    } else if (type == "boolean") {
      options.add_options()(spelling.c_str(), po::value<std::string>()->implicit_value("true"), "");
    } else {
      options.add_options()(spelling.c_str(), po::value<std::string>(), "");
    }
  }
  po::positional_options_description positional;
  const auto positional_name = spec.positional();
  if (positional_name) positional.add(positional_name->c_str(), -1);

  po::variables_map vm;
  try {
    const int style = po::command_line_style::unix_style & ~po::command_line_style::allow_guessing;
    // "--name=" (an empty value, how Argo passes an optional parameter that
    // is left out) is read as "--name" "": Program_options refuses the first.
    std::vector<std::string> words;
    words.reserve(args.size());
    for (const auto& arg : args) {
      if (arg.size() > 3 && arg.starts_with("--") && arg.back() == '=' && arg.find('=') == arg.size() - 1) {
        words.push_back(arg.substr(0, arg.size() - 1));
        words.emplace_back();
      } else {
        words.push_back(arg);
      }
    }
    po::store(po::command_line_parser(words).options(options).positional(positional).style(style).run(), vm);
  } catch (const po::error& e) {
    return invalid(e.what());
  }
  ParsedArgs parsed;
  if (vm.count("help") != 0) {
    parsed.action = ParsedArgs::Action::help;
    return parsed;
  }
  if (vm.count("version") != 0) {
    parsed.action = ParsedArgs::Action::version;
    return parsed;
  }

  json::object params;
  std::optional<std::string> params_file;
  if (vm.count("params") != 0)
    params_file = vm["params"].as<std::string>();
  else if (auto from_env = env("IRSTEPS_PARAMS"))
    params_file = *from_env;
  if (params_file) {
    auto text = read_file(*params_file);
    if (!text) return text.error().with("parameter params");
    auto document = parse_json_or_yaml(*text, *params_file);
    if (!document) return document.error();
    if (!document->is_object())
      return invalid(*params_file + ": parameters must be a mapping of names to values");
    params = std::move(document->get_object());
  }
  for (const auto& entry : spec.properties()) {
    const std::string name(entry.key());
    if (auto value = env(env_name(name))) params[name] = *value;
  }
  for (const auto& [name, value] : vm) {
    if (std::find(std::begin(builtin_flags), std::end(builtin_flags), name) != std::end(builtin_flags))
      continue;
    if (const auto* many = boost::any_cast<std::vector<std::string>>(&value.value())) {
      json::array items;
      for (const auto& item : *many) items.emplace_back(item);
      params[name] = std::move(items);
    } else if (const auto* one = boost::any_cast<std::string>(&value.value())) {
      params[name] = *one;
    }
  }
  auto finalized = finalize_params(spec, std::move(params));
  if (!finalized) return finalized.error();
  parsed.params = std::move(*finalized);
  return parsed;
}

std::string param_string(const json::object& params, std::string_view name, std::string_view fallback) {
  const auto it = params.find(name);
  if (it == params.end() || !it->value().is_string()) return std::string(fallback);
  return std::string(it->value().get_string());
}

bool param_bool(const json::object& params, std::string_view name) {
  const auto it = params.find(name);
  return it != params.end() && it->value().is_bool() && it->value().get_bool();
}

std::int64_t param_int(const json::object& params, std::string_view name, std::int64_t fallback) {
  const auto it = params.find(name);
  if (it == params.end()) return fallback;
  if (it->value().is_int64()) return it->value().get_int64();
  // Saturated, never wrapped to a negative number; param_integer says when
  // a value does not fit.
  if (it->value().is_uint64())
    return std::in_range<std::int64_t>(it->value().get_uint64())
               ? static_cast<std::int64_t>(it->value().get_uint64())
               : std::numeric_limits<std::int64_t>::max();
  return fallback;
}

std::vector<std::string> param_strings(const json::object& params, std::string_view name) {
  std::vector<std::string> values;
  const auto it = params.find(name);
  if (it == params.end()) return values;
  if (const auto* array = it->value().if_array()) {
    for (const auto& item : *array) {
      if (item.is_string()) values.emplace_back(item.get_string());
    }
  } else if (it->value().is_string()) {
    values.emplace_back(it->value().get_string());
  }
  return values;
}

}  // namespace ir
