#include "model/json_util.h"

#include "model/json_dom.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

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

namespace kh::model::detail {
namespace {

// A number read where an integer belongs (token counts, `created`, max_tokens) is one only when
// it is whole and fits a long long: "1e300" or 2^64 - 1 is no integer, in either document reader,
// rather than an undefined conversion.
TEST(JsonUtil, IntegersAreWholeNumbersALongLongHolds) {
  const std::pair<const char*, std::optional<long long>> cases[] = {
      {"42", 42},
      {"-7", -7},
      {"3.0", 3},
      {"1e3", 1000},
      {"-9223372036854775808", INT64_MIN},
      {"9223372036854775807", INT64_MAX},
      {"-9.223372036854775808e18", INT64_MIN},
      {"9.223372036854775808e18", std::nullopt},
      {"9223372036854775808", std::nullopt},
      {"18446744073709551615", std::nullopt},
      {"1e300", std::nullopt},
      {"-1e300", std::nullopt},
      {"1741570E83", std::nullopt},
      {"0.5", std::nullopt},
      {"\"3\"", std::nullopt},
  };
  simdjson::dom::parser parser;
  for (const auto& [text, expected] : cases) {
    EXPECT_EQ(integer(boost::json::parse(text)), expected) << text;
    simdjson::dom::element doc;
    ASSERT_FALSE(parser.parse(std::string(text)).get(doc)) << text;
    EXPECT_EQ(integer(doc), expected) << "simdjson: " << text;
  }
}

}  // namespace
}  // namespace kh::model::detail
