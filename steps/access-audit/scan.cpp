#include "scan.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>

namespace ir::steps::access_audit {
namespace {

// Byte scans over whole chunks, so that a line that cannot concern the target
// costs a few vector instructions instead of a call per line. Written once
// with GCC's generic vectors; on x86-64 compiled both for AVX2 and for the
// baseline (SSE2), the one for this CPU chosen when the program is loaded.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define IRSTEPS_SCAN_CLONES [[gnu::target_clones("avx2", "default")]]
#else
#define IRSTEPS_SCAN_CLONES
#endif

// The helpers below are always inlined into the clones, so no 32-byte vector
// ever crosses a call: GCC's note that the non-AVX ABI passes them
// differently does not apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
using Bytes = signed char __attribute__((vector_size(32)));
constexpr std::size_t width = sizeof(Bytes);

[[gnu::always_inline]] inline Bytes load(const char* at) {
  Bytes bytes;
  std::memcpy(&bytes, at, sizeof bytes);
  return bytes;
}

[[gnu::always_inline]] inline bool any(Bytes mask) {
  std::uint64_t words[width / 8];
  std::memcpy(words, &mask, sizeof mask);
  std::uint64_t all = 0;
  for (const auto word : words) all |= word;
  return all != 0;
}

// The first position in [from, stop) where two bytes match the probe of
// one of `count` needles (a candidate, to be confirmed), or npos.
template <std::size_t count>
[[gnu::always_inline]] inline std::size_t probe_needles(const char* data, std::size_t from, std::size_t stop,
                                                        const std::string* needles, const Probe* probes) {
  for (std::size_t i = from; i + width <= stop; i += width) {
    Bytes hits{};
    for (std::size_t k = 0; k < count; ++k) {
      const auto a = static_cast<signed char>(needles[k][probes[k].first]);
      const auto b = static_cast<signed char>(needles[k][probes[k].second]);
      hits |= (load(data + i + probes[k].first) == a) & (load(data + i + probes[k].second) == b);
    }
    if (!any(hits)) continue;
    for (std::size_t lane = 0; lane < width; ++lane) {
      if (hits[lane] != 0) return i + lane;
    }
  }
  return npos;
}

IRSTEPS_SCAN_CLONES
std::size_t probe_needles(const char* data, std::size_t from, std::size_t stop, const std::string* needles,
                          const Probe* probes, std::size_t count) {
  if (count == 1) return probe_needles<1>(data, from, stop, needles, probes);
  if (count == 2) return probe_needles<2>(data, from, stop, needles, probes);
  return probe_needles<3>(data, from, stop, needles, probes);
}

// The number of well-framed lines from `from` (at a '{'), stopping before the
// block of `width` positions in which a newline at j has not '}' at j - 1 or
// '{' at j + 1; `stop` (with stop - 1 the last position read) is where the
// block loop ends. Returns where the blocks ended (through `at`).
IRSTEPS_SCAN_CLONES
std::uint64_t framed_blocks(const char* data, std::size_t& at, std::size_t stop) {
  std::uint64_t count = 0;
  Bytes lanes{};
  int rounds = 0;
  const auto flush = [&] {
    for (std::size_t lane = 0; lane < width; ++lane) count += static_cast<std::uint8_t>(lanes[lane]);
    lanes = Bytes{};
    rounds = 0;
  };
  std::size_t i = at;
  for (; i + width < stop; i += width) {
    const Bytes newlines = load(data + i) == '\n';
    const Bytes framed = (load(data + i - 1) == '}') & (load(data + i + 1) == '{');
    if (any(newlines & ~framed)) break;
    lanes -= newlines;  // a match is -1
    if (++rounds == 127) flush();
  }
  flush();
  at = i;
  return count;
}
#pragma GCC diagnostic pop

}  // namespace

Needles::Needles(std::vector<std::string> needles, std::string_view sample) : needles_(std::move(needles)) {
  assert(!needles_.empty() && needles_.size() <= 3);
  std::array<std::uint64_t, 256> frequency{};
  for (const char c : sample) ++frequency[static_cast<unsigned char>(c)];
  for (const auto& needle : needles_) {
    assert(!needle.empty());
    longest_ = std::max(longest_, needle.size());
    Probe probe{0, 0};
    std::uint64_t best = UINT64_MAX;
    for (std::size_t i = 0; i < needle.size(); ++i) {
      for (std::size_t j = i + 1; j < needle.size(); ++j) {
        const std::uint64_t score = (frequency[static_cast<unsigned char>(needle[i])] + 1) *
                                    (frequency[static_cast<unsigned char>(needle[j])] + 1);
        if (score < best) {
          best = score;
          probe = {i, j};
        }
      }
    }
    probes_.push_back(probe);
  }
}

std::size_t Needles::find(std::string_view text, std::size_t from) const {
  // Probes read up to longest_ - 1 bytes past a position.
  const std::size_t stop = text.size() >= longest_ ? text.size() - longest_ + 1 : 0;
  std::size_t at = from;
  while (at + width <= stop) {
    const std::size_t hit =
        probe_needles(text.data(), at, stop, needles_.data(), probes_.data(), needles_.size());
    if (hit == npos) {
      at += (stop - at) / width * width;  // past the blocks probed
      break;
    }
    if (starts_at(text, hit)) return hit;
    at = hit + 1;
  }
  // The last positions, fewer than a block: string_view::find.
  std::size_t first = npos;
  for (const auto& needle : needles_) first = std::min(first, text.find(needle, at));
  return first;
}

bool Needles::starts_at(std::string_view text, std::size_t at) const {
  return std::any_of(needles_.begin(), needles_.end(),
                     [&](const std::string& needle) { return text.substr(at, needle.size()) == needle; });
}

std::size_t framed_lines(std::string_view text, std::size_t from, std::size_t to, std::uint64_t& lines) {
  const char* data = text.data();
  if (from >= to || data[from] != '{') return from;
  std::size_t end = from;  // of the last line found well framed
  std::size_t i = from + 1;
  if (const std::uint64_t count = framed_blocks(data, i, to); count > 0) {
    end =
        static_cast<std::size_t>(static_cast<const char*>(::memrchr(data + from, '\n', i - from)) - data) + 1;
    lines += count;
  }
  while (i < to) {
    const auto* found = static_cast<const char*>(std::memchr(data + i, '\n', to - i));
    if (found == nullptr) break;
    const auto j = static_cast<std::size_t>(found - data);
    if (data[j - 1] != '}' || (j + 1 < to && data[j + 1] != '{')) break;
    ++lines;
    end = i = j + 1;
  }
  return end;
}

std::size_t occurrences(std::string_view text, const std::string& needle) {
  const Needles search({needle}, text);
  std::size_t count = 0;
  for (std::size_t at = search.find(text, 0); at != npos; at = search.find(text, at + 1)) ++count;
  return count;
}

}  // namespace ir::steps::access_audit
