// JSON and YAML documents as boost::json values, with the parse exceptions of
// yaml-cpp and Boost.JSON caught here and turned into errors that say where.
#pragma once

#include "ir/core/error.hpp"

#include <boost/json/value.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace ir {

namespace json = boost::json;

[[nodiscard]] Result<json::value> parse_json(std::string_view text, std::string_view what);

// YAML 1.2 core schema: plain scalars become null, bools, integers or numbers;
// quoted scalars stay strings. Empty documents are skipped.
[[nodiscard]] Result<std::vector<json::value>> parse_yaml_documents(std::string_view text,
                                                                    std::string_view what);
[[nodiscard]] Result<json::value> parse_yaml(std::string_view text, std::string_view what);

// JSON when the text starts like JSON, else YAML (JSON is YAML, but Boost.JSON
// reports JSON errors better).
[[nodiscard]] Result<json::value> parse_json_or_yaml(std::string_view text, std::string_view what);

[[nodiscard]] Result<std::string> read_file(const std::string& path);
// Writes via a temporary name of its own (concurrent writers of one path
// never share it), fsync and rename, so a reader never sees half a file;
// the folder is synced after the rename.
[[nodiscard]] Result<void> write_file_atomic(const std::string& path, std::string_view content);
// fsync of the folder that holds `path`: makes a rename into it durable.
[[nodiscard]] Result<void> sync_directory_of(const std::string& path);

// Walks objects by key; nullptr where any step is missing or not an object.
[[nodiscard]] const json::value* find(const json::value& root, std::initializer_list<std::string_view> path);
[[nodiscard]] const json::value* find(const json::object& root, std::initializer_list<std::string_view> path);
// A pointer into a temporary would dangle: refuse it at compile time.
const json::value* find(json::value&& root, std::initializer_list<std::string_view> path) = delete;
// The same with a path built at run time.
[[nodiscard]] const json::value* find(const json::value& root, const std::vector<std::string>& path);
const json::value* find(json::value&& root, const std::vector<std::string>& path) = delete;
const json::value* find(json::object&& root, std::initializer_list<std::string_view> path) = delete;
[[nodiscard]] std::string string_at(const json::value& root, std::initializer_list<std::string_view> path,
                                    std::string_view fallback = {});
[[nodiscard]] std::string string_at(const json::object& root, std::initializer_list<std::string_view> path,
                                    std::string_view fallback = {});

// Canonical form used for hashing and comparisons: keys sorted, no spaces.
[[nodiscard]] std::string to_sorted_json(const json::value& value);
// Indented JSON for people (stdout documents, --dry-run output).
[[nodiscard]] std::string to_pretty_json(const json::value& value);

}  // namespace ir
