#include "routing/auto_select.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "model/token_estimate.h"
#include "routing/model_catalog.h"

namespace kh::routing {
namespace {

std::optional<std::string> noEnv(const char*) {
  return std::nullopt;
}

constexpr const char* kSampleConfig = R"(
providers:
  - name: cloud
    type: openai
    api_key: k
    models: [gpt-4o, gpt-4o-mini, o3]
    pricing:
      gpt-4o: { input: 2.5, output: 10 }
      gpt-4o-mini: { input: 0.15, output: 0.6 }
      o3: { input: 10, output: 40 }
  - { name: claude, type: anthropic, api_key: k, models: [claude-sonnet-4] }
  - { name: local, type: ollama, models: ["qwen2.5-coder:7b", "llama3.1:8b"] }
groups:
  - name: pool
    targets:
      - { provider: cloud, model: gpt-4o }
      - { provider: local, model: "llama3.1:8b" }
auto:
  default: "cloud:gpt-4o-mini"
  rules:
    - { name: japanese,    when: { language: ja },      target: "claude:claude-sonnet-4" }
    - { name: chinese,     when: { language: zh },      target: "cloud:gpt-4o" }
    - { name: korean,      when: { language: ko },      target: "cloud:gpt-4o" }
    - { name: code,        when: { task: code },        target: ["cloud:o3", "local:qwen2.5-coder:7b"] }
    - { name: math,        when: { task: math },        target: "cloud:o3" }
    - { name: translation, when: { task: translation }, target: "cloud:gpt-4o" }
    - { name: shopping,    when: { task: shopping },    target: "cloud:gpt-4o-mini" }
    - { name: long,        when: { min_tokens: 2000 },  target: "claude:claude-sonnet-4" }
)";

const config::Config& sampleConfig() {
  static const config::Config c = config::parseConfigText(kSampleConfig, "auto.yaml", noEnv);
  return c;
}

model::ChatRequest ask(std::string text, std::optional<long long> max_tokens = std::nullopt) {
  model::ChatRequest r;
  r.model = "auto";
  model::Message system;
  system.role = model::Role::kSystem;
  system.content.push_back(model::ContentPart::textPart("You are a helpful assistant."));
  r.messages.push_back(std::move(system));
  model::Message user;
  user.role = model::Role::kUser;
  user.content.push_back(model::ContentPart::textPart(std::move(text)));
  r.messages.push_back(std::move(user));
  r.max_tokens = max_tokens;
  return r;
}

struct Case {
  std::string prompt;
  std::string_view language;
  Task task;
  std::string_view target;  // under kSampleConfig, no preferences
  std::string_view reason;
};

std::string longEnglish() {
  std::string s;
  for (int i = 0; i < 300; ++i) s += "The quick brown fox jumps over the lazy dog. ";
  return s;
}

TEST(AutoSelectTable, LanguageTaskAndChoice) {
  const Case cases[] = {
      // Japanese
      {"こんにちは、元気ですか？", "ja", Task::kChat, "claude:claude-sonnet-4", "rule:japanese"},
      {"このPythonコードのバグを直してください。\n```python\ndef add(a, b):\n    return a - b\n"
       "```",
       "ja", Task::kCode, "claude:claude-sonnet-4", "rule:japanese"},
      {"以下のコードを説明して: `std::vector<int> v;` と\n```cpp\nint main() { return 0; }\n```",
       "ja", Task::kCode, "claude:claude-sonnet-4", "rule:japanese"},
      {"次の文章を英語に翻訳してください：今日は雨です。", "ja", Task::kTranslation,
       "claude:claude-sonnet-4", "rule:japanese"},
      {"東京でおすすめのノートパソコンを教えて。価格は10万円以下で。", "ja", Task::kShopping,
       "claude:claude-sonnet-4", "rule:japanese"},
      {"この記事を要約してください。", "ja", Task::kSummarisation, "claude:claude-sonnet-4",
       "rule:japanese"},
      {"二次方程式 x^2 - 5x + 6 = 0 を解いてください。", "ja", Task::kMath,
       "claude:claude-sonnet-4", "rule:japanese"},
      {"日本語で説明してください: What does HTTP stand for?", "ja", Task::kChat,
       "claude:claude-sonnet-4", "rule:japanese"},
      // Chinese
      {"请帮我把这段话翻译成英文：我今天很高兴。", "zh", Task::kTranslation, "cloud:gpt-4o",
       "rule:chinese"},
      {"用Python写一个快速排序函数", "zh", Task::kCode, "cloud:gpt-4o", "rule:chinese"},
      {"这款手机的价格是多少？在哪里购买最便宜？", "zh", Task::kShopping, "cloud:gpt-4o",
       "rule:chinese"},
      // Korean
      {"오늘 서울 날씨 어때요?", "ko", Task::kChat, "cloud:gpt-4o", "rule:korean"},
      {"이 코드를 리팩터링해 주세요", "ko", Task::kCode, "cloud:gpt-4o", "rule:korean"},
      // English
      {"What is the capital of France?", "en", Task::kChat, "cloud:gpt-4o-mini", "default"},
      {"hello", "en", Task::kChat, "cloud:gpt-4o-mini", "default"},
      {"Write a Python function that reverses a linked list.", "en", Task::kCode, "cloud:o3",
       "rule:code"},
      {"Refactor this please:\n```js\nconst x = 1;\n```", "en", Task::kCode, "cloud:o3",
       "rule:code"},
      {"Solve the integral \\int_0^1 x^2 dx and explain step by step.", "en", Task::kMath,
       "cloud:o3", "rule:math"},
      {"Translate 'good morning' into Japanese.", "en", Task::kTranslation, "cloud:gpt-4o",
       "rule:translation"},
      {"Please answer in English: what is the meaning of life?", "en", Task::kChat,
       "cloud:gpt-4o-mini", "default"},
      {"Where can I buy the cheapest iPhone 15? Compare prices.", "en", Task::kShopping,
       "cloud:gpt-4o-mini", "rule:shopping"},
      {"TL;DR of the following article: The economy grew by 3% in the last quarter while "
       "inflation fell.",
       "en", Task::kSummarisation, "cloud:gpt-4o-mini", "default"},
      {"1. Install the package\n2. Configure it\n3. Start the server\nWhat could go wrong here?",
       "en", Task::kChat, "cloud:gpt-4o-mini", "default"},
      {longEnglish(), "en", Task::kChat, "claude:claude-sonnet-4", "rule:long"},
      // Spanish, French, German, Portuguese, Italian
      {"¿Cuál es el mejor precio para un portátil?", "es", Task::kShopping, "cloud:gpt-4o-mini",
       "rule:shopping"},
      {"Hola, ¿cómo estás? Me llamo Juan y quiero aprender a cocinar.", "es", Task::kChat,
       "cloud:gpt-4o-mini", "default"},
      {"Bonjour, pouvez-vous m'aider à écrire une lettre pour mon propriétaire ?", "fr",
       Task::kChat, "cloud:gpt-4o-mini", "default"},
      {"Traduis ce texte en anglais : je suis très content.", "fr", Task::kTranslation,
       "cloud:gpt-4o", "rule:translation"},
      {"Kannst du mir bitte erklären, wie die Photosynthese funktioniert?", "de", Task::kChat,
       "cloud:gpt-4o-mini", "default"},
      {"Schreibe eine Funktion in Python, die eine Liste sortiert.", "de", Task::kCode, "cloud:o3",
       "rule:code"},
      {"Olá, você pode me ajudar com uma receita de bolo?", "pt", Task::kChat, "cloud:gpt-4o-mini",
       "default"},
      {"Ciao, come stai? Vorrei sapere che tempo fa a Roma.", "it", Task::kChat,
       "cloud:gpt-4o-mini", "default"},
      // Other scripts
      {"Привет, как дела?", "other", Task::kChat, "cloud:gpt-4o-mini", "default"},
  };
  static_assert(std::size(cases) >= 24);
  const config::AutoConfig& auto_config = *sampleConfig().auto_select;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.prompt.substr(0, 80));
    const PromptFeatures f = detectFeatures(ask(c.prompt));
    EXPECT_EQ(f.language, c.language);
    EXPECT_EQ(toString(f.task), toString(c.task));
    const AutoChoice choice = chooseAuto(f, auto_config, {}, {});
    EXPECT_EQ(choice.target, c.target);
    EXPECT_EQ(choice.reason, c.reason);
  }
}

TEST(AutoSelectDetect, ComplexitySignalsAndSize) {
  PromptFeatures f = detectFeatures(
      ask("1. Install the package\n2. Configure it\n3. Start the server\nWhat could go wrong?"));
  EXPECT_TRUE(f.multi_step);
  EXPECT_FALSE(f.has_code);
  EXPECT_FALSE(f.has_math);

  f = detectFeatures(ask("順を追って、ステップごとに `make` の使い方を教えて。\\frac{1}{2}"));
  EXPECT_TRUE(f.multi_step);
  EXPECT_TRUE(f.has_code);
  EXPECT_TRUE(f.has_math);
  EXPECT_EQ(f.complexity(), 3);

  f = detectFeatures(ask("What is 2x + 3 = 7?", 500));
  EXPECT_TRUE(f.has_math);
  EXPECT_EQ(f.task, Task::kMath);
  EXPECT_EQ(f.max_output_tokens, 500);

  // The estimate covers the whole prompt, system turn included.
  const auto req = ask("hello");
  EXPECT_EQ(detectFeatures(req).prompt_tokens, model::estimateTokens(req));
  EXPECT_GT(detectFeatures(ask(longEnglish())).prompt_tokens, 2000);
}

TEST(AutoSelectDetect, LastUserTurnDecidesLanguageAndCodeDoesNotCount) {
  model::ChatRequest r = ask("日本語で話しましょう。");
  model::Message reply;
  reply.role = model::Role::kAssistant;
  reply.content.push_back(model::ContentPart::textPart("はい、もちろんです。"));
  r.messages.push_back(reply);
  model::Message user;
  user.role = model::Role::kUser;
  user.content.push_back(model::ContentPart::textPart("Actually, can we speak English instead?"));
  r.messages.push_back(user);
  EXPECT_EQ(detectFeatures(r).language, "en");

  // A long English-looking code block does not outvote the Japanese around it.
  std::string prompt = "直して:\n```python\n";
  for (int i = 0; i < 50; ++i) prompt += "def handler(request, response): return response.ok\n";
  prompt += "```\n";
  EXPECT_EQ(detectFeatures(ask(prompt)).language, "ja");

  // Words that only start like a keyword do not count.
  EXPECT_EQ(detectFeatures(ask("The production schedule was overpriced.")).task, Task::kChat);
  // No user turn, no text: language "other".
  EXPECT_EQ(detectFeatures(model::ChatRequest{}).language, "other");
  // An unknown Latin-script language is "other", not English.
  EXPECT_EQ(detectFeatures(ask("Dzisiaj jest bardzo ładna pogoda w Warszawie")).language, "other");
}

class AutoSelectPrefs : public ::testing::Test {
 protected:
  const config::AutoConfig& cfg() { return *sampleConfig().auto_select; }
  CandidateInfo info() {
    CandidateInfo ci;
    ci.targets["cloud:o3"] = {false, 10.0, 40.0, -1};
    ci.targets["cloud:gpt-4o"] = {false, 2.5, 10.0, -1};
    ci.targets["cloud:gpt-4o-mini"] = {false, 0.15, 0.6, -1};
    ci.targets["claude:claude-sonnet-4"] = {false, std::nullopt, std::nullopt, -1};
    ci.targets["local:qwen2.5-coder:7b"] = {true, std::nullopt, std::nullopt, -1};
    ci.targets["local:llama3.1:8b"] = {true, std::nullopt, std::nullopt, -1};
    return ci;
  }
};

TEST_F(AutoSelectPrefs, PreferLocalPicksTheLocalCandidate) {
  const auto f = detectFeatures(ask("Write a Python function that sorts a list."));
  UserPreferences p;
  p.prefer_local = true;
  AutoChoice c = chooseAuto(f, cfg(), p, info());
  EXPECT_EQ(c.target, "local:qwen2.5-coder:7b");
  EXPECT_EQ(c.rule, "code");
  EXPECT_EQ(c.reason, "pref:local");
  EXPECT_EQ(c.estimated_cost_usd, 0.0);

  // No local candidate fits a Japanese chat: the rule stands.
  c = chooseAuto(detectFeatures(ask("こんにちは")), cfg(), p, info());
  EXPECT_EQ(c.target, "claude:claude-sonnet-4");
  EXPECT_EQ(c.reason, "rule:japanese");
}

TEST_F(AutoSelectPrefs, MaxCostExcludesAndFallsBack) {
  const auto f = detectFeatures(ask("Write a Python function that sorts a list.", 1000));
  UserPreferences p;
  p.max_cost = 0.01;  // o3: 1000 output tokens × $40/M = $0.04
  AutoChoice c = chooseAuto(f, cfg(), p, info());
  EXPECT_EQ(c.target, "local:qwen2.5-coder:7b");
  EXPECT_EQ(c.reason, "cost:excluded");

  // Unknown price, not local: excluded under a budget; the default is cheap enough.
  c = chooseAuto(detectFeatures(ask("こんにちは", 1000)), cfg(), p, info());
  EXPECT_EQ(c.target, "cloud:gpt-4o-mini");
  EXPECT_EQ(c.rule, "");
  EXPECT_EQ(c.reason, "cost:excluded");
  ASSERT_TRUE(c.estimated_cost_usd);
  EXPECT_LT(*c.estimated_cost_usd, 0.01);

  // A generous budget changes nothing.
  p.max_cost = 1.0;
  c = chooseAuto(f, cfg(), p, info());
  EXPECT_EQ(c.target, "cloud:o3");
  EXPECT_EQ(c.reason, "rule:code");
  EXPECT_NEAR(*c.estimated_cost_usd, (f.prompt_tokens * 10.0 + 1000 * 40.0) / 1e6, 1e-12);
}

TEST_F(AutoSelectPrefs, EverythingExcludedIsAClearFailure) {
  UserPreferences p;
  p.max_cost = 0.0;
  const AutoChoice c = chooseAuto(detectFeatures(ask("こんにちは", 100)), cfg(), p, info());
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.target, "");
  EXPECT_EQ(c.reason, "cost:all_excluded");
  EXPECT_NE(c.detail.find("max_cost"), std::string::npos) << c.detail;
  EXPECT_NE(c.detail.find("cloud:gpt-4o-mini"), std::string::npos) << c.detail;

  // No rule matches and there is no default: "none" (a 404 for the caller).
  const AutoChoice none = chooseAuto(detectFeatures(ask("hi")), config::AutoConfig{}, {}, {});
  EXPECT_FALSE(none.ok());
  EXPECT_EQ(none.reason, "none");
}

TEST_F(AutoSelectPrefs, PreferQualityRanksTheCandidates) {
  config::AutoConfig a;
  a.default_target = "cloud:gpt-4o-mini";
  a.default_alternatives = {"cloud:gpt-4o", "local:llama3.1:8b"};
  const auto f = detectFeatures(ask("Tell me a joke"));
  UserPreferences p;
  p.prefer_quality = true;
  AutoChoice c = chooseAuto(f, a, p, info());
  EXPECT_EQ(c.target, "cloud:gpt-4o");
  EXPECT_EQ(c.reason, "pref:quality");

  // The caller's quality overrides the built-in ranking.
  CandidateInfo ci = info();
  ci.targets["local:llama3.1:8b"] = {true, std::nullopt, std::nullopt, 99};
  c = chooseAuto(f, a, p, ci);
  EXPECT_EQ(c.target, "local:llama3.1:8b");

  // Both preferences: the best local one; with a budget, quality among what is left.
  p.prefer_local = true;
  c = chooseAuto(f, a, p, info());
  EXPECT_EQ(c.target, "local:llama3.1:8b");
  EXPECT_EQ(c.reason, "pref:local");
  p.prefer_local = false;
  p.max_cost = 0.005;
  c = chooseAuto(detectFeatures(ask("Tell me a joke", 1000)), a, p, info());
  EXPECT_EQ(c.target, "cloud:gpt-4o-mini");  // gpt-4o would cost $0.01
}

TEST(AutoSelectRanking, KnownFamiliesAndSizes) {
  EXPECT_GT(qualityRank("claude-opus-4"), qualityRank("claude-sonnet-4"));
  EXPECT_GT(qualityRank("claude-sonnet-4"), qualityRank("gpt-4o"));
  EXPECT_GT(qualityRank("gpt-4o"), qualityRank("gpt-4o-mini"));
  EXPECT_GT(qualityRank("openai/o3"), qualityRank("o3-mini"));
  EXPECT_GT(qualityRank("llama3.1:70b"), qualityRank("llama3.1:8b"));
  EXPECT_EQ(qualityRank("my-finetune"), 0);
  EXPECT_EQ(qualityRank("work-openai:gpt-4o"), qualityRank("gpt-4o"));
}

TEST(AutoSelectUserPreferences, ParsesAndRejectsWrongTypes) {
  auto parse = [](std::string_view json) {
    return parseUserPreferences(boost::json::parse(json).as_object());
  };
  auto p = parse(R"({"model":"auto"})");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->prefer_local);
  EXPECT_FALSE(p->max_cost);

  p = parse(R"({"user_preferences":{"prefer_quality":true,"prefer_local":true,"max_cost":0.5}})");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->prefer_quality);
  EXPECT_TRUE(p->prefer_local);
  EXPECT_DOUBLE_EQ(*p->max_cost, 0.5);
  p = parse(R"({"user_preferences":{"max_cost":2,"prefer_local":null}})");
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(*p->max_cost, 2.0);
  EXPECT_TRUE(parse(R"({"user_preferences":null})"));

  const std::pair<std::string_view, std::string_view> bad[] = {
      {R"({"user_preferences":"cheap"})", "user_preferences"},
      {R"({"user_preferences":{"max_cost":"1"}})", "user_preferences.max_cost"},
      {R"({"user_preferences":{"max_cost":-1}})", "user_preferences.max_cost"},
      {R"({"user_preferences":{"prefer_local":"yes"}})", "user_preferences.prefer_local"},
      {R"({"user_preferences":{"prefer_quality":1}})", "user_preferences.prefer_quality"},
      {R"({"user_preferences":{"prefer_speed":true}})", "user_preferences.prefer_speed"},
  };
  for (const auto& [json, param] : bad) {
    auto r = parse(json);
    ASSERT_FALSE(r) << json;
    EXPECT_EQ(r.error().http_status, 400) << json;
    EXPECT_EQ(r.error().param, param) << json;
    EXPECT_NE(r.error().message.find(param), std::string::npos) << r.error().message;
  }
}

std::vector<AvailableModel> models(std::initializer_list<std::pair<const char*, bool>> list) {
  std::vector<AvailableModel> out;
  for (const auto& [target, local] : list) {
    std::string t = target;
    out.push_back({t, t.substr(t.find(':') + 1), local});
  }
  return out;
}

const config::AutoRule* findRule(const config::AutoConfig& a, std::string_view name) {
  for (const auto& r : a.rules)
    if (r.name == name) return &r;
  return nullptr;
}

TEST(AutoSelectDefaults, BuiltFromTheConfiguredModels) {
  const auto available = models({{"openai:gpt-4o", false},
                                 {"openai:gpt-4o-mini", false},
                                 {"openai:text-embedding-3-small", false},
                                 {"anthropic:claude-sonnet-4", false},
                                 {"local:qwen2.5-coder:7b", true},
                                 {"local:qwen2.5:72b", true},
                                 {"local:llama3.1:8b", true}});
  const config::AutoConfig a = defaultAutoConfig(available);
  EXPECT_EQ(a.default_target, "openai:gpt-4o");
  EXPECT_EQ(a.default_alternatives,
            (std::vector<std::string>{"openai:gpt-4o-mini", "anthropic:claude-sonnet-4",
                                      "local:qwen2.5-coder:7b", "local:qwen2.5:72b",
                                      "local:llama3.1:8b"}));
  const auto* code = findRule(a, "builtin-code");
  ASSERT_NE(code, nullptr);
  EXPECT_EQ(code->when.task, "code");
  EXPECT_EQ(code->target, "anthropic:claude-sonnet-4");
  EXPECT_EQ(code->alternatives, (std::vector<std::string>{"local:qwen2.5-coder:7b"}));
  ASSERT_NE(findRule(a, "builtin-math"), nullptr);
  EXPECT_EQ(findRule(a, "builtin-math")->target, "anthropic:claude-sonnet-4");
  EXPECT_EQ(findRule(a, "builtin-ja")->target, "anthropic:claude-sonnet-4");
  EXPECT_EQ(findRule(a, "builtin-zh")->target, "local:qwen2.5:72b");
  EXPECT_EQ(findRule(a, "builtin-ko")->target, "anthropic:claude-sonnet-4");
  ASSERT_NE(findRule(a, "builtin-small"), nullptr);
  EXPECT_EQ(findRule(a, "builtin-small")->target, "openai:gpt-4o-mini");
  EXPECT_EQ(findRule(a, "builtin-small")->when.max_tokens, 256);

  // Deterministic, and usable as is.
  EXPECT_EQ(defaultAutoConfig(available).rules.size(), a.rules.size());
  EXPECT_EQ(chooseAuto(detectFeatures(ask("中文怎么说")), a, {}, {}).target, "local:qwen2.5:72b");
  EXPECT_EQ(chooseAuto(detectFeatures(ask("hi")), a, {}, {}).reason, "rule:builtin-small");
  EXPECT_EQ(chooseAuto(detectFeatures(ask(longEnglish())), a, {}, {}).reason, "default");
  CandidateInfo ci;
  for (const auto& m : available) ci.targets[m.target].local = m.local;
  UserPreferences local;
  local.prefer_local = true;
  EXPECT_EQ(chooseAuto(detectFeatures(ask("Fix this bug in my Rust code")), a, local, ci).target,
            "local:qwen2.5-coder:7b");
}

TEST(AutoSelectDefaults, LocalOnlyAndEmpty) {
  const auto available = models({{"ollama:llama3.1:8b", true}, {"ollama:qwen2.5-coder:14b", true}});
  const config::AutoConfig a = defaultAutoConfig(available);
  EXPECT_EQ(a.default_target, "ollama:llama3.1:8b");
  ASSERT_EQ(a.rules.size(), 1u);
  EXPECT_EQ(a.rules[0].name, "builtin-code");
  EXPECT_EQ(a.rules[0].target, "ollama:qwen2.5-coder:14b");

  const config::AutoConfig none = defaultAutoConfig({});
  EXPECT_TRUE(none.default_target.empty());
  EXPECT_TRUE(none.rules.empty());
  EXPECT_EQ(defaultAutoConfig(models({{"o:text-embedding-3-large", false}})).default_target, "");

  // A configured section keeps its rules and borrows only the built-in default.
  config::AutoConfig configured;
  config::AutoRule ja;
  ja.name = "ja";
  ja.when.language = "ja";
  ja.target = "ollama:qwen2.5-coder:14b";
  configured.rules.push_back(ja);
  const config::AutoConfig eff = effectiveAutoConfig(configured, available);
  ASSERT_EQ(eff.rules.size(), 1u);
  EXPECT_EQ(eff.default_target, "ollama:llama3.1:8b");
  EXPECT_EQ(effectiveAutoConfig(std::nullopt, available).rules.size(), 1u);
}

TEST(AutoSelectCandidates, FromTheCatalogAndConfig) {
  auto cfg = std::make_shared<config::Config>(sampleConfig());
  ProviderSet providers;
  for (const auto& pc : cfg->providers) providers.push_back(providers::makeProvider(pc, nullptr));
  const ModelCatalog catalog(cfg, providers, {});

  const auto available = availableModels(*cfg, {});
  ASSERT_EQ(available.size(), 6u);
  EXPECT_EQ(available[0].target, "cloud:gpt-4o");
  EXPECT_FALSE(available[0].local);
  EXPECT_EQ(available[5].target, "local:llama3.1:8b");
  EXPECT_TRUE(available[5].local);

  config::AutoConfig a = *cfg->auto_select;
  a.default_alternatives = {"pool"};
  const CandidateInfo ci = candidatesFor(a, catalog);
  EXPECT_DOUBLE_EQ(*ci.find("cloud:o3").output_per_1m, 40.0);
  EXPECT_FALSE(ci.find("claude:claude-sonnet-4").input_per_1m);
  EXPECT_TRUE(ci.find("local:qwen2.5-coder:7b").local);
  EXPECT_DOUBLE_EQ(*ci.find("local:qwen2.5-coder:7b").input_per_1m, 0.0);
  // A group: local only when every member is; priced as its most expensive member.
  EXPECT_FALSE(ci.find("pool").local);
  EXPECT_DOUBLE_EQ(*ci.find("pool").input_per_1m, 2.5);
  EXPECT_FALSE(ci.find("nowhere:else").local);

  config::ProviderConfig p;
  p.type = "openai-compatible";
  p.base_url = "http://127.0.0.1:8080/v1";
  EXPECT_TRUE(isLocalProvider(p));
  p.base_url = "http://[::1]:8080/v1";
  EXPECT_TRUE(isLocalProvider(p));
  p.base_url = "http://localhost/v1";
  EXPECT_TRUE(isLocalProvider(p));
  p.base_url = "https://api.example.com/v1";
  EXPECT_FALSE(isLocalProvider(p));
  p.type = "llamacpp";
  EXPECT_TRUE(isLocalProvider(p));
}

}  // namespace
}  // namespace kh::routing
