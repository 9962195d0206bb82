#include "app/model_import.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace {

using kh::app::ImportFilter;
using kh::app::ImportPlan;
using kh::app::planImport;
using kh::app::renderAliasesYaml;

std::optional<std::string> noEnv(const char*) {
  return std::nullopt;
}

kh::config::Config configWith(const std::string& yaml) {
  return kh::config::parseConfigText(yaml, "test.yaml", noEnv);
}

const std::vector<std::string> kIds = {"gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo",
                                       "text-embedding-3-small", "o1"};

std::vector<std::string> names(const ImportPlan& plan) {
  std::vector<std::string> out;
  for (const auto& [name, target] : plan.aliases) out.push_back(name);
  return out;
}

TEST(ModelImportTest, KeepsEverythingByDefault) {
  const auto plan = planImport(kh::config::Config{}, "up", kIds, {});
  EXPECT_EQ(plan.fetched, 5u);
  EXPECT_EQ(plan.kept, 5u);
  EXPECT_TRUE(plan.skipped.empty());
  ASSERT_EQ(plan.aliases.size(), 5u);
  EXPECT_EQ(plan.aliases[0],
            (std::pair<std::string, std::string>{"gpt-3.5-turbo", "up:gpt-3.5-turbo"}));
}

TEST(ModelImportTest, IncludeAnyExcludeNone) {
  ImportFilter f;
  f.include = {"gpt-*", "o?"};
  f.exclude = {"*-mini", "*3.5*"};
  const auto plan = planImport(kh::config::Config{}, "up", kIds, f);
  EXPECT_EQ(plan.kept, 2u);
  EXPECT_EQ(names(plan), (std::vector<std::string>{"gpt-4o", "o1"}));
}

TEST(ModelImportTest, PrefixNamesAndDuplicatesCollapse) {
  ImportFilter f;
  f.prefix = "fast/";
  f.include = {"gpt-4o*"};
  const auto plan =
      planImport(kh::config::Config{}, "up", {"gpt-4o", "gpt-4o", "", "gpt-4o-mini"}, f);
  EXPECT_EQ(plan.fetched, 2u);
  ASSERT_EQ(plan.aliases.size(), 2u);
  EXPECT_EQ(plan.aliases[0].first, "fast/gpt-4o");
  EXPECT_EQ(plan.aliases[0].second, "up:gpt-4o");
}

TEST(ModelImportTest, SkipsNamesTheConfigUses) {
  const auto cfg = configWith(
      "providers:\n"
      "  - { name: up, type: openai-compatible, base_url: 'http://127.0.0.1:1/v1' }\n"
      "  - { name: o1, type: ollama }\n"
      "groups:\n"
      "  - { name: gpt-4o-mini, targets: [{ provider: up, model: gpt-4o-mini }] }\n"
      "aliases: { gpt-4o: 'up:gpt-4o' }\n");
  const auto plan = planImport(cfg, "up", kIds, {});
  EXPECT_EQ(plan.kept, 5u);
  ASSERT_EQ(plan.skipped.size(), 3u);
  EXPECT_EQ(names(plan), (std::vector<std::string>{"gpt-3.5-turbo", "text-embedding-3-small"}));
  for (const auto& s : plan.skipped) EXPECT_FALSE(s.reason.empty()) << s.name;
}

TEST(ModelImportTest, SkipsAliasesThatWouldPointAtThemselves) {
  ImportFilter f;
  f.prefix = "up:";
  const auto plan = planImport(kh::config::Config{}, "up", {"m"}, f);
  EXPECT_TRUE(plan.aliases.empty());
  ASSERT_EQ(plan.skipped.size(), 1u);
  EXPECT_EQ(plan.skipped[0].name, "up:m");
}

TEST(ModelImportTest, EmptyPlanRendersAnEmptyMap) {
  const std::string yaml = renderAliasesYaml(ImportPlan{});
  EXPECT_EQ(yaml, "aliases: {}\n");
  EXPECT_TRUE(configWith(yaml).aliases.empty());
}

TEST(ModelImportTest, FragmentRoundTripsThroughTheLoader) {
  // Names YAML would otherwise read as other types, or as syntax, or expand as variables.
  const std::vector<std::string> ids = {
      "gpt-oss:20b", "openai/gpt-4o", "yes",     "null",  "123",    "#hash",  "a: b", "- dash",
      "quote\"d",    "back\\slash",   "${HOME}", "$${x}", "sp ace", "日本語", "[x]",  "{y}"};
  const auto plan = planImport(kh::config::Config{}, "up", ids, {});
  ASSERT_EQ(plan.aliases.size(), ids.size());
  const std::string yaml = renderAliasesYaml(plan);
  const auto cfg = configWith(
      "providers:\n"
      "  - { name: up, type: openai-compatible, base_url: 'http://127.0.0.1:1/v1' }\n" +
      yaml);
  ASSERT_EQ(cfg.aliases.size(), ids.size()) << yaml;
  for (const auto& id : ids) {
    const auto it = cfg.aliases.find(id);
    ASSERT_NE(it, cfg.aliases.end()) << id << "\n" << yaml;
    EXPECT_EQ(it->second, "up:" + id) << yaml;
  }
}

}  // namespace
