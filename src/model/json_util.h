#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.h"
#include "core/json_text.h"
#include "model/json_scan.h"
#include "model/types.h"

namespace kh::model::detail {

// Small readers shared by the wire codecs. JSON null counts as absent everywhere, because
// clients send `"field": null` for "not set".

inline core::Error bad(std::string param, std::string message) {
  return core::Error::invalidField(std::move(param), std::move(message));
}

inline std::string str(const boost::json::value& v) {
  return std::string(v.as_string());
}

inline const boost::json::value* field(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

inline std::optional<double> number(const boost::json::value& v) {
  if (v.is_double()) return v.as_double();
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  return std::nullopt;
}

inline std::optional<long long> integer(const boost::json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) return core::wholeNumber(v.as_uint64());
  if (v.is_double()) return core::wholeNumber(v.as_double());
  return std::nullopt;
}

// The `model` member of a chat body the scanner is reading: its name into `model`, and where its
// JSON string lies in `body` (quotes included), so that another name can be spliced in its place.
inline bool readModelMember(JsonScanner& s, std::string_view body, std::string& model,
                            ChatBodyLayout& layout) {
  JsonString token;
  if (s.peek() != JsonScanner::Kind::kString || !s.string(token) || !token.appendTo(model))
    return false;
  layout.model_begin = static_cast<std::size_t>(token.raw.data() - body.data()) - 1;
  layout.model_end = layout.model_begin + token.raw.size() + 2;
  return true;
}

// `v` as Boost.JSON serializes it, appended to `out` without a temporary string: for the values
// the canonical form holds as documents (schemas, `extra`), whose numbers keep Boost.JSON's
// spelling whichever parser read them.
void appendJson(const boost::json::value& v, std::string& out);

// A sampling parameter of the canonical request (temperature, top_p, penalties) in a spelling
// that reads back as the same double, and as a fraction, never an integer ("0.2", "1.0",
// "1e+21"). Values with at most six decimals, which these nearly always are, are written from
// their digits; the shortest-digits search (Ryu, some 700 instructions) is left for the rest.
void appendJsonNumber(double d, std::string& out);

// The user and assistant texts of a request whose messages are text (see TextMessage) as turns,
// for the providers that want user and assistant turns to alternate: neighbouring messages of one
// role make one turn, and empty texts are left out. A turn is `user` or `assistant` (its opening),
// its texts each between `block` and `"}`, comma-separated, then `]}`; turns are comma-separated.
// false, with nothing written, when there is no such text.
bool appendTextTurns(std::span<const TextMessage> messages, std::string_view user,
                     std::string_view assistant, std::string_view block, std::string& out);

// "data:image/png;base64,AAAA" → media type and data; any other URL stays a URL.
Image imageFromUrl(std::string_view url, std::string detail);
// The reverse: inline data becomes a data: URL.
std::string imageToUrl(const Image& img);

}  // namespace kh::model::detail
