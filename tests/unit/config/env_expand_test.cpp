#include "config/env_expand.h"

#include <gtest/gtest.h>

#include <map>

namespace kh::config {
namespace {

std::optional<std::string> fakeEnv(const char* name) {
  static const std::map<std::string, std::string> vars{{"KEY", "sk-123"}, {"EMPTY", ""}};
  auto it = vars.find(name);
  if (it == vars.end()) return std::nullopt;
  return it->second;
}

TEST(EnvExpand, ExpandsVariablesAndDefaults) {
  EXPECT_EQ(expandEnv("${KEY}", fakeEnv).value, "sk-123");
  EXPECT_EQ(expandEnv("Bearer ${KEY}!", fakeEnv).value, "Bearer sk-123!");
  EXPECT_EQ(expandEnv("${NOPE:-fallback}", fakeEnv).value, "fallback");
  EXPECT_EQ(expandEnv("${EMPTY:-fallback}", fakeEnv).value, "fallback");
  EXPECT_EQ(expandEnv("${KEY:-fallback}", fakeEnv).value, "sk-123");
  EXPECT_EQ(expandEnv("${NOPE:-}", fakeEnv).value, "");
  EXPECT_EQ(expandEnv("a$b$", fakeEnv).value, "a$b$");
  EXPECT_EQ(expandEnv("$${KEY}", fakeEnv).value, "${KEY}");
}

TEST(EnvExpand, ReportsMissingAndMalformed) {
  auto r = expandEnv("x${NOPE}y", fakeEnv);
  EXPECT_EQ(r.value, "xy");
  ASSERT_EQ(r.missing.size(), 1u);
  EXPECT_EQ(r.missing[0], "NOPE");
  EXPECT_EQ(expandEnv("${EMPTY}", fakeEnv).missing.size(), 0u);
  EXPECT_FALSE(expandEnv("${KEY", fakeEnv).error.empty());
  EXPECT_FALSE(expandEnv("${}", fakeEnv).error.empty());
}

}  // namespace
}  // namespace kh::config
