#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "config/config.h"
#include "core/result.h"
#include "model/types.h"

namespace kh::routing {

class ModelCatalog;

// `model: "auto"` (SPEC §5): detect what a prompt is, then pick a target by the `auto:` rules and
// the request's user_preferences. Everything here is a pure function of its arguments, so the
// choice is deterministic and testable without a network; the pipeline supplies the candidate
// facts (local or not, prices) through CandidateInfo.

enum class Task { kChat, kCode, kMath, kTranslation, kShopping, kSummarisation };
std::string_view toString(Task task);  // the config spelling: "code", "summarisation", …

struct PromptFeatures {
  // ISO 639-1 code of the last user turn ("ja", "zh", "ko", "en", "es", "fr", "de", "pt", "it")
  // or "other"; always points at static storage.
  std::string_view language = "en";
  Task task = Task::kChat;
  long long prompt_tokens = 0;                 // model::estimateTokens of the whole request
  std::optional<long long> max_output_tokens;  // the request's max_tokens
  // Complexity signals of the last user turn.
  bool has_code = false;    // ``` fences or `inline code`
  bool has_math = false;    // LaTeX, math symbols, or an equation like "2x + 3 = 7"
  bool multi_step = false;  // a numbered list, or "step by step" / "ステップ" / "手順" …
  int complexity() const { return int{has_code} + int{has_math} + int{multi_step}; }
};

// Scans the text of the last user turn byte by byte (no regex, no allocation): language by
// Unicode script and, for Latin script, a small stop-word vote; task by keywords in several
// languages. Text inside code fences and inline code does not count towards the language.
PromptFeatures detectFeatures(const model::ChatRequest& request);

struct UserPreferences {
  bool prefer_quality = false;
  bool prefer_local = false;
  std::optional<double> max_cost;  // USD per request
};

// Reads `user_preferences` from a request body object (or ChatRequest::extra, where the canonical
// parser leaves it). Absent or null: all defaults. Wrong types, negative max_cost and unknown keys
// are 400s whose param names the field (`user_preferences.max_cost`).
core::Result<UserPreferences> parseUserPreferences(const boost::json::object& body);

// What the caller knows about one auto target (a group, alias or provider:model string).
struct Candidate {
  bool local = false;  // served on this machine or LAN (ollama, llama.cpp, loopback URL…)
  // USD per 1M tokens; nullopt = unknown. For a group, the most expensive member (the estimate
  // must hold whichever member serves the request).
  std::optional<double> input_per_1m;
  std::optional<double> output_per_1m;
  int quality = -1;  // higher is better; -1 = the built-in ranking of the target's name
};

struct CandidateInfo {
  std::map<std::string, Candidate, std::less<>> targets;  // keyed by the target string
  // Output tokens assumed for the cost estimate when the request sets no max_tokens.
  long long assumed_output_tokens = 1024;

  // Unknown targets: not local, price unknown, quality from the name.
  const Candidate& find(std::string_view target) const;
};

struct AutoChoice {
  std::string target;  // "" when nothing could be chosen
  std::string rule;    // the rule the target came from; "" for the default
  // What decided: "rule:<name>", "default", "pref:local", "pref:quality", "cost:excluded" (the
  // usual pick was over max_cost, a later candidate was taken); failures: "none" (no rule matched
  // and no default: a 404) and "cost:all_excluded" (every candidate over max_cost: a 400).
  std::string reason;
  std::optional<double> estimated_cost_usd;  // of the chosen target, when its price is known
  std::string detail;                        // a sentence for the error message when !ok()

  bool ok() const { return !target.empty(); }
};

// Candidates are, in order: the targets of every matching rule (first match first, each rule's
// `target` then its alternatives), then the default. Without preferences the first candidate is
// chosen. `max_cost` removes every candidate whose estimate (prompt_tokens × input price + output
// tokens × output price) exceeds it; a candidate with an unknown price is removed too unless it is
// local (local inference costs nothing per request), since a budget that might be broken is not
// a budget. `prefer_local` takes the first local survivor, if any; `prefer_quality` takes the
// survivor with the highest quality (among local ones when both are set); ties keep the order.
AutoChoice chooseAuto(const PromptFeatures& features, const config::AutoConfig& config,
                      const UserPreferences& preferences, const CandidateInfo& candidates);

// The built-in quality ranking (0–100) of a model or target name by known families and sizes;
// 0 for names it does not know. Deterministic; see auto_select.cpp for the table.
int qualityRank(std::string_view name);

// ollama, llamacpp, lmstudio, vscode-lm, or a base URL on a loopback host.
bool isLocalProvider(const config::ProviderConfig& provider);

// One model a provider serves, as a ready-to-route "provider:model" target.
struct AvailableModel {
  std::string target;  // provider:model
  std::string model;
  bool local = false;
};

// Providers in config order, each one's models (configured, else discovered) in their order.
std::vector<AvailableModel> availableModels(
    const config::Config& config,
    const std::map<std::string, std::vector<std::string>, std::less<>>& discovered);

// Rules used when the config has no `auto:` section, derived deterministically from what is
// configured (see auto_select.cpp). Empty (no default) when there is no chat model at all.
config::AutoConfig defaultAutoConfig(std::span<const AvailableModel> models);

// The configured `auto:` section, or the built-in rules; a configured section without `default`
// gets the built-in default.
config::AutoConfig effectiveAutoConfig(const std::optional<config::AutoConfig>& configured,
                                       std::span<const AvailableModel> models);

// Facts for every target the auto config names, resolved through the catalog: local when every
// resolved target is on a local provider; prices from the providers' pricing tables (the most
// expensive target of a group; unknown when any target's price is unknown and not local).
CandidateInfo candidatesFor(const config::AutoConfig& config, const ModelCatalog& catalog);

// What model "auto" needs per catalog, computed once when the catalog is built.
struct AutoSetup {
  config::AutoConfig config;
  CandidateInfo candidates;
};

}  // namespace kh::routing
