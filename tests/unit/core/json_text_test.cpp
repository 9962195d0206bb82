#include "core/json_text.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace kh::core {
namespace {

std::string quoted(std::string_view s) {
  std::string out;
  appendJsonString(out, s);
  return out;
}

TEST(JsonText, StringEscaping) {
  EXPECT_EQ(quoted(""), R"("")");
  EXPECT_EQ(quoted("plain text"), R"("plain text")");
  EXPECT_EQ(quoted("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(quoted("line\nnext\r\ttab"), R"("line\nnext\r\ttab")");
  EXPECT_EQ(quoted("\b\f/"), R"("\b\f/")");
  EXPECT_EQ(quoted(std::string_view("\x01z\x1f\0", 4)), R"("\u0001z\u001f\u0000")");
  EXPECT_EQ(quoted("日本語"), "\"日本語\"");
}

// Texts as appendJsonString escapes them are canonical; other spellings of the same text are not.
TEST(JsonText, CanonicalEscaping) {
  for (const std::string_view text :
       {std::string_view(""), std::string_view("plain é 😀 /"),
        std::string_view("a\"b\\c\n\r\t\b\f"), std::string_view("\x01\x1f\x7f", 3),
        std::string_view("\0x", 2)}) {
    const std::string q = quoted(text);
    EXPECT_TRUE(isCanonicalJsonText(std::string_view(q).substr(1, q.size() - 2))) << q;
  }
  for (const char* escaped : {R"(\/)", R"(\u00e9)", R"(\u000a)", R"(\u0009)", R"(\u001F)",
                              R"(\u0022)", R"(\u005c)", R"(\ud83d\ude00)", R"(a\u00)", R"(\)"}) {
    EXPECT_FALSE(isCanonicalJsonText(escaped)) << escaped;
  }
  EXPECT_TRUE(isCanonicalJsonText(R"(x\u0000\u001fy\"\\)"));
}

// Long runs are skipped a word at a time; escapes anywhere in a word, at its edges and in the tail
// must still be found.
TEST(JsonText, EscapesAtEveryPosition) {
  auto reference = [](std::string_view s) {
    std::string out = "\"";
    for (const char ch : s) {
      const unsigned char c = static_cast<unsigned char>(ch);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += ch;
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
      } else {
        out += ch;
      }
    }
    return out + "\"";
  };
  // Past three blocks of sixteen, with a second escape further on, and appended after text
  // already in the string (whose room the plain copy sizes).
  for (const char special : {'"', '\\', '\n', '\t', '\x01', '\x1f'}) {
    for (std::size_t len = 1; len <= 52; ++len) {
      for (std::size_t at = 0; at < len; ++at) {
        std::string s(len, 'a');
        s[at] = special;
        if (at + 1 < len) s[at + 1] = static_cast<char>(0xE3);  // high bytes are never escaped
        EXPECT_EQ(core::quoted(s), reference(s)) << len << " " << at;
        if (at + 19 < len) s[at + 19] = '\\';
        std::string after = "{\"k\":";
        appendJsonString(after, s);
        EXPECT_EQ(after, "{\"k\":" + reference(s)) << len << " " << at;
      }
    }
  }
  for (std::size_t len = 0; len <= 52; ++len) {
    const std::string s(len, 'q');
    EXPECT_EQ(core::quoted(s), reference(s)) << len;
  }
  EXPECT_EQ(quoted(" !#[]~\x7f"), "\" !#[]~\x7f\"");
}

// The search reads sixteen bytes at a time, the rest of a text as its last sixteen, and may look
// at bytes before `from`: compared with a byte-by-byte reference at every length, start and place.
TEST(JsonText, FindSpecialAgreesWithBytewiseSearch) {
  auto reference = [](std::string_view s, std::size_t from, bool& high) {
    for (std::size_t i = from; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c == '"' || c == '\\') return i;
      high |= c >= 0x80;
    }
    return s.size();
  };
  std::uint32_t seed = 12345;
  auto next = [&] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  constexpr char kBytes[] = {'a',
                             'z',
                             ' ',
                             '"',
                             '\\',
                             '\n',
                             '\x01',
                             '\x1f',
                             '\x7f',
                             static_cast<char>(0x80),
                             static_cast<char>(0xE3),
                             static_cast<char>(0xFF)};
  for (int round = 0; round < 20000; ++round) {
    const std::size_t len = next() % 70;
    std::string s(len, 'a');
    // Mostly plain text with a few specials and high bytes, as real text is.
    for (auto& c : s)
      if (next() % 8 == 0) c = kBytes[next() % sizeof kBytes];
    const std::size_t from = len == 0 ? 0 : next() % (len + 1);
    bool high = false, expected_high = false;
    const std::size_t at = findJsonSpecial(s, from, &high);
    ASSERT_EQ(at, reference(s, from, expected_high)) << round;
    ASSERT_EQ(high, expected_high) << round;
    ASSERT_EQ(findJsonSpecial(s, from), at) << round;
  }
  bool high = true;
  EXPECT_EQ(findJsonSpecial("plain", 0, &high), 5u);
  EXPECT_TRUE(high);  // never cleared
  EXPECT_EQ(findJsonSpecial("abc", 7), 3u);
  EXPECT_TRUE(isPlainJsonText(std::string(100, 'x') + "\xE3\x81\x82"));
  EXPECT_FALSE(isPlainJsonText(std::string(100, 'x') + "\t"));
  EXPECT_TRUE(isPlainJsonText(""));
  // Every length from 0 to 40, with one special byte at every place, read through overlapping
  // words and vectors.
  for (std::size_t len = 0; len <= 40; ++len) {
    const std::string plain(len, 'a');
    EXPECT_TRUE(isPlainJsonText(plain)) << len;
    for (std::size_t at = 0; at < len; ++at) {
      for (const char special : {'"', '\\', '\n', '\x01', '\x1f'}) {
        std::string s = plain;
        s[at] = special;
        EXPECT_FALSE(isPlainJsonText(s)) << len << " " << at;
      }
      std::string high = plain;
      high[at] = static_cast<char>(0xE3);
      EXPECT_TRUE(isPlainJsonText(high)) << len << " " << at;
    }
  }
}

TEST(JsonText, Integers) {
  std::string out;
  appendJsonInt(out, 0);
  out += ' ';
  appendJsonInt(out, -42);
  out += ' ';
  appendJsonInt(out, 9223372036854775807LL);
  EXPECT_EQ(out, "0 -42 9223372036854775807");
}

}  // namespace
}  // namespace kh::core
