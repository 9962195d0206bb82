#include "core/byte_vector.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace kh::core::bytes16 {
namespace {

// laneMask() uses the SSE2 instruction where there is one; the portable gathering used elsewhere
// must give the same bits.
TEST(ByteVector, LaneMaskAndPortableGatheringAgree) {
  std::uint32_t seed = 99;
  for (int round = 0; round < 5000; ++round) {
    char bytes[16];
    for (char& b : bytes) {
      seed = seed * 1664525u + 1013904223u;
      b = static_cast<char>(seed >> 24);
    }
    const Bytes v = load(bytes);
    std::uint64_t lo, hi;
    std::memcpy(&lo, bytes, 8);
    std::memcpy(&hi, bytes + 8, 8);
    unsigned expected = 0;
    for (int k = 0; k < 16; ++k)
      if (static_cast<unsigned char>(bytes[k]) >= 0x80) expected |= 1u << k;
    ASSERT_EQ(laneMask(v), expected) << round;
    ASSERT_EQ(gatherHighBits(lo) | gatherHighBits(hi) << 8, expected) << round;
  }
  const Bytes v = load("abc\"defghij\"klm");
  EXPECT_EQ(firstLane(v == splat('"')), 3u);
  EXPECT_EQ(firstLane(v == splat('z')), 16u);
  EXPECT_TRUE(any(v == splat('m')));
  EXPECT_FALSE(any(v == splat('z')));
}

}  // namespace
}  // namespace kh::core::bytes16
