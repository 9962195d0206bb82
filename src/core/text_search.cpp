#include "core/text_search.h"

#include <bit>

#include "core/byte_vector.h"

namespace kh::core {

namespace {

using namespace bytes16;

// Whether the needle starts at `p` (keys and event names: compared as words, without a call).
inline bool matchesAt(const char* p, std::string_view needle) {
  return sameBytes(std::string_view(p, needle.size()), needle);
}

// The first start position of the 16 from `at` whose lane in `hits` is set and where the whole
// needle matches, or npos. Out of line: the scan loop stays in registers.
[[gnu::noinline]] std::size_t confirm(const char* base, std::size_t at, const Bytes& hits,
                                      std::string_view needle) {
  for (unsigned lanes = laneMask(hits); lanes != 0; lanes &= lanes - 1) {
    const auto lane = static_cast<std::size_t>(std::countr_zero(lanes));
    if (matchesAt(base + at + lane, needle)) return at + lane;
  }
  return std::string_view::npos;
}

}  // namespace

std::size_t findText(std::string_view text, std::string_view needle, std::size_t from) {
  const std::size_t n = needle.size();
  if (n < 4) return text.find(needle, from);
  if (from > text.size() || text.size() - from < n) return std::string_view::npos;
  // The needle's first and last bytes are often quotes; its second and second-to-last rarely are.
  const std::size_t a = 1;
  const std::size_t b = n - 2;
  const Bytes first = splat(needle[a]);
  const Bytes second = splat(needle[b]);
  const char* const base = text.data();
  const std::size_t last_start = text.size() - n;  // the last position the needle can start at
  // Lanes of the 16 start positions from `at` where both tested bytes match; reads bytes up to
  // at + 15 + b, within the text while at + 15 <= last_start.
  auto block = [&](std::size_t at) -> Bytes {
    return (load(base + at + a) == first) & (load(base + at + b) == second);
  };
  std::size_t i = from;
  for (; i + 63 <= last_start; i += 64) {
    const Bytes h0 = block(i), h1 = block(i + 16), h2 = block(i + 32), h3 = block(i + 48);
    if (!any(h0 | h1 | h2 | h3)) continue;
    const Bytes hs[4] = {h0, h1, h2, h3};
    for (std::size_t k = 0; k < 4; ++k) {
      if (!any(hs[k])) continue;
      if (const std::size_t at = confirm(base, i + 16 * k, hs[k], needle);
          at != std::string_view::npos)
        return at;
    }
  }
  for (; i + 15 <= last_start; i += 16) {
    const Bytes h = block(i);
    if (!any(h)) continue;
    if (const std::size_t at = confirm(base, i, h, needle); at != std::string_view::npos) return at;
  }
  for (; i <= last_start; ++i)
    if (base[i + a] == needle[a] && matchesAt(base + i, needle)) return i;
  return std::string_view::npos;
}

}  // namespace kh::core
