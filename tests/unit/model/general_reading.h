#pragma once

#include <string>

namespace kh::model::test_support {

// The same JSON object for the general (simdjson) reading: a leading member `_` whose key is
// spelled with an escape, which every scanning reader refuses and every general reading ignores.
// Anything but an object comes back as it is.
inline std::string forGeneralReading(const std::string& data) {
  const auto open = data.find_first_not_of(" \t\r\n");
  if (open == std::string::npos || data[open] != '{') return data;
  const auto next = data.find_first_not_of(" \t\r\n", open + 1);
  const bool empty = next != std::string::npos && data[next] == '}';
  return data.substr(0, open + 1) + (empty ? R"("\u005f":0)" : R"("\u005f":0,)") +
         data.substr(open + 1);
}

}  // namespace kh::model::test_support
