#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kh::config {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 4321;
  int admin_port = 4322;
  std::size_t max_body_bytes = 32 * 1024 * 1024;
  int shutdown_grace_s = 30;
  int threads = 0;  // 0 = one per core
  std::size_t max_header_bytes = 64 * 1024;
  int idle_timeout_s = 60;     // keep-alive connection with no request
  int request_timeout_s = 60;  // reading one request's header and body
  int write_timeout_s = 60;    // one write to a client that does not read
};

struct AuthConfig {
  bool require_api_key = false;
  bool allow_anonymous = false;
};

struct Price {
  double input = 0;
  double output = 0;
  double cached_input = 0;
};

struct ProviderConfig {
  std::string name;
  std::string type;
  std::string base_url;
  std::string api_key;
  std::vector<std::string> models;  // empty and !models_configured: discovered from the provider
  bool models_configured = false;
  std::vector<std::pair<std::string, std::string>> headers;
  int timeout_s = 600;
  int max_concurrency = 0;
  std::map<std::string, Price, std::less<>> pricing;
  int max_tokens_default = 4096;  // for wire formats that require max_tokens
  std::string origin;             // "file:line" or "env OPENAI_API_KEY", for messages
};

struct GroupTarget {
  std::string provider;
  std::string model;
  int priority = 1;
  int weight = 1;
};

struct GroupConfig {
  std::string name;
  std::string strategy = "round_robin";
  std::vector<GroupTarget> targets;
};

struct FailoverConfig {
  std::vector<int> retry_on_status{408, 409, 429, 500, 502, 503, 504};
  std::vector<std::string> failure_keywords;
  int max_attempts = 3;
  int breaker_failures = 5;
  int breaker_window_s = 60;
  int breaker_cooldown_s = 30;
  // When every target is cooling down: wait for the first to come back if that is at most this
  // long away, else answer 503 at once.
  int breaker_wait_s = 0;
};

// Active health checks for /health/services: every `interval_s` (0: off) each provider's model
// list is fetched, which costs no tokens.
struct HealthCheckConfig {
  int interval_s = 0;
  int timeout_s = 10;
};

struct QueueConfig {
  int max_waiting = 1024;
  int timeout_s = 30;
  int keepalive_s = 3;
};

// `model: "auto"` (SPEC §5). A rule matches when every condition it gives holds; the first
// matching rule wins, else `default_target`. Conditions are checked against
// routing::PromptFeatures.
struct AutoWhen {
  std::string language;  // ISO 639-1 code ("ja", "en", …) or "other"; "" = any
  std::string task;      // code | math | translation | shopping | summarisation | chat; "" = any
  std::optional<long long> min_tokens;  // prompt estimate, inclusive
  std::optional<long long> max_tokens;  // prompt estimate, inclusive
};

struct AutoRule {
  std::string name;
  AutoWhen when;
  std::string target;  // a group, alias or provider:model
  // `target: [a, b, c]` in YAML: `target` is a, these are b and c, in order. They are the other
  // candidates that user_preferences (prefer_local, prefer_quality, max_cost) may pick instead.
  std::vector<std::string> alternatives;
  std::string origin;  // "file:line:col", for messages
};

struct AutoConfig {
  std::string default_target;  // "" = the built-in default (the first configured chat model)
  std::vector<std::string> default_alternatives;  // `default: [a, b, …]`, as for rules
  std::vector<AutoRule> rules;
};

struct Config {
  ServerConfig server;
  AuthConfig auth;
  std::vector<ProviderConfig> providers;
  std::vector<GroupConfig> groups;
  std::map<std::string, std::string, std::less<>> aliases;
  FailoverConfig failover;
  QueueConfig queue;
  HealthCheckConfig health_check;
  std::optional<AutoConfig> auto_select;  // nullopt: no `auto:` section, built-in rules apply
  std::string data_dir = "./data";
  std::string database_url;  // empty: sqlite://<data_dir>/kakehashi.db
  std::string redis_url;
  std::string log_level = "info";
  std::string source_path;            // the config file this came from, if any
  std::vector<std::string> warnings;  // not fatal, logged at startup and by `config check`

  const ProviderConfig* findProvider(std::string_view name) const;
};

// Command-line values; unset ones fall through to environment, file and defaults.
struct Overrides {
  std::optional<std::string> config_path;
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<int> admin_port;
  std::optional<int> threads;
  std::optional<std::string> log_level;
  std::optional<std::string> data_dir;
};

// Reads an environment variable; injectable so tests need not touch the real environment.
using EnvLookup = std::optional<std::string> (*)(const char* name);
std::optional<std::string> processEnv(const char* name);

struct ConfigIssue {
  std::string where;  // "file:line:col" or "env NAME" or ""
  std::string message;
  std::string str() const { return where.empty() ? message : where + ": " + message; }
};

class ConfigError : public std::exception {
 public:
  explicit ConfigError(std::vector<ConfigIssue> issues);
  const char* what() const noexcept override { return text_.c_str(); }
  const std::vector<ConfigIssue>& issues() const { return issues_; }

 private:
  std::vector<ConfigIssue> issues_;
  std::string text_;
};

// Builds the effective configuration: flag > environment > file > default. Throws ConfigError
// listing every problem found (not just the first), each with file:line where it has one.
Config loadConfig(const Overrides& overrides, EnvLookup env = processEnv);

// Parses YAML text on its own (no environment providers, no overrides); for `config check` and
// tests. `name` is used in messages.
Config parseConfigText(const std::string& text, const std::string& name, EnvLookup env);

}  // namespace kh::config
