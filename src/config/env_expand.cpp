#include "config/env_expand.h"

namespace kh::config {

ExpandResult expandEnv(std::string_view text, EnvLookup env) {
  ExpandResult r;
  r.value.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      r.value.append(text.substr(i));
      break;
    }
    r.value.append(text.substr(i, dollar - i));
    if (text.substr(dollar, 3) == "$${") {
      r.value.append("${");
      i = dollar + 3;
      continue;
    }
    if (text.substr(dollar, 2) != "${") {
      r.value.push_back('$');
      i = dollar + 1;
      continue;
    }
    const size_t close = text.find('}', dollar + 2);
    if (close == std::string_view::npos) {
      r.error = "unterminated ${ in value";
      return r;
    }
    std::string_view ref = text.substr(dollar + 2, close - dollar - 2);
    std::string_view name = ref;
    std::string_view fallback;
    bool has_default = false;
    if (const size_t sep = ref.find(":-"); sep != std::string_view::npos) {
      name = ref.substr(0, sep);
      fallback = ref.substr(sep + 2);
      has_default = true;
    }
    if (name.empty()) {
      r.error = "empty variable name in ${}";
      return r;
    }
    const std::optional<std::string> v = env(std::string(name).c_str());
    if (v && (!v->empty() || !has_default)) {
      r.value.append(*v);
    } else if (has_default) {
      r.value.append(fallback);
    } else {
      r.missing.emplace_back(name);
    }
    i = close + 1;
  }
  return r;
}

}  // namespace kh::config
