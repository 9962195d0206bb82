#include <csignal>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "app/model_import.h"
#include "app/serve.h"
#include "config/config.h"

namespace {

int configCheck(const std::string& path) {
  try {
    kh::config::Overrides o;
    o.config_path = path;
    const kh::config::Config c = kh::config::loadConfig(o);
    for (const auto& w : c.warnings) fmt::print(stderr, "warning: {}\n", w);
    fmt::print("{}: OK ({} providers, {} groups, {} aliases)\n", path, c.providers.size(),
               c.groups.size(), c.aliases.size());
    return 0;
  } catch (const kh::config::ConfigError& e) {
    for (const auto& issue : e.issues()) fmt::print(stderr, "error: {}\n", issue.str());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"Kakehashi: one OpenAI- and Anthropic-compatible endpoint for every LLM you use",
               "kakehashi"};
  app.require_subcommand(1);
  app.set_version_flag("--version", KH_VERSION);

  kh::config::Overrides overrides;
  auto* serve = app.add_subcommand("serve", "Run the gateway");
  std::string config_path;
  serve->add_option("-c,--config", config_path, "YAML config file (env KAKEHASHI_CONFIG)");
  serve->add_option_function<std::string>(
      "--host", [&](const std::string& v) { overrides.host = v; },
      "Bind address (env KAKEHASHI_HOST, default 127.0.0.1)");
  serve
      ->add_option_function<int>(
          "--port", [&](const int& v) { overrides.port = v; },
          "Proxy API port; 0 picks a free one (env KAKEHASHI_PORT, default 4321)")
      ->check(CLI::Range(0, 65535));
  serve
      ->add_option_function<int>(
          "--admin-port", [&](const int& v) { overrides.admin_port = v; },
          "Admin/UI port (env KAKEHASHI_ADMIN_PORT, default 4322)")
      ->check(CLI::Range(0, 65535));
  serve
      ->add_option_function<int>(
          "--threads", [&](const int& v) { overrides.threads = v; },
          "Worker threads (default: one per core)")
      ->check(CLI::Range(1, 1024));
  serve->add_option_function<std::string>(
      "--log-level", [&](const std::string& v) { overrides.log_level = v; },
      "trace|debug|info|warn|error (env KAKEHASHI_LOG_LEVEL)");
  serve->add_option_function<std::string>(
      "--data-dir", [&](const std::string& v) { overrides.data_dir = v; },
      "Data directory (env KAKEHASHI_DATA_DIR, default ./data)");

  auto* config_cmd = app.add_subcommand("config", "Work with config files");
  config_cmd->require_subcommand(1);
  auto* check = config_cmd->add_subcommand("check", "Validate a config file; exit 1 on errors");
  std::string check_path;
  check->add_option("file", check_path, "The YAML file")->required();

  auto* models_cmd = app.add_subcommand("models", "Work with providers' model lists");
  models_cmd->require_subcommand(1);
  auto* import_cmd = models_cmd->add_subcommand(
      "import", "Print a provider's models as a YAML 'aliases:' fragment");
  import_cmd->footer(
      "Fetches the provider's model list (with its key), keeps ids matching any --include and no\n"
      "--exclude glob, and writes aliases PREFIX+id -> \"provider:id\" to stdout (or --output).\n"
      "Names the config already uses are skipped. Progress and summary go to stderr.\n"
      "Example: kakehashi models import --provider openai --include 'gpt-4o*' --prefix oa-");
  kh::app::ModelsImportArgs import_args;
  import_cmd->add_option("--provider", import_args.provider, "Provider to import from")
      ->type_name("NAME")
      ->required();
  import_cmd
      ->add_option("--include", import_args.filter.include,
                   "Keep only model ids matching any of these globs (* ? [a-z] [!x]); "
                   "default: all")
      ->type_name("GLOB");
  import_cmd
      ->add_option("--exclude", import_args.filter.exclude,
                   "Drop model ids matching any of these globs")
      ->type_name("GLOB");
  import_cmd
      ->add_option("--prefix", import_args.filter.prefix,
                   "Alias name = PREFIX + model id (default: no prefix)")
      ->type_name("PREFIX");
  import_cmd
      ->add_option_function<std::string>(
          "-c,--config", [&](const std::string& v) { import_args.config_path = v; },
          "YAML config file (env KAKEHASHI_CONFIG)")
      ->type_name("FILE");
  import_cmd
      ->add_option("-o,--output", import_args.output,
                   "Write the fragment to FILE instead of stdout")
      ->type_name("FILE");
  import_cmd->add_flag("--force", import_args.force, "Overwrite the --output file if it exists");
  import_cmd->add_option("--timeout", import_args.timeout_s, "Seconds to wait for the provider")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->check(CLI::Range(1, 600));

  app.add_subcommand("version", "Print the version");

  // Usage errors exit 1, as every other error does; --help and --version exit 0.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }

  if (app.got_subcommand("version")) {
    fmt::print("kakehashi {}\n", KH_VERSION);
    return 0;
  }
  if (app.got_subcommand(config_cmd)) return configCheck(check_path);
  if (app.got_subcommand(models_cmd)) return kh::app::modelsImport(import_args);
  if (!config_path.empty()) overrides.config_path = config_path;
  return kh::app::serve(overrides);
}
