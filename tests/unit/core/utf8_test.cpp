#include "core/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace kh::core {
namespace {

TEST(Utf8, WellFormedSequencesOnly) {
  EXPECT_EQ(validSequenceAt("a", 0), 1u);
  EXPECT_EQ(validSequenceAt("\xC3\xA9", 0), 2u);          // é
  EXPECT_EQ(validSequenceAt("\xE2\x80\xA6", 0), 3u);      // …
  EXPECT_EQ(validSequenceAt("\xF0\x9F\x98\x80", 0), 4u);  // 😀
  EXPECT_EQ(validSequenceAt("\xC0\xAF", 0), 0u);          // overlong '/'
  EXPECT_EQ(validSequenceAt("\xED\xA0\x80", 0), 0u);      // a surrogate
  EXPECT_EQ(validSequenceAt("\xF4\x90\x80\x80", 0), 0u);  // past U+10FFFF
  EXPECT_EQ(validSequenceAt("\xE2\x80", 0), 0u);          // cut short
  EXPECT_EQ(validSequenceAt("\xBC", 0), 0u);              // a continuation byte alone
  EXPECT_EQ(validSequenceAt(std::string("\xC3\x00", 2), 0), 0u);
}

// What an upstream sends that is not JSON reaches the client inside a JSON message, which must be
// valid UTF-8 whatever came: bad bytes become U+FFFD, and a cut never splits a character.
TEST(Utf8, ExcerptsAreValidTextWithinTheirBound) {
  EXPECT_EQ(textExcerpt("  <html>Bad gateway</html>\r\n", 100), "<html>Bad gateway</html>");
  EXPECT_EQ(textExcerpt(" \n\t ", 100), "");
  EXPECT_EQ(textExcerpt(std::string("a\xBC\x03\0b", 5), 100),
            std::string("a\xEF\xBF\xBD\x03\0b", 7));
  EXPECT_EQ(textExcerpt("caf\xC3\xA9 ok", 4), "caf\xE2\x80\xA6");
  EXPECT_EQ(textExcerpt("caf\xC3\xA9 ok", 5), "caf\xC3\xA9\xE2\x80\xA6");
  // Each bad byte becomes three: the bound counts what is written.
  EXPECT_EQ(textExcerpt("\xC0\xAF\xC0", 9), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(textExcerpt("\xC0\xAF\xC0", 8), "\xEF\xBF\xBD\xEF\xBF\xBD\xE2\x80\xA6");
  EXPECT_EQ(textExcerpt(std::string(10, 'x'), 10), std::string(10, 'x'));
}

TEST(Utf8, ValidTextStaysAsItIsAndBadBytesBecomeReplacements) {
  EXPECT_EQ(validUtf8("caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(validUtf8("message_sta\xEBrt"), "message_sta\xEF\xBF\xBDrt");
  EXPECT_EQ(validUtf8(""), "");
}

}  // namespace
}  // namespace kh::core
