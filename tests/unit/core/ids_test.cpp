#include "core/ids.h"

#include <gtest/gtest.h>

#include <string>

namespace kh::core {
namespace {

TEST(Ids, IsoTimestampsWithMilliseconds) {
  EXPECT_EQ(isoTimestampMs(1767323045678), "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(isoTimestampMs(0), "1970-01-01T00:00:00.000Z");
  // The date part is kept per second: the next second and a millisecond within it are not stale.
  EXPECT_EQ(isoTimestampMs(1767323046005), "2026-01-02T03:04:06.005Z");
  EXPECT_EQ(isoTimestampMs(1767323046999), "2026-01-02T03:04:06.999Z");
  char text[kIsoTimestampMsSize + 1] = {};
  EXPECT_EQ(writeIsoTimestampMs(text, 1767323045010), text + kIsoTimestampMsSize);
  EXPECT_EQ(std::string(text), "2026-01-02T03:04:05.010Z");
  std::string out = "at ";
  appendIsoTimestampMs(out, 1767323045678);
  EXPECT_EQ(out, "at 2026-01-02T03:04:05.678Z");
}

TEST(Ids, RequestIdsAreUniqueAndPrefixed) {
  const std::string a = newRequestId(), b = newRequestId();
  EXPECT_NE(a, b);
  EXPECT_TRUE(a.starts_with("req_")) << a;
  EXPECT_EQ(a.size(), 4u + 32u) << a;
}

}  // namespace
}  // namespace kh::core
