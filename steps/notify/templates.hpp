// The playbooks' three communication templates, built in, and custom ones
// from files: text with {{field}} placeholders ({{field|default}} where the
// template itself says what to write when the field is absent), an optional
// first line "Subject: ...". A field the template needs and the incident
// lacks is an error naming it, never an empty hole in the message.
#pragma once

#include "ir/core/error.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ir::steps::notify {

using Fields = std::map<std::string, std::string>;

struct Message {
  std::string template_name;
  std::string subject;
  std::string body;
};

// The built-in templates by name; nullopt for an unknown name.
[[nodiscard]] std::optional<std::string_view> builtin_template(std::string_view name);
[[nodiscard]] const std::vector<std::string_view>& builtin_template_names();

// Marks a section that only people can write (post-incident report).
inline constexpr std::string_view to_be_written = "[TO BE WRITTEN BY THE INCIDENT TEAM";

// Fills `text`. Regulatory deadlines in fields["deadlines"] are appended
// when the template does not place them itself.
[[nodiscard]] Result<Message> render(std::string_view template_name, std::string_view text,
                                     const Fields& fields);

// The placeholders a template uses, in order of first use.
[[nodiscard]] Result<std::vector<std::string>> placeholders(std::string_view text);

}  // namespace ir::steps::notify
