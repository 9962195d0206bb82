#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kh::core {

// Decodes the UTF-8 code point at s[i] and advances i past it. A malformed or truncated sequence
// counts as one code point of the first byte's value, so scanning never stalls or throws.
inline char32_t nextCodePoint(std::string_view s, std::size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
  if (i + len > s.size()) len = 1;
  char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

// Bytes of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong forms, surrogates or
// code points past U+10FFFF), or 0 when the bytes there are not one.
std::size_t validSequenceAt(std::string_view s, std::size_t i);

// `text` with each malformed sequence replaced by U+FFFD: an error message that quotes what an
// upstream sent (a stream event's name) is valid text in the client's JSON.
std::string validUtf8(std::string_view text);

// Text from an upstream (an error page, a body that is not JSON) made fit for a message a client
// reads: whitespace at either end dropped, malformed UTF-8 replaced by U+FFFD, and past
// `max_bytes` cut at a character's end and marked "…".
std::string textExcerpt(std::string_view text, std::size_t max_bytes);

}  // namespace kh::core
