#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "http/server.h"

namespace kh::http {
namespace {

TEST(HeaderBlock, KeepsFieldsAndNumbersInOrder) {
  const std::string id = "req_0123456789abcdef0123456789abcdef";
  HeaderBlock h;
  h.add("x-request-id", id);
  h.addNumber("x-kakehashi-attempts", 3);
  h.addNumber("x-big", -9223372036854775807LL);
  h.add("Cache-Control", "no-cache");
  const auto f = h.fields();
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].name, "x-request-id");
  EXPECT_EQ(f[0].value, id);
  EXPECT_EQ(f[1].value, "3");
  EXPECT_EQ(f[2].value, "-9223372036854775807");
  EXPECT_EQ(f[3].name, "Cache-Control");
}

TEST(HeaderBlock, TooManyFieldsThrow) {
  HeaderBlock h;
  for (std::size_t i = 0; i < HeaderBlock::kMaxFields; ++i) h.add("x", "y");
  EXPECT_THROW(h.add("x", "y"), std::length_error);
}

}  // namespace
}  // namespace kh::http
