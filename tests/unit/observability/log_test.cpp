#include "observability/log.h"

#include <gtest/gtest.h>

namespace kh::obs {
namespace {

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
