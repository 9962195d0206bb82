#include "api/openai_body.h"

#include <algorithm>
#include <cstring>
#include <tuple>
#include <utility>

#include <simdjson.h>

#include <fmt/format.h>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "core/json_text.h"
#include "core/text_search.h"
#include "model/json_scan.h"

namespace kh::api {

namespace {

// Parsers keep their buffers between requests; one per thread since they are not thread-safe.
simdjson::dom::parser& domParser() {
  thread_local simdjson::dom::parser p;
  return p;
}

// Request bodies get a parser of their own, so that the document inspectBody builds outlives the
// small documents read meanwhile (usage, stream chunks) for the translated path to read.
struct BodyParser {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::uint64_t generation = 0;  // bumped by every parse, which replaces the document
};

BodyParser& bodyParser() {
  thread_local BodyParser p;
  return p;
}

std::string_view fieldFor(providers::Operation op) {
  switch (op) {
    case providers::Operation::kChat:
      return "messages";
    case providers::Operation::kCompletion:
      return "prompt";
    case providers::Operation::kEmbedding:
      return "input";
  }
  return "messages";
}

core::Error malformed(simdjson::error_code ec) {
  return core::Error::invalidJson(
      fmt::format("The request body is not valid JSON: {}", simdjson::error_message(ec)));
}

std::string_view typeName(simdjson::dom::element_type t) {
  using T = simdjson::dom::element_type;
  switch (t) {
    case T::ARRAY:
      return "an array";
    case T::OBJECT:
      return "an object";
    case T::INT64:
    case T::UINT64:
    case T::DOUBLE:
      return "a number";
    case T::STRING:
      return "a string";
    case T::BOOL:
      return "a boolean";
    case T::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

bool isNumber(simdjson::dom::element_type t) {
  using T = simdjson::dom::element_type;
  return t == T::INT64 || t == T::UINT64 || t == T::DOUBLE;
}

// Byte offsets into a body already validated as one JSON object: the top level is walked member
// by member, nested values skipped by bracket depth, strings by their closing quote.
class TopLevelWalk {
 public:
  explicit TopLevelWalk(std::string_view body, std::size_t object_begin)
      : s_(body), pos_(object_begin + 1) {}

  // The value of the next member as [begin, end), or false after the last one.
  bool next(std::size_t& begin, std::size_t& end) {
    skipSpace();
    if (pos_ >= s_.size() || s_[pos_] == '}') return false;
    if (s_[pos_] == ',') {
      ++pos_;
      skipSpace();
    }
    pos_ = afterString(pos_);  // the key
    skipSpace();
    ++pos_;  // ':'
    skipSpace();
    begin = pos_;
    pos_ = afterValue(pos_);
    end = pos_;
    return true;
  }

 private:
  void skipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t'))
      ++pos_;
  }
  // Past the closing quote of the string starting at `at`: memchr to each quote, which closes
  // the string unless an odd number of backslashes precedes it.
  std::size_t afterString(std::size_t at) const {
    std::size_t i = at + 1;
    while (i < s_.size()) {
      const void* hit = std::memchr(s_.data() + i, '"', s_.size() - i);
      if (!hit) return s_.size();
      const std::size_t q = static_cast<std::size_t>(static_cast<const char*>(hit) - s_.data());
      std::size_t slashes = 0;
      while (q - slashes > at + 1 && s_[q - slashes - 1] == '\\') ++slashes;
      if (slashes % 2 == 0) return q + 1;
      i = q + 1;
    }
    return s_.size();
  }
  std::size_t afterValue(std::size_t at) const {
    if (at >= s_.size()) return at;
    const char c = s_[at];
    if (c == '"') return afterString(at);
    if (c == '{' || c == '[') {
      int depth = 0;
      for (std::size_t i = at; i < s_.size();) {
        const char d = s_[i];
        if (d == '"') {
          i = afterString(i);
          continue;
        }
        if (d == '{' || d == '[') ++depth;
        if ((d == '}' || d == ']') && --depth == 0) return i + 1;
        ++i;
        // Between brackets and strings: numbers, literals, commas, colons, spaces.
        while (i < s_.size() && s_[i] != '"' && s_[i] != '{' && s_[i] != '[' && s_[i] != '}' &&
               s_[i] != ']')
          ++i;
      }
      return s_.size();
    }
    std::size_t i = at;
    while (i < s_.size() && s_[i] != ',' && s_[i] != '}' && s_[i] != ']' && s_[i] != ' ' &&
           s_[i] != '\n' && s_[i] != '\r' && s_[i] != '\t')
      ++i;
    return i;
  }

  std::string_view s_;
  std::size_t pos_;
};

// Where the value of top-level member number `member` lies, as [begin, end).
std::pair<std::size_t, std::size_t> memberValue(std::string_view body, std::size_t object_begin,
                                                std::size_t member) {
  TopLevelWalk walk(body, object_begin);
  std::size_t begin = 0, end = 0;
  for (std::size_t i = 0; walk.next(begin, end); ++i)
    if (i == member) break;
  return {begin, end};
}

}  // namespace

namespace {

// inspectPaddedBody's reading of a body scanJsonObject takes: the same answer as the document's
// reading below, found in one pass without building the document. false for anything it does not
// settle (an invalid body, a field of the wrong type, one missing, an escaped key, the gateway's
// own errors included): the document's reading then decides, and words the error.
bool scanBody(std::string_view body, providers::Operation op, bool messages_api,
              OpenAIBodyInfo& info) {
  using K = model::JsonKind;
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  const std::string_view main_field = fieldFor(op);
  bool has_model = false, has_main = false, has_max_tokens = false;
  std::size_t index = 0, options_index = kNone;
  const bool ok = model::scanJsonObject(body, [&](const model::JsonMember& m) {
    if (m.key.escaped) return false;
    const std::string_view key = m.key.raw;
    const std::string_view value = body.substr(m.begin, m.end - m.begin);
    if (key == "model") {
      if (m.kind != K::kString) return false;
      info.model.clear();
      const model::JsonString text{value.substr(1, value.size() - 2),
                                   value.find('\\') != value.npos};
      if (!text.appendTo(info.model)) return false;
      info.model_begin = m.begin;
      info.model_end = m.end;
      has_model = true;
    } else if (key == "stream") {
      if (m.kind == K::kBool) {
        info.stream = value.front() == 't';
      } else if (m.kind != K::kNull) {
        return false;
      }
    } else if (key == "stream_options") {
      if (m.kind != K::kNull && m.kind != K::kObject) return false;
      info.has_stream_options = true;
      info.include_usage = false;
      options_index = index;
      if (m.kind == K::kObject) {
        static constexpr std::string_view kKeys[] = {"include_usage"};
        model::JsonScanner s(value);
        bool include = false;
        // A repeated or escaped key fails here, and the document's reading settles it.
        if (!s.object(kKeys, [&](std::size_t) {
              return s.peek() == K::kBool ? s.boolean(include) : s.skip();
            }))
          return false;
        info.include_usage = include;
      }
    } else if (key == "user_preferences") {
      info.has_user_preferences = true;
    } else if (messages_api && key == "max_tokens") {
      if (m.kind != K::kNumber) return false;
      has_max_tokens = true;
    } else if (key == main_field) {
      const bool fits = op == providers::Operation::kChat
                            ? m.kind == K::kArray
                            : m.kind == K::kString || m.kind == K::kArray;
      if (!fits) return false;
      has_main = true;
    }
    ++index;
    return true;
  });
  if (!ok || !has_model || !has_main || (messages_api && !has_max_tokens)) return false;
  info.object_begin = body.find_first_not_of(" \t\r\n");
  info.stream_options_member = options_index;
  return true;
}

}  // namespace

static_assert(kJsonPadding >= simdjson::SIMDJSON_PADDING);
static_assert(kJsonPadding >= model::kJsonScanPadding);

core::Result<OpenAIBodyInfo> inspectBody(std::string& body, providers::Operation op,
                                         bool messages_api, BodyReading reading) {
  if (body.capacity() < body.size() + kJsonPadding) body.reserve(body.size() + kJsonPadding);
  return inspectPaddedBody(body, op, messages_api, reading);
}

core::Result<OpenAIBodyInfo> inspectPaddedBody(std::string_view body, providers::Operation op,
                                               bool messages_api, BodyReading reading) {
  // The whole body is validated: a malformed body must be a clear 400 here, not a confusing
  // answer from the upstream.
  if (reading == BodyReading::kScan) {
    OpenAIBodyInfo info;
    if (scanBody(body, op, messages_api, info)) return info;
  }
  // The document is kept for a translated request to read.
  BodyParser& bp = bodyParser();
  ++bp.generation;
  if (auto err = bp.parser.parse(body.data(), body.size(), false).get(bp.root); err)
    return malformed(err);

  OpenAIBodyInfo info;
  info.document = BodyDocument{&bp, bp.generation};
  simdjson::dom::object obj;
  if (bp.root.get_object().get(obj))
    return core::Error::invalidField("", "The request body must be a JSON object");
  info.object_begin = body.find('{');

  using T = simdjson::dom::element_type;
  bool has_model = false, has_main = false, has_max_tokens = false;
  // Which top-level members hold the model and stream_options: the last of each, as a JSON
  // reader takes duplicates. Their byte offsets are found afterwards.
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t index = 0, model_index = kNone, options_index = kNone;
  const std::string_view main_field = fieldFor(op);
  for (const auto field : obj) {
    const std::string_view key = field.key;
    const simdjson::dom::element value = field.value;
    const T type = value.type();
    if (key == "model") {
      if (type != T::STRING)
        return core::Error::invalidField(
            "model", fmt::format("'model' must be a string, got {}", typeName(type)));
      info.model.assign(value.get_string().value_unsafe());
      model_index = index;
      has_model = true;
    } else if (key == "stream") {
      if (type == T::BOOL) {
        info.stream = value.get_bool().value_unsafe();
      } else if (type != T::NULL_VALUE) {
        return core::Error::invalidField(
            "stream", fmt::format("'stream' must be a boolean, got {}", typeName(type)));
      }
    } else if (key == "stream_options") {
      if (type == T::NULL_VALUE) {
        // Still a member: a forced include_usage must replace it, not precede it (readers take
        // the last of duplicate keys).
        info.has_stream_options = true;
        info.include_usage = false;
        options_index = index;
      } else if (type != T::OBJECT) {
        return core::Error::invalidField(
            "stream_options",
            fmt::format("'stream_options' must be an object, got {}", typeName(type)));
      } else {
        info.has_stream_options = true;
        options_index = index;
        bool iu = false;
        info.include_usage = !value["include_usage"].get_bool().get(iu) && iu;
      }
    } else if (key == "user_preferences") {
      info.has_user_preferences = true;
    } else if (messages_api && key == "max_tokens") {
      if (!isNumber(type))
        return core::Error::invalidField(
            "max_tokens", fmt::format("'max_tokens' must be an integer, got {}", typeName(type)));
      has_max_tokens = true;
    } else if (key == main_field) {
      has_main = true;
      if (op == providers::Operation::kChat && type != T::ARRAY)
        return core::Error::invalidField(
            "messages", fmt::format("'messages' must be an array, got {}", typeName(type)));
      if (op != providers::Operation::kChat && type != T::STRING && type != T::ARRAY)
        return core::Error::invalidField(
            std::string(main_field),
            fmt::format("'{}' must be a string or an array, got {}", main_field, typeName(type)));
    }
    ++index;
  }
  // The model usually comes first: the walk stops there.
  if (has_model)
    std::tie(info.model_begin, info.model_end) = memberValue(body, info.object_begin, model_index);
  info.stream_options_member = options_index;
  if (!has_model) return core::Error::invalidField("model", "'model' is required");
  if (messages_api && !has_max_tokens)
    return core::Error::invalidField("max_tokens", "'max_tokens' is required");
  if (!has_main)
    return core::Error::invalidField(std::string(main_field),
                                     fmt::format("'{}' is required", main_field));
  return info;
}

std::string_view leadingModel(std::string_view body) {
  constexpr std::string_view kKey = "\"model\"";
  const char* p = body.data();
  const char* const end = p + body.size();
  auto space = [&] {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  };
  auto take = [&](char c) {
    space();
    if (p == end || *p != c) return false;
    ++p;
    return true;
  };
  if (!take('{')) return {};
  space();
  if (static_cast<std::size_t>(end - p) < kKey.size() || std::string_view(p, kKey.size()) != kKey)
    return {};
  p += kKey.size();
  if (!take(':') || !take('"')) return {};
  const auto name = static_cast<std::size_t>(p - body.data());
  const std::size_t close = core::findJsonSpecial(body, name);
  if (close == body.size() || body[close] != '"') return {};
  return body.substr(name, close - name);
}

bool needsRewrite(const OpenAIBodyInfo& info, std::string_view model, bool force_usage) {
  // The body's model token is the client's spelling, escapes included; a model name with any
  // character JSON may escape is simply rewritten.
  const bool plain = std::all_of(model.begin(), model.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && c != '"' && c != '\\';
  });
  const bool same_token =
      plain && info.model_end - info.model_begin == model.size() + 2 && info.model == model;
  return !same_token || (force_usage && info.stream && !info.include_usage);
}

std::optional<simdjson::dom::element> inspectedDocument(const OpenAIBodyInfo& info) {
  const BodyParser& bp = bodyParser();
  if (info.document.parser != &bp || info.document.generation != bp.generation) return std::nullopt;
  return bp.root;
}

simdjson::simdjson_result<simdjson::dom::element> parseBodyDocument(std::string_view body) {
  BodyParser& bp = bodyParser();
  ++bp.generation;
  // Copied into the parser's padded buffer: the caller's body may lack simdjson's padding.
  if (auto err = bp.parser.parse(body.data(), body.size(), true).get(bp.root); err) return err;
  return simdjson::dom::element(bp.root);
}

std::string rewriteBody(std::string_view body, const OpenAIBodyInfo& info, std::string_view model,
                        bool force_usage) {
  std::string quoted;
  core::appendJsonString(quoted, model);
  force_usage = force_usage && info.stream && !info.include_usage;
  std::string out;
  out.reserve(body.size() + quoted.size() + 48);
  if (!force_usage) {
    out.append(body.substr(0, info.model_begin));
    out.append(quoted);
    out.append(body.substr(info.model_end));
    return out;
  }
  if (!info.has_stream_options) {
    // Insert right after the top-level '{'; the object has at least "model", so a comma follows.
    const std::size_t at = info.object_begin + 1;
    out.append(body.substr(0, at));
    out.append(R"("stream_options":{"include_usage":true},)");
    out.append(body.substr(at, info.model_begin - at));
    out.append(quoted);
    out.append(body.substr(info.model_end));
    return out;
  }
  // The client sent stream_options without include_usage: keep its other options.
  const auto [so_begin, so_end] = memberValue(body, info.object_begin, info.stream_options_member);
  boost::system::error_code ec;
  boost::json::value so = boost::json::parse(body.substr(so_begin, so_end - so_begin), ec);
  if (ec || !so.is_object()) so = boost::json::object();
  so.as_object()["include_usage"] = true;
  const std::string so_text = boost::json::serialize(so);
  struct Piece {
    std::size_t begin, end;
    std::string_view with;
  };
  Piece a{info.model_begin, info.model_end, quoted};
  Piece b{so_begin, so_end, so_text};
  if (b.begin < a.begin) std::swap(a, b);
  out.append(body.substr(0, a.begin));
  out.append(a.with);
  out.append(body.substr(a.end, b.begin - a.end));
  out.append(b.with);
  out.append(body.substr(b.end));
  return out;
}

namespace {

// The number under `v` when it is an integer; `fallback` otherwise.
long long intOr(simdjson::ondemand::value& v, long long fallback) {
  int64_t n = 0;
  return v.get_int64().get(n) ? fallback : n;
}

// Reads the usage object `v` (which may be anything) with the On-Demand API.
bool readUsageOnDemand(simdjson::ondemand::value& v, UsageCounts& u) {
  simdjson::ondemand::object usage;
  if (v.get_object().get(usage)) return true;  // "usage": null and the like: not present
  u.present = true;
  for (auto member : usage) {
    simdjson::ondemand::field f;
    if (std::move(member).get(f)) return false;
    const simdjson::ondemand::raw_json_string key = f.key();
    if (key.unsafe_is_equal("prompt_tokens")) {
      u.prompt_tokens = intOr(f.value(), 0);
    } else if (key.unsafe_is_equal("completion_tokens")) {
      u.completion_tokens = intOr(f.value(), 0);
    } else if (key.unsafe_is_equal("prompt_tokens_details")) {
      simdjson::ondemand::object details;
      if (f.value().get_object().get(details)) continue;
      for (auto inner : details) {
        simdjson::ondemand::field g;
        if (std::move(inner).get(g)) return false;
        if (g.key().unsafe_is_equal("cached_tokens")) u.cached_tokens = intOr(g.value(), 0);
      }
    }
  }
  return true;
}

// What the gateway reads of a whole answer or chunk.
struct TopLevel {
  UsageCounts usage;
  bool choices_empty = false;  // "choices" is an empty array
};

// A usage count as intOr reads it, from a valid value's text: 0 for anything but an integer.
// false for an integer of more than 18 digits, which the On-Demand reading settles.
bool scannedCount(std::string_view value, long long& out) {
  out = 0;
  const bool negative = value.front() == '-';
  if (!negative && (value.front() < '0' || value.front() > '9')) return true;  // not a number
  const std::string_view digits = value.substr(negative ? 1 : 0);
  for (const char c : digits)
    if (c < '0' || c > '9') return true;  // a fraction or an exponent: not an integer
  if (digits.size() > 18) return false;
  long long n = 0;
  for (const char c : digits) n = n * 10 + (c - '0');
  out = negative ? -n : n;
  return true;
}

// readUsageOnDemand's reading of the usage value `text`, which scanJsonObject found valid and
// which lies in the same padded text. false for what only the On-Demand reading settles (see
// scannedCount).
bool scanUsage(std::string_view text, UsageCounts& u) {
  if (text.front() != '{') return true;  // "usage": null and the like
  u.present = true;
  return model::scanJsonObject(text, [&](const model::JsonMember& m) {
    const std::string_view value = text.substr(m.begin, m.end - m.begin);
    if (m.key.raw == "prompt_tokens") return scannedCount(value, u.prompt_tokens);
    if (m.key.raw == "completion_tokens") return scannedCount(value, u.completion_tokens);
    if (m.key.raw == "prompt_tokens_details" && m.kind == model::JsonKind::kObject)
      return model::scanJsonObject(value, [&](const model::JsonMember& d) {
        return d.key.raw != "cached_tokens" ||
               scannedCount(value.substr(d.begin, d.end - d.begin), u.cached_tokens);
      });
    return true;
  });
}

// Reads "usage" and whether "choices" is empty from `json`, which must be JSON; nullopt when it is
// not. One scanning pass validates the whole text and settles the usual answer. What it leaves
// goes to the On-Demand API, which checks the structure (balanced brackets, closed strings, valid
// UTF-8; literals inside skipped members go on as the upstream wrote them). Both read members
// alike: keys as written, the last of repeated ones counting.
std::optional<TopLevel> readTopLevel(simdjson::padded_string_view json) {
  TopLevel scanned;
  if (model::scanJsonObject(json, [&](const model::JsonMember& m) {
        const std::string_view value = json.substr(m.begin, m.end - m.begin);
        if (m.key.raw == "usage") {
          scanned.usage = UsageCounts{};
          return scanUsage(value, scanned.usage);
        }
        if (m.key.raw == "choices")
          scanned.choices_empty = m.kind == model::JsonKind::kArray &&
                                  value.find_first_not_of(" \t\r\n", 1) == value.size() - 1;
        return true;
      }))
    return scanned;
  thread_local simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(json).get(doc)) return std::nullopt;
  simdjson::ondemand::json_type type;
  if (doc.type().get(type)) return std::nullopt;
  if (type != simdjson::ondemand::json_type::object) {
    // Valid JSON that is not an object carries nothing; only a full parse can tell valid.
    simdjson::dom::element root;
    if (domParser().parse(json.data(), json.length(), false).get(root)) return std::nullopt;
    return TopLevel{};
  }
  simdjson::ondemand::object root;
  if (doc.get_object().get(root)) return std::nullopt;
  TopLevel t;
  for (auto member : root) {
    simdjson::ondemand::field f;
    if (std::move(member).get(f)) return std::nullopt;
    const simdjson::ondemand::raw_json_string key = f.key();
    if (key.unsafe_is_equal("usage")) {
      t.usage = UsageCounts{};
      if (!readUsageOnDemand(f.value(), t.usage)) return std::nullopt;
    } else if (key.unsafe_is_equal("choices")) {
      simdjson::ondemand::array choices;
      bool empty = false;
      if (!f.value().get_array().get(choices) && choices.is_empty().get(empty)) return std::nullopt;
      t.choices_empty = empty;
    }
    // Any other member is skipped by the next step.
  }
  // Past the object the document must end: a location there means something follows it.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS) return std::nullopt;
  return t;
}

// `text` with at least kJsonPadding readable bytes after it: as it is when `readable` (bytes
// readable from text.data()) says so, else copied into a buffer this thread reuses.
simdjson::padded_string_view padded(std::string_view text, std::size_t readable) {
  if (readable >= text.size() + kJsonPadding)
    return simdjson::padded_string_view(text.data(), text.size(), readable);
  thread_local std::string copy;
  copy.assign(text);
  copy.reserve(text.size() + kJsonPadding);
  return simdjson::padded_string_view(copy.data(), copy.size(), copy.capacity());
}

}  // namespace

std::optional<UsageCounts> extractUsage(std::string_view json, std::size_t readable) {
  auto t = readTopLevel(padded(json, readable));
  if (!t) return std::nullopt;
  return t->usage;
}

ChunkInfo inspectChunk(std::string_view data) {
  ChunkInfo info;
  const auto t = readTopLevel(padded(data, 0));
  if (!t) return info;
  info.usage = t->usage;
  info.usage_only = info.usage.present && t->choices_empty;
  return info;
}

bool mayCarryUsage(std::string_view data) {
  return firstUsageObject(data) != std::string_view::npos;
}

std::size_t firstUsageObject(std::string_view text) {
  // Not find(): JSON is full of quotes, and find() stops at each one.
  auto next = [&](std::size_t from) { return core::findText(text, "\"usage\"", from); };
  for (std::size_t at = next(0); at != std::string_view::npos; at = next(at + 7)) {
    std::size_t i = at + 7;
    while (i < text.size() && (text[i] == ' ' || text[i] == ':' || text[i] == '\t' ||
                               text[i] == '\n' || text[i] == '\r'))
      ++i;
    // Unknown yet (the piece ends here) counts as an object: the parser sees it whole.
    if (i == text.size() || text[i] == '{') return at;
  }
  return std::string_view::npos;
}

}  // namespace kh::api
