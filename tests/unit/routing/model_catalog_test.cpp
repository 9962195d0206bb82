#include "routing/model_catalog.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace kh::routing {
namespace {

std::optional<std::string> noEnv(const char*) {
  return std::nullopt;
}

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cfg = std::make_shared<config::Config>(config::parseConfigText(R"(
providers:
  - { name: work-openai, type: openai, api_key: k, models: [gpt-4o, gpt-4o-mini, shared] }
  - { name: local, type: ollama, models: ["gpt-oss:20b", llama3, shared] }
  - { name: router, type: openrouter, api_key: k }
  - { name: lazy, type: openai-compatible, base_url: "http://127.0.0.1:1/v1" }
groups:
  - name: pool
    targets:
      - { provider: local, model: llama3, priority: 2 }
      - { provider: work-openai, model: gpt-4o, priority: 1 }
aliases: { gpt-4: "work-openai:gpt-4o", smart: pool, loop-a: loop-b, loop-b: loop-a, ghost: "nobody:x" }
)",
                                                                        "t.yaml", noEnv));
    ProviderSet providers;
    for (const auto& pc : cfg->providers) providers.push_back(providers::makeProvider(pc, nullptr));
    DiscoveredModels discovered{{"router", {"openai/gpt-4o", "anthropic/claude-sonnet-4"}}};
    catalog = std::make_unique<ModelCatalog>(cfg, providers, discovered);
  }

  Target only(std::string_view model) {
    auto r = catalog->resolve(model);
    EXPECT_TRUE(r) << model << ": " << (r ? "" : r.error().message);
    if (!r) return {};
    EXPECT_EQ(r->targets.size(), 1u);
    return r->targets.front();
  }

  void expectNotFound(std::string_view model) {
    auto r = catalog->resolve(model);
    ASSERT_FALSE(r) << model;
    EXPECT_EQ(r.error().http_status, 404) << model;
    EXPECT_EQ(r.error().code, core::ErrorCode::kModelNotFound) << model;
  }

  std::unique_ptr<ModelCatalog> catalog;
};

TEST_F(CatalogTest, GroupsOrderTargetsByPriority) {
  auto r = catalog->resolve("pool");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->via, "group");
  ASSERT_EQ(r->targets.size(), 2u);
  EXPECT_EQ(r->targets[0].provider->name(), "work-openai");
  EXPECT_EQ(r->targets[1].provider->name(), "local");
}

TEST_F(CatalogTest, AliasesResolveToTheirTargets) {
  Target t = only("gpt-4");
  EXPECT_EQ(t.provider->name(), "work-openai");
  EXPECT_EQ(t.model, "gpt-4o");
  auto r = catalog->resolve("smart");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->via, "alias");
  EXPECT_EQ(r->targets.size(), 2u);
  expectNotFound("loop-a");
  expectNotFound("ghost");
}

TEST_F(CatalogTest, ProviderPrefixesAndWellKnownPrefixes) {
  EXPECT_EQ(only("local:gpt-oss:20b").model, "gpt-oss:20b");
  EXPECT_EQ(only("work-openai:gpt-4o-mini").model, "gpt-4o-mini");
  // "openai:" finds the first provider of type openai when none is named so.
  Target t = only("openai:gpt-4o");
  EXPECT_EQ(t.provider->name(), "work-openai");
  t = only("openrouter:openai/gpt-4o");
  EXPECT_EQ(t.provider->name(), "router");
  EXPECT_EQ(t.model, "openai/gpt-4o");
  // A provider with no known model list forwards any name.
  EXPECT_EQ(only("lazy:anything-at-all").model, "anything-at-all");
  expectNotFound("work-openai:gpt-9");
  expectNotFound("work-openai:");
  expectNotFound("anthropic:claude");  // no anthropic provider configured
  expectNotFound("ahtnorpic:claude");
}

TEST_F(CatalogTest, BareNamesMustBeUnambiguous) {
  EXPECT_EQ(only("gpt-4o-mini").provider->name(), "work-openai");
  EXPECT_EQ(only("gpt-oss:20b").provider->name(), "local");
  EXPECT_EQ(only("openai/gpt-4o").provider->name(), "router");
  auto r = catalog->resolve("shared");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kModelNotFound);
  EXPECT_NE(r.error().message.find("several providers"), std::string::npos);
  expectNotFound("unknown-model");
  EXPECT_EQ(catalog->resolve("").error().http_status, 400);
}

TEST_F(CatalogTest, ListsEveryRoutableName) {
  const auto v = boost::json::parse(catalog->listJson());
  EXPECT_EQ(v.at("object").as_string(), "list");
  std::set<std::string> ids;
  for (const auto& m : v.at("data").as_array()) {
    EXPECT_EQ(m.at("object").as_string(), "model");
    ids.insert(std::string(m.at("id").as_string()));
  }
  for (const char* id :
       {"pool", "gpt-4", "smart", "work-openai:gpt-4o", "local:gpt-oss:20b", "router:openai/gpt-4o",
        "gpt-4o-mini", "gpt-oss:20b", "openai/gpt-4o", "local:shared", "work-openai:shared"})
    EXPECT_TRUE(ids.count(id)) << id;
  EXPECT_FALSE(ids.count("shared")) << "ambiguous bare names are not listed";
  EXPECT_TRUE(catalog->modelJson("gpt-oss:20b"));
  EXPECT_TRUE(catalog->modelJson("openai:gpt-4o")) << "resolvable, though not listed";
  EXPECT_EQ(catalog->modelJson("nope").error().http_status, 404);
}

}  // namespace
}  // namespace kh::routing
