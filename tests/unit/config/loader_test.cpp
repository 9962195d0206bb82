#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

namespace kh::config {
namespace {

std::map<std::string, std::string>& vars() {
  static std::map<std::string, std::string> v;
  return v;
}

std::optional<std::string> testEnv(const char* name) {
  auto it = vars().find(name);
  if (it == vars().end()) return std::nullopt;
  return it->second;
}

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { vars().clear(); }
  std::string writeTemp(const std::string& text) {
    std::string path = ::testing::TempDir() + "kh_config_" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml";
    std::ofstream(path) << text;
    return path;
  }
};

TEST_F(LoaderTest, DefaultsWithoutAnyFile) {
  const Config c = loadConfig({}, testEnv);
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 4321);
  EXPECT_EQ(c.server.admin_port, 4322);
  EXPECT_EQ(c.server.max_body_bytes, 33554432u);
  EXPECT_EQ(c.server.shutdown_grace_s, 30);
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_EQ(c.database_url, "sqlite://./data/kakehashi.db");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_TRUE(c.providers.empty());
}

TEST_F(LoaderTest, FullFileParses) {
  vars()["OPENAI_KEY"] = "sk-abc";
  const Config c = parseConfigText(R"(
server: { host: 0.0.0.0, port: 8000, admin_port: 8001, max_body_bytes: 2048, shutdown_grace_s: 5 }
auth: { require_api_key: true }
providers:
  - name: work-openai
    type: openai
    api_key: ${OPENAI_KEY}
    models: [gpt-4o, gpt-4o-mini]
    headers: { X-Title: my-app }
    timeout_s: 30
    pricing: { gpt-4o: { input: 2.5, output: 10, cached_input: 1.25 } }
  - name: local
    type: openai-compatible
    base_url: ${LOCAL_URL:-http://127.0.0.1:8080/v1}
groups:
  - name: pool
    strategy: weighted
    targets:
      - { provider: work-openai, model: gpt-4o, priority: 1, weight: 3 }
      - { provider: local, model: llama, priority: 2 }
aliases: { gpt-4: "work-openai:gpt-4o" }
failover: { max_attempts: 2, retry_on_status: [429, 503], circuit_breaker: { failures: 3 } }
queue: { max_waiting: 10 }
log_level: debug
)",
                                   "test.yaml", testEnv);
  EXPECT_EQ(c.server.host, "0.0.0.0");
  EXPECT_EQ(c.server.port, 8000);
  EXPECT_EQ(c.server.max_body_bytes, 2048u);
  EXPECT_TRUE(c.auth.require_api_key);
  ASSERT_EQ(c.providers.size(), 2u);
  const auto& p = c.providers[0];
  EXPECT_EQ(p.api_key, "sk-abc");
  EXPECT_TRUE(p.models_configured);
  EXPECT_EQ(p.models, (std::vector<std::string>{"gpt-4o", "gpt-4o-mini"}));
  ASSERT_EQ(p.headers.size(), 1u);
  EXPECT_EQ(p.headers[0].first, "X-Title");
  EXPECT_EQ(p.timeout_s, 30);
  EXPECT_DOUBLE_EQ(p.pricing.at("gpt-4o").cached_input, 1.25);
  EXPECT_EQ(c.providers[1].base_url, "http://127.0.0.1:8080/v1");
  EXPECT_FALSE(c.providers[1].models_configured);
  ASSERT_EQ(c.groups.size(), 1u);
  EXPECT_EQ(c.groups[0].targets[0].weight, 3);
  EXPECT_EQ(c.groups[0].targets[1].priority, 2);
  EXPECT_EQ(c.aliases.at("gpt-4"), "work-openai:gpt-4o");
  EXPECT_EQ(c.failover.max_attempts, 2);
  EXPECT_EQ(c.failover.retry_on_status, (std::vector<int>{429, 503}));
  EXPECT_EQ(c.failover.breaker_failures, 3);
  EXPECT_EQ(c.queue.max_waiting, 10);
  EXPECT_EQ(c.log_level, "debug");
}

TEST_F(LoaderTest, ErrorsCarryFileLineAndColumnAndAreAllReported) {
  try {
    parseConfigText(
        "server:\n  port: seventy\nproviders:\n  - name: a\n    type: nonsense\n"
        "  - name: a\n    type: openai\n    colour: blue\n",
        "bad.yaml", testEnv);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("bad.yaml:2:9: 'port' must be a number"), std::string::npos) << text;
    EXPECT_NE(text.find("bad.yaml:5:11: unknown provider type 'nonsense'"), std::string::npos)
        << text;
    EXPECT_NE(text.find("duplicate provider name 'a'"), std::string::npos) << text;
    EXPECT_NE(text.find("bad.yaml:8:5: unknown key 'colour'"), std::string::npos) << text;
    EXPECT_GE(e.issues().size(), 4u);
  }
}

TEST_F(LoaderTest, SyntaxErrorHasLine) {
  try {
    parseConfigText("server:\n  port: [1, 2\n", "syntax.yaml", testEnv);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("syntax.yaml:", 0), 0u) << e.what();
  }
}

TEST_F(LoaderTest, RejectsBadReferencesAndValues) {
  EXPECT_THROW(parseConfigText("groups:\n  - name: g\n    targets: [{provider: ghost, model: m}]\n",
                               "x.yaml", testEnv),
               ConfigError);
  EXPECT_THROW(parseConfigText("providers:\n  - {name: 'a:b', type: openai}\n", "x.yaml", testEnv),
               ConfigError);
  EXPECT_THROW(
      parseConfigText("providers:\n  - {name: c, type: openai-compatible}\n", "x.yaml", testEnv),
      ConfigError);
  EXPECT_THROW(parseConfigText("providers:\n  - {name: c, type: openai, base_url: ftp://x}\n",
                               "x.yaml", testEnv),
               ConfigError);
  EXPECT_THROW(parseConfigText("log_level: loud\n", "x.yaml", testEnv), ConfigError);
  EXPECT_THROW(parseConfigText("server: { port: 70000 }\n", "x.yaml", testEnv), ConfigError);
  EXPECT_THROW(parseConfigText("- just\n- a list\n", "x.yaml", testEnv), ConfigError);
}

TEST_F(LoaderTest, AutoSectionParses) {
  const Config c = parseConfigText(R"(
auto:
  default: gpt-4-pool
  rules:
    - { name: japanese, when: { language: JA }, target: "work-openai:gpt-4o" }
    - name: code
      when: { task: code, min_tokens: 10, max_tokens: 5000 }
      target: [gpt-4-pool, "local:qwen2.5-coder:7b"]
    - { name: anything, target: fallback }
)",
                                   "auto.yaml", testEnv);
  ASSERT_TRUE(c.auto_select);
  const AutoConfig& a = *c.auto_select;
  EXPECT_EQ(a.default_target, "gpt-4-pool");
  EXPECT_TRUE(a.default_alternatives.empty());
  ASSERT_EQ(a.rules.size(), 3u);
  EXPECT_EQ(a.rules[0].name, "japanese");
  EXPECT_EQ(a.rules[0].when.language, "ja");
  EXPECT_EQ(a.rules[0].target, "work-openai:gpt-4o");
  EXPECT_EQ(a.rules[0].origin, "auto.yaml:5:7");
  EXPECT_EQ(a.rules[1].when.task, "code");
  EXPECT_EQ(a.rules[1].when.min_tokens, 10);
  EXPECT_EQ(a.rules[1].when.max_tokens, 5000);
  EXPECT_EQ(a.rules[1].target, "gpt-4-pool");
  EXPECT_EQ(a.rules[1].alternatives, (std::vector<std::string>{"local:qwen2.5-coder:7b"}));
  EXPECT_TRUE(a.rules[2].when.language.empty());
  EXPECT_FALSE(a.rules[2].when.min_tokens);

  EXPECT_FALSE(parseConfigText("log_level: info\n", "x.yaml", testEnv).auto_select);
  const Config list = parseConfigText("auto: { default: [a, b] }\n", "x.yaml", testEnv);
  EXPECT_EQ(list.auto_select->default_target, "a");
  EXPECT_EQ(list.auto_select->default_alternatives, (std::vector<std::string>{"b"}));
  EXPECT_TRUE(parseConfigText("auto: {}\n", "x.yaml", testEnv).auto_select);
}

TEST_F(LoaderTest, AutoSectionErrorsCarryLines) {
  try {
    parseConfigText(R"(auto:
  default: g
  colour: red
  rules:
    - { name: a, when: { language: japanese }, target: x }
    - { name: b, when: { task: poetry }, target: x }
    - { name: c, when: { langauge: ja }, target: x }
    - { name: d, when: { min_tokens: 10, max_tokens: 5 }, target: x }
    - { name: e, when: { max_tokens: lots }, target: x }
    - { name: a, target: x }
    - { name: f }
    - { target: x }
    - { name: g, target: [] }
    - { name: h, target: x, priority: 1 }
)",
                    "auto.yaml", testEnv);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string text = e.what();
    for (const char* want : {
             "auto.yaml:3:3: unknown key 'colour' in auto",
             "auto.yaml:5:36: language 'japanese' must be a two-letter ISO 639-1 code",
             "auto.yaml:6:32: unknown task 'poetry' (one of: code, math, translation, shopping, "
             "summarisation, chat)",
             "auto.yaml:7:26: unknown key 'langauge' in auto rule 'when'",
             "auto.yaml:8:24: min_tokens 10 is above max_tokens 5",
             "auto.yaml:9:38: 'max_tokens' must be a number",
             "auto.yaml:10:7: duplicate auto rule name 'a' (first at auto.yaml:5:7)",
             "auto.yaml:11:7: auto rule 'f' needs a 'target'",
             "auto.yaml:12:7: auto rule needs a 'name'",
             "auto.yaml:13:26: 'target' must not be an empty list",
             "auto.yaml:14:29: unknown key 'priority' in auto rule",
         })
      EXPECT_NE(text.find(want), std::string::npos) << want << "\n---\n" << text;
  }
  EXPECT_THROW(parseConfigText("auto: [a]\n", "x.yaml", testEnv), ConfigError);
  EXPECT_THROW(parseConfigText("auto: { rules: { name: a } }\n", "x.yaml", testEnv), ConfigError);
  EXPECT_THROW(parseConfigText("auto: { default: '' , rules: [{name: a, target: ''}] }\n", "x.yaml",
                               testEnv),
               ConfigError);
  EXPECT_NO_THROW(parseConfigText(
      "auto: { rules: [{name: a, when: {language: other}, target: x}] }\n", "x.yaml", testEnv));
}

TEST_F(LoaderTest, UnsetVariableIsAWarning) {
  const Config c = parseConfigText(
      "providers:\n  - {name: o, type: openai, api_key: '${MISSING_KEY}'}\n", "w.yaml", testEnv);
  EXPECT_EQ(c.providers[0].api_key, "");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("MISSING_KEY"), std::string::npos);
}

TEST_F(LoaderTest, EnvironmentCreatesProvidersUnlessTheFileNamesThem) {
  vars()["OPENAI_API_KEY"] = "sk-env";
  vars()["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1";
  vars()["GOOGLE_API_KEY"] = "g-key";
  vars()["ANTHROPIC_API_KEY"] = "a-key";
  vars()["ANTHROPIC_API_BASE_URL"] = "http://127.0.0.1:10";
  Config c = loadConfig({}, testEnv);
  ASSERT_NE(c.findProvider("openai"), nullptr);
  EXPECT_EQ(c.findProvider("openai")->api_key, "sk-env");
  EXPECT_EQ(c.findProvider("openai")->base_url, "http://127.0.0.1:9/v1");
  ASSERT_NE(c.findProvider("google"), nullptr);
  EXPECT_EQ(c.findProvider("google")->type, "gemini");
  EXPECT_EQ(c.findProvider("anthropic")->base_url, "http://127.0.0.1:10");
  EXPECT_EQ(c.findProvider("openrouter"), nullptr);

  Overrides o;
  o.config_path = writeTemp(
      "providers:\n  - {name: openai, type: openai-compatible, "
      "base_url: 'http://file/v1', api_key: file-key}\n");
  c = loadConfig(o, testEnv);
  EXPECT_EQ(c.findProvider("openai")->api_key, "file-key");
}

TEST_F(LoaderTest, PrecedenceFlagOverEnvOverFile) {
  Overrides o;
  o.config_path = writeTemp("server: { port: 1111, host: 127.0.0.2 }\nlog_level: warn\n");
  Config c = loadConfig(o, testEnv);
  EXPECT_EQ(c.server.port, 1111);
  vars()["KAKEHASHI_PORT"] = "2222";
  vars()["KAKEHASHI_LOG_LEVEL"] = "error";
  c = loadConfig(o, testEnv);
  EXPECT_EQ(c.server.port, 2222);
  EXPECT_EQ(c.log_level, "error");
  EXPECT_EQ(c.server.host, "127.0.0.2");
  o.port = 3333;
  c = loadConfig(o, testEnv);
  EXPECT_EQ(c.server.port, 3333);
  vars()["KAKEHASHI_PORT"] = "not-a-port";
  o.port.reset();
  EXPECT_THROW(loadConfig(o, testEnv), ConfigError);
}

TEST_F(LoaderTest, ConfigPathFromEnvironmentAndMissingFile) {
  vars()["KAKEHASHI_CONFIG"] = writeTemp("server: { port: 4444 }\n");
  EXPECT_EQ(loadConfig({}, testEnv).server.port, 4444);
  Overrides o;
  o.config_path = "/nonexistent/kakehashi.yaml";
  EXPECT_THROW(loadConfig(o, testEnv), ConfigError);
}

}  // namespace
}  // namespace kh::config
