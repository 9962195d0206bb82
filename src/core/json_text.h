#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace kh::core {

// Writing JSON text straight into a string, for hot paths (stream events, log lines) where building
// a document first would cost more than the text itself.

// `s` as a JSON string literal, quotes included (RFC 8259 escaping; non-ASCII passes through).
void appendJsonString(std::string& out, std::string_view s);

// Of the eight bytes in `w`, those a JSON string cannot hold as they are: '"', '\\' and control
// characters, each marked by its high bit. Exact for the lowest marked byte (the borrows of the
// subtractions run only upward from a marked one), which is all a scan for the first one reads.
inline std::uint64_t jsonSpecialBytes(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  auto zeroBytes = [](std::uint64_t x) { return (x - kOnes) & ~x; };
  const std::uint64_t control = (w - kOnes * 0x20) & ~w;
  return (zeroBytes(w ^ (kOnes * '"')) | zeroBytes(w ^ (kOnes * '\\')) | control) & kHighs;
}

// `s` stands in a JSON string as it is, with nothing to escape.
bool isPlainJsonText(std::string_view s);

inline void appendJsonInt(std::string& out, long long n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

}  // namespace kh::core
