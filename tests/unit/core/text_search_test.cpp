#include "core/text_search.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace kh::core {
namespace {

TEST(TextSearch, FindsWhatFindFinds) {
  const std::string text =
      R"(data: {"id":"c","choices":[{"delta":{"content":"a usage of \"usage\""}}],"usage":null})";
  for (std::string_view needle :
       {"\"usage\"", "\"usage\":", "choices", "null})", "data: ", "zzzz"}) {
    for (std::size_t from = 0; from <= text.size() + 1; ++from)
      EXPECT_EQ(findText(text, needle, from), std::string_view(text).find(needle, from))
          << needle << " from " << from;
  }
  EXPECT_EQ(findText("ab", "abc"), std::string_view::npos);
  EXPECT_EQ(findText("", "\"usage\""), std::string_view::npos);
  EXPECT_EQ(findText("usage", "us"), 0u) << "short needles take the plain search";
}

TEST(TextSearch, AgreesWithFindOnRandomText) {
  // A small alphabet makes partial matches (the two tested bytes without the rest) common, and
  // lengths up to a few 64-byte strides cover the strides, the 16-byte blocks and the tail.
  std::mt19937 rng(7);
  const std::string alphabet = "\"usage:{}n ";
  for (int round = 0; round < 4000; ++round) {
    std::string text(rng() % 200, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    std::string needle(4 + rng() % 5, ' ');
    for (char& c : needle) c = alphabet[rng() % alphabet.size()];
    if (rng() % 3 == 0 && text.size() >= needle.size())
      text.replace(rng() % (text.size() - needle.size() + 1), needle.size(), needle);
    const std::size_t from = text.empty() ? 0 : rng() % (text.size() + 1);
    ASSERT_EQ(findText(text, needle, from), std::string_view(text).find(needle, from))
        << "text '" << text << "' needle '" << needle << "' from " << from;
  }
}

// Every length up to 48 (the 16-byte steps and the overlapping last read), the byte at every
// place and at none, searched from every place; the text lies inside a larger buffer holding the
// byte on both sides, which must not be found.
TEST(TextSearch, FindByteAgreesWithFind) {
  for (std::size_t n = 0; n <= 48; ++n) {
    for (std::size_t at = 0; at <= n; ++at) {
      std::string buffer(n + 32, ':');
      std::string_view text(buffer.data() + 16, n);
      for (std::size_t i = 0; i < n; ++i) buffer[16 + i] = static_cast<char>('a' + i % 26);
      if (at < n) buffer[16 + at] = ':';
      for (std::size_t from = 0; from <= n + 1; ++from)
        ASSERT_EQ(findByte(text, ':', from), text.find(':', from))
            << "length " << n << " byte at " << at << " from " << from;
    }
  }
  std::mt19937 rng(11);
  for (int round = 0; round < 4000; ++round) {
    std::string text(rng() % 100, 'x');
    for (char& c : text) c = "\n\r:xxxxxxxx"[rng() % 12];
    const std::size_t from = rng() % (text.size() + 2);
    ASSERT_EQ(findByte(text, '\n', from), std::string_view(text).find('\n', from)) << text;
    ASSERT_EQ(findEither(text, '\n', '\r', from),
              std::string_view(text).find_first_of("\n\r", from))
        << text;
  }
}

// Every length up to 40 (the word, vector and memcmp forms and their overlaps), equal and with one
// byte changed at every place.
TEST(TextSearch, SameBytesAgreesWithEquality) {
  for (std::size_t n = 0; n <= 40; ++n) {
    std::string a(n, 'a');
    for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<char>('a' + (i * 7) % 26);
    const std::string b = a;
    EXPECT_TRUE(sameBytes(a, b)) << n;
    for (std::size_t at = 0; at < n; ++at) {
      std::string c = a;
      c[at] = static_cast<char>(c[at] ^ 0x01);
      EXPECT_FALSE(sameBytes(a, c)) << "length " << n << " at " << at;
    }
    EXPECT_FALSE(sameBytes(a, a + "x")) << n;
  }
}

}  // namespace
}  // namespace kh::core
