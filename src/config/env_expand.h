#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace kh::config {

// Expands ${VAR} and ${VAR:-default} (default used when VAR is unset or empty); "$${" yields a
// literal "${". Names of variables referenced but unset (without default) are appended to
// `missing`, and expand to "". Malformed references (no closing brace) are returned as errors.
struct ExpandResult {
  std::string value;
  std::vector<std::string> missing;
  std::string error;
};
ExpandResult expandEnv(std::string_view text, EnvLookup env);

}  // namespace kh::config
