#include "core/json_text.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace kh::core {

namespace {

using namespace bytes16;

// The same for the eight bytes of `w`, each marked by its high bit. Exact for every byte: no
// carry crosses from one byte into the next.
std::uint64_t specialBytes(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kLow7 = kOnes * 0x7F;
  constexpr std::uint64_t kHighs = kOnes * 0x80;
  auto zero = [](std::uint64_t x) { return ~(((x & kLow7) + kLow7) | x) & kHighs; };
  const std::uint64_t control = ~(((w & kLow7) + kOnes * 0x60) | w) & kHighs;
  return zero(w ^ (kOnes * '"')) | zero(w ^ (kOnes * '\\')) | control;
}

// Texts of fewer than sixteen bytes: eight at a time, the rest as the text's last eight.
std::size_t findInShort(std::string_view text, std::size_t from, bool* high) {
  const char* const base = text.data();
  const std::size_t n = text.size();
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  if (n < 8) {
    for (std::size_t i = from; i < n; ++i) {
      const auto c = static_cast<unsigned char>(base[i]);
      if (c < 0x20 || c == '"' || c == '\\') return i;
      if (c >= 0x80 && high != nullptr) *high = true;
    }
    return n;
  }
  for (std::size_t i = from; i < n;) {
    const std::size_t at = i <= n - 8 ? i : n - 8;
    std::uint64_t w;
    std::memcpy(&w, base + at, sizeof w);
    const std::uint64_t lanes = ~0ULL << (8 * (i - at));  // bytes before `i` were read already
    const std::uint64_t marks = specialBytes(w) & lanes;
    const std::uint64_t before = marks != 0 ? (marks & (~marks + 1)) - 1 : ~0ULL;
    if (high != nullptr && (w & kHighs & lanes & before) != 0) *high = true;
    if (marks != 0) return at + static_cast<std::size_t>(std::countr_zero(marks)) / 8;
    i = at + 8;
  }
  return n;
}

}  // namespace

namespace detail {

std::size_t findJsonSpecialFrom(std::string_view text, std::size_t from, bool* high) {
  const char* const base = text.data();
  const std::size_t n = text.size();
  if (from >= n) return n;
  if (n < 16) return findInShort(text, from, high);
  unsigned seen = 0;  // high bits of the bytes passed over
  std::size_t i = from;
  std::size_t found = n;
  for (; n - i >= 16; i += 16) {
    const Bytes v = load(base + i);
    const unsigned hits = jsonSpecialLanes(v);
    if (hits != 0) {
      const auto lane = static_cast<unsigned>(std::countr_zero(hits));
      seen |= laneMask(v) & ((1u << lane) - 1);
      found = i + lane;
      break;
    }
    seen |= laneMask(v);
  }
  if (found == n && i < n) {
    // The rest, fewer than sixteen bytes, read as the text's last sixteen: lanes before `i` were
    // read already (or lie before `from`) and do not count.
    const std::size_t start = n - 16;
    const Bytes v = load(base + start);
    const unsigned lanes = 0xFFFFu << (i - start) & 0xFFFFu;
    const unsigned hits = jsonSpecialLanes(v) & lanes;
    const unsigned before = hits != 0 ? (hits & (~hits + 1)) - 1 : 0xFFFFu;
    seen |= laneMask(v) & lanes & before;
    if (hits != 0) found = start + static_cast<std::size_t>(std::countr_zero(hits));
  }
  if (high != nullptr && seen != 0) *high = true;
  return found;
}

}  // namespace detail

bool isPlainJsonText(std::string_view s) {
  const char* const p = s.data();
  const std::size_t n = s.size();
  if (n >= 16) {
    std::size_t i = 0;
    for (; n - i >= 16; i += 16)
      if (jsonSpecialLanes(load(p + i)) != 0) return false;
    return i == n || jsonSpecialLanes(load(p + n - 16)) == 0;
  }
  std::uint64_t w;
  if (n >= 8) {
    std::uint64_t last;
    std::memcpy(&w, p, 8);
    std::memcpy(&last, p + n - 8, 8);
    return (specialBytes(w) | specialBytes(last)) == 0;
  }
  if (n >= 4) {
    std::uint32_t first, last;
    std::memcpy(&first, p, 4);
    std::memcpy(&last, p + n - 4, 4);
    return specialBytes(first | std::uint64_t{last} << 32) == 0;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == '"' || c == '\\') return false;
  }
  return true;
}

namespace {

// How many leading bytes of `s` were copied to `to` (room for all of `s`) with nothing to escape:
// s.size() for the usual text. Sixteen bytes at a time, each block checked and stored in one
// pass; a short text is checked whole first.
std::size_t copyPlainJsonText(char* to, std::string_view s) {
  const char* const from = s.data();
  const std::size_t n = s.size();
  if (n < 16) {
    if (n == 0 || !isPlainJsonText(s)) return 0;
    std::memcpy(to, from, n);
    return n;
  }
  std::size_t i = 0;
  for (; n - i >= 16; i += 16) {
    const Bytes v = load(from + i);
    if (jsonSpecialLanes(v) != 0) return i;
    std::memcpy(to + i, &v, sizeof v);
  }
  if (i == n) return n;
  // The rest as the text's last sixteen bytes, which overlap bytes already stored alike.
  const Bytes v = load(from + n - 16);
  if (jsonSpecialLanes(v) != 0) return i;
  std::memcpy(to + n - 16, &v, sizeof v);
  return n;
}

}  // namespace

void appendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // The usual text has nothing to escape: its quoted form is sized up front and written in
  // place. At the first byte that needs escaping, the loop below goes on from there.
  const std::size_t at = out.size();
  out.resize(at + s.size() + 2);
  char* const to = out.data() + at;
  to[0] = '"';
  const std::size_t plain = copyPlainJsonText(to + 1, s);
  if (plain == s.size()) {
    to[plain + 1] = '"';
    return;
  }
  out.resize(at + 1 + plain);
  std::size_t run = plain;  // start of the pending run of characters that need no escaping
  for (;;) {
    const std::size_t i = findJsonSpecial(s, run);
    if (i == s.size()) break;
    out.append(s.data() + run, i - run);
    run = i + 1;
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default: {
        const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(u, sizeof u);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

bool isCanonicalJsonText(std::string_view escaped) {
  for (std::size_t at = escaped.find('\\'); at != std::string_view::npos;
       at = escaped.find('\\', at)) {
    if (at + 1 >= escaped.size()) return false;
    switch (escaped[at + 1]) {
      case '"':
      case '\\':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        at += 2;
        continue;
      case 'u':
        break;
      default:  // "\/"
        return false;
    }
    // \u00XX for the control characters without a short escape, in lowercase hex.
    if (at + 6 > escaped.size()) return false;
    const std::string_view hex = escaped.substr(at + 2, 4);
    auto digit = [](char c) {
      return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    if (hex[0] != '0' || hex[1] != '0' || digit(hex[2]) < 0 || digit(hex[2]) > 1 ||
        digit(hex[3]) < 0)
      return false;
    const int c = digit(hex[2]) * 16 + digit(hex[3]);
    if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') return false;
    at += 6;
  }
  return true;
}

}  // namespace kh::core
