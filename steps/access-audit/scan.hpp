// The byte scans of the audit log reader: a set of needles searched for in a
// chunk at once, and the framing of a run of JSON lines checked at once.
// Written with GCC's generic vectors; on x86-64 compiled both for AVX2 and
// for the baseline (SSE2), the one for this CPU chosen when the program is
// loaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ir::steps::access_audit {

inline constexpr std::size_t npos = std::string_view::npos;

struct Probe {
  std::size_t first;  // offsets in the needle of the two bytes compared
  std::size_t second;
};

// Up to three needles searched for together, in one pass: the positions
// where one could start are found from two of its bytes, then confirmed with
// a comparison. The two bytes are the rarest pair in a sample of the log: in
// JSON text a needle's first and last bytes ('l' and '"' of `list"`) would
// match on nearly every line.
class Needles {
 public:
  Needles(std::vector<std::string> needles, std::string_view sample);
  // The first position at or after `from` where one of the needles starts.
  [[nodiscard]] std::size_t find(std::string_view text, std::size_t from) const;

 private:
  [[nodiscard]] bool starts_at(std::string_view text, std::size_t at) const;

  std::vector<std::string> needles_;
  std::vector<Probe> probes_;
  std::size_t longest_ = 0;
};

// The framing check of a run of lines at once. [from, to) are whole lines (to
// is just after a newline). Returns the end of the longest prefix of them in
// which every line starts with '{' and ends with '}' right before its
// newline, and adds their number to `lines`. Such a line needs no other
// check; the line after the prefix may still be fine (blank, "\r\n", spaces):
// the caller checks it on its own.
[[nodiscard]] std::size_t framed_lines(std::string_view text, std::size_t from, std::size_t to,
                                       std::uint64_t& lines);

// How often `needle` occurs in `text`.
[[nodiscard]] std::size_t occurrences(std::string_view text, const std::string& needle);

}  // namespace ir::steps::access_audit
