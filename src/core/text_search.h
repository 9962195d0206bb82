#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/byte_vector.h"

namespace kh::core {

// Where `needle` first occurs in `text` at or after `from`, or npos. For the hot paths that look
// for a key in streamed JSON: it tests two of the needle's bytes sixteen positions at a time and
// compares the whole needle only where both match, several times faster than memmem on text
// with many quotes. Needles of fewer than four bytes fall back to string_view::find.
std::size_t findText(std::string_view text, std::string_view needle, std::size_t from = 0);

namespace detail {
// The first position at or after `from` whose byte `lanes` sets a lane for (sixteen bytes at a
// time) and `is` holds for (bytes of a text shorter than sixteen); npos if none.
template <typename Lanes, typename Is>
inline std::size_t findLanes(std::string_view text, std::size_t from, Lanes lanes, Is is) {
  using namespace bytes16;
  const char* const base = text.data();
  const std::size_t n = text.size();
  if (from >= n) return std::string_view::npos;
  std::size_t i = from;
  for (; n - i >= 16; i += 16)
    if (const unsigned m = laneMask(lanes(load(base + i))); m != 0)
      return i + static_cast<std::size_t>(std::countr_zero(m));
  if (i == n) return std::string_view::npos;
  if (n >= 16) {
    // The rest as the text's last sixteen bytes, lanes before `i` already read.
    const std::size_t start = n - 16;
    const unsigned m = laneMask(lanes(load(base + start))) & (0xFFFFu << (i - start));
    return m != 0 ? start + static_cast<std::size_t>(std::countr_zero(m)) : std::string_view::npos;
  }
  for (; i < n; ++i)
    if (is(base[i])) return i;
  return std::string_view::npos;
}
}  // namespace detail

// Where byte `c` first occurs in `text` at or after `from`, or npos. Inline, sixteen bytes at a
// time, for the short searches of HTTP heads (line ends, colons), where calling memchr cost more
// than the search itself.
inline std::size_t findByte(std::string_view text, char c, std::size_t from = 0) {
  using bytes16::Bytes;
  const Bytes want = bytes16::splat(static_cast<unsigned char>(c));
  return detail::findLanes(
      text, from, [&](const Bytes& v) -> Bytes { return v == want; },
      [c](char x) { return x == c; });
}

// Where the first of bytes `a` and `b` occurs at or after `from`, or npos: line ends (LF or CR)
// in one search.
inline std::size_t findEither(std::string_view text, char a, char b, std::size_t from = 0) {
  using bytes16::Bytes;
  const Bytes want_a = bytes16::splat(static_cast<unsigned char>(a));
  const Bytes want_b = bytes16::splat(static_cast<unsigned char>(b));
  return detail::findLanes(
      text, from, [&](const Bytes& v) -> Bytes { return (v == want_a) | (v == want_b); },
      [a, b](char x) { return x == a || x == b; });
}

namespace detail {
// The first and the last sizeof(Word) bytes of x and y (n of them, at least one word) are equal:
// all n bytes, as the two words overlap.
template <typename Word>
inline bool sameEnds(const char* x, const char* y, std::size_t n) {
  Word x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  std::memcpy(&x1, x, sizeof(Word));
  std::memcpy(&x2, x + n - sizeof(Word), sizeof(Word));
  std::memcpy(&y1, y, sizeof(Word));
  std::memcpy(&y2, y + n - sizeof(Word), sizeof(Word));
  return ((x1 ^ y1) | (x2 ^ y2)) == 0;
}
}  // namespace detail

// a == b, inline for the short strings of hot paths (ids and model names compared once per
// streamed token), where a call to memcmp cost more than the comparison: up to 32 bytes as two
// overlapping words or vectors. Longer strings go to memcmp.
inline bool sameBytes(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n >= 16 && n <= 32) {
    using namespace bytes16;
    return laneMask((load(x) != load(y)) | (load(x + n - 16) != load(y + n - 16))) == 0;
  }
  if (n >= 8 && n < 16) return detail::sameEnds<std::uint64_t>(x, y, n);
  if (n >= 4 && n < 8) return detail::sameEnds<std::uint32_t>(x, y, n);
  if (n < 4) {
    for (std::size_t i = 0; i < n; ++i)
      if (x[i] != y[i]) return false;
    return true;
  }
  return std::memcmp(x, y, n) == 0;
}

}  // namespace kh::core
