#include "ir/core/text_diff.hpp"

#include "support/catch.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

using namespace ir;

namespace {

std::string numbered(int from, int to) {
  std::string text;
  for (int i = from; i <= to; ++i) text += "line " + std::to_string(i) + "\n";
  return text;
}

// The longest common subsequence by dynamic programming, to hold Myers to.
std::size_t lcs(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  std::vector<std::vector<std::size_t>> table(a.size() + 1, std::vector<std::size_t>(b.size() + 1, 0));
  for (std::size_t i = a.size(); i-- > 0;) {
    for (std::size_t j = b.size(); j-- > 0;) {
      table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : std::max(table[i + 1][j], table[i][j + 1]);
    }
  }
  return table[0][0];
}

}  // namespace

TEST_CASE("equal texts have no diff", "[unit][text_diff]") {
  CHECK(unified_diff("a\nb\n", "a\nb\n").empty());
  CHECK(unified_diff("", "").empty());
}

TEST_CASE("a changed line is one hunk with three lines of context, as diff -u writes it",
          "[unit][text_diff]") {
  const std::string before = numbered(1, 10);
  std::string after = before;
  after.replace(after.find("line 5\n"), 7, "line five\n");
  CHECK(unified_diff(before, after, {"live", "expected", 3}) ==
        "--- live\n+++ expected\n"
        "@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n+line five\n line 6\n line 7\n line 8\n");
}

TEST_CASE("changes far apart make two hunks, changes close together one", "[unit][text_diff]") {
  const std::string before = numbered(1, 30);
  std::string far = before;
  far.replace(far.find("line 2\n"), 7, "LINE 2\n");
  far.replace(far.find("line 25\n"), 8, "LINE 25\n");
  const std::string two = unified_diff(before, far);
  CHECK(std::count(two.begin(), two.end(), '@') == 8);
  CHECK(two.find("@@ -1,5 +1,5 @@") != std::string::npos);
  CHECK(two.find("@@ -22,7 +22,7 @@") != std::string::npos);
  std::string near = before;
  near.replace(near.find("line 10\n"), 8, "LINE 10\n");
  near.replace(near.find("line 15\n"), 8, "LINE 15\n");
  const std::string one = unified_diff(before, near);
  CHECK(std::count(one.begin(), one.end(), '@') == 4);
  CHECK(one.find("@@ -7,12 +7,12 @@") != std::string::npos);
}

TEST_CASE("insertions into and removals from nothing name line 0", "[unit][text_diff]") {
  CHECK(unified_diff("", "a\nb\n") == "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+a\n+b\n");
  CHECK(unified_diff("a\n", "") == "--- a\n+++ b\n@@ -1 +0,0 @@\n-a\n");
}

TEST_CASE("a missing newline at the end is a difference and is marked", "[unit][text_diff]") {
  CHECK(unified_diff("a\nb", "a\nb\n") ==
        "--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
}

TEST_CASE("the edit script is a shortest one: as many kept lines as the longest common subsequence",
          "[unit][text_diff]") {
  std::uint32_t state = 12345;
  auto next = [&] {
    state = state * 1103515245u + 12345u;
    return (state >> 16) % 4;
  };
  static const std::string_view words[] = {"a", "b", "c", "d"};
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string_view> a, b;
    for (std::uint32_t i = 0, n = next() * 4; i < n; ++i) a.push_back(words[next()]);
    for (std::uint32_t i = 0, n = next() * 4; i < n; ++i) b.push_back(words[next()]);
    const auto edits = diff_lines(a, b);
    std::size_t kept = 0, removed = 0, inserted = 0;
    for (const auto& edit : edits) {
      if (edit.op == LineOp::keep) {
        REQUIRE(a[edit.from_line] == b[edit.to_line]);
        ++kept;
      }
      removed += edit.op == LineOp::remove;
      inserted += edit.op == LineOp::insert;
    }
    CHECK(kept == lcs(a, b));
    CHECK(kept + removed == a.size());
    CHECK(kept + inserted == b.size());
  }
}
