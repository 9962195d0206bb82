#include "core/glob.h"

namespace kh::core {

namespace {

constexpr std::size_t kNoMatch = std::string_view::npos;

// The class starting at pattern[i] == '[' tested against `c`. Returns the index just past its
// ']' and sets `hit`; kNoMatch when the class is unterminated.
std::size_t matchClass(std::string_view p, std::size_t i, unsigned char c, bool& hit) {
  std::size_t j = i + 1;
  bool negate = false;
  if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
    negate = true;
    ++j;
  }
  bool found = false;
  bool first = true;
  // One member character at p[k] (k < size), maybe escaped; advances k past it.
  auto member = [&](std::size_t& k) -> std::size_t {
    if (p[k] == '\\' && k + 1 < p.size()) ++k;
    return static_cast<unsigned char>(p[k++]);
  };
  while (j < p.size() && (p[j] != ']' || first)) {
    first = false;
    const std::size_t lo = member(j);
    std::size_t hi = lo;
    if (j + 1 < p.size() && p[j] == '-' && p[j + 1] != ']') {
      ++j;
      hi = member(j);
    }
    if (lo <= c && c <= hi) found = true;
  }
  if (j >= p.size()) return kNoMatch;
  hit = found != negate;
  return j + 1;
}

// If the single-character token at pattern[i] (not '*') matches `c`, the index after it.
std::size_t matchOne(std::string_view p, std::size_t i, char c) {
  const auto uc = static_cast<unsigned char>(c);
  switch (p[i]) {
    case '?':
      return i + 1;
    case '[': {
      bool hit = false;
      const std::size_t next = matchClass(p, i, uc, hit);
      if (next != kNoMatch) return hit ? next : kNoMatch;
      break;  // unterminated: a literal '['
    }
    case '\\':
      if (i + 1 < p.size()) return p[i + 1] == c ? i + 2 : kNoMatch;
      break;  // a trailing '\' is itself
    default:
      break;
  }
  return p[i] == c ? i + 1 : kNoMatch;
}

}  // namespace

bool globMatch(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star_p = kNoMatch;  // pattern index just after the last '*' seen
  std::size_t star_t = 0;         // text index that '*' was last tried to end at
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = ++p;
      star_t = t;
      continue;
    }
    if (p < pattern.size()) {
      if (const std::size_t next = matchOne(pattern, p, text[t]); next != kNoMatch) {
        p = next;
        ++t;
        continue;
      }
    }
    // Mismatch: let the last '*' swallow one more character, or fail without one.
    if (star_p == kNoMatch) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace kh::core
