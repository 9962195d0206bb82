#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "providers/provider.h"

namespace kh::app {

// `kakehashi models import` (SPEC §5 model importer): a provider's model list, filtered by
// globs, turned into a YAML `aliases:` fragment.

struct ImportFilter {
  std::vector<std::string> include;  // empty: every model
  std::vector<std::string> exclude;
  std::string prefix;  // alias name = prefix + model id
};

struct SkippedAlias {
  std::string name;
  std::string reason;
};

struct ImportPlan {
  std::size_t fetched = 0;  // distinct non-empty ids in the provider's answer
  std::size_t kept = 0;     // of those, passing the include/exclude globs
  std::vector<std::pair<std::string, std::string>> aliases;  // name → "provider:model", by name
  std::vector<SkippedAlias> skipped;  // kept, but the name is taken in `config`
};

// Pure: filters `model_ids` and names the aliases, skipping names the config already uses (an
// alias, a group, a provider) and names that would point at themselves.
ImportPlan planImport(const config::Config& config, const std::string& provider,
                      const std::vector<std::string>& model_ids, const ImportFilter& filter);

// The plan's aliases as a YAML document `aliases: {…}` (block style, every name and target
// double-quoted, "${" in targets escaped so the loader does not expand it).
std::string renderAliasesYaml(const ImportPlan& plan);

// Fetches the provider's model ids from its own list endpoint, with its key, within `timeout`.
core::Result<std::vector<std::string>> fetchModelIds(const providers::Provider& provider,
                                                     std::chrono::seconds timeout);

struct ModelsImportArgs {
  std::string provider;
  ImportFilter filter;
  std::optional<std::string> config_path;
  std::string output;  // "" = stdout
  bool force = false;
  int timeout_s = 30;
};

// The whole command: load the config, fetch, plan, write. Progress and the summary go to
// stderr so stdout carries only the fragment. Returns the exit code (0, or 1 on any error).
int modelsImport(const ModelsImportArgs& args);

}  // namespace kh::app
