#include "http/http1.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/byte_vector.h"
#include "core/text_search.h"

namespace kh::http::h1 {

namespace {

// Character classes as tables: one load per byte on the hot path.
struct Tables {
  bool token[256] = {};      // RFC 9110 tchar
  bool bad_value[256] = {};  // control characters other than HTAB, and DEL
  char lower[256] = {};
  constexpr Tables() {
    for (int c = 0; c < 256; ++c) {
      lower[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      bad_value[c] = (c < 0x20 && c != '\t') || c == 0x7f;
      token[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    for (const char c : std::string_view("!#$%&'*+-.^_`|~"))
      token[static_cast<unsigned char>(c)] = true;
  }
};
constexpr Tables kTables;

bool isToken(std::string_view s) {
  // Without a branch per byte: names are short and almost always valid.
  bool ok = !s.empty();
  for (const char c : s) ok &= kTables.token[static_cast<unsigned char>(c)];
  return ok;
}

char lower(char c) {
  return kTables.lower[static_cast<unsigned char>(c)];
}

// Whether the eight bytes `x` and `y` are equal but for the case of letters: they may differ
// only in bit 5 (0x20), and only in bytes that are letters.
inline bool sameWordIgnoringCase(std::uint64_t x, std::uint64_t y) {
  constexpr std::uint64_t kOnes = 0x0101010101010101u;
  const std::uint64_t diff = x ^ y;
  if ((diff & ~(0x20 * kOnes)) != 0) return false;
  // Per byte, bit 7 set where the byte (folded to lower case) is 'a'..'z': at least 'a' and not
  // above 'z', and ASCII.
  const std::uint64_t low = x | 0x20 * kOnes;
  const std::uint64_t seven = low & 0x7F * kOnes;
  const std::uint64_t letters =
      (seven + (0x80 - 'a') * kOnes) & ~(seven + (0x7F - 'z') * kOnes) & ~low & 0x80 * kOnes;
  return ((diff << 2) & ~letters) == 0;
}

// ASCII case-insensitive equality, eight bytes at a time.
[[gnu::always_inline]] inline bool iequals(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  if (n < 8) {
    for (std::size_t i = 0; i < n; ++i)
      if (a[i] != b[i] && lower(a[i]) != lower(b[i])) return false;
    return true;
  }
  auto word = [](const char* p) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, 8);
    return w;
  };
  for (std::size_t i = 0; i + 8 <= n; i += 8)
    if (!sameWordIgnoringCase(word(a.data() + i), word(b.data() + i))) return false;
  // The rest as the last eight bytes, which overlap what was compared.
  return n % 8 == 0 || sameWordIgnoringCase(word(a.data() + n - 8), word(b.data() + n - 8));
}

[[gnu::always_inline]] inline std::string_view trimOws(std::string_view s) {
  auto ows = [](char c) { return c == ' ' || c == '\t'; };
  if (!s.empty() && (ows(s.front()) || ows(s.back()))) {
    while (!s.empty() && ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && ows(s.back())) s.remove_suffix(1);
  }
  return s;
}

// Whether the comma-separated list `list` holds `token` (case-insensitive).
bool listHas(std::string_view list, std::string_view token) {
  if (list.size() == token.size()) return iequals(list, token);  // the usual single token
  while (!list.empty()) {
    const std::size_t comma = core::findByte(list, ',');
    if (iequals(trimOws(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// The last element of a comma-separated list.
std::string_view lastOf(std::string_view list) {
  const std::size_t comma = list.rfind(',');
  return trimOws(comma == std::string_view::npos ? list : list.substr(comma + 1));
}

bool validValue(std::string_view v) {
  using namespace core::bytes16;
  const char* const p = v.data();
  const std::size_t n = v.size();
  if (n >= 16) {
    // Sixteen bytes at a time, the rest as the value's last sixteen (dates, user agents and
    // hosts are mostly longer than that).
    auto bad = [](const Bytes& b) {
      return laneMask(((b < splat(0x20)) & (b != splat('\t'))) | (b == splat(0x7f))) != 0;
    };
    std::size_t i = 0;
    for (; n - i >= 16; i += 16)
      if (bad(load(p + i))) return false;
    return i == n || !bad(load(p + n - 16));
  }
  bool bad = false;
  for (const char c : v) bad |= kTables.bad_value[static_cast<unsigned char>(c)];
  return !bad;
}

std::optional<std::uint64_t> parseLength(std::string_view v) {
  if (v.empty() || v.size() > 18) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

// Where the head ends (just past its blank line), or npos. Lines end in CRLF or a bare LF.
std::size_t headEnd(std::string_view in) {
  for (std::size_t at = core::findByte(in, '\n'); at != std::string_view::npos;
       at = core::findByte(in, '\n', at + 1)) {
    if (at + 1 < in.size() && in[at + 1] == '\n') return at + 2;
    if (at + 2 < in.size() && in[at + 1] == '\r' && in[at + 2] == '\n') return at + 3;
  }
  return std::string_view::npos;
}

// Splits off the next line of `rest` (without its CRLF or LF).
std::string_view nextLine(std::string_view& rest) {
  const std::size_t nl = core::findByte(rest, '\n');
  std::string_view line = rest.substr(0, nl);
  rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool parseVersion(std::string_view v, Head& out) {
  if (v == "HTTP/1.1") {
    out.version_minor = 1;
  } else if (v == "HTTP/1.0") {
    out.version_minor = 0;
  } else {
    return false;
  }
  return true;
}

// The field lines after the start line, and what they say about the body and the connection.
Parse parseFields(std::string_view rest, bool request, Head& out, std::string_view* error) {
  auto bad = [&](std::string_view why) {
    if (error) *error = why;
    return Parse::kBad;
  };
  bool keep_alive = false, has_te = false;
  for (;;) {
    const std::string_view line = nextLine(rest);
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t')
      return bad("obsolete line folding in a header field");
    const std::size_t colon = core::findByte(line, ':');
    if (colon == std::string_view::npos) return bad("a header line without a colon");
    const std::string_view name = line.substr(0, colon);
    if (!isToken(name)) return bad("an invalid header field name");
    // "Name: value": the one space is stepped over before the general trim.
    const std::size_t from =
        colon + 1 < line.size() && line[colon + 1] == ' ' ? colon + 2 : colon + 1;
    const std::string_view value = trimOws(line.substr(from));
    if (!validValue(value)) return bad("a control character in a header field value");
    out.fields.push_back({name, value});
    switch (lower(name.front())) {
      case 'c':
        if (iequals(name, "content-length")) {
          const auto n = parseLength(value);
          if (!n) return bad("an invalid Content-Length");
          if (out.content_length && *out.content_length != *n)
            return bad("conflicting Content-Length fields");
          out.content_length = n;
        } else if (iequals(name, "connection")) {
          out.close = out.close || listHas(value, "close");
          keep_alive = keep_alive || listHas(value, "keep-alive");
        }
        break;
      case 't':
        if (iequals(name, "transfer-encoding")) {
          has_te = true;
          out.chunked = iequals(lastOf(value), "chunked");
          if (request && !out.chunked) return bad("an unsupported Transfer-Encoding");
        }
        break;
      case 'e':
        if (request && iequals(name, "expect"))
          out.expect_continue = iequals(value, "100-continue");
        break;
      default:
        break;
    }
  }
  if (has_te) {
    // Both framings at once is how requests are smuggled past proxies: refused. A response's
    // Transfer-Encoding wins; one that is not chunked ends with the connection (RFC 9112 §6.3).
    if (request && out.content_length) return bad("both Content-Length and Transfer-Encoding");
    out.content_length.reset();
    if (!out.chunked) out.close = true;
  }
  if (out.version_minor == 0 && !keep_alive) out.close = true;
  return Parse::kDone;
}

void reset(Head& out) {
  out.method = {};
  out.target = {};
  out.status = 0;
  out.version_minor = 1;
  out.fields.clear();
  out.content_length.reset();
  out.chunked = out.close = out.expect_continue = false;
  out.size = 0;
}

// The complete head at the start of `in`, or why there is none. `known_end`: where headComplete
// found the head's end, when it searched from the head's start.
Parse locate(std::string_view in, std::size_t limit, std::size_t skip, std::string_view& head,
             std::size_t known_end) {
  const std::size_t end =
      skip == 0 && known_end <= in.size() ? known_end : headEnd(in.substr(skip));
  if (end == std::string_view::npos)
    return in.size() >= limit ? Parse::kTooLarge : Parse::kNeedMore;
  if (skip + end > limit) return Parse::kTooLarge;
  head = in.substr(skip, end);
  return Parse::kDone;
}

}  // namespace

bool headComplete(std::string_view in, std::size_t& scanned, std::size_t* end) {
  // A terminator may straddle what was scanned and what arrived since: step back over it.
  const std::size_t from = scanned > 3 ? scanned - 3 : 0;
  for (std::size_t at = core::findByte(in, '\n', from); at != std::string_view::npos;
       at = core::findByte(in, '\n', at + 1)) {
    std::size_t past = 0;
    if (at + 1 < in.size() && in[at + 1] == '\n') past = at + 2;
    if (at + 2 < in.size() && in[at + 1] == '\r' && in[at + 2] == '\n') past = at + 3;
    if (past != 0) {
      // The first blank line is the head's end only when the search began at the start.
      if (end) *end = from == 0 ? past : std::string_view::npos;
      return true;
    }
  }
  scanned = in.size();
  return false;
}

std::string_view Head::field(std::string_view name) const {
  for (const Field& f : fields)
    if (iequals(f.name, name)) return f.value;
  return {};
}

Parse parseRequest(std::string_view in, std::size_t limit, Head& out, std::string_view* error,
                   std::size_t known_end) {
  reset(out);
  // Empty lines before a request line are ignored (RFC 9112 §2.2), within reason.
  std::size_t skip = 0;
  while (skip < in.size() && skip < 8 && (in[skip] == '\r' || in[skip] == '\n')) ++skip;
  std::string_view head;
  if (const Parse p = locate(in, limit, skip, head, known_end); p != Parse::kDone) return p;
  out.size = skip + head.size();
  auto bad = [&](std::string_view why) {
    if (error) *error = why;
    return Parse::kBad;
  };
  const std::string_view line = nextLine(head);
  const std::size_t sp1 = core::findByte(line, ' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : core::findByte(line, ' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return bad("a malformed request line");
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!isToken(out.method)) return bad("an invalid method");
  if (out.target.empty() || std::any_of(out.target.begin(), out.target.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c <= 0x20 || c == 0x7f;
      }))
    return bad("an invalid request target");
  if (!parseVersion(line.substr(sp2 + 1), out)) return bad("an unsupported HTTP version");
  return parseFields(head, true, out, error);
}

Parse parseResponse(std::string_view in, std::size_t limit, Head& out, std::string_view* error,
                    std::size_t known_end) {
  reset(out);
  std::string_view head;
  if (const Parse p = locate(in, limit, 0, head, known_end); p != Parse::kDone) return p;
  out.size = head.size();
  auto bad = [&](std::string_view why) {
    if (error) *error = why;
    return Parse::kBad;
  };
  const std::string_view line = nextLine(head);
  // "HTTP/1.1 200 OK"; some servers leave the reason out, with or without its space.
  if (line.size() < 12 || line[8] != ' ' || !parseVersion(line.substr(0, 8), out))
    return bad("a malformed status line");
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return bad("a malformed status code");
    status = status * 10 + (line[i] - '0');
  }
  if (line.size() > 12 && line[12] != ' ') return bad("a malformed status line");
  if (status < 100) return bad("a malformed status code");
  out.status = status;
  return parseFields(head, false, out, error);
}

void rebase(Head& head, const char* from, const char* to) {
  auto move = [&](std::string_view& v) {
    if (v.data() != nullptr) v = std::string_view(to + (v.data() - from), v.size());
  };
  move(head.method);
  move(head.target);
  for (Field& f : head.fields) {
    move(f.name);
    move(f.value);
  }
}

ChunkedDecoder::Step ChunkedDecoder::decode(std::string_view in, std::string& out) {
  Step step;
  std::size_t i = 0;
  const std::size_t n = in.size();
  auto sizeLineDone = [&] {
    digits_ = 0;
    if (remaining_ == 0) {
      state_ = State::kTrailer;
      trailer_line_ = 0;
    } else {
      state_ = State::kData;
    }
  };
  auto fail = [&] {
    step.consumed = i;
    step.error = true;
    return step;
  };
  while (i < n && state_ != State::kDone) {
    switch (state_) {
      case State::kSize: {
        const char c = in[i];
        int hex = -1;
        if (c >= '0' && c <= '9') hex = c - '0';
        if (c >= 'a' && c <= 'f') hex = c - 'a' + 10;
        if (c >= 'A' && c <= 'F') hex = c - 'A' + 10;
        if (hex >= 0) {
          if (digits_ >= 15) return fail();  // beyond any body worth reading
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(hex);
          ++digits_;
          ++i;
        } else if (digits_ == 0) {
          return fail();
        } else if (c == ';' || c == ' ' || c == '\t') {
          state_ = State::kExtension;
          ++i;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
          ++i;
        } else if (c == '\n') {
          ++i;
          sizeLineDone();
        } else {
          return fail();
        }
        break;
      }
      case State::kExtension: {
        const std::size_t nl = in.find('\n', i);
        if (nl == std::string_view::npos) {
          i = n;
        } else {
          i = nl + 1;
          sizeLineDone();
        }
        break;
      }
      case State::kSizeLf:
        if (in[i] != '\n') return fail();
        ++i;
        sizeLineDone();
        break;
      case State::kData: {
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n - i));
        out.append(in.data() + i, take);
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (in[i] == '\r') {
          state_ = State::kDataLf;
        } else if (in[i] == '\n') {
          state_ = State::kSize;
        } else {
          return fail();
        }
        ++i;
        break;
      case State::kDataLf:
        if (in[i] != '\n') return fail();
        ++i;
        state_ = State::kSize;
        break;
      case State::kTrailer: {
        const std::size_t nl = in.find('\n', i);
        const std::size_t end = nl == std::string_view::npos ? n : nl;
        trailer_line_ += static_cast<std::size_t>(std::count_if(
            in.begin() + static_cast<std::ptrdiff_t>(i),
            in.begin() + static_cast<std::ptrdiff_t>(end), [](char c) { return c != '\r'; }));
        if (trailer_line_ > 64 * 1024) return fail();
        if (nl == std::string_view::npos) {
          i = n;
        } else {
          i = nl + 1;
          if (trailer_line_ == 0) {
            state_ = State::kDone;
          } else {
            trailer_line_ = 0;
          }
        }
        break;
      }
      case State::kDone:
        break;
    }
  }
  step.consumed = i;
  step.done = state_ == State::kDone;
  return step;
}

}  // namespace kh::http::h1
