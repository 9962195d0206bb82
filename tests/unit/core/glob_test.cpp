#include "core/glob.h"

#include <gtest/gtest.h>

#include <string>

using kh::core::globMatch;

TEST(GlobTest, LiteralsMatchWholeText) {
  EXPECT_TRUE(globMatch("gpt-4o", "gpt-4o"));
  EXPECT_FALSE(globMatch("gpt-4o", "gpt-4o-mini"));
  EXPECT_FALSE(globMatch("gpt-4o-mini", "gpt-4o"));
  EXPECT_TRUE(globMatch("", ""));
  EXPECT_FALSE(globMatch("", "a"));
  EXPECT_FALSE(globMatch("a", ""));
}

TEST(GlobTest, IsCaseSensitive) {
  EXPECT_FALSE(globMatch("GPT-*", "gpt-4o"));
}

TEST(GlobTest, StarMatchesAnyRunIncludingSlashAndColon) {
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_TRUE(globMatch("*", "anything/at:all"));
  EXPECT_TRUE(globMatch("gpt-*", "gpt-4o"));
  EXPECT_TRUE(globMatch("gpt-*", "gpt-"));
  EXPECT_FALSE(globMatch("gpt-*", "gpt"));
  EXPECT_TRUE(globMatch("*-mini", "gpt-4o-mini"));
  EXPECT_TRUE(globMatch("openai/*", "openai/gpt-4o"));
  EXPECT_FALSE(globMatch("openai/*", "anthropic/claude"));
  EXPECT_TRUE(globMatch("*:20b", "gpt-oss:20b"));
  EXPECT_TRUE(globMatch("*4o*", "gpt-4o-mini"));
  EXPECT_TRUE(globMatch("a*b*c", "aXXbYYbZZc"));
  EXPECT_FALSE(globMatch("a*b*c", "aXXbYYbZZ"));
  EXPECT_TRUE(globMatch("**", "x"));
  EXPECT_TRUE(globMatch("a**b", "ab"));
}

TEST(GlobTest, StarBacktracksToTheLastStar) {
  EXPECT_TRUE(globMatch("*aab", "aaaab"));
  EXPECT_TRUE(globMatch("*ab*ab", "xabyabzab"));
  EXPECT_FALSE(globMatch("*ab*ab", "xabyabza"));
}

TEST(GlobTest, QuestionMarkIsExactlyOneCharacter) {
  EXPECT_TRUE(globMatch("gpt-?o", "gpt-4o"));
  EXPECT_FALSE(globMatch("gpt-?o", "gpt-o"));
  EXPECT_FALSE(globMatch("gpt-?o", "gpt-45o"));
  EXPECT_TRUE(globMatch("???", "a/b"));
}

TEST(GlobTest, CharacterClasses) {
  EXPECT_TRUE(globMatch("gpt-[34]*", "gpt-4o"));
  EXPECT_TRUE(globMatch("gpt-[34]*", "gpt-3.5-turbo"));
  EXPECT_FALSE(globMatch("gpt-[34]*", "gpt-5"));
  EXPECT_TRUE(globMatch("v[0-9]", "v7"));
  EXPECT_FALSE(globMatch("v[0-9]", "vx"));
  EXPECT_TRUE(globMatch("[a-cx-z]", "y"));
  EXPECT_FALSE(globMatch("[a-cx-z]", "m"));
}

TEST(GlobTest, NegatedClasses) {
  EXPECT_TRUE(globMatch("gpt-[!3]*", "gpt-4o"));
  EXPECT_FALSE(globMatch("gpt-[!3]*", "gpt-3.5"));
  EXPECT_TRUE(globMatch("[^0-9]x", "ax"));
  EXPECT_FALSE(globMatch("[^0-9]x", "5x"));
}

TEST(GlobTest, ClassEdgeCases) {
  // ']' first is a member; '-' first or last is literal.
  EXPECT_TRUE(globMatch("[]]", "]"));
  EXPECT_TRUE(globMatch("[!]]", "a"));
  EXPECT_FALSE(globMatch("[!]]", "]"));
  EXPECT_TRUE(globMatch("[-a]", "-"));
  EXPECT_TRUE(globMatch("[a-]", "-"));
  EXPECT_TRUE(globMatch("x[\\]]y", "x]y"));
  // Unterminated: '[' is an ordinary character.
  EXPECT_TRUE(globMatch("a[b", "a[b"));
  EXPECT_FALSE(globMatch("a[b", "ab"));
  EXPECT_TRUE(globMatch("*[", "model["));
}

TEST(GlobTest, BackslashEscapes) {
  EXPECT_TRUE(globMatch("a\\*", "a*"));
  EXPECT_FALSE(globMatch("a\\*", "ab"));
  EXPECT_TRUE(globMatch("\\?", "?"));
  EXPECT_FALSE(globMatch("\\?", "x"));
  EXPECT_TRUE(globMatch("\\[x]", "[x]"));
  EXPECT_TRUE(globMatch("a\\", "a\\"));  // a trailing '\' is itself
}

TEST(GlobTest, NonAsciiBytes) {
  EXPECT_TRUE(globMatch("モデル-*", "モデル-1"));
  EXPECT_TRUE(globMatch("*", "日本語"));
}

TEST(GlobTest, PathologicalPatternsStayFast) {
  const std::string text(4000, 'a');
  EXPECT_FALSE(globMatch("*a*a*a*a*a*a*a*a*a*a*b", text));
  EXPECT_TRUE(globMatch("*a*a*a*a*a*a*a*a*a*a*", text));
}
