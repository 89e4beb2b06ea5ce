#include "ir/core/text_diff.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>

namespace ir {
namespace {

// Past this many differing lines the edit script stops being minimal (the
// rest becomes one removal and one insertion): Myers' trace grows with the
// square of the distance, and a readable diff is long past by then.
constexpr std::int64_t max_distance = 2000;

using Equal = std::function<bool(std::size_t, std::size_t)>;

// Myers on from[begin_a, end_a) and to[begin_b, end_b), appending the edits.
void myers(std::size_t begin_a, std::size_t end_a, std::size_t begin_b, std::size_t end_b, const Equal& equal,
           std::vector<LineEdit>& edits) {
  const auto n = static_cast<std::int64_t>(end_a - begin_a);
  const auto m = static_cast<std::int64_t>(end_b - begin_b);
  const std::int64_t limit = std::min(n + m, max_distance);
  auto same = [&](std::int64_t x, std::int64_t y) {
    return equal(begin_a + static_cast<std::size_t>(x), begin_b + static_cast<std::size_t>(y));
  };
  // v[k + offset] is the furthest x on diagonal k; trace[d] is v before round d.
  const std::int64_t offset = limit + 1;
  std::vector<std::int64_t> v(static_cast<std::size_t>(2 * offset + 1), 0);
  auto at = [&](std::vector<std::int64_t>& row, std::int64_t k) -> std::int64_t& {
    return row[static_cast<std::size_t>(k + offset)];
  };
  std::vector<std::vector<std::int64_t>> trace;
  std::int64_t found = -1;
  for (std::int64_t d = 0; d <= limit && found < 0; ++d) {
    trace.emplace_back(v.begin() + (offset - d - 1), v.begin() + (offset + d + 2));
    for (std::int64_t k = -d; k <= d; k += 2) {
      std::int64_t x = (k == -d || (k != d && at(v, k - 1) < at(v, k + 1))) ? at(v, k + 1) : at(v, k - 1) + 1;
      std::int64_t y = x - k;
      while (x < n && y < m && same(x, y)) ++x, ++y;
      at(v, k) = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) {
    for (std::size_t i = begin_a; i < end_a; ++i) edits.push_back({LineOp::remove, i, begin_b});
    for (std::size_t j = begin_b; j < end_b; ++j) edits.push_back({LineOp::insert, end_a, j});
    return;
  }
  std::vector<LineEdit> reversed;
  std::int64_t x = n;
  std::int64_t y = m;
  for (std::int64_t d = found; d >= 0; --d) {
    const auto& row = trace[static_cast<std::size_t>(d)];
    auto old = [&](std::int64_t k) { return row[static_cast<std::size_t>(k + d + 1)]; };
    const std::int64_t k = x - y;
    const std::int64_t previous_k = (k == -d || (k != d && old(k - 1) < old(k + 1))) ? k + 1 : k - 1;
    const std::int64_t previous_x = d == 0 ? 0 : old(previous_k);
    const std::int64_t previous_y = d == 0 ? 0 : previous_x - previous_k;
    while (x > previous_x && y > previous_y) {
      --x, --y;
      reversed.push_back(
          {LineOp::keep, begin_a + static_cast<std::size_t>(x), begin_b + static_cast<std::size_t>(y)});
    }
    if (d > 0) {
      if (x == previous_x) {
        reversed.push_back({LineOp::insert, begin_a + static_cast<std::size_t>(x),
                            begin_b + static_cast<std::size_t>(previous_y)});
      } else {
        reversed.push_back({LineOp::remove, begin_a + static_cast<std::size_t>(previous_x),
                            begin_b + static_cast<std::size_t>(y)});
      }
    }
    x = previous_x;
    y = previous_y;
  }
  edits.insert(edits.end(), reversed.rbegin(), reversed.rend());
}

std::vector<LineEdit> diff_with(std::size_t from_size, std::size_t to_size, const Equal& equal) {
  std::vector<LineEdit> edits;
  // Common head and tail cost nothing to find and keep the search small.
  std::size_t head = 0;
  while (head < from_size && head < to_size && equal(head, head)) ++head;
  std::size_t tail = 0;
  while (tail < from_size - head && tail < to_size - head &&
         equal(from_size - 1 - tail, to_size - 1 - tail)) {
    ++tail;
  }
  for (std::size_t i = 0; i < head; ++i) edits.push_back({LineOp::keep, i, i});
  myers(head, from_size - tail, head, to_size - tail, equal, edits);
  for (std::size_t i = tail; i > 0; --i) {
    edits.push_back({LineOp::keep, from_size - i, to_size - i});
  }
  // Within each change, removals first, as diff -u shows them.
  for (auto begin = edits.begin(); begin != edits.end();) {
    if (begin->op == LineOp::keep) {
      ++begin;
      continue;
    }
    auto end = std::find_if(begin, edits.end(), [](const LineEdit& e) { return e.op == LineOp::keep; });
    std::stable_partition(begin, end, [](const LineEdit& e) { return e.op == LineOp::remove; });
    begin = end;
  }
  return edits;
}

std::string range(std::size_t first, std::size_t count) {
  // diff -u: an empty range names the line before it; a count of one is implied.
  if (count == 0) return std::to_string(first) + ",0";
  if (count == 1) return std::to_string(first + 1);
  return std::to_string(first + 1) + "," + std::to_string(count);
}

}  // namespace

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    if (end == std::string_view::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::vector<LineEdit> diff_lines(const std::vector<std::string_view>& from,
                                 const std::vector<std::string_view>& to) {
  return diff_with(from.size(), to.size(), [&](std::size_t i, std::size_t j) { return from[i] == to[j]; });
}

std::string unified_diff(std::string_view from, std::string_view to, const UnifiedDiffOptions& options) {
  if (from == to) return {};
  const auto a = split_lines(from);
  const auto b = split_lines(to);
  const bool a_open = !from.empty() && from.back() != '\n';
  const bool b_open = !to.empty() && to.back() != '\n';
  // A last line without its newline differs from the same text with one.
  auto open_a = [&](std::size_t i) { return a_open && i + 1 == a.size(); };
  auto open_b = [&](std::size_t j) { return b_open && j + 1 == b.size(); };
  const auto edits = diff_with(a.size(), b.size(), [&](std::size_t i, std::size_t j) {
    return a[i] == b[j] && open_a(i) == open_b(j);
  });

  std::string out = "--- " + options.from_label + "\n+++ " + options.to_label + "\n";
  const std::size_t context = options.context;
  std::size_t index = 0;
  while (index < edits.size()) {
    while (index < edits.size() && edits[index].op == LineOp::keep) ++index;
    if (index == edits.size()) break;
    const std::size_t first = index >= context ? index - context : 0;
    // Extend over changes separated by at most 2 * context unchanged lines.
    std::size_t last = index;
    std::size_t scan = index;
    while (scan < edits.size()) {
      if (edits[scan].op != LineOp::keep) {
        last = scan;
        ++scan;
        continue;
      }
      std::size_t run = scan;
      while (run < edits.size() && edits[run].op == LineOp::keep) ++run;
      if (run == edits.size() || run - scan > 2 * context) break;
      scan = run;
    }
    const std::size_t end = std::min(edits.size(), last + 1 + context);
    std::size_t from_start = edits[first].from_line;
    std::size_t to_start = edits[first].to_line;
    std::size_t from_count = 0;
    std::size_t to_count = 0;
    for (std::size_t i = first; i < end; ++i) {
      if (edits[i].op != LineOp::insert) ++from_count;
      if (edits[i].op != LineOp::remove) ++to_count;
    }
    out += "@@ -" + range(from_start, from_count) + " +" + range(to_start, to_count) + " @@\n";
    for (std::size_t i = first; i < end; ++i) {
      const auto& edit = edits[i];
      const bool from_side = edit.op != LineOp::insert;
      const auto line = from_side ? a[edit.from_line] : b[edit.to_line];
      out += edit.op == LineOp::keep ? ' ' : edit.op == LineOp::remove ? '-' : '+';
      out.append(line);
      out += '\n';
      if ((from_side && open_a(edit.from_line)) || (!from_side && open_b(edit.to_line))) {
        out += "\\ No newline at end of file\n";
      }
    }
    index = end;
  }
  return out;
}

}  // namespace ir
