#include "core/json_text.h"

#include <gtest/gtest.h>

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
