#include "model/json_dom.h"

#include <charconv>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include "core/json_text.h"
#include "model/json_util.h"

namespace kh::model::detail {

using namespace std::string_view_literals;

namespace {

bool hasDuplicateKeys(dom::object o) {
  // Objects in requests are small; a large one is assumed to have some rather than compared.
  if (o.size() > 16) return true;
  std::string_view keys[16];
  std::size_t n = 0;
  for (const dom::key_value_pair kv : o) {
    for (std::size_t i = 0; i < n; ++i)
      if (keys[i] == kv.key) return true;
    keys[n++] = kv.key;
  }
  return false;
}

}  // namespace

void appendJson(dom::element v, std::string& out) {
  // Numbers and strings in Boost.JSON's spelling (core::appendJsonString escapes as it does), so
  // that the text does not depend on which parser read the value.
  switch (v.type()) {
    case dom::element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      for (const dom::element item : dom::array(v)) {
        if (!first) out.push_back(',');
        first = false;
        appendJson(item, out);
      }
      out.push_back(']');
      return;
    }
    case dom::element_type::OBJECT: {
      const dom::object o(v);
      if (hasDuplicateKeys(o)) {
        // Boost.JSON keeps one member per key; so must the text.
        appendJson(toBoost(v), out);
        return;
      }
      out.push_back('{');
      bool first = true;
      for (const dom::key_value_pair kv : o) {
        if (!first) out.push_back(',');
        first = false;
        core::appendJsonString(out, kv.key);
        out.push_back(':');
        appendJson(kv.value, out);
      }
      out.push_back('}');
      return;
    }
    case dom::element_type::INT64:
      core::appendJsonInt(out, static_cast<long long>(int64_t(v)));
      return;
    case dom::element_type::UINT64: {
      char buf[24];
      const auto r = std::to_chars(buf, buf + sizeof buf, uint64_t(v));
      out.append(buf, static_cast<std::size_t>(r.ptr - buf));
      return;
    }
    case dom::element_type::DOUBLE:
      appendJson(boost::json::value(double(v)), out);
      return;
    case dom::element_type::STRING:
      core::appendJsonString(out, std::string_view(v));
      return;
    case dom::element_type::BOOL:
      out.append(bool(v) ? "true" : "false");
      return;
    case dom::element_type::NULL_VALUE:
      out.append("null"sv);
      return;
  }
}

boost::json::value toBoost(dom::element v) {
  switch (v.type()) {
    case dom::element_type::ARRAY: {
      const dom::array a(v);
      boost::json::array out;
      out.reserve(a.size());
      for (const dom::element item : a) out.push_back(toBoost(item));
      return out;
    }
    case dom::element_type::OBJECT: {
      boost::json::object out;
      for (const dom::key_value_pair kv : dom::object(v)) out[kv.key] = toBoost(kv.value);
      return out;
    }
    case dom::element_type::INT64:
      return int64_t(v);
    case dom::element_type::UINT64:
      return uint64_t(v);
    case dom::element_type::DOUBLE:
      return double(v);
    case dom::element_type::STRING:
      return boost::json::string(std::string_view(v));
    case dom::element_type::BOOL:
      return bool(v);
    case dom::element_type::NULL_VALUE:
      break;
  }
  return nullptr;
}

namespace {

bool isContainer(dom::element v) {
  const dom::element_type t = v.type();
  return t == dom::element_type::ARRAY || t == dom::element_type::OBJECT;
}

// `v` is an array or an object, at a level that still has `levels` below it.
bool containerDeeperThan(dom::element v, std::size_t levels) {
  dom::array a;
  if (!v.get_array().get(a)) {
    for (const dom::element item : a)
      if (isContainer(item) && (levels == 0 || containerDeeperThan(item, levels - 1))) return true;
    return false;
  }
  for (const dom::key_value_pair kv : dom::object(v))
    if (isContainer(kv.value) && (levels == 0 || containerDeeperThan(kv.value, levels - 1)))
      return true;
  return false;
}

}  // namespace

bool deeperThan(dom::element v, std::size_t limit) {
  if (!isContainer(v)) return false;
  return limit == 0 || containerDeeperThan(v, limit - 1);
}

void Path::appendTo(std::string& out) const {
  if (parent_) parent_->appendTo(out);
  if (indexed_) {
    out.push_back('[');
    core::appendJsonInt(out, static_cast<long long>(index_));
    out.push_back(']');
    return;
  }
  if (parent_) out.push_back('.');
  out.append(name_);
}

std::string Path::str() const {
  std::string out;
  appendTo(out);
  return out;
}

}  // namespace kh::model::detail
