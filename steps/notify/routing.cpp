#include "routing.hpp"

#include "severity.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <set>

namespace ir::steps::notify {
namespace {

constexpr std::pair<std::string_view, ChannelType> types[] = {{"slack", ChannelType::slack},
                                                              {"pagerduty", ChannelType::pagerduty},
                                                              {"teams", ChannelType::teams},
                                                              {"webhook", ChannelType::webhook},
                                                              {"email", ChannelType::email}};

// The fields each type takes besides the common ones.
const std::set<std::string, std::less<>>& own_fields(ChannelType type) {
  static const std::set<std::string, std::less<>> slack{"url-file", "url-env"};
  static const std::set<std::string, std::less<>> pagerduty{"routing-key-file", "routing-key-env", "url"};
  static const std::set<std::string, std::less<>> webhook{"url", "url-file", "url-env", "secret-file",
                                                          "secret-env"};
  static const std::set<std::string, std::less<>> email{"host",          "port",         "tls",  "username",
                                                        "password-file", "password-env", "from", "to"};
  switch (type) {
    case ChannelType::slack:
    case ChannelType::teams:
      return slack;
    case ChannelType::pagerduty:
      return pagerduty;
    case ChannelType::webhook:
      return webhook;
    case ChannelType::email:
      return email;
  }
  return slack;
}

const std::set<std::string, std::less<>> common_fields{"name",    "type",    "severities",  "roles",
                                                       "ca-file", "timeout", "max-attempts"};
// Secrets written into the routing file itself are refused with a pointer
// to the right way, rather than as an unknown field.
const std::set<std::string, std::less<>> inline_secrets{"routing-key", "password", "secret", "token", "key"};

class ChannelReader {
 public:
  ChannelReader(const json::object& object, std::string where, const Environment& env)
      : object_(object), where_(std::move(where)), env_(env) {}

  Error error(const std::string& field, const std::string& message) const {
    return invalid(where_ + ": " + (field.empty() ? "" : "'" + field + "' ") + message);
  }

  Result<std::string> text(const std::string& field, bool required) const {
    const auto* value = object_.if_contains(field);
    if (value == nullptr || value->is_null()) {
      if (required) return error(field, "is required");
      return std::string();
    }
    if (value->is_string() && !value->get_string().empty()) return std::string(value->get_string());
    if (value->is_int64()) return std::to_string(value->get_int64());
    return error(field, "must be a non-empty string");
  }

  Result<std::vector<std::string>> list(const std::string& field) const {
    const auto* value = object_.if_contains(field);
    std::vector<std::string> items;
    if (value == nullptr || value->is_null()) return items;
    if (value->is_string()) {
      items.emplace_back(value->get_string());
      return items;
    }
    if (!value->is_array()) return error(field, "must be a list of strings");
    for (const auto& item : value->get_array()) {
      if (!item.is_string() || item.get_string().empty()) return error(field, "must be a list of strings");
      items.emplace_back(item.get_string());
    }
    return items;
  }

  // A secret from NAME-file or NAME-env: exactly one of them.
  Result<std::optional<Secret>> secret(const std::string& name, bool required) const {
    auto file = text(name + "-file", false);
    if (!file) return file.error();
    auto variable = text(name + "-env", false);
    if (!variable) return variable.error();
    if (!file->empty() && !variable->empty()) {
      return error("", "give either " + name + "-file or " + name + "-env, not both");
    }
    if (file->empty() && variable->empty()) {
      if (required) return error("", "needs " + name + "-file or " + name + "-env");
      return std::optional<Secret>();
    }
    std::string value;
    if (!file->empty()) {
      auto content = read_file(*file);
      if (!content) return error(name + "-file", "cannot be read: " + content.error().message());
      value = std::move(*content);
      while (!value.empty() && (value.back() == '\n' || value.back() == '\r' || value.back() == ' ')) {
        value.pop_back();
      }
      if (value.empty()) return error(name + "-file", "names an empty file (" + *file + ")");
    } else {
      auto found = env_(*variable);
      if (!found || found->empty()) {
        return error(name + "-env",
                     "names environment variable " + *variable + ", which is not set or empty");
      }
      value = std::move(*found);
    }
    return std::optional<Secret>(Secret(std::move(value)));
  }

  [[nodiscard]] const std::string& where() const { return where_; }

 private:
  const json::object& object_;
  std::string where_;
  const Environment& env_;
};

// An https URL with a host; the message never shows the URL itself, which
// may be a credential.
Result<void> check_https(const ChannelReader& reader, const std::string& field, std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || parsed->scheme() != "https" || parsed->encoded_host().empty()) {
    return reader.error(field,
                        "must give an https:// URL (TLS is always verified; use ca-file for a private CA)");
  }
  return {};
}

Result<void> read_webhook_url(const ChannelReader& reader, const json::object& object, Channel& channel,
                              bool inline_allowed) {
  if (object.contains("url")) {
    if (!inline_allowed) {
      return reader.error("url", "must not be written in the routing file: a " +
                                     std::string(type_name(channel.type)) +
                                     " webhook URL is a secret; use url-file or url-env");
    }
    if (object.contains("url-file") || object.contains("url-env")) {
      return reader.error("", "give one of url, url-file and url-env");
    }
    auto url = reader.text("url", true);
    if (!url) return url.error();
    channel.url = Secret(*url);
    channel.url_is_secret = false;
  } else {
    auto url = reader.secret("url", true);
    if (!url) return url.error();
    channel.url = std::move(**url);
  }
  return check_https(reader, object.contains("url") ? "url" : "url-file/url-env", channel.url.reveal());
}

Result<void> read_email(const ChannelReader& reader, Channel& channel) {
  auto host = reader.text("host", true);
  if (!host) return host.error();
  channel.smtp.host = *host;
  auto tls = reader.text("tls", false);
  if (!tls) return tls.error();
  if (tls->empty() || *tls == "starttls") {
    channel.smtp.security = ir::notify::SmtpSecurity::starttls;
    channel.smtp.port = 587;
  } else if (*tls == "implicit") {
    channel.smtp.security = ir::notify::SmtpSecurity::implicit_tls;
    channel.smtp.port = 465;
  } else {
    return reader.error("tls", "must be starttls or implicit (there is no clear-text mode)");
  }
  auto port = reader.text("port", false);
  if (!port) return port.error();
  if (!port->empty()) {
    const bool digits =
        std::all_of(port->begin(), port->end(), [](unsigned char c) { return std::isdigit(c); });
    const long number = digits && port->size() <= 5 ? std::stol(*port) : 0;
    if (number < 1 || number > 65535) return reader.error("port", "must be a port number (1-65535)");
    channel.smtp.port = static_cast<std::uint16_t>(number);
  }
  auto username = reader.text("username", false);
  if (!username) return username.error();
  auto password = reader.secret("password", !username->empty());
  if (!password) return password.error();
  if (*password && username->empty()) return reader.error("username", "is required with a password");
  if (!username->empty()) channel.login = ir::notify::SmtpLogin{*username, std::move(**password)};
  auto from = reader.text("from", true);
  if (!from) return from.error();
  auto to = reader.list("to");
  if (!to) return to.error();
  if (to->empty()) return reader.error("to", "is required: at least one recipient");
  const auto address_ok = [](const std::string& a) {
    return a.find('@') != std::string::npos && a.find_first_of(" \t\r\n<>,;") == std::string::npos;
  };
  if (!address_ok(*from)) return reader.error("from", "is not a plain e-mail address");
  for (const auto& address : *to) {
    if (!address_ok(address)) return reader.error("to", "'" + address + "' is not a plain e-mail address");
  }
  channel.from = *from;
  channel.to = *to;
  return {};
}

Result<Channel> read_channel(const json::value& value, std::size_t index, const json::object& defaults,
                             const std::string& file_name, const Environment& env) {
  std::string where = file_name + ": channels[" + std::to_string(index) + "]";
  if (!value.is_object()) return invalid(where + " must be a mapping");
  const auto& object = value.get_object();
  if (const auto* name = object.if_contains("name"); name != nullptr && name->is_string()) {
    where += " (" + std::string(name->get_string()) + ")";
  }
  ChannelReader reader(object, where, env);
  Channel channel;
  auto name = reader.text("name", true);
  if (!name) return name.error();
  const bool name_ok = std::all_of(name->begin(), name->end(), [](unsigned char c) {
    return std::islower(c) != 0 || std::isdigit(c) != 0 || c == '-' || c == '_';
  });
  if (!name_ok || name->size() > 63) {
    return reader.error("name", "must be lower-case letters, digits, '-' or '_' (at most 63)");
  }
  channel.name = *name;
  auto type = reader.text("type", true);
  if (!type) return type.error();
  const auto* match =
      std::find_if(std::begin(types), std::end(types), [&](const auto& t) { return t.first == *type; });
  if (match == std::end(types)) {
    return reader.error(
        "type", "'" + *type + "' is not a channel type: use slack, pagerduty, teams, webhook or email");
  }
  channel.type = match->second;
  for (const auto& entry : object) {
    const std::string key(entry.key());
    if (common_fields.contains(key) || own_fields(channel.type).contains(key)) continue;
    if (inline_secrets.contains(key)) {
      return reader.error(key,
                          "must not be written in the routing file: use " + key + "-file or " + key + "-env");
    }
    if (key != "url") return reader.error(key, "is not a field of a " + *type + " channel");
  }
  auto severities = reader.list("severities");
  if (!severities) return severities.error();
  for (const auto& text : *severities) {
    auto severity = parse_severity(text);
    if (!severity) return reader.error("severities", severity.error().message());
    channel.severities.push_back(*severity);
  }
  auto roles = reader.list("roles");
  if (!roles) return roles.error();
  for (const auto& role : *roles) {
    if (std::find(all_roles().begin(), all_roles().end(), role) == all_roles().end()) {
      return reader.error("roles",
                          "'" + role +
                              "' is not a role of the escalation matrix: use on-call-engineer, team-lead, "
                              "assigned-engineer, security-lead, ciso, ceo or executives");
    }
  }
  channel.roles = *roles;
  // Per-channel settings win over the defaults section.
  std::string ca_file;
  for (const auto* source : {&defaults, &object}) {
    if (const auto* given = source->if_contains("ca-file"); given != nullptr) {
      if (!given->is_string() || given->get_string().empty())
        return reader.error("ca-file", "must be a file name");
      ca_file = std::string(given->get_string());
    }
  }
  if (!ca_file.empty()) {
    auto pem = read_file(ca_file);
    if (!pem) return reader.error("ca-file", "cannot be read: " + pem.error().message());
    channel.ca_pem = *pem;
  }
  for (const auto* source : {&defaults, &object}) {
    if (const auto* timeout = source->if_contains("timeout"); timeout != nullptr) {
      auto parsed = timeout->is_string() ? parse_duration(timeout->get_string())
                                         : Result<std::chrono::milliseconds>(invalid("not a string"));
      if (!parsed) return reader.error("timeout", "must be a duration such as 10s or 1m");
      channel.timeout = *parsed;
    }
    if (const auto* attempts = source->if_contains("max-attempts"); attempts != nullptr) {
      if (!attempts->is_int64() || attempts->get_int64() < 1 || attempts->get_int64() > 20) {
        return reader.error("max-attempts", "must be a number from 1 to 20");
      }
      channel.max_attempts = static_cast<int>(attempts->get_int64());
    }
  }
  switch (channel.type) {
    case ChannelType::slack:
    case ChannelType::teams:
      if (auto read = read_webhook_url(reader, object, channel, false); !read) return read.error();
      break;
    case ChannelType::webhook: {
      if (auto read = read_webhook_url(reader, object, channel, true); !read) return read.error();
      auto secret = reader.secret("secret", true);
      if (!secret) return secret.error();
      channel.signing_secret = std::move(**secret);
      break;
    }
    case ChannelType::pagerduty: {
      auto key = reader.secret("routing-key", true);
      if (!key) return key.error();
      channel.routing_key = std::move(**key);
      auto url = reader.text("url", false);
      if (!url) return url.error();
      channel.url = Secret(url->empty() ? std::string(pagerduty_events_url) : *url);
      channel.url_is_secret = false;
      if (auto checked = check_https(reader, "url", channel.url.reveal()); !checked) return checked.error();
      break;
    }
    case ChannelType::email:
      if (auto read = read_email(reader, channel); !read) return read.error();
      channel.smtp.ca_pem = channel.ca_pem;
      break;
  }
  return channel;
}

}  // namespace

std::string_view type_name(ChannelType type) {
  for (const auto& [name, value] : types) {
    if (value == type) return name;
  }
  return "unknown";
}

std::vector<std::string_view> Channel::secrets() const {
  std::vector<std::string_view> values;
  if (url_is_secret && !url.empty()) values.push_back(url.reveal());
  if (!routing_key.empty()) values.push_back(routing_key.reveal());
  if (!signing_secret.empty()) values.push_back(signing_secret.reveal());
  if (login && !login->password.empty()) values.push_back(login->password.reveal());
  return values;
}

Result<Routing> parse_routing(std::string_view text, const std::string& file_name, const Environment& env) {
  auto document = parse_yaml(text, file_name);
  if (!document) return document.error();
  if (!document->is_object()) return invalid(file_name + ": must be a mapping with a 'channels' list");
  const auto& root = document->get_object();
  for (const auto& entry : root) {
    if (entry.key() != "channels" && entry.key() != "defaults") {
      return invalid(file_name + ": '" + std::string(entry.key()) +
                     "' is not a field of the routing file (channels, defaults)");
    }
  }
  json::object defaults;
  if (const auto* given = root.if_contains("defaults"); given != nullptr) {
    if (!given->is_object()) return invalid(file_name + ": 'defaults' must be a mapping");
    defaults = given->get_object();
    for (const auto& entry : defaults) {
      if (entry.key() != "ca-file" && entry.key() != "timeout" && entry.key() != "max-attempts") {
        return invalid(file_name + ": defaults: '" + std::string(entry.key()) +
                       "' is not a default (ca-file, timeout, max-attempts)");
      }
    }
  }
  const auto* channels = root.if_contains("channels");
  if (channels == nullptr || !channels->is_array() || channels->get_array().empty()) {
    return invalid(file_name + ": 'channels' must be a non-empty list");
  }
  Routing routing;
  std::set<std::string> names;
  for (std::size_t i = 0; i < channels->get_array().size(); ++i) {
    auto channel = read_channel(channels->get_array()[i], i, defaults, file_name, env);
    if (!channel) return channel.error();
    if (!names.insert(channel->name).second) {
      return invalid(file_name + ": channels[" + std::to_string(i) + "]: 'name' " + channel->name +
                     " is used twice");
    }
    routing.channels.push_back(std::move(*channel));
  }
  return routing;
}

Result<Routing> load_routing(const std::string& path, const Environment& env) {
  auto text = read_file(path);
  if (!text) return text.error().with("routing file");
  return parse_routing(*text, path, env);
}

bool serves(const Channel& channel, Severity severity, const std::vector<std::string>& roles) {
  if (channel.severities.empty() && channel.roles.empty()) return true;
  if (std::find(channel.severities.begin(), channel.severities.end(), severity) != channel.severities.end()) {
    return true;
  }
  return std::any_of(channel.roles.begin(), channel.roles.end(), [&](const std::string& role) {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
  });
}

}  // namespace ir::steps::notify
