// A line diff (Myers' O(ND) algorithm) rendered as a unified diff, the format
// of `diff -u` and `git diff`: hunks with context lines and @@ headers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ir {

enum class LineOp { keep, remove, insert };

struct LineEdit {
  LineOp op = LineOp::keep;
  std::size_t from_line = 0;  // index into the old lines (keep, remove)
  std::size_t to_line = 0;    // index into the new lines (keep, insert)
};

// Lines without their terminators; a last line without a newline counts.
[[nodiscard]] std::vector<std::string_view> split_lines(std::string_view text);

// A shortest edit script turning `from` into `to`, removals before insertions
// within each change.
[[nodiscard]] std::vector<LineEdit> diff_lines(const std::vector<std::string_view>& from,
                                               const std::vector<std::string_view>& to);

struct UnifiedDiffOptions {
  std::string from_label = "a";
  std::string to_label = "b";
  std::size_t context = 3;
};

// Empty when the texts are equal.
[[nodiscard]] std::string unified_diff(std::string_view from, std::string_view to,
                                       const UnifiedDiffOptions& options = {});

}  // namespace ir
