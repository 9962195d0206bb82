#include "model/json_scan.h"

#include <charconv>
#include <cstring>

#include <simdjson.h>

#include "core/json_text.h"

namespace kh::model {

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

bool isSpace(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

// Past the JSON whitespace at `p`, for JsonScanner (answers and events, which are often
// pretty-printed): line breaks and indentation are read sixteen bytes at a time.
const char* skipJsonSpace(const char* p, const char* end) {
  using namespace core::bytes16;
  for (; end - p >= 16; p += 16) {
    const Bytes v = load(p);
    const unsigned space =
        laneMask((v == splat(' ')) | (v == splat('\n')) | (v == splat('\r')) | (v == splat('\t')));
    if (space != 0xFFFF) return p + std::countr_zero(~space);
  }
  while (p < end && isSpace(*p)) ++p;
  return p;
}

// Past the number that starts at `p`, or nullptr when there is none there or it is one that
// simdjson might read differently or refuse (see JsonScanner).
const char* endOfNumber(const char* p, const char* const end) {
  const char* const start = p;
  if (p < end && *p == '-') ++p;
  if (p == end || !isDigit(*p)) return nullptr;
  const char* const digits = p;
  if (*p == '0') {
    ++p;
  } else {
    while (p < end && isDigit(*p)) ++p;
  }
  const bool plain = p == end || (*p != '.' && *p != 'e' && *p != 'E');
  // simdjson refuses a plain integer beyond 64 bits; 18 digits never are, longer ones go to it.
  if (plain && p - digits > 18) return nullptr;
  if (p < end && *p == '.') {
    ++p;
    if (p == end || !isDigit(*p)) return nullptr;
    while (p < end && isDigit(*p)) ++p;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    const char* const exponent = p;
    while (p < end && isDigit(*p)) ++p;
    // Two exponent digits keep every value well inside a double's range, where simdjson's
    // reading cannot refuse it.
    if (p == exponent || p - exponent > 2) return nullptr;
  }
  // Long mantissas are exact only in simdjson's slow path; such numbers go to it.
  if (p - start > 40) return nullptr;
  return p;
}

unsigned readHex4(const char* p) {
  unsigned v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 4) | static_cast<unsigned>(hexValue(p[i]));
  return v;
}

// Past the escape that starts at the backslash `q`, or nullptr for a bad one. A \u escape of half
// a surrogate pair without its other half counts as bad: parsers disagree on those, and a reader
// that must match simdjson leaves them to it.
const char* endOfEscape(const char* q, const char* const end) {
  if (end - q < 2) return nullptr;
  switch (q[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      return q + 2;
    case 'u':
      break;
    default:
      return nullptr;
  }
  auto hex4 = [&](const char* at, unsigned& cp) {
    if (end - at < 6 || at[0] != '\\' || at[1] != 'u') return false;
    for (int i = 2; i < 6; ++i)
      if (hexValue(at[i]) < 0) return false;
    cp = readHex4(at + 2);
    return true;
  };
  unsigned cp = 0;
  if (!hex4(q, cp) || (cp >= 0xDC00 && cp <= 0xDFFF)) return nullptr;
  if (cp < 0xD800 || cp > 0xDBFF) return q + 6;
  unsigned low = 0;
  if (!hex4(q + 6, low) || low < 0xDC00 || low > 0xDFFF) return nullptr;
  return q + 12;
}

void appendUtf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

bool JsonString::appendTo(std::string& out) const {
  if (!escaped) {
    out.append(raw);
    return true;
  }
  const char* p = raw.data();
  const char* const end = p + raw.size();
  while (p < end) {
    const char* run = p;
    while (p < end && *p != '\\') ++p;
    out.append(run, static_cast<std::size_t>(p - run));
    if (p == end) break;
    // The scanner checked every escape: a known letter, or u and four hex digits.
    const char e = p[1];
    p += 2;
    switch (e) {
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        unsigned cp = readHex4(p);
        p += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return false;
          const unsigned low = readHex4(p + 2);
          if (low < 0xDC00 || low > 0xDFFF) return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          p += 6;
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        out.push_back(e);
        break;  // " \ /
    }
  }
  return true;
}

bool JsonScanner::open(char c) {
  if (failed_) return false;
  skipSpace();
  if (p_ == end_ || *p_ != c || depth_ == max_depth_) return fail();
  ++p_;
  read_ = true;
  first_ |= std::uint64_t{1} << depth_;
  ++depth_;
  return true;
}

void JsonScanner::skipSpaceRun() {
  p_ = skipJsonSpace(p_, end_);
}

bool JsonScanner::beginObject() {
  return open('{');
}
bool JsonScanner::beginArray() {
  return open('[');
}

int JsonScanner::nextItem(char close) {
  if (failed_ || depth_ == 0) return fail();
  const std::uint64_t bit = std::uint64_t{1} << (depth_ - 1);
  skipSpace();
  if (p_ == end_) return fail();
  if (*p_ == close) {
    ++p_;
    --depth_;
    return 0;
  }
  if (first_ & bit) {
    first_ &= ~bit;
    return 1;
  }
  if (*p_ != ',') return fail();
  ++p_;
  return 1;
}

bool JsonScanner::nextKey(JsonString& key) {
  // The usual member first, without nextItem's call: `,"key":` (or `"key":` first in its object),
  // whitespace allowed before the key, the key one string() reads inline.
  if (!failed_ && depth_ > 0 && p_ < end_) {
    const std::uint64_t bit = std::uint64_t{1} << (depth_ - 1);
    // After the object's opening brace no comma, after any member one.
    const bool comma = *p_ == ',';
    const char* q = p_ + comma;
    if (comma == ((first_ & bit) == 0) && q < end_) {
      if (*q != '"' && static_cast<unsigned char>(*q) <= ' ') q = skipJsonSpace(q, end_);
      if (end_ - q > 16 && *q == '"') {
        if (const char* after = plainString(q, key);
            after != nullptr && after < end_ && *after == ':') {
          first_ &= ~bit;
          p_ = after + 1;
          return true;
        }
      }
    }
  }
  if (nextItem('}') != 1) return false;
  skipSpace();
  if (p_ == end_ || *p_ != '"' || !string(key)) return fail();
  skipSpace();
  if (p_ == end_ || *p_ != ':') return fail();
  ++p_;
  return true;
}

bool JsonScanner::nextElement() {
  return nextItem(']') == 1;
}

bool JsonScanner::anyString(JsonString& out) {
  if (failed_) return false;
  skipSpace();
  if (p_ == end_ || *p_ != '"') return fail();
  const char* p = p_ + 1;
  const char* const start = p;
  read_ = true;
  bool escaped = false;
  bool wide = false;  // a byte of 0x80 or above: the text is checked as UTF-8
  const std::string_view text(begin_, static_cast<std::size_t>(end_ - begin_));
  for (;;) {
    p = begin_ + core::findJsonSpecial(text, static_cast<std::size_t>(p - begin_), &wide);
    if (p == end_) return fail();
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') break;
    if (c < 0x20) return fail();
    // A backslash.
    p = endOfEscape(p, end_);
    if (p == nullptr) return fail();
    escaped = true;
  }
  out.raw = std::string_view(start, static_cast<std::size_t>(p - start));
  out.escaped = escaped;
  p_ = p + 1;
  if (wide && !simdjson::validate_utf8(out.raw.data(), out.raw.size())) return fail();
  return true;
}

bool JsonScanner::number() {
  read_ = true;
  const char* const after = endOfNumber(p_, end_);
  if (after == nullptr) return fail();
  p_ = after;
  return true;
}

bool JsonScanner::integer(long long& out) {
  if (peek() != Kind::kNumber) return false;
  const char* p = p_;
  const bool negative = *p == '-';
  if (negative) ++p;
  const char* const digits = p;
  long long v = 0;
  // Eighteen digits at most: a nineteenth could overflow, and the test below refuses it anyway.
  while (p < end_ && isDigit(*p) && p - digits < 18) v = v * 10 + (*p++ - '0');
  const std::ptrdiff_t n = p - digits;
  if (n == 0 || n > 18 || (n > 1 && *digits == '0')) return false;
  if (p < end_ && (isDigit(*p) || *p == '.' || *p == 'e' || *p == 'E')) return false;
  p_ = p;
  read_ = true;
  out = negative ? -v : v;
  return true;
}

bool JsonScanner::decimal(double& out) {
  if (peek() != Kind::kNumber) return false;
  const char* p = p_;
  const char* const digits = p;
  while (p < end_ && isDigit(*p) && p - digits <= 18) ++p;
  const std::ptrdiff_t whole = p - digits;
  if (whole == 0 || whole > 18 || (whole > 1 && *digits == '0')) return false;
  if (p < end_ && *p == '.') {
    const char* const fraction = ++p;
    while (p < end_ && isDigit(*p) && p - fraction <= 18) ++p;
    if (p == fraction || p - fraction > 18) return false;
  }
  if (p < end_ && (isDigit(*p) || *p == '.' || *p == 'e' || *p == 'E')) return false;
  // Both this and simdjson round to the nearest double.
  const auto [after, ec] = std::from_chars(p_, p, out);
  if (ec != std::errc() || after != p) return false;
  p_ = p;
  read_ = true;
  return true;
}

bool JsonScanner::literal(std::string_view word) {
  if (static_cast<std::size_t>(end_ - p_) < word.size()) return fail();
  // Four or five bytes: a loop, where comparing views calls memcmp.
  for (std::size_t i = 0; i < word.size(); ++i)
    if (p_[i] != word[i]) return fail();
  p_ += word.size();
  read_ = true;
  return true;
}

bool JsonScanner::boolean(bool& out) {
  if (peek() != Kind::kBool) return fail();
  out = *p_ == 't';
  return literal(out ? "true" : "false");
}

bool JsonScanner::null() {
  if (peek() != Kind::kNull) return fail();
  return literal("null");
}

bool JsonScanner::skip() {
  JsonString s;
  bool b = false;
  switch (peek()) {
    case Kind::kObject:
      if (!beginObject()) return false;
      while (nextKey(s))
        if (!skip()) return false;
      return !failed_;
    case Kind::kArray:
      if (!beginArray()) return false;
      while (nextElement())
        if (!skip()) return false;
      return !failed_;
    case Kind::kString:
      return string(s);
    case Kind::kNumber:
      return number();
    case Kind::kBool:
      return boolean(b);
    case Kind::kNull:
      return null();
    default:
      return fail();
  }
}

bool JsonScanner::finish() {
  if (failed_ || depth_ != 0 || !read_) return fail();
  skipSpace();
  return p_ == end_ || fail();
}

bool StringSlot::match(std::string_view data, JsonString& value) const {
  if (prefix_.empty() || data.size() < prefix_.size() + suffix_.size() + 2 ||
      !data.starts_with(prefix_) || !data.ends_with(suffix_))
    return false;
  const std::string_view middle =
      data.substr(prefix_.size(), data.size() - prefix_.size() - suffix_.size());
  // Exactly one string token: no space before it (the prefix ends at a quote's place) or after.
  if (middle.front() != '"' || middle.back() != '"') return false;
  // The usual token, ASCII with nothing to unescape, is taken as it stands.
  const std::string_view inner = middle.substr(1, middle.size() - 2);
  if (bool high = false; core::findJsonSpecial(inner, 0, &high) == inner.size() && !high) {
    value.raw = inner;
    value.escaped = false;
    return true;
  }
  JsonScanner s(middle);
  return s.string(value) && value.raw.size() + 2 == middle.size();
}

void StringSlot::keep(std::string_view data, const JsonString& value) {
  // Token events are small; a large one would pin its size in the thread's memory.
  if (data.size() - value.raw.size() > kMaxKept) {
    forget();
    return;
  }
  const auto open = static_cast<std::size_t>(value.raw.data() - data.data()) - 1;
  prefix_.assign(data.substr(0, open));
  suffix_.assign(data.substr(open + value.raw.size() + 2));
}

namespace {

// The state of one scanJsonObject pass; the member functions advance p.
struct ObjectScan {
  std::string_view text;
  const char* p;
  const char* end;
  // Every vector read inside strings, or'ed: a byte of 0x80 or above there means the text is
  // checked as UTF-8. Bytes read past a closing quote are structure (ASCII, or refused) or the
  // padding, which at worst costs that check for nothing.
  core::bytes16::Bytes seen{};

  // The padding makes *end readable: one test in the common case of compact JSON.
  // A byte loop, not skipJsonSpace: client bodies are compact, and the call alone made this pass
  // about 170 instructions dearer per plain request.
  void space() {
    if (static_cast<unsigned char>(*p) > ' ') return;
    while (p < end && isSpace(*p)) ++p;
  }
  bool word(std::string_view w) {
    if (static_cast<std::size_t>(end - p) < w.size()) return false;
    for (std::size_t i = 0; i < w.size(); ++i)
      if (p[i] != w[i]) return false;
    p += w.size();
    return true;
  }
  // The string whose opening quote p is at; p ends past its closing quote. Sixteen bytes at a
  // time, unguarded: the text is padded, and a find past its end fails.
  bool string(JsonString& s) {
    using namespace core::bytes16;
    const char* q = p + 1;
    bool escaped = false;
    for (;;) {
      const Bytes v = load(q);
      const unsigned hits = core::jsonSpecialLanes(v);
      seen |= v;
      if (hits == 0) {
        q += 16;
        if (q >= end) return false;
        continue;
      }
      const auto lane = static_cast<unsigned>(std::countr_zero(hits));
      q += lane;
      if (q >= end) return false;
      if (*q == '"') break;
      if (*q != '\\') return false;  // a control character
      q = endOfEscape(q, end);
      if (q == nullptr) return false;
      escaped = true;
    }
    s.raw = std::string_view(p + 1, static_cast<std::size_t>(q - p - 1));
    s.escaped = escaped;
    p = q + 1;
    return true;
  }
  // A string's bytes, past its closing quote; the raw text is not kept (nested strings).
  bool skipString() {
    JsonString s;
    return string(s);
  }
  // Past `:` and the space around it, after a key.
  bool colon() {
    space();
    if (p >= end || *p != ':') return false;
    ++p;
    space();
    return true;
  }
  // A number, the usual plain integer inline and any other by endOfNumber.
  bool number() {
    const char* const digits = p + (*p == '-');
    const char* q = digits;
    while (q < end && isDigit(*q)) ++q;
    const auto n = q - digits;
    // *q is readable: the padding.
    if (n > 0 && n <= 18 && (*digits != '0' || n == 1) && *q != '.' && (*q | 0x20) != 'e') {
      p = q;
      return true;
    }
    p = endOfNumber(p, end);
    return p != nullptr;
  }

  // One value of any kind, nested containers walked without recursion.
  bool value() {
    // Bit d: the container at depth d + 1 is an array.
    std::uint64_t arrays = 0;
    int depth = 0;
  next:
    if (p >= end) return false;
    switch (*p) {
      case '"':
        if (!skipString()) return false;
        break;
      case '{':
      case '[': {
        // The object reading this value is one level up already.
        if (depth == JsonScanner::kMaxDepth - 1) return false;
        const bool array = *p == '[';
        const std::uint64_t bit = std::uint64_t{1} << depth;
        arrays = array ? arrays | bit : arrays & ~bit;
        ++depth;
        ++p;
        space();
        if (p < end && *p == (array ? ']' : '}')) {
          ++p;
          --depth;
          break;
        }
        if (array) goto next;
        if (p >= end || *p != '"' || !skipString() || !colon()) return false;
        goto next;
      }
      case 't':
        if (!word("true")) return false;
        break;
      case 'f':
        if (!word("false")) return false;
        break;
      case 'n':
        if (!word("null")) return false;
        break;
      default:
        if (!number()) return false;
        break;
    }
    // After a value: the next one in its container, or the container's end.
    while (depth > 0) {
      space();
      if (p >= end) return false;
      const bool in_array = (arrays >> (depth - 1)) & 1;
      if (*p == ',') {
        ++p;
        space();
        if (!in_array && (p >= end || *p != '"' || !skipString() || !colon())) return false;
        goto next;
      }
      if (*p != (in_array ? ']' : '}')) return false;
      ++p;
      --depth;
    }
    return true;
  }

  bool run(JsonMemberVisit visit, void* ctx) {
    space();
    if (p >= end || *p != '{') return false;
    ++p;
    space();
    if (p < end && *p == '}') {
      ++p;
    } else {
      JsonMember member;
      for (;;) {
        if (p >= end || *p != '"' || !string(member.key) || !colon() || p >= end) return false;
        member.begin = static_cast<std::size_t>(p - text.data());
        member.kind = kJsonKinds[static_cast<unsigned char>(*p)];
        if (!value()) return false;
        member.end = static_cast<std::size_t>(p - text.data());
        if (!visit(ctx, member)) return false;
        space();
        if (p >= end) return false;
        if (*p == '}') {
          ++p;
          break;
        }
        if (*p != ',') return false;
        ++p;
        space();
      }
    }
    space();
    if (p != end) return false;
    return core::bytes16::laneMask(seen) == 0 || simdjson::validate_utf8(text.data(), text.size());
  }
};

}  // namespace

bool scanJsonObject(std::string_view text, JsonMemberVisit visit, void* ctx) {
  ObjectScan scan{text, text.data(), text.data() + text.size()};
  return scan.run(visit, ctx);
}

}  // namespace kh::model
