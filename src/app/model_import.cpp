#include "app/model_import.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include "app/discovery.h"
#include "core/glob.h"

namespace kh::app {

namespace net = boost::asio;

namespace {

constexpr std::size_t kMaxListBytes = 16 << 20;

bool matchesAny(const std::vector<std::string>& globs, std::string_view id) {
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& g) { return core::globMatch(g, id); });
}

// Why `name` cannot become a new alias in `config`, or "".
std::string takenBecause(const config::Config& config, const std::string& name,
                         const std::string& target) {
  if (config.aliases.count(name)) return "an alias of that name exists";
  for (const auto& g : config.groups)
    if (g.name == name) return "a group of that name exists";
  if (config.findProvider(name)) return "a provider of that name exists";
  if (name == "auto") return "'auto' is the automatic model selection";
  if (name == target) return "already routable under that name as provider:model";
  return "";
}

// The loader expands ${VAR} in values; "$${" is its escape for a literal "${".
std::string escapeEnvRefs(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{') out.push_back('$');
    out.push_back(s[i]);
  }
  return out;
}

std::string joinProviderNames(const config::Config& config) {
  std::string out;
  for (const auto& p : config.providers) {
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out;
}

// Writes `text` to `path`; without `force`, only if no such file exists (checked atomically).
bool writeFile(const std::string& path, const std::string& text, bool force, std::string& why) {
  std::FILE* f = std::fopen(path.c_str(), force ? "wb" : "wbx");
  if (!f) {
    why = errno == EEXIST ? "it exists (pass --force to overwrite it)" : std::strerror(errno);
    return false;
  }
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int saved = errno;
  if (std::fclose(f) != 0 || !written) {
    why = std::strerror(written ? errno : saved);
    return false;
  }
  return true;
}

}  // namespace

ImportPlan planImport(const config::Config& config, const std::string& provider,
                      const std::vector<std::string>& model_ids, const ImportFilter& filter) {
  ImportPlan plan;
  std::set<std::string> ids;
  for (const auto& id : model_ids)
    if (!id.empty()) ids.insert(id);
  plan.fetched = ids.size();
  for (const auto& id : ids) {
    if (!filter.include.empty() && !matchesAny(filter.include, id)) continue;
    if (matchesAny(filter.exclude, id)) continue;
    ++plan.kept;
    std::string name = filter.prefix + id;
    std::string target = provider + ":" + id;
    if (std::string why = takenBecause(config, name, target); !why.empty()) {
      // Built in place: GCC 12 misreads a braced temporary here as an out-of-bounds copy.
      SkippedAlias& skipped = plan.skipped.emplace_back();
      skipped.name = std::move(name);
      skipped.reason = std::move(why);
      continue;
    }
    plan.aliases.emplace_back(std::move(name), std::move(target));
  }
  // With a prefix, names sort as ids do; sorted here too in case a future filter renames.
  std::sort(plan.aliases.begin(), plan.aliases.end());
  return plan;
}

std::string renderAliasesYaml(const ImportPlan& plan) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "aliases" << YAML::Value;
  if (plan.aliases.empty()) out << YAML::Flow;  // "aliases: {}" on one line
  out << YAML::BeginMap;
  for (const auto& [name, target] : plan.aliases)
    out << YAML::Key << YAML::DoubleQuoted << name << YAML::Value << YAML::DoubleQuoted
        << escapeEnvRefs(target);
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

core::Result<std::vector<std::string>> fetchModelIds(const providers::Provider& provider,
                                                     std::chrono::seconds timeout) {
  // The list fetch is discovery's; the provider is borrowed for the call.
  const routing::ProviderSet one{
      std::shared_ptr<const providers::Provider>(&provider, [](const providers::Provider*) {})};
  auto results = fetchModelLists(one, timeout);
  if (results.front().ids) return std::move(results.front().ids);
  core::Error e = std::move(results.front().ids).error();
  if (e.code == core::ErrorCode::kTimeout)
    e.message = fmt::format("no answer within {} s", timeout.count());
  return e;
}

int modelsImport(const ModelsImportArgs& args) {
  config::Config cfg;
  try {
    config::Overrides o;
    o.config_path = args.config_path;
    cfg = config::loadConfig(o);
  } catch (const config::ConfigError& e) {
    for (const auto& issue : e.issues()) fmt::print(stderr, "error: {}\n", issue.str());
    return 1;
  }
  for (const auto& w : cfg.warnings) fmt::print(stderr, "warning: {}\n", w);

  const config::ProviderConfig* pc = cfg.findProvider(args.provider);
  if (!pc) {
    if (cfg.providers.empty())
      fmt::print(stderr,
                 "error: unknown provider '{}': no providers are configured (add one to the "
                 "config file, or set OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY or "
                 "OPENROUTER_API_KEY)\n",
                 args.provider);
    else
      fmt::print(stderr, "error: unknown provider '{}'; known providers: {}\n", args.provider,
                 joinProviderNames(cfg));
    return 1;
  }
  // Fail before the network call, not after it.
  if (!args.output.empty() && !args.force && std::filesystem::exists(args.output)) {
    fmt::print(stderr, "error: cannot write {}: it exists (pass --force to overwrite it)\n",
               args.output);
    return 1;
  }
  std::string why;
  const std::unique_ptr<providers::Provider> provider = providers::makeProvider(*pc, &why);
  if (!provider) {
    fmt::print(stderr, "error: provider '{}': {}\n", pc->name, why);
    return 1;
  }
  const http::UpstreamRequest list = provider->listModels();
  const std::string url = list.target ? list.target->url + list.path_suffix : provider->baseUrl();
  fmt::print(stderr, "fetching models from provider '{}' (GET {}) …\n", pc->name, url);
  auto ids = fetchModelIds(*provider, std::chrono::seconds(args.timeout_s));
  if (!ids) {
    fmt::print(stderr, "error: cannot list the models of provider '{}' (GET {}): {}\n", pc->name,
               url, ids.error().message);
    return 1;
  }

  const ImportPlan plan = planImport(cfg, pc->name, *ids, args.filter);
  for (const auto& s : plan.skipped) fmt::print(stderr, "skipped '{}': {}\n", s.name, s.reason);
  const std::string yaml = renderAliasesYaml(plan);
  const std::string dest = args.output.empty() ? "stdout" : args.output;
  if (args.output.empty()) {
    std::fwrite(yaml.data(), 1, yaml.size(), stdout);
    if (std::fflush(stdout) != 0) {
      fmt::print(stderr, "error: cannot write to stdout: {}\n", std::strerror(errno));
      return 1;
    }
  } else if (!writeFile(args.output, yaml, args.force, why)) {
    fmt::print(stderr, "error: cannot write {}: {}\n", args.output, why);
    return 1;
  }
  fmt::print(stderr,
             "fetched {} models from {}; {} kept; {} skipped (exist); wrote {} aliases to {}\n",
             plan.fetched, pc->name, plan.kept, plan.skipped.size(), plan.aliases.size(), dest);
  if (plan.aliases.empty())
    fmt::print(stderr, "note: nothing to import; the fragment is an empty 'aliases: {{}}'\n");
  return 0;
}

}  // namespace kh::app
