#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "config/config.h"
#include "config/env_expand.h"

namespace kh::config {

namespace {

constexpr std::string_view kProviderTypes[] = {
    "openai",   "anthropic", "gemini",    "openrouter", "openai-compatible",
    "lmstudio", "ollama",    "vscode-lm", "llamacpp",
};
constexpr std::string_view kStrategies[] = {"round_robin",    "weighted",    "least_busy",
                                            "lowest_latency", "lowest_cost", "priority"};
constexpr std::string_view kAutoTasks[] = {"code",     "math",          "translation",
                                           "shopping", "summarisation", "chat"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error"};

template <size_t N>
bool oneOf(std::string_view v, const std::string_view (&set)[N]) {
  for (auto s : set)
    if (s == v) return true;
  return false;
}

template <size_t N>
std::string listOf(const std::string_view (&set)[N]) {
  std::string out;
  for (auto s : set) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

// Walks the YAML tree, expanding ${VAR} in scalars and collecting every problem with its line.
class Reader {
 public:
  Reader(std::string name, EnvLookup env, std::vector<ConfigIssue>& issues)
      : name_(std::move(name)), env_(env), issues_(issues) {}

  std::string where(const YAML::Node& n) const {
    const YAML::Mark m = n.Mark();
    if (m.is_null()) return name_;
    return fmt::format("{}:{}:{}", name_, m.line + 1, m.column + 1);
  }

  void fail(const YAML::Node& n, std::string msg) { issues_.push_back({where(n), std::move(msg)}); }

  bool isMap(const YAML::Node& n, std::string_view what) {
    if (n.IsMap()) return true;
    fail(n, fmt::format("'{}' must be a mapping", what));
    return false;
  }

  std::optional<std::string> str(const YAML::Node& n, std::string_view what) {
    if (!n.IsScalar()) {
      fail(n, fmt::format("'{}' must be a string", what));
      return std::nullopt;
    }
    ExpandResult r = expandEnv(n.Scalar(), env_);
    if (!r.error.empty()) {
      fail(n, fmt::format("'{}': {}", what, r.error));
      return std::nullopt;
    }
    for (const auto& m : r.missing) unset_vars_.insert(m);
    return std::move(r.value);
  }

  template <class T>
  std::optional<T> num(const YAML::Node& n, std::string_view what, T min, T max) {
    auto s = str(n, what);
    if (!s) return std::nullopt;
    T v{};
    try {
      size_t used = 0;
      if constexpr (std::is_floating_point_v<T>) {
        v = static_cast<T>(std::stod(*s, &used));
      } else {
        v = static_cast<T>(std::stoll(*s, &used));
      }
      if (used != s->size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      fail(n, fmt::format("'{}' must be a number, got '{}'", what, *s));
      return std::nullopt;
    }
    if (v < min || v > max) {
      fail(n, fmt::format("'{}' must be between {} and {}, got {}", what, min, max, v));
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> boolean(const YAML::Node& n, std::string_view what) {
    auto s = str(n, what);
    if (!s) return std::nullopt;
    if (*s == "true" || *s == "yes" || *s == "on" || *s == "1") return true;
    if (*s == "false" || *s == "no" || *s == "off" || *s == "0") return false;
    fail(n, fmt::format("'{}' must be true or false, got '{}'", what, *s));
    return std::nullopt;
  }

  std::vector<std::string> strList(const YAML::Node& n, std::string_view what) {
    std::vector<std::string> out;
    if (!n.IsSequence()) {
      fail(n, fmt::format("'{}' must be a list", what));
      return out;
    }
    for (const auto& item : n)
      if (auto s = str(item, what)) out.push_back(std::move(*s));
    return out;
  }

  // Unknown keys are errors: a typo silently ignored is a setting silently not applied.
  void checkKeys(const YAML::Node& map, std::string_view section,
                 std::initializer_list<std::string_view> known) {
    for (const auto& kv : map) {
      const std::string key = kv.first.Scalar();
      bool ok = false;
      for (auto k : known) ok = ok || k == key;
      if (!ok) fail(kv.first, fmt::format("unknown key '{}' in {}", key, section));
    }
  }

  const std::set<std::string>& unsetVars() const { return unset_vars_; }

 private:
  std::string name_;
  EnvLookup env_;
  std::vector<ConfigIssue>& issues_;
  std::set<std::string> unset_vars_;
};

template <class F>
void ifSet(const YAML::Node& map, const char* key, F&& apply) {
  if (const YAML::Node n = map[key]; n && !n.IsNull()) apply(n);
}

void readServer(Reader& r, const YAML::Node& n, ServerConfig& s) {
  if (!r.isMap(n, "server")) return;
  r.checkKeys(n, "server",
              {"host", "port", "admin_port", "max_body_bytes", "shutdown_grace_s", "threads",
               "max_header_bytes", "idle_timeout_s", "request_timeout_s", "write_timeout_s"});
  auto setStr = [&](const char* key, std::string& out) {
    ifSet(n, key, [&](const YAML::Node& v) {
      if (auto s2 = r.str(v, key)) out = *s2;
    });
  };
  auto setInt = [&](const char* key, auto& out, long long min, long long max) {
    ifSet(n, key, [&](const YAML::Node& v) {
      if (auto x = r.num<long long>(v, key, min, max))
        out = static_cast<std::decay_t<decltype(out)>>(*x);
    });
  };
  setStr("host", s.host);
  setInt("port", s.port, 0, 65535);
  setInt("admin_port", s.admin_port, 0, 65535);
  setInt("max_body_bytes", s.max_body_bytes, 1024, 1LL << 34);
  setInt("shutdown_grace_s", s.shutdown_grace_s, 0, 86400);
  setInt("threads", s.threads, 0, 1024);
  setInt("max_header_bytes", s.max_header_bytes, 1024, 1 << 24);
  setInt("idle_timeout_s", s.idle_timeout_s, 1, 86400);
  setInt("request_timeout_s", s.request_timeout_s, 1, 86400);
  setInt("write_timeout_s", s.write_timeout_s, 1, 86400);
}

void readProvider(Reader& r, const YAML::Node& n, Config& c) {
  if (!r.isMap(n, "providers[]")) return;
  r.checkKeys(n, "provider",
              {"name", "type", "base_url", "api_key", "models", "headers", "timeout_s",
               "max_concurrency", "pricing", "max_tokens_default"});
  ProviderConfig p;
  p.origin = r.where(n);
  if (auto v = n["name"]) {
    if (auto s = r.str(v, "name")) p.name = *s;
  } else {
    r.fail(n, "provider needs a 'name'");
  }
  if (p.name.find(':') != std::string::npos)
    r.fail(n["name"], fmt::format("provider name '{}' must not contain ':'", p.name));
  if (auto v = n["type"]) {
    if (auto s = r.str(v, "type")) {
      p.type = *s;
      if (!oneOf(p.type, kProviderTypes))
        r.fail(v, fmt::format("unknown provider type '{}' (one of: {})", p.type,
                              listOf(kProviderTypes)));
    }
  } else {
    r.fail(n, fmt::format("provider '{}' needs a 'type'", p.name));
  }
  ifSet(n, "base_url", [&](const YAML::Node& v) {
    if (auto s = r.str(v, "base_url")) {
      p.base_url = *s;
      if (p.base_url.rfind("http://", 0) != 0 && p.base_url.rfind("https://", 0) != 0)
        r.fail(v, fmt::format("base_url '{}' must start with http:// or https://", p.base_url));
    }
  });
  if (p.type == "openai-compatible" && p.base_url.empty())
    r.fail(n, fmt::format("provider '{}' of type openai-compatible needs a 'base_url'", p.name));
  ifSet(n, "api_key", [&](const YAML::Node& v) {
    if (auto s = r.str(v, "api_key")) p.api_key = *s;
  });
  ifSet(n, "models", [&](const YAML::Node& v) {
    p.models = r.strList(v, "models");
    p.models_configured = true;
  });
  ifSet(n, "headers", [&](const YAML::Node& v) {
    if (!r.isMap(v, "headers")) return;
    for (const auto& kv : v)
      if (auto s = r.str(kv.second, kv.first.Scalar()))
        p.headers.emplace_back(kv.first.Scalar(), *s);
  });
  ifSet(n, "timeout_s", [&](const YAML::Node& v) {
    if (auto x = r.num<int>(v, "timeout_s", 1, 86400)) p.timeout_s = *x;
  });
  ifSet(n, "max_concurrency", [&](const YAML::Node& v) {
    if (auto x = r.num<int>(v, "max_concurrency", 0, 1000000)) p.max_concurrency = *x;
  });
  ifSet(n, "max_tokens_default", [&](const YAML::Node& v) {
    if (auto x = r.num<int>(v, "max_tokens_default", 1, 10000000)) p.max_tokens_default = *x;
  });
  ifSet(n, "pricing", [&](const YAML::Node& v) {
    if (!r.isMap(v, "pricing")) return;
    for (const auto& kv : v) {
      if (!r.isMap(kv.second, "pricing entry")) continue;
      r.checkKeys(kv.second, "pricing entry", {"input", "output", "cached_input"});
      Price price;
      ifSet(kv.second, "input", [&](const YAML::Node& x) {
        if (auto d = r.num<double>(x, "input", 0, 1e9)) price.input = *d;
      });
      ifSet(kv.second, "output", [&](const YAML::Node& x) {
        if (auto d = r.num<double>(x, "output", 0, 1e9)) price.output = *d;
      });
      ifSet(kv.second, "cached_input", [&](const YAML::Node& x) {
        if (auto d = r.num<double>(x, "cached_input", 0, 1e9)) price.cached_input = *d;
      });
      p.pricing[kv.first.Scalar()] = price;
    }
  });
  for (const auto& existing : c.providers)
    if (!p.name.empty() && existing.name == p.name)
      r.fail(n, fmt::format("duplicate provider name '{}' (first at {})", p.name, existing.origin));
  c.providers.push_back(std::move(p));
}

void readGroup(Reader& r, const YAML::Node& n, Config& c) {
  if (!r.isMap(n, "groups[]")) return;
  r.checkKeys(n, "group", {"name", "strategy", "targets"});
  GroupConfig g;
  if (auto v = n["name"]) {
    if (auto s = r.str(v, "name")) g.name = *s;
  } else {
    r.fail(n, "group needs a 'name'");
  }
  ifSet(n, "strategy", [&](const YAML::Node& v) {
    if (auto s = r.str(v, "strategy")) {
      g.strategy = *s;
      if (!oneOf(g.strategy, kStrategies))
        r.fail(v,
               fmt::format("unknown strategy '{}' (one of: {})", g.strategy, listOf(kStrategies)));
    }
  });
  const YAML::Node targets = n["targets"];
  if (!targets || !targets.IsSequence() || targets.size() == 0) {
    r.fail(n, fmt::format("group '{}' needs a non-empty 'targets' list", g.name));
  } else {
    for (const auto& t : targets) {
      if (!r.isMap(t, "targets[]")) continue;
      r.checkKeys(t, "group target", {"provider", "model", "priority", "weight"});
      GroupTarget gt;
      if (auto v = t["provider"]) {
        if (auto s = r.str(v, "provider")) gt.provider = *s;
      } else {
        r.fail(t, "target needs a 'provider'");
      }
      if (auto v = t["model"]) {
        if (auto s = r.str(v, "model")) gt.model = *s;
      } else {
        r.fail(t, "target needs a 'model'");
      }
      ifSet(t, "priority", [&](const YAML::Node& v) {
        if (auto x = r.num<int>(v, "priority", 0, 1000000)) gt.priority = *x;
      });
      ifSet(t, "weight", [&](const YAML::Node& v) {
        if (auto x = r.num<int>(v, "weight", 0, 1000000)) gt.weight = *x;
      });
      g.targets.push_back(std::move(gt));
    }
  }
  c.groups.push_back(std::move(g));
}

void readFailover(Reader& r, const YAML::Node& n, FailoverConfig& f) {
  if (!r.isMap(n, "failover")) return;
  r.checkKeys(n, "failover",
              {"retry_on_status", "failure_keywords", "max_attempts", "circuit_breaker"});
  ifSet(n, "retry_on_status", [&](const YAML::Node& v) {
    f.retry_on_status.clear();
    if (!v.IsSequence()) return r.fail(v, "'retry_on_status' must be a list");
    for (const auto& s : v)
      if (auto x = r.num<int>(s, "retry_on_status", 100, 599)) f.retry_on_status.push_back(*x);
  });
  ifSet(n, "failure_keywords",
        [&](const YAML::Node& v) { f.failure_keywords = r.strList(v, "failure_keywords"); });
  ifSet(n, "max_attempts", [&](const YAML::Node& v) {
    if (auto x = r.num<int>(v, "max_attempts", 1, 100)) f.max_attempts = *x;
  });
  ifSet(n, "circuit_breaker", [&](const YAML::Node& v) {
    if (!r.isMap(v, "circuit_breaker")) return;
    r.checkKeys(v, "circuit_breaker", {"failures", "window_s", "cooldown_s", "wait_s"});
    ifSet(v, "failures", [&](const YAML::Node& x) {
      if (auto i = r.num<int>(x, "failures", 0, 1000000)) f.breaker_failures = *i;
    });
    ifSet(v, "wait_s", [&](const YAML::Node& x) {
      if (auto i = r.num<int>(x, "wait_s", 0, 600)) f.breaker_wait_s = *i;
    });
    ifSet(v, "window_s", [&](const YAML::Node& x) {
      if (auto i = r.num<int>(x, "window_s", 1, 86400)) f.breaker_window_s = *i;
    });
    ifSet(v, "cooldown_s", [&](const YAML::Node& x) {
      if (auto i = r.num<int>(x, "cooldown_s", 1, 86400)) f.breaker_cooldown_s = *i;
    });
  });
}

void readHealthCheck(Reader& r, const YAML::Node& n, HealthCheckConfig& h) {
  if (!r.isMap(n, "health_check")) return;
  r.checkKeys(n, "health_check", {"interval_s", "timeout_s"});
  ifSet(n, "interval_s", [&](const YAML::Node& v) {
    if (auto x = r.num<int>(v, "interval_s", 0, 86400)) h.interval_s = *x;
  });
  ifSet(n, "timeout_s", [&](const YAML::Node& v) {
    if (auto x = r.num<int>(v, "timeout_s", 1, 600)) h.timeout_s = *x;
  });
}

void readQueue(Reader& r, const YAML::Node& n, QueueConfig& q) {
  if (!r.isMap(n, "queue")) return;
  r.checkKeys(n, "queue", {"max_waiting", "timeout_s", "keepalive_s"});
  ifSet(n, "max_waiting", [&](const YAML::Node& v) {
    if (auto x = r.num<int>(v, "max_waiting", 0, 10000000)) q.max_waiting = *x;
  });
  ifSet(n, "timeout_s", [&](const YAML::Node& v) {
    if (auto x = r.num<int>(v, "timeout_s", 1, 86400)) q.timeout_s = *x;
  });
  ifSet(n, "keepalive_s", [&](const YAML::Node& v) {
    if (auto x = r.num<int>(v, "keepalive_s", 1, 3600)) q.keepalive_s = *x;
  });
}

// Two ASCII letters (ISO 639-1 shaped; the list itself is not checked) or "other".
bool isLanguageCode(std::string_view v) {
  if (v == "other") return true;
  return v.size() == 2 && v[0] >= 'a' && v[0] <= 'z' && v[1] >= 'a' && v[1] <= 'z';
}

void readAutoWhen(Reader& r, const YAML::Node& n, AutoWhen& w) {
  if (!r.isMap(n, "when")) return;
  r.checkKeys(n, "auto rule 'when'", {"language", "task", "min_tokens", "max_tokens"});
  ifSet(n, "language", [&](const YAML::Node& v) {
    auto s = r.str(v, "language");
    if (!s) return;
    for (char& ch : *s)
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    if (!isLanguageCode(*s))
      return r.fail(v, fmt::format("language '{}' must be a two-letter ISO 639-1 code (ja, zh, "
                                   "ko, en, …) or 'other'",
                                   *s));
    w.language = *s;
  });
  ifSet(n, "task", [&](const YAML::Node& v) {
    auto s = r.str(v, "task");
    if (!s) return;
    if (!oneOf(*s, kAutoTasks))
      return r.fail(v, fmt::format("unknown task '{}' (one of: {})", *s, listOf(kAutoTasks)));
    w.task = *s;
  });
  ifSet(n, "min_tokens", [&](const YAML::Node& v) {
    if (auto x = r.num<long long>(v, "min_tokens", 0, 1LL << 40)) w.min_tokens = *x;
  });
  ifSet(n, "max_tokens", [&](const YAML::Node& v) {
    if (auto x = r.num<long long>(v, "max_tokens", 0, 1LL << 40)) w.max_tokens = *x;
  });
  if (w.min_tokens && w.max_tokens && *w.min_tokens > *w.max_tokens)
    r.fail(n, fmt::format("min_tokens {} is above max_tokens {}", *w.min_tokens, *w.max_tokens));
}

// `key: name` or `key: [first, others…]`; every name must be non-empty.
void readAutoTargets(Reader& r, const YAML::Node& n, std::string_view key, std::string& first,
                     std::vector<std::string>& others) {
  std::vector<std::string> all;
  if (n.IsSequence()) {
    all = r.strList(n, key);
    if (n.size() == 0) r.fail(n, fmt::format("'{}' must not be an empty list", key));
  } else if (auto s = r.str(n, key)) {
    all.push_back(std::move(*s));
  }
  for (const auto& t : all)
    if (t.empty()) r.fail(n, fmt::format("'{}' names an empty target", key));
  if (all.empty()) return;
  first = all.front();
  others.assign(all.begin() + 1, all.end());
}

void readAutoRule(Reader& r, const YAML::Node& n, AutoConfig& a) {
  if (!r.isMap(n, "auto.rules[]")) return;
  r.checkKeys(n, "auto rule", {"name", "when", "target"});
  AutoRule rule;
  rule.origin = r.where(n);
  if (auto v = n["name"]) {
    if (auto s = r.str(v, "name")) rule.name = *s;
    if (rule.name.empty()) r.fail(v, "auto rule 'name' must not be empty");
  } else {
    r.fail(n, "auto rule needs a 'name'");
  }
  ifSet(n, "when", [&](const YAML::Node& v) { readAutoWhen(r, v, rule.when); });
  const YAML::Node target = n["target"];
  if (!target || target.IsNull())
    r.fail(n, fmt::format("auto rule '{}' needs a 'target'", rule.name));
  else
    readAutoTargets(r, target, "target", rule.target, rule.alternatives);
  for (const auto& existing : a.rules)
    if (!rule.name.empty() && existing.name == rule.name)
      r.fail(n, fmt::format("duplicate auto rule name '{}' (first at {})", rule.name,
                            existing.origin));
  a.rules.push_back(std::move(rule));
}

void readAuto(Reader& r, const YAML::Node& n, Config& c) {
  if (!r.isMap(n, "auto")) return;
  r.checkKeys(n, "auto", {"default", "rules"});
  AutoConfig a;
  ifSet(n, "default", [&](const YAML::Node& v) {
    readAutoTargets(r, v, "default", a.default_target, a.default_alternatives);
  });
  ifSet(n, "rules", [&](const YAML::Node& v) {
    if (!v.IsSequence()) return r.fail(v, "'rules' must be a list");
    for (const auto& rule : v) readAutoRule(r, rule, a);
  });
  c.auto_select = std::move(a);
}

void validate(const Config& c, std::vector<ConfigIssue>& issues) {
  if (!oneOf(c.log_level, kLogLevels))
    issues.push_back(
        {"", fmt::format("log_level '{}' is not one of: {}", c.log_level, listOf(kLogLevels))});
  std::set<std::string, std::less<>> names;
  for (const auto& p : c.providers) names.insert(p.name);
  for (const auto& g : c.groups) {
    if (names.count(g.name))
      issues.push_back({"", fmt::format("group '{}' has the same name as a provider", g.name)});
    for (const auto& t : g.targets)
      if (!t.provider.empty() && !c.findProvider(t.provider))
        issues.push_back(
            {"", fmt::format("group '{}' targets unknown provider '{}'", g.name, t.provider)});
  }
  for (const auto& [alias, target] : c.aliases)
    if (target.empty())
      issues.push_back({"", fmt::format("alias '{}' has an empty target", alias)});
}

Config parseInto(Config c, const std::string& text, const std::string& name, EnvLookup env,
                 std::vector<ConfigIssue>& issues) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    issues.push_back({fmt::format("{}:{}:{}", name, e.mark.line + 1, e.mark.column + 1), e.msg});
    return c;
  }
  if (root.IsNull()) return c;  // an empty file is a valid, all-defaults config
  Reader r(name, env, issues);
  if (!r.isMap(root, "the config file")) return c;
  r.checkKeys(root, "the config file",
              {"server", "auth", "providers", "groups", "aliases", "failover", "queue", "auto",
               "health_check", "data_dir", "database_url", "redis_url", "log_level"});
  ifSet(root, "server", [&](const YAML::Node& n) { readServer(r, n, c.server); });
  ifSet(root, "auth", [&](const YAML::Node& n) {
    if (!r.isMap(n, "auth")) return;
    r.checkKeys(n, "auth", {"require_api_key", "allow_anonymous"});
    ifSet(n, "require_api_key", [&](const YAML::Node& v) {
      if (auto b = r.boolean(v, "require_api_key")) c.auth.require_api_key = *b;
    });
    ifSet(n, "allow_anonymous", [&](const YAML::Node& v) {
      if (auto b = r.boolean(v, "allow_anonymous")) c.auth.allow_anonymous = *b;
    });
  });
  ifSet(root, "providers", [&](const YAML::Node& n) {
    if (!n.IsSequence()) return r.fail(n, "'providers' must be a list");
    for (const auto& p : n) readProvider(r, p, c);
  });
  ifSet(root, "groups", [&](const YAML::Node& n) {
    if (!n.IsSequence()) return r.fail(n, "'groups' must be a list");
    for (const auto& g : n) readGroup(r, g, c);
  });
  ifSet(root, "aliases", [&](const YAML::Node& n) {
    if (!r.isMap(n, "aliases")) return;
    for (const auto& kv : n)
      if (auto s = r.str(kv.second, kv.first.Scalar())) c.aliases[kv.first.Scalar()] = *s;
  });
  ifSet(root, "failover", [&](const YAML::Node& n) { readFailover(r, n, c.failover); });
  ifSet(root, "queue", [&](const YAML::Node& n) { readQueue(r, n, c.queue); });
  ifSet(root, "health_check", [&](const YAML::Node& n) { readHealthCheck(r, n, c.health_check); });
  ifSet(root, "auto", [&](const YAML::Node& n) { readAuto(r, n, c); });
  ifSet(root, "data_dir", [&](const YAML::Node& n) {
    if (auto s = r.str(n, "data_dir")) c.data_dir = *s;
  });
  ifSet(root, "database_url", [&](const YAML::Node& n) {
    if (auto s = r.str(n, "database_url")) c.database_url = *s;
  });
  ifSet(root, "redis_url", [&](const YAML::Node& n) {
    if (auto s = r.str(n, "redis_url")) c.redis_url = *s;
  });
  ifSet(root, "log_level", [&](const YAML::Node& n) {
    if (auto s = r.str(n, "log_level")) c.log_level = *s;
  });
  for (const auto& var : r.unsetVars())
    c.warnings.push_back(
        fmt::format("{}: environment variable {} is not set; it expands to \"\"", name, var));
  return c;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError({{path, "cannot open the config file"}});
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<int> envInt(EnvLookup env, const char* name, int min, int max,
                          std::vector<ConfigIssue>& issues) {
  auto v = env(name);
  if (!v || v->empty()) return std::nullopt;
  try {
    size_t used = 0;
    const long long x = std::stoll(*v, &used);
    if (used == v->size() && x >= min && x <= max) return static_cast<int>(x);
  } catch (const std::exception&) {
  }
  issues.push_back({fmt::format("env {}", name),
                    fmt::format("must be a number between {} and {}, got '{}'", min, max, *v)});
  return std::nullopt;
}

// Well-known keys in the environment create providers, unless the file already names one so.
void addEnvProviders(Config& c, EnvLookup env) {
  struct EnvProvider {
    const char* name;
    const char* type;
    std::initializer_list<const char*> key_vars;
    std::initializer_list<const char*> url_vars;
  };
  const EnvProvider known[] = {
      {"openai", "openai", {"OPENAI_API_KEY"}, {"OPENAI_BASE_URL"}},
      {"anthropic",
       "anthropic",
       {"ANTHROPIC_API_KEY"},
       {"ANTHROPIC_BASE_URL", "ANTHROPIC_API_BASE_URL"}},
      {"google", "gemini", {"GEMINI_API_KEY", "GOOGLE_API_KEY"}, {"GOOGLE_API_BASE_URL"}},
      {"openrouter", "openrouter", {"OPENROUTER_API_KEY"}, {"OPENROUTER_BASE_URL"}},
  };
  for (const auto& k : known) {
    if (c.findProvider(k.name)) continue;
    std::optional<std::string> key;
    const char* key_var = nullptr;
    for (const char* var : k.key_vars) {
      if (auto v = env(var); v && !v->empty()) {
        key = v;
        key_var = var;
        break;
      }
    }
    if (!key) continue;
    ProviderConfig p;
    p.name = k.name;
    p.type = k.type;
    p.api_key = *key;
    p.origin = fmt::format("env {}", key_var);
    for (const char* var : k.url_vars) {
      if (auto v = env(var); v && !v->empty()) {
        p.base_url = *v;
        break;
      }
    }
    c.providers.push_back(std::move(p));
  }
}

}  // namespace

ConfigError::ConfigError(std::vector<ConfigIssue> issues) : issues_(std::move(issues)) {
  for (const auto& i : issues_) {
    if (!text_.empty()) text_ += "\n";
    text_ += i.str();
  }
}

const ProviderConfig* Config::findProvider(std::string_view name) const {
  for (const auto& p : providers)
    if (p.name == name) return &p;
  return nullptr;
}

std::optional<std::string> processEnv(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

Config parseConfigText(const std::string& text, const std::string& name, EnvLookup env) {
  std::vector<ConfigIssue> issues;
  Config c = parseInto(Config{}, text, name, env, issues);
  if (issues.empty()) validate(c, issues);
  if (!issues.empty()) throw ConfigError(std::move(issues));
  return c;
}

Config loadConfig(const Overrides& o, EnvLookup env) {
  std::vector<ConfigIssue> issues;
  Config c;
  std::optional<std::string> path = o.config_path;
  if (!path) path = env("KAKEHASHI_CONFIG");
  if (path && !path->empty()) {
    c = parseInto(std::move(c), readFile(*path), *path, env, issues);
    c.source_path = *path;
  }
  // Environment over file.
  if (auto v = env("KAKEHASHI_HOST"); v && !v->empty()) c.server.host = *v;
  if (auto v = envInt(env, "KAKEHASHI_PORT", 0, 65535, issues)) c.server.port = *v;
  if (auto v = envInt(env, "KAKEHASHI_ADMIN_PORT", 0, 65535, issues)) c.server.admin_port = *v;
  if (auto v = env("KAKEHASHI_DATA_DIR"); v && !v->empty()) c.data_dir = *v;
  if (auto v = env("KAKEHASHI_DATABASE_URL"); v && !v->empty()) c.database_url = *v;
  if (auto v = env("KAKEHASHI_REDIS_URL"); v && !v->empty()) c.redis_url = *v;
  if (auto v = env("KAKEHASHI_LOG_LEVEL"); v && !v->empty()) c.log_level = *v;
  addEnvProviders(c, env);
  // Flags over environment.
  if (o.host) c.server.host = *o.host;
  if (o.port) c.server.port = *o.port;
  if (o.admin_port) c.server.admin_port = *o.admin_port;
  if (o.threads) c.server.threads = *o.threads;
  if (o.log_level) c.log_level = *o.log_level;
  if (o.data_dir) c.data_dir = *o.data_dir;
  if (c.database_url.empty()) c.database_url = "sqlite://" + c.data_dir + "/kakehashi.db";
  validate(c, issues);
  if (!issues.empty()) throw ConfigError(std::move(issues));
  return c;
}

}  // namespace kh::config
