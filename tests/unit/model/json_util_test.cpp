#include "model/json_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include <boost/json/parse.hpp>

namespace kh::model::detail {
namespace {

std::string number(double d) {
  std::string out;
  appendJsonNumber(d, out);
  return out;
}

// Sampling parameters are written in their shortest exact spelling and always read back as the
// same double (never as an integer).
TEST(JsonUtil, SamplingNumbersReadBackAsTheSameDouble) {
  EXPECT_EQ(number(0.2), "0.2");
  EXPECT_EQ(number(1), "1.0");
  EXPECT_EQ(number(0), "0.0");
  EXPECT_EQ(number(-0.5), "-0.5");
  EXPECT_EQ(number(18), "18.0");
  EXPECT_EQ(number(0.05), "0.05");
  EXPECT_EQ(number(1.25), "1.25");
  EXPECT_EQ(number(-0.0), "-0.0");
  EXPECT_EQ(number(0.123456), "0.123456");
  EXPECT_EQ(number(1e21), "1e+21");
  for (const double d :
       {0.2, 0.7, 1.0, 0.0, 2.0, 1.5, 0.95, 1e21, 1.5e-7, 123456.789, -3.0, 0.1234567, 999999999.5,
        -999999999.25, 0.3, 0.1 + 0.2, 1.0 / 3, 2.5e-5, 5e-324}) {
    const boost::json::value v = boost::json::parse(number(d));
    ASSERT_TRUE(v.is_double()) << number(d);
    EXPECT_EQ(v.as_double(), d) << number(d);
  }
  // Every value with up to six decimals, read back exactly.
  std::uint64_t seed = 7;
  for (int i = 0; i < 20000; ++i) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    const int k = static_cast<int>(seed >> 61) % 7;
    const double d =
        static_cast<double>(static_cast<long long>(seed >> 33) - (1LL << 30)) / std::pow(10.0, k);
    const boost::json::value v = boost::json::parse(number(d));
    ASSERT_TRUE(v.is_double()) << number(d);
    ASSERT_EQ(v.as_double(), d) << number(d);
  }
}

}  // namespace
}  // namespace kh::model::detail
