#include "model/json_scan.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <simdjson.h>

#include "support/random_edits.h"

namespace kh::model {
namespace {

// The document as text of one canonical shape, strings decoded and plain integers of up to 18
// digits written out (any other number as N), so the scanner's reading can be compared with
// simdjson's. Empty when the scanner refuses the text.
bool dumpValue(JsonScanner& s, std::string& out) {
  JsonString str;
  long long n = 0;
  bool b = false;
  switch (s.peek()) {
    case JsonScanner::Kind::kObject:
      if (!s.beginObject()) return false;
      out += '{';
      while (s.nextKey(str)) {
        out += '<';
        if (!str.appendTo(out)) return false;
        out += ">:";
        if (!dumpValue(s, out)) return false;
        out += ',';
      }
      out += '}';
      return !s.failed();
    case JsonScanner::Kind::kArray:
      if (!s.beginArray()) return false;
      out += '[';
      while (s.nextElement()) {
        if (!dumpValue(s, out)) return false;
        out += ',';
      }
      out += ']';
      return !s.failed();
    case JsonScanner::Kind::kString:
      if (!s.string(str)) return false;
      out += '<';
      if (!str.appendTo(out)) return false;
      out += '>';
      return true;
    case JsonScanner::Kind::kNumber:
      if (s.integer(n)) {
        out += std::to_string(n);
        return true;
      }
      out += 'N';
      return s.skip();
    case JsonScanner::Kind::kBool:
      if (!s.boolean(b)) return false;
      out += b ? "T" : "F";
      return true;
    case JsonScanner::Kind::kNull:
      out += 'Z';
      return s.null();
    default:
      return false;
  }
}

std::string scannerDump(std::string_view text) {
  // A heap block of exactly the text's size: the sanitizer build then catches any read past it.
  const auto exact = std::make_unique<char[]>(text.size());
  if (!text.empty()) std::memcpy(exact.get(), text.data(), text.size());
  JsonScanner s(std::string_view(exact.get(), text.size()));
  std::string out;
  if (!dumpValue(s, out) || !s.finish()) return {};
  return out;
}

void dumpDom(simdjson::dom::element v, std::string& out) {
  using T = simdjson::dom::element_type;
  switch (v.type()) {
    case T::OBJECT:
      out += '{';
      for (auto kv : simdjson::dom::object(v)) {
        out += '<';
        out.append(kv.key);
        out += ">:";
        dumpDom(kv.value, out);
        out += ',';
      }
      out += '}';
      break;
    case T::ARRAY:
      out += '[';
      for (auto e : simdjson::dom::array(v)) {
        dumpDom(e, out);
        out += ',';
      }
      out += ']';
      break;
    case T::STRING:
      out += '<';
      out.append(std::string_view(v));
      out += '>';
      break;
    case T::INT64: {
      const int64_t n = int64_t(v);
      if (n > -1000000000000000000 && n < 1000000000000000000)
        out += std::to_string(n);
      else
        out += 'N';
      break;
    }
    case T::UINT64:
    case T::DOUBLE:
      out += 'N';
      break;
    case T::BOOL:
      out += bool(v) ? "T" : "F";
      break;
    case T::NULL_VALUE:
      out += 'Z';
      break;
  }
}

// Empty when simdjson refuses the text.
std::string simdjsonDump(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text.data(), text.size(), true).get(root)) return {};
  std::string out;
  dumpDom(root, out);
  return out;
}

TEST(JsonScanner, ReadsAStreamChunk) {
  const std::string_view text =
      R"({"id":"c1","created":1700000000,"choices":[{"index":0,"delta":{"content":"Hi \"you\"\n"},)"
      R"("finish_reason":null}],"usage":null})";
  JsonScanner s(text);
  JsonString key, value;
  long long n = 0;
  ASSERT_TRUE(s.beginObject());
  ASSERT_TRUE(s.nextKey(key));
  EXPECT_TRUE(key.is("id"));
  ASSERT_TRUE(s.string(value));
  EXPECT_EQ(value.raw, "c1");
  ASSERT_TRUE(s.nextKey(key));
  EXPECT_TRUE(key.is("created"));
  ASSERT_TRUE(s.integer(n));
  EXPECT_EQ(n, 1700000000);
  ASSERT_TRUE(s.nextKey(key));
  ASSERT_TRUE(s.beginArray());
  ASSERT_TRUE(s.nextElement());
  ASSERT_TRUE(s.beginObject());
  ASSERT_TRUE(s.nextKey(key));
  ASSERT_TRUE(s.skip());
  ASSERT_TRUE(s.nextKey(key));
  EXPECT_TRUE(key.is("delta"));
  ASSERT_TRUE(s.beginObject());
  ASSERT_TRUE(s.nextKey(key));
  ASSERT_TRUE(s.string(value));
  EXPECT_TRUE(value.escaped);
  std::string decoded;
  ASSERT_TRUE(value.appendTo(decoded));
  EXPECT_EQ(decoded, "Hi \"you\"\n");
  EXPECT_FALSE(s.nextKey(key));
  ASSERT_TRUE(s.nextKey(key));
  EXPECT_EQ(s.peek(), JsonScanner::Kind::kNull);
  ASSERT_TRUE(s.null());
  EXPECT_FALSE(s.nextKey(key));
  EXPECT_FALSE(s.nextElement());
  ASSERT_TRUE(s.nextKey(key));
  ASSERT_TRUE(s.skip());
  EXPECT_FALSE(s.nextKey(key));
  EXPECT_FALSE(s.failed());
  EXPECT_TRUE(s.finish());
}

TEST(JsonScanner, DecodesEscapes) {
  EXPECT_EQ(scannerDump(R"("a\u00e9\u4e2d\ud83d\ude00\/\\\b\f\r\t")"),
            "<a\u00e9\u4e2d\U0001F600/\\\b\f\r\t>");
  EXPECT_EQ(scannerDump(R"("\u0000")"), std::string("<\0>", 3));
  // A lone surrogate half is left to simdjson.
  EXPECT_EQ(scannerDump(R"("\ud83d")"), "");
  EXPECT_EQ(scannerDump(R"("\ude00x")"), "");
  EXPECT_EQ(scannerDump(R"("\ud83d\u0041")"), "");
}

TEST(JsonScanner, IntegersOnlyWhenPlain) {
  for (const char* text : {"5.0", "5e0", "1E2", "1234567890123456789", "-", "01"}) {
    JsonScanner s(text);
    long long n = 0;
    EXPECT_FALSE(s.integer(n)) << text;
  }
  JsonScanner s("-42");
  long long n = 0;
  EXPECT_TRUE(s.integer(n));
  EXPECT_EQ(n, -42);
  EXPECT_TRUE(s.finish());
}

// Sampling parameters as the nearest double, as simdjson reads them; anything else left unread.
TEST(JsonScanner, DecimalsOnlyWhenPlain) {
  for (const char* text : {"-0.5", "1e0", "1.5E2", "01", "1.", ".5", "1234567890123456789",
                           "0.1234567890123456789", "\"1\"", "null"}) {
    JsonScanner s(text);
    double d = 0;
    EXPECT_FALSE(s.decimal(d)) << text;
    EXPECT_FALSE(s.failed()) << text;
  }
  for (const char* text : {"0", "2", "0.2", "1.0", "0.30000000000000004", "123456789012345678",
                           "0.123456789012345678"}) {
    JsonScanner s(text);
    double d = -1;
    EXPECT_TRUE(s.decimal(d)) << text;
    EXPECT_TRUE(s.finish()) << text;
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    ASSERT_FALSE(parser.parse(std::string(text)).get(e));
    const double expected = e.is_double()  ? double(e)
                            : e.is_int64() ? static_cast<double>(int64_t(e))
                                           : static_cast<double>(uint64_t(e));
    EXPECT_EQ(d, expected) << text;
  }
}

TEST(JsonScanner, RefusesMalformedText) {
  for (const char* text : {"",
                           " ",
                           "{",
                           "}",
                           "[1,]",
                           "[,1]",
                           "{\"a\":1,}",
                           "{\"a\" 1}",
                           "{\"a\":}",
                           "{a:1}",
                           "tru",
                           "truex",
                           "nul",
                           "[1 2]",
                           "1 2",
                           "01",
                           "1.",
                           ".5",
                           "1e",
                           "-",
                           "+1",
                           "\"abc",
                           "\"a\\x\"",
                           "\"\\u12G4\"",
                           "\"a\tb\"",
                           "\"\xff\"",
                           "\"\xc3\"",
                           "\"\xed\xa0\x80\"",
                           "[1]]",
                           "{}}",
                           "\"a\"\"b\"",
                           "1e999",
                           "[\"a\" , ]",
                           "41273456789012345678",
                           "-12345678901234567890"}) {
    EXPECT_EQ(scannerDump(text), "") << text;
  }
}

TEST(JsonScanner, RefusesNestingDeeperThanItsLimit) {
  std::string deep(JsonScanner::kMaxDepth, '[');
  deep.append(JsonScanner::kMaxDepth, ']');
  EXPECT_NE(scannerDump(deep), "");
  EXPECT_EQ(scannerDump("[" + deep + "]"), "");
}

TEST(JsonScanner, RefusesNestingDeeperThanTheLimitItIsGiven) {
  const std::string three = "[[[1]]]";
  JsonScanner fits(three, 3);
  EXPECT_TRUE(fits.skip() && fits.finish());
  JsonScanner deeper(three, 2);
  EXPECT_FALSE(deeper.skip());
  EXPECT_TRUE(deeper.failed());
}

TEST(StringSlot, MatchesEventsThatDifferOnlyInTheString) {
  const std::string kept = R"({"a":1,"text":"hello","b":[true]})";
  JsonScanner s(kept);
  JsonString key, text;
  ASSERT_TRUE(s.beginObject());
  ASSERT_TRUE(s.nextKey(key) && s.skip());
  ASSERT_TRUE(s.nextKey(key) && s.string(text));
  StringSlot slot;
  JsonString found;
  EXPECT_FALSE(slot.match(kept, found));
  slot.keep(kept, text);

  ASSERT_TRUE(slot.match(R"({"a":1,"text":"a \"quoted\" \u00e9","b":[true]})", found));
  EXPECT_EQ(found.raw, R"(a \"quoted\" \u00e9)");
  EXPECT_TRUE(found.escaped);
  ASSERT_TRUE(slot.match(R"({"a":1,"text":"","b":[true]})", found));
  EXPECT_EQ(found.raw, "");
  // Plain ASCII of every length around the eight-byte words it is checked in; other text goes
  // through the scanner, which checks UTF-8.
  for (std::size_t n = 1; n <= 40; ++n) {
    const std::string t(n, static_cast<char>('a' + n % 26));
    const std::string event = R"({"a":1,"text":")" + t + R"(","b":[true]})";
    ASSERT_TRUE(slot.match(event, found)) << n;
    EXPECT_EQ(found.raw, t);
    EXPECT_FALSE(found.escaped);
  }
  ASSERT_TRUE(slot.match("{\"a\":1,\"text\":\"caf\xc3\xa9\",\"b\":[true]}", found));
  EXPECT_EQ(found.raw, "caf\xc3\xa9");
  for (const char* other : {
           R"({"a":2,"text":"hello","b":[true]})",                       // another byte before
           R"({"a":1,"text":"hello","b":[false]})",                      // another byte after
           R"({"a":1,"text": "hello","b":[true]})",                      // space before the string
           R"({"a":1,"text":"x","y":"z","b":[true]})",                   // two strings in its place
           R"({"a":1,"text":5,"b":[true]})",                             // no string
           R"({"a":1,"text":"bad\q","b":[true]})",                       // a malformed string
           R"({"a":1,"text":"open,"b":[true]})",                         // an unclosed one
           "{\"a\":1,\"text\":\"caf\xc3\",\"b\":[true]}",                // not UTF-8
           "{\"a\":1,\"text\":\"long enough \xe9 text\",\"b\":[true]}",  // nor this
           "{\"a\":1,\"text\":\"tab\there\",\"b\":[true]}",              // a control character
       })
    EXPECT_FALSE(slot.match(other, found)) << other;

  slot.forget();
  EXPECT_FALSE(slot.match(kept, found));
}

TEST(StringSlot, KeepsNoLargeEvent) {
  const std::string big =
      R"({"pad":")" + std::string(StringSlot::kMaxKept, 'x') + R"(","text":"t"})";
  JsonScanner s(big);
  JsonString key, text;
  ASSERT_TRUE(s.beginObject());
  ASSERT_TRUE(s.nextKey(key) && s.skip());
  ASSERT_TRUE(s.nextKey(key) && s.string(text));
  StringSlot slot;
  slot.keep(big, text);
  JsonString found;
  EXPECT_FALSE(slot.match(big, found));
}

// Atoms the differential tests build documents from: numbers and strings at the edges of what the
// readers take (escapes, non-ASCII text, lengths around the 16 and 32 bytes read at once).
const std::vector<std::string> kAtoms = {"0",
                                         "-0",
                                         "12",
                                         "-7",
                                         "3.25",
                                         "1e5",
                                         "-2.5E-3",
                                         "123456789012345678",
                                         "true",
                                         "false",
                                         "null",
                                         "\"\"",
                                         "\"text\"",
                                         "\"t\\\"q\\\\\\n\"",
                                         "\"\\u00e9\\ud83d\\ude00\"",
                                         "\"caf\xc3\xa9\"",
                                         "\"\xe4\xb8\xad\xf0\x9f\x98\x80\"",
                                         "\"\\/\\b\\f\\r\\t\"",
                                         "1.5e+10",
                                         "-0.0",
                                         "123456789012345678901234567890.5",
                                         "1e-99",
                                         "9007199254740993",
                                         "18446744073709551615",
                                         "-9223372036854775808",
                                         "0.000001e-5",
                                         "99999999999999999",
                                         "\"abcdefghijklmn\"",
                                         "\"abcdefghijklmno\"",
                                         "\"abcdefghijklmnop\"",
                                         "\"abcdefghijklm\xc3\xa9\"",
                                         "\"abcdefghijklmnop\xc3\xa9\"",
                                         "\"abcdefghijklmnopqrstuvwxyz01234\"",
                                         "\"abcdefghijklmnopqrstuvwxyz012345\"",
                                         "\"abcdefghijklmnopqrstuvwxyz0123456\"",
                                         "\"abcdefghijklmnopqrst\xc3\xa9uvwxyz\"",
                                         "\"abcdefghijklmnopqrstuvwxyz\\n0\""};

// Random JSON values of those atoms, objects and arrays nested up to four levels, with and
// without whitespace, some keys escaped.
class RandomJson {
 public:
  RandomJson(std::uint32_t seed, std::vector<std::string> atoms)
      : rng_(seed), atoms_(std::move(atoms)) {}

  int pick(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }
  std::mt19937& rng() { return rng_; }

  void value(std::string& out, int depth) {
    const int kind = depth > 3 ? 2 : pick(4);
    if (kind == 0) {
      out += '{';
      const int n = pick(4);
      for (int i = 0; i < n; ++i) {
        if (i) out += pick(2) ? "," : " , ";
        out += pick(3) ? "\"k" + std::to_string(pick(5)) + "\"" : "\"k\\u0031\"";
        out += pick(2) ? ":" : " :\n";
        value(out, depth + 1);
      }
      out += '}';
    } else if (kind == 1) {
      out += '[';
      const int n = pick(4);
      for (int i = 0; i < n; ++i) {
        if (i) out += ',';
        if (pick(3) == 0) out += ' ';
        value(out, depth + 1);
      }
      out += ']';
    } else {
      out += atoms_[static_cast<std::size_t>(pick(static_cast<int>(atoms_.size())))];
    }
  }

 private:
  std::mt19937 rng_;
  std::vector<std::string> atoms_;
};

const std::string kNoise = "{}[]\",:\\ -+.eE0123456789tfnulx\x01\x80\xc3\xa9\xff\t\n";

// What the scanner accepts, simdjson accepts and reads alike: random documents, then random edits
// of them, many of which break them.
TEST(JsonScanner, AcceptsNothingSimdjsonRefusesAndReadsAlike) {
  RandomJson random(20261122, kAtoms);
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string doc;
    random.value(doc, 0);
    if (round % 2)
      test_support::editRandomly(doc, random.rng(), kNoise,
                                 static_cast<std::size_t>(1 + random.pick(3)));
    const std::string mine = scannerDump(doc);
    if (mine.empty()) continue;
    ++accepted;
    ASSERT_EQ(mine, simdjsonDump(doc)) << "document: " << doc;
  }
  // Most documents are read, not refused: the comparison above is not vacuous.
  EXPECT_GT(accepted, 10000);
}

// The text `doc` followed by kJsonScanPadding bytes that are not part of it, chosen to look like
// JSON (quotes, brackets): a scan that read past the end would be caught.
struct PaddedText {
  explicit PaddedText(std::string_view doc, char fill) : buffer(doc) {
    buffer.append(kJsonScanPadding, fill);
    text = std::string_view(buffer.data(), doc.size());
  }
  std::string buffer;
  std::string_view text;
};

// simdjson's reading of an object, in dumpDom's form (empty when it refuses the text or the text is
// no object): what scanJsonObject's members come to when each value's text is read on its own.
std::string simdjsonMembers(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text.data(), text.size(), true).get(root) || !root.is_object()) return {};
  std::string out;
  dumpDom(root, out);
  return out;
}

std::string scannedMembers(std::string_view text, bool& accepted) {
  std::string out = "{";
  accepted = scanJsonObject(text, [&](const JsonMember& m) {
    std::string key;
    EXPECT_TRUE(m.key.appendTo(key));
    const std::string_view value = text.substr(m.begin, m.end - m.begin);
    EXPECT_EQ(m.kind, kJsonKinds[static_cast<unsigned char>(value.front())]);
    out += '<' + key + ">:" + simdjsonDump(value) + ',';
    return true;
  });
  return out + '}';
}

// Pretty-printed JSON: whitespace runs of every length up to 40 (read sixteen bytes at a time) in
// every gap between tokens, some with a byte JSON does not count as whitespace at some place; both
// scanners read them as simdjson does.
TEST(JsonScanner, SkipsWhitespaceRunsOfAnyLength) {
  const std::vector<std::string> tokens = {"{", "\"a\"", ":",     "[", "1",    ",", "\"b\"",
                                           "]", ",",     "\"c\"", ":", "null", "}"};
  std::mt19937 rng(4040);
  int accepted = 0;
  for (std::size_t gap = 0; gap <= tokens.size(); ++gap) {
    for (std::size_t length = 0; length <= 40; ++length) {
      for (int form = 0; form < 4; ++form) {
        std::string run;
        for (std::size_t i = 0; i < length; ++i) run += " \n\r\t"[rng() % 4];
        const bool broken = form == 3 && length > 0;
        if (broken) run[rng() % length] = "\f\v\x01a"[rng() % 4];
        std::string doc;
        for (std::size_t t = 0; t < tokens.size(); ++t) {
          if (t == gap) doc += run;
          doc += tokens[t];
        }
        if (gap == tokens.size()) doc += run;
        const std::string mine = scannerDump(doc);
        if (!broken) {
          EXPECT_FALSE(mine.empty()) << doc;
          ++accepted;
        }
        if (!mine.empty()) {
          ASSERT_EQ(mine, simdjsonDump(doc)) << "document: " << doc;
        }
        const PaddedText padded(doc, ' ');
        bool accepted_members = false;
        const std::string members = scannedMembers(padded.text, accepted_members);
        EXPECT_EQ(accepted_members, !broken) << doc;
        if (accepted_members) {
          ASSERT_EQ(members, simdjsonMembers(padded.text)) << "document: " << doc;
        }
      }
    }
  }
  EXPECT_GT(accepted, 1000);
}

TEST(ScanJsonObject, ReadsTheMembersOfAnObject) {
  const PaddedText t(
      R"( {"model" : "gpt-4o","n":2, "messages":[{"role":"user","content":"hi \"x\""}],
    "stream":true,"stop":null,"x":{"a":[1,2.5e3,{}],"b":[]}} )",
      '"');
  std::vector<std::string> seen;
  ASSERT_TRUE(scanJsonObject(t.text, [&](const JsonMember& m) {
    seen.push_back(std::string(m.key.raw) + "=" +
                   std::string(t.text.substr(m.begin, m.end - m.begin)));
    return true;
  }));
  const std::vector<std::string> expected = {
      R"(model="gpt-4o")", "n=2",       R"(messages=[{"role":"user","content":"hi \"x\""}])",
      "stream=true",       "stop=null", R"(x={"a":[1,2.5e3,{}],"b":[]})"};
  EXPECT_EQ(seen, expected);
  // The visitor stops the scan.
  int calls = 0;
  EXPECT_FALSE(scanJsonObject(t.text, [&](const JsonMember&) { return ++calls < 2; }));
  EXPECT_EQ(calls, 2);
  bool any = false;
  EXPECT_TRUE(scanJsonObject(PaddedText("{}", '}').text, [&](const JsonMember&) {
    any = true;
    return true;
  }));
  EXPECT_FALSE(any);
}

TEST(ScanJsonObject, RefusesWhatIsNotOneValidObject) {
  for (const std::string_view doc : {"",
                                     " ",
                                     "[]",
                                     "\"x\"",
                                     "{",
                                     "{}}",
                                     "{} x",
                                     R"({"a":1,})",
                                     R"({"a" 1})",
                                     R"({"a":})",
                                     R"({a:1})",
                                     R"({"a":[1,]})",
                                     R"({"a":"x)",
                                     "{\"a\":\"\x01\"}",
                                     R"({"a":"\q"})",
                                     R"({"a":"\u12"})",
                                     R"({"a":tru})",
                                     R"({"a":01})",
                                     R"({"a":1.})",
                                     R"({"a":-})",
                                     "{\"a\":\"\xc3\"}",
                                     "{\"a\":\"\xff\"}",
                                     R"({"a":"\udc00"})",
                                     R"({"a":"\ud800"})",
                                     R"({"a":"\ud800\u0041"})",
                                     R"({"a":[}])",
                                     R"({"a":{]})",
                                     "{\"a\":1}\x80"}) {
    for (const char fill : {'"', '}', ' ', '\\'}) {
      bool accepted = true;
      scannedMembers(PaddedText(doc, fill).text, accepted);
      EXPECT_FALSE(accepted) << "document: " << doc;
    }
  }
  // Deeper than the scanner's limit: valid, left to simdjson.
  std::string deep = "{\"a\":" + std::string(JsonScanner::kMaxDepth, '[') +
                     std::string(JsonScanner::kMaxDepth, ']') + "}";
  bool accepted = true;
  scannedMembers(PaddedText(deep, ']').text, accepted);
  EXPECT_FALSE(accepted);
  EXPECT_FALSE(simdjsonMembers(deep).empty());
}

// What scanJsonObject accepts, simdjson accepts, with the same members: random objects, then random
// edits of them, many of which break them. Strings run across the 16-byte reads and up to the
// text's end, past which the padding holds look-alike bytes.
TEST(ScanJsonObject, AcceptsNothingSimdjsonRefusesAndFindsItsMembers) {
  // Lone surrogate halves too, which the scan leaves to simdjson, and a long escaped string.
  std::vector<std::string> atoms = kAtoms;
  atoms.insert(atoms.end(),
               {"\"\\ud800\"", "\"\\udfff\"",
                "\"abcdefghijklmnopqrstuvwxyz\\n0123456789abcdefghijklmnopqrstuvwxyz\""});
  RandomJson random(20261201, std::move(atoms));
  auto pick = [&](int n) { return random.pick(n); };
  const std::string fills = "\"}] \\a";
  int accepted_count = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string doc = pick(4) == 0 ? " {" : "{";
    const int members = pick(6);
    for (int i = 0; i < members; ++i) {
      if (i) doc += pick(2) ? "," : " ,\n";
      doc += "\"m" + std::to_string(pick(4)) + (pick(8) == 0 ? "\\t\"" : "\"");
      doc += ':';
      random.value(doc, 1);
    }
    doc += pick(4) == 0 ? "} " : "}";
    if (round % 2)
      test_support::editRandomly(doc, random.rng(), kNoise, static_cast<std::size_t>(1 + pick(3)));
    const PaddedText t(doc, fills[static_cast<std::size_t>(pick(static_cast<int>(fills.size())))]);
    bool accepted = false;
    const std::string mine = scannedMembers(t.text, accepted);
    const std::string theirs = simdjsonMembers(doc);
    if (!accepted) continue;
    ++accepted_count;
    ASSERT_FALSE(theirs.empty()) << "document: " << doc;
    ASSERT_EQ(mine, theirs) << "document: " << doc;
  }
  EXPECT_GT(accepted_count, 8000);
}

}  // namespace
}  // namespace kh::model
