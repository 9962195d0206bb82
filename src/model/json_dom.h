#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>
#include <boost/json/value.hpp>

#include "core/json_text.h"

namespace kh::model::detail {

// Readers for documents parsed with simdjson's DOM (client requests, upstream answers, stream
// events), the counterparts of json_util.h's Boost.JSON readers with the same rules: JSON null
// counts as absent, and of duplicate keys the last one counts (as Boost.JSON keeps it), so both
// read a document alike.

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

// The non-null values of `keys` in `o`, by the same rules as member() but read in one pass, where
// member() per key walks the object once each: for stream events and answers, read per token.
template <std::size_t N>
std::array<std::optional<dom::element>, N> members(dom::object o,
                                                   const std::string_view (&keys)[N]) {
  std::array<std::optional<dom::element>, N> found;
  for (const dom::key_value_pair kv : o) {
    for (std::size_t i = 0; i < N; ++i) {
      if (kv.key == keys[i]) {
        found[i] = kv.value;
        break;
      }
    }
  }
  for (auto& v : found)
    if (v && v->is_null()) v.reset();
  return found;
}

// Readers of what members() found, as stringMember() and the others below read a member.
inline std::string_view stringOf(const std::optional<dom::element>& v) {
  std::string_view s;
  if (!v || v->get_string().get(s)) return {};
  return s;
}

inline std::optional<dom::object> objectOf(const std::optional<dom::element>& v) {
  dom::object out;
  if (!v || v->get_object().get(out)) return std::nullopt;
  return out;
}

inline std::optional<dom::array> arrayOf(const std::optional<dom::element>& v) {
  dom::array out;
  if (!v || v->get_array().get(out)) return std::nullopt;
  return out;
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

// The value if `v` is a string.
inline std::optional<std::string_view> asString(dom::element v) {
  std::string_view s;
  if (v.get_string().get(s)) return std::nullopt;
  return s;
}

// The value if `v` is a boolean.
inline std::optional<bool> asBool(dom::element v) {
  bool b = false;
  if (v.get_bool().get(b)) return std::nullopt;
  return b;
}

// As json_util.h's number(): any JSON number, as a double.
inline std::optional<double> number(dom::element v) {
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  switch (v.type()) {
    case dom::element_type::INT64:
      if (v.get_int64().get(i)) break;
      return static_cast<double>(i);
    case dom::element_type::UINT64:
      if (v.get_uint64().get(u)) break;
      return static_cast<double>(u);
    case dom::element_type::DOUBLE:
      if (v.get_double().get(d)) break;
      return d;
    default:
      break;
  }
  return std::nullopt;
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
      return core::wholeNumber(u);
    case dom::element_type::DOUBLE:
      if (v.get_double().get(d)) break;
      return core::wholeNumber(d);
    default:
      break;
  }
  return std::nullopt;
}

inline long long integerOf(const std::optional<dom::element>& v, long long fallback) {
  return v ? integer(*v).value_or(fallback) : fallback;
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
// arguments): the same text whichever parser read the document, written without building one.
void appendJson(dom::element v, std::string& out);
inline std::string serialize(dom::element v) {
  std::string out;
  appendJson(v, out);
  return out;
}

// The value as a Boost.JSON document, for the JSON the canonical form keeps as documents (tool
// parameters, schemas, `extra`). Objects keep the position of a key's first occurrence and the
// value of its last, as Boost.JSON's parser does.
boost::json::value toBoost(dom::element v);

// Whether `v` nests arrays and objects more than `limit` deep (`v` itself counts as one level).
bool deeperThan(dom::element v, std::size_t limit);

// A value's place in a request, for error messages ("messages[2].content[0]"): extended as the
// readers descend, formatted only when one reports an error. A Path refers to its parent, so it
// lives no longer than the parent does (they are locals of nested calls).
class Path {
 public:
  explicit Path(std::string_view name) : name_(name) {}
  Path(const Path& parent, std::string_view member) : parent_(&parent), name_(member) {}
  Path(const Path& parent, std::size_t index) : parent_(&parent), index_(index), indexed_(true) {}

  std::string str() const;
  // The path with a literal tail, e.g. at + ".role".
  std::string operator+(std::string_view tail) const { return str().append(tail); }

 private:
  void appendTo(std::string& out) const;

  const Path* parent_ = nullptr;
  std::string_view name_;
  std::size_t index_ = 0;
  bool indexed_ = false;
};

}  // namespace kh::model::detail
