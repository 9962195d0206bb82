#include "observability/log.h"

#include <gtest/gtest.h>

namespace kh::obs {
namespace {

std::string quoted(std::string_view s) {
  std::string out;
  appendJsonString(out, s);
  return out;
}

TEST(Log, JsonStringEscaping) {
  EXPECT_EQ(quoted(""), R"("")");
  EXPECT_EQ(quoted("plain text"), R"("plain text")");
  EXPECT_EQ(quoted("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(quoted("line\nnext\r\ttab"), R"("line\nnext\r\ttab")");
  EXPECT_EQ(quoted(std::string_view("\x01z\x1f", 3)), R"("\u0001z\u001f")");
  EXPECT_EQ(quoted("日本語"), "\"日本語\"");
}

TEST(Log, SecretsAreMasked) {
  EXPECT_EQ(maskSecret(""), "(none)");
  EXPECT_EQ(maskSecret("short"), "****");
  EXPECT_EQ(maskSecret("sk-proj-abcdefghijklmnop1234"), "****1234");
}

TEST(Log, LevelsParse) {
  EXPECT_EQ(parseLevel("debug"), Level::kDebug);
  EXPECT_EQ(parseLevel("error"), Level::kError);
  EXPECT_FALSE(parseLevel("loud"));
}

}  // namespace
}  // namespace kh::obs
