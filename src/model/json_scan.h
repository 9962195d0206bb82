#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/json_text.h"
#include "core/text_search.h"

namespace kh::model {

// A string as it stands in the JSON text: the bytes between the quotes, escapes not yet decoded.
struct JsonString {
  std::string_view raw;
  bool escaped = false;  // raw holds at least one backslash escape

  // Appends the decoded text. false for a \u escape that is half of a surrogate pair without its
  // other half: parsers disagree on those, so a reader that must match simdjson leaves them to it.
  bool appendTo(std::string& out) const;
  // The string is exactly `plain`, for keys and enum values, which are never escaped in practice;
  // an escaped spelling is not matched, and the reader then takes its general path.
  template <std::size_t N>
  bool is(const char (&plain)[N]) const {
    if (escaped || raw.size() != N - 1) return false;
    // A loop the compiler unrolls: memcmp of an odd constant length is a call.
    for (std::size_t i = 0; i + 1 < N; ++i)
      if (raw[i] != plain[i]) return false;
    return true;
  }
};

enum class JsonKind : std::uint8_t { kEnd, kBad, kObject, kArray, kString, kNumber, kBool, kNull };

// The kind of value each first byte starts.
inline constexpr std::array<JsonKind, 256> kJsonKinds = [] {
  std::array<JsonKind, 256> t{};
  t.fill(JsonKind::kBad);
  t['{'] = JsonKind::kObject;
  t['['] = JsonKind::kArray;
  t['"'] = JsonKind::kString;
  t['-'] = JsonKind::kNumber;
  for (char c = '0'; c <= '9'; ++c) t[static_cast<unsigned char>(c)] = JsonKind::kNumber;
  t['t'] = t['f'] = JsonKind::kBool;
  t['n'] = JsonKind::kNull;
  return t;
}();

// The last stream event read whole, split around one of its string values. Events of a stream
// mostly differ from the one before only in their text: such an event is read by comparing the
// bytes around that string and scanning the string alone. Any string in that place leaves the
// document as valid, and read alike but for that value, as the kept one was.
class StringSlot {
 public:
  // The most bytes kept around the string.
  static constexpr std::size_t kMaxKept = 4096;

  // The string that stands where the kept event had its own, when `data` repeats the kept event
  // in every other byte.
  bool match(std::string_view data, JsonString& value) const;
  // Keeps `data`, read whole and found valid, split around `value`, one of its string values.
  void keep(std::string_view data, const JsonString& value);
  void forget() { prefix_.clear(); }

 private:
  std::string prefix_;  // up to the string's opening quote
  std::string suffix_;  // from after its closing quote
};

// A strict, allocation-free reader of one JSON text in memory, read front to back: the fast path
// for the small documents that arrive once per streamed token, where building simdjson's document
// cost more than the token's translation. It accepts no more than simdjson does (RFC 8259,
// UTF-8 checked, no trailing text), and refuses some documents simdjson takes (nesting deeper
// than kMaxDepth, numbers near the limits of a double), so a reader that falls back to simdjson
// whenever this one fails reads every document alike.
//
// The caller walks the text: beginObject() then nextKey() until it returns false, one value read
// or skipped after each key; beginArray() then nextElement() likewise; finish() at the end. Any
// call may fail (failed() then stays true), after which the reader is of no further use.
class JsonScanner {
 public:
  using Kind = JsonKind;
  static constexpr int kMaxDepth = 64;

  // `max_depth`: the most arrays and objects open at once; a text nested deeper fails.
  explicit JsonScanner(std::string_view text, int max_depth = kMaxDepth)
      : begin_(text.data()),
        p_(text.data()),
        end_(text.data() + text.size()),
        max_depth_(max_depth < kMaxDepth ? max_depth : kMaxDepth) {}

  // Where the reader stands between two members or elements: enough to go on from the same place
  // in another text that begins with the same bytes, whose reading up to there is the same. Stream
  // events repeat their first members (id, model, created) in every event.
  struct Mark {
    std::size_t offset = 0;
    std::uint64_t first = 0;
    int depth = 0;
  };
  Mark mark() const { return {static_cast<std::size_t>(p_ - begin_), first_, depth_}; }
  // Goes on from `m`, taken in a text whose first m.offset bytes this text repeats.
  void resume(const Mark& m) {
    p_ = begin_ + m.offset;
    first_ = m.first;
    depth_ = m.depth;
    read_ = true;
  }

  // Where the member members() is reading began, and which of its keys came before it: a reader
  // that resumes there calls members() again with `seen`.
  struct MemberStart {
    Mark mark;
    std::uint32_t seen = 0;
  };
  const MemberStart& memberStart() const { return member_start_; }

  // The rest of the object being read (after beginObject() or a resume): read(i) reads the value
  // of each member named keys[i], every other member is skipped. Fails on an escaped key (which
  // the general reading decodes), on a key of `keys` given twice (of which the general reading
  // keeps the last; `seen` holds those read before a resume), or when read() does.
  template <std::size_t N, typename Read>
  bool members(const std::string_view (&keys)[N], Read&& read, std::uint32_t seen = 0) {
    static_assert(N <= 32);
    JsonString key;
    for (;;) {
      const MemberStart start{mark(), seen};
      if (!nextKey(key)) return !failed_;
      if (key.escaped) return fail();
      // Lengths first: the call is made only for a key of the right length, mostly the one.
      std::size_t i = 0;
      while (i < N && (key.raw.size() != keys[i].size() || !core::sameBytes(key.raw, keys[i]))) ++i;
      if (i == N) {
        if (!skip()) return false;
        continue;
      }
      const std::uint32_t bit = std::uint32_t{1} << i;
      if (seen & bit) return fail();
      seen |= bit;
      member_start_ = start;
      if (!read(i)) return fail();
    }
  }
  // A whole object, as members() reads it.
  template <std::size_t N, typename Read>
  bool object(const std::string_view (&keys)[N], Read&& read) {
    return beginObject() && members(keys, read);
  }

  // The kind of the next value, whitespace skipped, nothing consumed.
  Kind peek() {
    if (failed_) return Kind::kBad;
    skipSpace();
    if (p_ == end_) return Kind::kEnd;
    return kJsonKinds[static_cast<unsigned char>(*p_)];
  }

  bool beginObject();
  // The next member's key, its ':' consumed: true. false at the end of the object (consumed) or on
  // an error.
  bool nextKey(JsonString& key);
  bool beginArray();
  // true when one more element follows; false at the end of the array (consumed) or on an error.
  bool nextElement();

  // Inline for the usual string, a key or short value (ids and model names included): no
  // escape, ASCII, closed within the 32 bytes after its quote.
  bool string(JsonString& out) {
    if (!failed_ && end_ - p_ > 16 && *p_ == '"') {
      if (const char* after = plainString(p_, out)) {
        read_ = true;
        p_ = after;
        return true;
      }
    }
    return anyString(out);
  }
  // A string value decoded and appended to `out`; a value of any other kind is skipped and adds
  // nothing, as the general readings take a member that is not a string for an empty one.
  bool textOrSkip(std::string& out) {
    if (peek() != Kind::kString) return skip();
    JsonString v;
    return string(v) && v.appendTo(out);
  }
  // A string value decoded and appended to `out`; false for a value of any other kind.
  bool decodedString(std::string& out) {
    JsonString v;
    return peek() == Kind::kString && string(v) && v.appendTo(out);
  }
  // A string value escaped exactly as core::appendJsonString escapes, as it stands (between the
  // quotes), for a writer to copy; false for a value of any other kind or spelling.
  bool canonicalString(std::string_view& out) {
    JsonString v;
    if (peek() != Kind::kString || !string(v)) return false;
    if (v.escaped && !core::isCanonicalJsonText(v.raw)) return false;
    out = v.raw;
    return true;
  }
  // A number written as a plain integer of at most 18 digits (what token counts, indexes and
  // timestamps are); false for any other value, which is left unread.
  bool integer(long long& out);
  // A number written as a non-negative decimal of at most 18 digits before the point and 18
  // after, without an exponent (what sampling parameters are), as the nearest double, which is
  // what simdjson makes of it; false for any other value, which is left unread.
  bool decimal(double& out);
  bool boolean(bool& out);
  bool null();
  // Any one value, checked as strictly as the readers above.
  bool skip();

  // The text held one value and nothing but whitespace after it.
  bool finish();
  bool failed() const { return failed_; }

 private:
  bool fail() {
    failed_ = true;
    return false;
  }
  void skipSpace() {
    // Compact JSON has none: one test in the common case.
    if (p_<end_&& static_cast<unsigned char>(*p_)> ' ') return;
    // One space, as after the colons of Gemini's stream events.
    if (end_ - p_ > 1 && *p_ == ' ' && static_cast<unsigned char>(p_[1]) > ' ') {
      ++p_;
      return;
    }
    skipSpaceRun();
  }
  // Pretty-printed JSON's line breaks and indentation, sixteen bytes at a time.
  void skipSpaceRun();
  // Past the separator before the next member or element: 1; past the closing `close`: 0.
  int nextItem(char close);
  // The string whose opening quote is at `q` (more than 16 bytes before the end) when it is the
  // usual one string() reads inline: past its closing quote, or nullptr for any other.
  const char* plainString(const char* q, JsonString& out) const {
    using namespace core::bytes16;
    Bytes v = load(q + 1);
    unsigned hits = core::jsonSpecialLanes(v);
    std::size_t skipped = 0;  // bytes of the first vector, when the string goes on past it
    if (hits == 0 && laneMask(v) == 0 && end_ - q > 32) {
      skipped = 16;
      v = load(q + 17);
      hits = core::jsonSpecialLanes(v);
    }
    const auto lane = static_cast<unsigned>(std::countr_zero(hits | 0x10000u));
    if (lane >= 16 || q[1 + skipped + lane] != '"' || (laneMask(v) & ((1u << lane) - 1)) != 0)
      return nullptr;
    out.raw = std::string_view(q + 1, skipped + lane);
    out.escaped = false;
    return q + skipped + lane + 2;
  }
  // string()'s general case: escapes, UTF-8, long text, whitespace before the quote.
  bool anyString(JsonString& out);
  bool literal(std::string_view word);
  bool number();
  bool open(char c);

  const char* begin_;
  const char* p_;
  const char* end_;
  std::uint64_t first_ = 0;  // per depth: no member or element read yet
  int depth_ = 0;
  int max_depth_;
  bool failed_ = false;
  bool read_ = false;  // a value has been started
  MemberStart member_start_;
};

// One member of the object scanJsonObject reads: its key as written and where its value lies.
struct JsonMember {
  JsonString key;
  JsonKind kind = JsonKind::kBad;
  std::size_t begin = 0, end = 0;  // the value's bytes, [begin, end) in the text
};

// Checks that `text` is one JSON object, as strictly as JsonScanner (so simdjson takes it too),
// and calls visit(ctx, member) for each of its own members in order, once the member's value has
// been checked; nested values are checked and skipped. One pass that builds nothing: validating a
// request body or an answer and learning its top level costs about half what simdjson's
// document does.
//
// false when the text is not such an object, when visit returns false, or when it is valid JSON
// this check does not take (nesting deeper than JsonScanner::kMaxDepth, numbers near a double's
// limits, a \u escape of half a surrogate pair): the caller then asks simdjson, which decides.
//
// Strings are read sixteen bytes at a time without bounds checks: at least kJsonScanPadding
// readable bytes must follow the text (their contents do not matter).
inline constexpr std::size_t kJsonScanPadding = 16;
using JsonMemberVisit = bool (*)(void* ctx, const JsonMember& member);
bool scanJsonObject(std::string_view text, JsonMemberVisit visit, void* ctx);

template <typename Visit>
bool scanJsonObject(std::string_view text, Visit&& visit) {
  using V = std::remove_reference_t<Visit>;
  return scanJsonObject(
      text, [](void* ctx, const JsonMember& m) { return (*static_cast<V*>(ctx))(m); },
      const_cast<void*>(static_cast<const void*>(&visit)));
}

}  // namespace kh::model
