#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace kh::model::detail {

// Readers for stream events and upstream answers parsed with simdjson's DOM, the counterparts of
// json_util.h's Boost.JSON readers with the same rules: JSON null counts as absent, and of
// duplicate keys the last one counts (as Boost.JSON keeps it), so both paths read a document alike.

namespace dom = simdjson::dom;

// One stream event's data or one whole answer, parsed into the calling thread's reusable parser:
// once it has grown to the largest document seen, no memory is allocated. The result is valid
// until the next parseDocument() on this thread.
inline simdjson::simdjson_result<dom::element> parseDocument(std::string_view data) {
  thread_local dom::parser parser;
  // realloc_if_needed copies the data into the parser's padded buffer: SSE views and HTTP bodies
  // come without the padding simdjson reads past the end.
  return parser.parse(data.data(), data.size(), true);
}

// The non-null value of `key`, if any.
inline std::optional<dom::element> member(dom::object o, std::string_view key) {
  std::optional<dom::element> found;
  for (const dom::key_value_pair kv : o)
    if (kv.key == key) found = kv.value;
  if (found && found->is_null()) return std::nullopt;
  return found;
}

inline std::optional<dom::object> objectMember(dom::object o, std::string_view key) {
  auto v = member(o, key);
  dom::object out;
  if (!v || v->get_object().get(out)) return std::nullopt;
  return out;
}

inline std::optional<dom::array> arrayMember(dom::object o, std::string_view key) {
  auto v = member(o, key);
  dom::array out;
  if (!v || v->get_array().get(out)) return std::nullopt;
  return out;
}

// The string at `key`, or "" when it is absent or not a string. Views into the parser's memory.
inline std::string_view stringMember(dom::object o, std::string_view key) {
  auto v = member(o, key);
  std::string_view s;
  if (!v || v->get_string().get(s)) return {};
  return s;
}

// As json_util.h's integer(): integral doubles count.
inline std::optional<long long> integer(dom::element v) {
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  switch (v.type()) {
    case dom::element_type::INT64:
      if (v.get_int64().get(i)) break;
      return static_cast<long long>(i);
    case dom::element_type::UINT64:
      if (v.get_uint64().get(u)) break;
      return static_cast<long long>(u);
    case dom::element_type::DOUBLE:
      if (v.get_double().get(d)) break;
      if (d == static_cast<double>(static_cast<long long>(d))) return static_cast<long long>(d);
      break;
    default:
      break;
  }
  return std::nullopt;
}

inline long long integerMember(dom::object o, std::string_view key, long long fallback) {
  auto v = member(o, key);
  return v ? integer(*v).value_or(fallback) : fallback;
}

// True only for JSON true at `key`.
inline bool trueMember(dom::object o, std::string_view key) {
  auto v = member(o, key);
  bool b = false;
  return v && !v->get_bool().get(b) && b;
}

// The value as Boost.JSON serializes it, for nested JSON the canonical form keeps as text (tool
// arguments): the same text whichever parser read the event. Goes through a Boost.JSON document,
// so it is for rare values only (tool arguments, not text).
std::string serialize(dom::element v);

}  // namespace kh::model::detail
