#include "core/utf8.h"

#include <algorithm>

namespace kh::core {

std::size_t validSequenceAt(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return 1;
  std::size_t len = 0;
  char32_t cp = 0, least = 0;
  if ((lead & 0xE0) == 0xC0) {
    len = 2, cp = lead & 0x1F, least = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    len = 3, cp = lead & 0x0F, least = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    len = 4, cp = lead & 0x07, least = 0x10000;
  } else {
    return 0;
  }
  if (len > s.size() - i) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < least || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

namespace {

// Appends `text` with each malformed sequence as U+FFFD, stopping before `max_bytes` would be
// passed; false when it stopped early.
bool appendValidUtf8(std::string& out, std::string_view text, std::size_t max_bytes) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = validSequenceAt(text, i);
    const std::string_view piece = n != 0 ? text.substr(i, n) : std::string_view("\xEF\xBF\xBD");
    if (out.size() + piece.size() > max_bytes) return false;
    out += piece;
    i += n != 0 ? n : 1;
  }
  return true;
}

}  // namespace

std::string validUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  appendValidUtf8(out, text, std::string::npos);
  return out;
}

std::string textExcerpt(std::string_view text, std::size_t max_bytes) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  text = text.substr(first, text.find_last_not_of(kSpace) - first + 1);
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 3);
  if (!appendValidUtf8(out, text, max_bytes)) out += "\xE2\x80\xA6";  // …
  return out;
}

}  // namespace kh::core
