#pragma once

#include <bit>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/byte_vector.h"

namespace kh::core {

// Writing JSON text straight into a string, for hot paths (stream events, log lines) where building
// a document first would cost more than the text itself.

// `s` as a JSON string literal, quotes included (RFC 8259 escaping; non-ASCII passes through).
void appendJsonString(std::string& out, std::string_view s);
// `escaped`, the characters between the quotes of a valid JSON string, is escaped exactly as
// appendJsonString escapes: what appendJsonString writes for the decoded text is `escaped` again.
// Other encoders spell some characters otherwise ("\/", "\u00e9"); those texts are not.
bool isCanonicalJsonText(std::string_view escaped);

// `s` quoted, for text the program itself spells (roles, enum names) and that never needs
// escaping: no scan.
inline void appendPlainJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  out.append(s);
  out.push_back('"');
}

namespace detail {
std::size_t findJsonSpecialFrom(std::string_view text, std::size_t from, bool* high);
}  // namespace detail

// The lanes of `v` a JSON string cannot hold as they are ('"', '\\', control characters), lane k
// as bit k.
inline unsigned jsonSpecialLanes(const bytes16::Bytes& v) {
  using namespace bytes16;
  return laneMask((v == splat('"')) | (v == splat('\\')) | (v < splat(0x20)));
}

// Where the first byte at or after `from` lies that a JSON string cannot hold as it is ('"', '\\'
// or a control character); text.size() if there is none. It reads sixteen bytes at a time and may
// read any byte of `text`, before `from` too: pass the whole buffer the search runs in, so that
// a short rest is still read as one vector.
//
// With `high`, it also sets `high` when a byte of 0x80 or above lies between `from` and the byte
// found (text that is to be checked as UTF-8); `high` is never cleared.
//
// Inline for the usual case of a key or a short piece of text that ends within sixteen bytes.
inline std::size_t findJsonSpecial(std::string_view text, std::size_t from, bool* high = nullptr) {
  using namespace bytes16;
  if (from <= text.size() && text.size() - from >= 16) {
    const Bytes v = load(text.data() + from);
    const unsigned hits = jsonSpecialLanes(v);
    if (hits != 0) {
      const auto lane = static_cast<unsigned>(std::countr_zero(hits));
      if (high != nullptr && (laneMask(v) & ((1u << lane) - 1)) != 0) *high = true;
      return from + lane;
    }
  }
  return detail::findJsonSpecialFrom(text, from, high);
}

// `s` stands in a JSON string as it is, with nothing to escape. Every byte is tested, so the
// words and vectors may overlap: no byte-by-byte rest (log values are mostly short).
bool isPlainJsonText(std::string_view s);

// A JSON number read as a double, as an integer when it is a whole number long long can hold;
// nullopt for a fraction and beyond ±2^63, where converting would be undefined ("1e300" sent
// for a token count).
inline std::optional<long long> wholeNumber(double d) {
  constexpr double kBound = 9223372036854775808.0;  // 2^63, exact as a double
  if (!(d >= -kBound && d < kBound)) return std::nullopt;
  const auto n = static_cast<long long>(d);
  if (static_cast<double>(n) != d) return std::nullopt;
  return n;
}

// The same for an unsigned integer: nullopt above long long's range.
inline std::optional<long long> wholeNumber(std::uint64_t u) {
  if (u > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<long long>(u);
}

// A JSON text on one line, as an SSE `data:` line must carry it: a valid JSON text holds line
// breaks only as whitespace between tokens (an upstream's pretty-printed error passed on), so
// each becomes a space.
inline void appendJsonOnOneLine(std::string& out, std::string_view json) {
  const std::size_t from = out.size();
  out.append(json);
  for (std::size_t i = from; i < out.size(); ++i)
    if (out[i] == '\n' || out[i] == '\r') out[i] = ' ';
}

inline void appendJsonInt(std::string& out, long long n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

}  // namespace kh::core
