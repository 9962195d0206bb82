#pragma once

#include <charconv>
#include <string>
#include <string_view>

namespace kh::core {

// Writing JSON text straight into a string, for hot paths (stream events, log lines) where building
// a document first would cost more than the text itself.

// `s` as a JSON string literal, quotes included (RFC 8259 escaping; non-ASCII passes through).
void appendJsonString(std::string& out, std::string_view s);

inline void appendJsonInt(std::string& out, long long n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

}  // namespace kh::core
