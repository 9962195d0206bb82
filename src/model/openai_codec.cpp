#include "model/openai_codec.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>

#include "core/base64.h"
#include "core/json_text.h"
#include "model/json_dom.h"
#include "model/json_scan.h"
#include "model/json_util.h"

namespace kh::model {

using namespace std::string_view_literals;

namespace json = boost::json;
namespace dom = simdjson::dom;

using detail::bad;
using detail::field;
using detail::imageFromUrl;
using detail::imageToUrl;
using detail::integer;
using detail::number;
using detail::str;

namespace {

using detail::asBool;
using detail::asString;
using detail::Path;

// ---- Messages (client requests and upstream answers alike) ----

core::Result<std::vector<ContentPart>> readContent(dom::element v, const Path& where) {
  std::vector<ContentPart> parts;
  if (v.is_null()) return parts;
  if (const auto s = asString(v)) {
    parts.emplace_back().text.assign(*s);
    return parts;
  }
  dom::array arr;
  if (v.get_array().get(arr))
    return bad(where.str(), fmt::format("'{}' must be a string or an array", where.str()));
  parts.reserve(arr.size());
  size_t i = 0;
  for (const dom::element pv : arr) {
    const Path at(where, i++);
    dom::object o;
    if (pv.get_object().get(o))
      return bad(at.str(), fmt::format("'{}' must be an object", at.str()));
    const auto type = detail::member(o, "type");
    const auto t = type ? asString(*type) : std::nullopt;
    if (!t) return bad(at + ".type", "content parts need a string 'type'");
    if (*t == "text" || *t == "input_text") {
      const auto text = detail::member(o, "text");
      const auto s = text ? asString(*text) : std::nullopt;
      if (!s) return bad(at + ".text", "text parts need a string 'text'");
      parts.emplace_back().text.assign(*s);
    } else if (*t == "image_url") {
      std::string_view url, fidelity;
      if (const auto iu = detail::member(o, "image_url")) {
        dom::object io;
        if (const auto s = asString(*iu)) {
          url = *s;
        } else if (!iu->get_object().get(io)) {
          url = detail::stringMember(io, "url");
          fidelity = detail::stringMember(io, "detail");
        }
      }
      if (url.empty()) return bad(at + ".image_url", "image parts need 'image_url.url'");
      ContentPart& p = parts.emplace_back();
      p.kind = ContentPart::Kind::kImage;
      p.image = imageFromUrl(url, std::string(fidelity));
    } else {
      return bad(at + ".type", fmt::format("unsupported content part type '{}'", *t));
    }
  }
  return parts;
}

// One call's `function` object (name and arguments) into `c`; `call` is the call's path.
core::Status readFunction(dom::object f, const Path& call, ToolCall& c) {
  c.name = detail::stringMember(f, "name");
  if (c.name.empty()) return bad(call + ".function.name", "tool calls need a function name");
  if (const auto a = detail::member(f, "arguments")) {
    // Some clients and servers send arguments as an object; OpenAI's format is a JSON string.
    if (const auto s = asString(*a))
      c.arguments = *s;
    else
      c.arguments = detail::serialize(*a);
  }
  return core::Ok{};
}

core::Status readToolCalls(dom::element v, const Path& where, std::vector<ToolCall>& calls) {
  dom::array arr;
  if (v.get_array().get(arr))
    return bad(where.str(), fmt::format("'{}' must be an array", where.str()));
  calls.reserve(arr.size());
  size_t i = 0;
  for (const dom::element cv : arr) {
    const Path at(where, i++);
    dom::object co;
    if (cv.get_object().get(co)) return bad(at.str(), "tool calls must be objects");
    ToolCall& c = calls.emplace_back();
    c.id = detail::stringMember(co, "id");
    const auto fn = detail::objectMember(co, "function");
    if (!fn) return bad(at + ".function", "tool calls need a 'function'");
    if (auto s = readFunction(*fn, at, c); !s) return s;
  }
  return core::Ok{};
}

// A message as OpenAI carries it, into `m`: one of a request's `messages`, or an answer's
// `message` (whose errors the caller reports as the upstream's).
core::Status readMessage(dom::element v, const Path& at, Message& m) {
  dom::object o;
  if (v.get_object().get(o)) return bad(at.str(), fmt::format("'{}' must be an object", at.str()));
  // One pass over the members: of duplicate keys the last counts, and null counts as absent.
  std::optional<dom::element> role, content, name, tool_calls, function_call, tool_call_id, refusal;
  for (const dom::key_value_pair kv : o) {
    std::optional<dom::element>* slot = nullptr;
    if (kv.key == "role")
      slot = &role;
    else if (kv.key == "content")
      slot = &content;
    else if (kv.key == "name")
      slot = &name;
    else if (kv.key == "tool_calls")
      slot = &tool_calls;
    else if (kv.key == "function_call")
      slot = &function_call;
    else if (kv.key == "tool_call_id")
      slot = &tool_call_id;
    else if (kv.key == "refusal")
      slot = &refusal;
    if (!slot) continue;
    if (kv.value.is_null())
      slot->reset();
    else
      *slot = kv.value;
  }
  const auto rs = role ? asString(*role) : std::nullopt;
  if (!rs) return bad(at + ".role", "messages need a string 'role'");
  const auto r = roleFromString(*rs);
  if (!r) return bad(at + ".role", fmt::format("unknown role '{}'", *rs));
  m.role = *r;
  if (content) {
    if (const auto s = asString(*content)) {
      // The common case, without the vector readContent builds.
      m.addText(*s);
    } else {
      auto parts = readContent(*content, Path(at, "content"));
      if (!parts) return std::move(parts).error();
      m.content = std::move(*parts);
    }
  }
  if (const auto s = name ? asString(*name) : std::nullopt) m.name = *s;
  dom::object fc;
  if (tool_calls) {
    if (auto s = readToolCalls(*tool_calls, Path(at, "tool_calls"), m.tool_calls); !s) return s;
  } else if (function_call && !function_call->get_object().get(fc)) {
    // The legacy single function_call becomes one tool call.
    const Path legacy(at, "function_call");
    if (auto s = readFunction(fc, Path(legacy, 0), m.tool_calls.emplace_back()); !s) return s;
  }
  if (const auto s = tool_call_id ? asString(*tool_call_id) : std::nullopt) m.tool_call_id = *s;
  if (m.role == Role::kTool && m.tool_call_id.empty() && m.name.empty())
    return bad(at + ".tool_call_id", "tool messages need 'tool_call_id'");
  if (const auto s = refusal ? asString(*refusal) : std::nullopt) m.refusal.emplace(*s);
  return core::Ok{};
}

// ---- Requests ----

// The request fields the canonical form models, in kModelled's order; everything else goes to
// `extra`.
enum Field {
  kModel,
  kMessages,
  kTools,
  kToolChoice,
  kParallelToolCalls,
  kTemperature,
  kTopP,
  kTopK,
  kMaxTokens,
  kMaxCompletionTokens,
  kN,
  kStop,
  kSeed,
  kPresencePenalty,
  kFrequencyPenalty,
  kStream,
  kStreamOptions,
  kResponseFormat,
  kUser,
  kFunctions,
  kFunctionCall,
  kFieldCount
};
constexpr std::string_view kModelled[kFieldCount] = {"model",
                                                     "messages",
                                                     "tools",
                                                     "tool_choice",
                                                     "parallel_tool_calls",
                                                     "temperature",
                                                     "top_p",
                                                     "top_k",
                                                     "max_tokens",
                                                     "max_completion_tokens",
                                                     "n",
                                                     "stop",
                                                     "seed",
                                                     "presence_penalty",
                                                     "frequency_penalty",
                                                     "stream",
                                                     "stream_options",
                                                     "response_format",
                                                     "user",
                                                     "functions",
                                                     "function_call"};

int fieldOf(std::string_view key) {
  for (int i = 0; i < kFieldCount; ++i)
    if (kModelled[i] == key) return i;
  return kFieldCount;
}

core::Status numberField(const std::optional<dom::element>& v, std::string_view key, double min,
                         double max, std::optional<double>& out) {
  if (!v) return core::Ok{};
  const auto d = number(*v);
  if (!d) return bad(std::string(key), fmt::format("'{}' must be a number", key));
  if (*d < min || *d > max)
    return bad(std::string(key), fmt::format("'{}' must be between {} and {}", key, min, max));
  out = *d;
  return core::Ok{};
}

core::Status readTools(dom::element v, ChatRequest& r) {
  dom::array arr;
  if (v.get_array().get(arr)) return bad("tools", "'tools' must be an array");
  const Path tools("tools");
  size_t i = 0;
  for (const dom::element t : arr) {
    const Path at(tools, i++);
    dom::object to;
    const auto fn = t.get_object().get(to) ? std::nullopt : detail::objectMember(to, "function");
    if (!fn) return bad(at + ".function", "tools need a 'function' object");
    Tool& tool = r.tools.emplace_back();
    tool.name = detail::stringMember(*fn, "name");
    if (tool.name.empty()) return bad(at + ".function.name", "tools need a function name");
    tool.description = detail::stringMember(*fn, "description");
    if (const auto p = detail::member(*fn, "parameters")) tool.parameters = detail::toBoost(*p);
    if (const auto s = detail::member(*fn, "strict")) tool.strict = asBool(*s).value_or(false);
  }
  return core::Ok{};
}

core::Status readToolChoice(dom::element v, ChatRequest& r) {
  dom::object o;
  if (const auto s = asString(v)) {
    if (*s == "auto")
      r.tool_choice.mode = ToolChoice::Mode::kAuto;
    else if (*s == "none")
      r.tool_choice.mode = ToolChoice::Mode::kNone;
    else if (*s == "required")
      r.tool_choice.mode = ToolChoice::Mode::kRequired;
    else
      return bad("tool_choice", fmt::format("unknown tool_choice '{}'", *s));
  } else if (!v.get_object().get(o)) {
    const auto fn = detail::objectMember(o, "function");
    const auto name = fn ? detail::member(*fn, "name") : std::nullopt;
    const auto s = name ? asString(*name) : std::nullopt;
    if (!s) return bad("tool_choice", "tool_choice needs function.name");
    r.tool_choice.mode = ToolChoice::Mode::kNamed;
    r.tool_choice.name = *s;
  } else {
    return bad("tool_choice", "'tool_choice' must be a string or an object");
  }
  return core::Ok{};
}

core::Status readResponseFormat(dom::element v, ChatRequest& r) {
  dom::object o;
  const auto type = v.get_object().get(o) ? std::nullopt : detail::member(o, "type");
  const auto t = type ? asString(*type) : std::nullopt;
  if (!t) return bad("response_format", "'response_format' needs a string 'type'");
  if (*t == "text") {
    r.response_format.kind = ResponseFormat::Kind::kText;
  } else if (*t == "json_object") {
    r.response_format.kind = ResponseFormat::Kind::kJsonObject;
  } else if (*t == "json_schema") {
    r.response_format.kind = ResponseFormat::Kind::kJsonSchema;
    const auto js = detail::objectMember(o, "json_schema");
    if (!js)
      return bad("response_format.json_schema", "json_schema response formats need 'json_schema'");
    r.response_format.name = detail::stringMember(*js, "name");
    if (const auto s = detail::member(*js, "schema"))
      r.response_format.schema = detail::toBoost(*s);
    if (const auto s = detail::member(*js, "strict"))
      if (const auto b = asBool(*s)) r.response_format.strict = *b;
  } else {
    return bad("response_format.type", fmt::format("unknown response_format type '{}'", *t));
  }
  return core::Ok{};
}

// A chat request's members; `prompt` (a legacy completion's) stands in for the messages, and the
// unmodelled members are dropped then rather than kept in `extra`.
// Into `r`, a fresh request: the caller keeps the request where it will live, so that it is not
// moved there afterwards (a ChatRequest is some sixty strings, vectors and optionals).
core::Status readChatRequest(dom::element body, const std::string* prompt, ChatRequest& r) {
  dom::object o;
  if (body.get_object().get(o)) return bad("", "The request body must be a JSON object");
  // One pass over the members: of duplicate keys the last counts (in `extra`, at the place of the
  // first, as in a Boost.JSON document), and null counts as absent.
  std::optional<dom::element> f[kFieldCount];
  for (const dom::key_value_pair kv : o) {
    const int i = fieldOf(kv.key);
    if (i < kFieldCount) {
      if (kv.value.is_null())
        f[i].reset();
      else
        f[i] = kv.value;
    } else if (!prompt) {
      r.extra[kv.key] = detail::toBoost(kv.value);
    }
  }

  if (!f[kModel]) return bad("model", "'model' is required");
  const auto model = asString(*f[kModel]);
  if (!model) return bad("model", "'model' must be a string");
  r.model = *model;

  if (prompt) {
    Message& m = r.messages.emplace_back();
    m.role = Role::kUser;
    m.content.emplace_back().text = *prompt;
  } else {
    if (!f[kMessages]) return bad("messages", "'messages' is required");
    dom::array arr;
    if (f[kMessages]->get_array().get(arr)) return bad("messages", "'messages' must be an array");
    r.messages.reserve(arr.size());
    const Path messages("messages");
    size_t i = 0;
    for (const dom::element m : arr)
      if (auto s = readMessage(m, Path(messages, i++), r.messages.emplace_back()); !s)
        return std::move(s).error();
  }

  if (f[kTools])
    if (auto s = readTools(*f[kTools], r); !s) return std::move(s).error();
  if (f[kToolChoice])
    if (auto s = readToolChoice(*f[kToolChoice], r); !s) return std::move(s).error();
  if (const auto& p = f[kParallelToolCalls]) {
    const auto b = asBool(*p);
    if (!b) return bad("parallel_tool_calls", "'parallel_tool_calls' must be a boolean");
    r.parallel_tool_calls = *b;
  }
  if (auto s = numberField(f[kTemperature], "temperature", 0, 2, r.temperature); !s)
    return std::move(s).error();
  if (auto s = numberField(f[kTopP], "top_p", 0, 1, r.top_p); !s) return std::move(s).error();
  if (auto s = numberField(f[kPresencePenalty], "presence_penalty", -2, 2, r.presence_penalty); !s)
    return std::move(s).error();
  if (auto s = numberField(f[kFrequencyPenalty], "frequency_penalty", -2, 2, r.frequency_penalty);
      !s)
    return std::move(s).error();
  if (const auto& k = f[kTopK]) {
    const auto i = integer(*k);
    if (!i || *i < 0) return bad("top_k", "'top_k' must be a non-negative integer");
    r.top_k = static_cast<int>(*i);
  }
  // max_completion_tokens is the current name; max_tokens the legacy one. Either sets the cap.
  for (const int key : {kMaxTokens, kMaxCompletionTokens}) {
    if (const auto& v = f[key]) {
      const auto i = integer(*v);
      if (!i || *i < 1)
        return bad(std::string(kModelled[key]),
                   fmt::format("'{}' must be a positive integer", kModelled[key]));
      r.max_tokens = *i;
    }
  }
  if (const auto& v = f[kN]) {
    const auto i = integer(*v);
    if (!i || *i < 1 || *i > 128) return bad("n", "'n' must be an integer between 1 and 128");
    r.n = static_cast<int>(*i);
  }
  if (const auto& v = f[kSeed]) {
    const auto i = integer(*v);
    if (!i) return bad("seed", "'seed' must be an integer");
    r.seed = *i;
  }
  if (const auto& v = f[kStop]) {
    dom::array arr;
    if (const auto s = asString(*v)) {
      r.stop.emplace_back(*s);
    } else if (!v->get_array().get(arr)) {
      for (const dom::element item : arr) {
        const auto s = asString(item);
        if (!s) return bad("stop", "'stop' must be a string or an array of strings");
        r.stop.emplace_back(*s);
      }
    } else {
      return bad("stop", "'stop' must be a string or an array of strings");
    }
  }
  if (const auto& v = f[kStream]) {
    const auto b = asBool(*v);
    if (!b) return bad("stream", "'stream' must be a boolean");
    r.stream = *b;
  }
  if (const auto& v = f[kStreamOptions]) {
    dom::object so;
    if (v->get_object().get(so)) return bad("stream_options", "'stream_options' must be an object");
    if (const auto iu = detail::member(so, "include_usage"))
      if (const auto b = asBool(*iu)) r.include_usage = *b;
  }
  if (f[kResponseFormat])
    if (auto s = readResponseFormat(*f[kResponseFormat], r); !s) return std::move(s).error();
  if (const auto u = f[kUser] ? asString(*f[kUser]) : std::nullopt) r.user = *u;
  return core::Ok{};
}

// A Boost.JSON document as simdjson reads it, for the overloads tests call with documents.
template <typename Parse>
auto throughDom(const json::value& body, Parse parse) -> decltype(parse(dom::element())) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(json::serialize(body)).get(root))
    return core::Error::invalidJson("The request body is not valid JSON");
  return parse(root);
}

}  // namespace

core::Status parseOpenAIChatRequest(dom::element body, ChatRequest& out) {
  return readChatRequest(body, nullptr, out);
}

core::Result<ChatRequest> parseOpenAIChatRequest(dom::element body) {
  ChatRequest r;
  if (auto s = readChatRequest(body, nullptr, r); !s) return std::move(s).error();
  return r;
}

core::Result<ChatRequest> parseOpenAIChatRequest(const json::value& body) {
  return throughDom(body, [](dom::element root) { return parseOpenAIChatRequest(root); });
}

namespace {

// The enum-like strings (role, finish reason) as sent, if the value is a string (`to` keeps a
// null data() otherwise, the value skipped). false: malformed, or escaped (never in practice; the
// general reading decodes it).
bool readWord(JsonScanner& s, std::string_view& to) {
  if (s.peek() != JsonScanner::Kind::kString) return s.skip();
  JsonString str;
  if (!s.string(str) || str.escaped) return false;
  to = str.raw;
  return true;
}

// One message of readOpenAIChatAsText's: a role other than tool, its content one string (or null)
// and its name in core::appendJsonString's escaping.
bool readTextMessage(JsonScanner& s, TextMessage& m) {
  using Kind = JsonScanner::Kind;
  static constexpr std::string_view kKeys[] = {
      "role", "content", "name", "tool_call_id", "refusal", "tool_calls", "function_call"};
  bool has_role = false;
  m.has_content = false;
  const bool read = s.peek() == Kind::kObject && s.object(kKeys, [&](std::size_t i) {
    if (s.peek() == Kind::kNull) return s.null();
    switch (i) {
      case 0: {
        std::string_view role;
        if (!readWord(s, role)) return false;
        const auto known = roleFromString(role);
        if (!known || *known == Role::kTool) return false;
        m.role = *known;
        return has_role = true;
      }
      case 1:
        return m.has_content = s.canonicalString(m.json_text);
      case 2:  // the general reading takes a name of another kind for none
        return s.peek() == Kind::kString ? s.canonicalString(m.json_name) : s.skip();
      case 3:  // the general reading keeps a string tool_call_id, even outside tool messages
        return s.peek() != Kind::kString && s.skip();
      default:  // refusals and tool calls: the general reading's
        return false;
    }
  });
  return read && has_role;
}

}  // namespace

bool readOpenAIChatAsText(std::string_view body, int max_depth, ChatRequest& head,
                          std::vector<TextMessage>& messages, ChatBodyLayout& layout) {
  using Kind = JsonScanner::Kind;
  ChatRequest& r = head;
  JsonScanner s(body, max_depth);
  if (!s.beginObject()) return false;
  std::uint32_t seen = 0, given = 0;  // members present; those not null
  std::optional<long long> max_tokens, max_completion_tokens;
  auto inRange = [&](double lo, double hi, std::optional<double>& out) {
    double d = 0;
    if (!s.decimal(d) || d < lo || d > hi) return false;
    out = d;
    return true;
  };
  auto positive = [&](std::optional<long long>& out) {
    long long n = 0;
    if (!s.integer(n) || n < 1) return false;
    out = n;
    return true;
  };
  JsonString key;
  for (std::size_t member = 0; s.nextKey(key); ++member) {
    if (key.escaped) return false;
    const int i = fieldOf(key.raw);
    // Unmodelled members go to `extra` as documents, and of repeated keys the general reading
    // keeps the last: it settles both.
    if (i == kFieldCount || (seen & (1u << i))) return false;
    seen |= 1u << i;
    if (i == kStreamOptions) {
      layout.has_stream_options = true;
      layout.stream_options_member = member;
    }
    if (s.peek() == Kind::kNull) {
      if (!s.null()) return false;
      continue;
    }
    given |= 1u << i;
    bool read = false;
    long long n = 0;
    bool b = false;
    switch (i) {
      case kModel:
        read = detail::readModelMember(s, body, r.model, layout);
        break;
      case kMessages:
        read = s.beginArray();
        while (read && s.nextElement()) read = readTextMessage(s, messages.emplace_back());
        read = read && !s.failed();
        break;
      case kTemperature:
        read = inRange(0, 2, r.temperature);
        break;
      case kTopP:
        read = inRange(0, 1, r.top_p);
        break;
      case kPresencePenalty:
        read = inRange(-2, 2, r.presence_penalty);
        break;
      case kFrequencyPenalty:
        read = inRange(-2, 2, r.frequency_penalty);
        break;
      case kTopK:
        read = s.integer(n) && n >= 0;
        r.top_k = static_cast<int>(n);
        break;
      case kMaxTokens:
        read = positive(max_tokens);
        break;
      case kMaxCompletionTokens:
        read = positive(max_completion_tokens);
        break;
      case kN:
        read = s.integer(n) && n >= 1 && n <= 128;
        r.n = static_cast<int>(n);
        break;
      case kSeed:
        read = s.integer(n);
        r.seed = n;
        break;
      case kStop:
        if (s.peek() == Kind::kString) {
          read = s.decodedString(r.stop.emplace_back());
        } else {
          read = s.beginArray();
          while (read && s.nextElement()) read = s.decodedString(r.stop.emplace_back());
          read = read && !s.failed();
        }
        break;
      case kStream:
        read = s.peek() == Kind::kBool && s.boolean(b);
        r.stream = b;
        break;
      case kParallelToolCalls:
        read = s.peek() == Kind::kBool && s.boolean(b);
        r.parallel_tool_calls = b;
        break;
      case kStreamOptions: {
        // include_usage counts when it is a boolean; anything else in the object goes unread.
        static constexpr std::string_view kKeys[] = {"include_usage"};
        read = s.peek() == Kind::kObject && s.object(kKeys, [&](std::size_t) {
          if (s.peek() != Kind::kBool) return s.skip();
          const bool ok = s.boolean(b);
          r.include_usage = b;
          return ok;
        });
        break;
      }
      case kUser:
        read = s.textOrSkip(r.user);
        break;
      default:  // tools, tool_choice, response_format and functions: the general reading's
        break;
    }
    if (!read) return false;
  }
  if (!s.finish()) return false;
  if (!(given & (1u << kModel)) || !(given & (1u << kMessages))) return false;
  // As the general reading: max_completion_tokens, the current name, wins over max_tokens.
  if (max_completion_tokens)
    r.max_tokens = max_completion_tokens;
  else if (max_tokens)
    r.max_tokens = max_tokens;
  return true;
}

namespace {

// The usage object of an answer or a stream's last chunk.
Usage parseUsage(dom::element v) {
  Usage u;
  dom::object o;
  if (v.get_object().get(o)) return u;
  const auto [prompt, completion, prompt_details, completion_details] = detail::members(
      o,
      {"prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"});
  u.prompt_tokens = detail::integerOf(prompt, 0);
  u.completion_tokens = detail::integerOf(completion, 0);
  if (const auto d = detail::objectOf(prompt_details))
    u.cached_tokens = detail::integerMember(*d, "cached_tokens", 0);
  if (const auto d = detail::objectOf(completion_details))
    u.reasoning_tokens = detail::integerMember(*d, "reasoning_tokens", 0);
  return u;
}

}  // namespace

core::Result<ChatResponse> parseOpenAIChatResponse(std::string_view body) {
  if (ChatResponse scanned; scanOpenAIChatResponse(body, scanned)) return scanned;
  dom::element root;
  if (detail::parseDocument(body).get(root))
    return core::Error::badGateway("The upstream answered with a body that is not valid JSON");
  dom::object o;
  if (root.get_object().get(o))
    return core::Error::badGateway("The upstream response is not an object");
  ChatResponse r;
  r.id = detail::stringMember(o, "id");
  r.model = detail::stringMember(o, "model");
  r.created = detail::integerMember(o, "created", 0);
  r.system_fingerprint = detail::stringMember(o, "system_fingerprint");
  const auto choices = detail::arrayMember(o, "choices");
  if (!choices) return core::Error::badGateway("The upstream response has no 'choices'");
  for (const dom::element c : *choices) {
    dom::object co;
    if (c.get_object().get(co)) continue;
    Choice& ch = r.choices.emplace_back();
    ch.index = static_cast<int>(detail::integerMember(co, "index", 0));
    if (const auto m = detail::member(co, "message")) {
      const detail::Path at("message");
      if (auto s = readMessage(*m, at, ch.message); !s)
        return core::Error::badGateway("The upstream message is malformed: " + s.error().message);
    }
    if (const std::string_view f = detail::stringMember(co, "finish_reason"); !f.empty())
      ch.finish_reason = finishReasonFromString(f);
  }
  if (const auto u = detail::member(o, "usage")) r.usage = parseUsage(*u);
  return r;
}

core::Result<ChatResponse> parseOpenAIChatResponse(const json::value& body) {
  return parseOpenAIChatResponse(std::string_view(json::serialize(body)));
}

json::object toOpenAIJson(const ChatResponse& r) {
  std::string text;
  appendOpenAIChatResponseJson(r, text);
  return json::parse(text).as_object();
}

namespace {

// The chunks OpenAI streams for nearly every token (text deltas, the role, the finish reason),
// read by the scanner. false for any other chunk (tool calls, usage, an error, a repeated key, a
// value of a type the general reading would weigh), which parseOpenAIChatChunk then reads with
// simdjson; what this accepts it reads as that would.
// A token count as parseUsage reads it: null counts as 0; other values are left to it.
bool readCount(JsonScanner& s, long long& to) {
  if (s.peek() == JsonScanner::Kind::kNull) return s.null();
  return s.integer(to);
}

// A details object (prompt_tokens_details, completion_tokens_details): its member `name` into
// `to`. A value of another type than object counts as absent, as in parseUsage.
bool readDetail(JsonScanner& s, std::string_view name, long long& to) {
  if (s.peek() != JsonScanner::Kind::kObject) return s.skip();
  const std::string_view keys[] = {name};
  return s.object(keys, [&](std::size_t) { return readCount(s, to); });
}

// The usage object of a chunk, as parseUsage reads it; false for any other value.
bool readUsage(JsonScanner& s, Usage& u) {
  static constexpr std::string_view kKeys[] = {
      "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"};
  if (s.peek() != JsonScanner::Kind::kObject) return false;
  return s.object(kKeys, [&](std::size_t i) {
    switch (i) {
      case 0:
        return readCount(s, u.prompt_tokens);
      case 1:
        return readCount(s, u.completion_tokens);
      case 2:
        return readDetail(s, "cached_tokens", u.cached_tokens);
      default:
        return readDetail(s, "reasoning_tokens", u.reasoning_tokens);
    }
  });
}

// One choice's delta: role and text; tool calls are left to the general reading.
bool readDelta(JsonScanner& s, ChunkChoice& cc, JsonString& content) {
  static constexpr std::string_view kKeys[] = {"role", "content", "tool_calls"};
  if (s.peek() != JsonScanner::Kind::kObject) return s.skip();
  return s.object(kKeys, [&](std::size_t i) {
    switch (i) {
      case 0: {
        std::string_view role;
        if (!readWord(s, role)) return false;
        if (role.data()) cc.role = roleFromString(role);
        return true;
      }
      case 1:
        if (s.peek() != JsonScanner::Kind::kString) return s.skip();
        return s.string(content) && content.appendTo(cc.content.emplace());
      default:
        return s.peek() == JsonScanner::Kind::kNull && s.null();
    }
  });
}

// The choices array; `content` ends up as the text of the last choice with one.
bool readChoices(JsonScanner& s, ChatChunk& c, JsonString& content) {
  static constexpr std::string_view kKeys[] = {"index", "finish_reason", "delta"};
  if (s.peek() != JsonScanner::Kind::kArray) return s.skip();
  if (!s.beginArray()) return false;
  while (s.nextElement()) {
    if (s.peek() != JsonScanner::Kind::kObject) return false;
    ChunkChoice& cc = c.choices.emplace_back();
    const bool ok = s.object(kKeys, [&](std::size_t i) {
      switch (i) {
        case 0: {
          long long index = 0;
          if (s.peek() == JsonScanner::Kind::kNull) return s.null();
          if (!s.integer(index) || index < 0 || index > 4096) return false;
          cc.index = static_cast<int>(index);
          return true;
        }
        case 1: {
          std::string_view reason;
          if (!readWord(s, reason)) return false;
          if (reason.data()) cc.finish_reason = finishReasonFromString(reason);
          return true;
        }
        default:
          return readDelta(s, cc, content);
      }
    });
    if (!ok) return false;
  }
  return !s.failed();
}

// The members before "choices" in the last chunk read on this thread, and what they held. The
// chunks of one stream repeat them byte for byte (id, object, created, model, fingerprint): the
// next one is compared, not read.
struct ChunkHead {
  std::string bytes;
  JsonScanner::MemberStart start;
  std::string id;
  std::string model;
  long long created = 0;
};

// The last chunk of one choice with text, split around that text, and the rest of what it held.
struct TextChunk {
  StringSlot slot;
  ChatChunk proto;  // its content empty
};

TextChunk& knownTextChunk() {
  thread_local TextChunk known;
  return known;
}

// The chunks OpenAI streams for nearly every token (text deltas, the role, the finish reason,
// usage), read by the scanner. false for any other chunk (tool calls, an error, a repeated key, a
// value of a type the general reading would weigh), which parseOpenAIChatChunk then reads with
// simdjson; what this accepts it reads as that would.
bool readCommonChunk(std::string_view data, ChatChunk& c) {
  using Kind = JsonScanner::Kind;
  static constexpr std::string_view kKeys[] = {"id",    "model", "created",
                                               "error", "usage", "choices"};
  thread_local ChunkHead head;
  TextChunk& known = knownTextChunk();
  if (JsonString text; known.slot.match(data, text)) {
    const ChunkChoice& p = known.proto.choices.front();
    ChunkChoice& cc = c.choices.emplace_back();
    cc.index = p.index;
    cc.role = p.role;
    cc.finish_reason = p.finish_reason;
    if (text.appendTo(cc.content.emplace())) {
      c.id = known.proto.id;
      c.model = known.proto.model;
      c.created = known.proto.created;
      c.usage = known.proto.usage;
      return true;
    }
    c.choices.clear();
  }

  JsonScanner s(data);
  JsonString content;  // the text of the last choice read
  std::optional<ChunkHead> new_head;
  // A string member into `to`; null leaves it empty, as any other type does in the general reading.
  auto absent = [&] { return s.peek() == Kind::kNull && s.null(); };
  const bool resumed = !head.bytes.empty() && data.size() > head.bytes.size() &&
                       std::memcmp(data.data(), head.bytes.data(), head.bytes.size()) == 0;
  auto member = [&](std::size_t i) {
    switch (i) {
      case 0:
        return s.textOrSkip(c.id);
      case 1:
        return s.textOrSkip(c.model);
      case 2:
        return absent() || s.integer(c.created);
      case 3:
        return absent();
      case 4:
        return absent() || readUsage(s, c.usage.emplace());
      default: {
        const JsonScanner::MemberStart& start = s.memberStart();
        if (!resumed && !c.usage && start.mark.offset <= StringSlot::kMaxKept)
          new_head = ChunkHead{std::string(data.substr(0, start.mark.offset)), start, c.id, c.model,
                               c.created};
        return readChoices(s, c, content);
      }
    }
  };
  if (resumed) {
    s.resume(head.start.mark);
    c.id = head.id;
    c.model = head.model;
    c.created = head.created;
    if (!s.members(kKeys, member, head.start.seen)) return false;
  } else if (!s.object(kKeys, member)) {
    return false;
  }
  if (!s.finish()) return false;
  // Only a head that began a whole, valid chunk stands for the reading of those bytes.
  if (new_head) head = std::move(*new_head);
  if (c.choices.size() == 1 && content.raw.data() != nullptr) {
    known.slot.keep(data, content);
    known.proto.id = c.id;
    known.proto.model = c.model;
    known.proto.created = c.created;
    known.proto.usage = c.usage;
    known.proto.choices.assign(1, c.choices.front());
    known.proto.choices.front().content.reset();
  }
  return true;
}

}  // namespace

bool scanOpenAIChatResponse(std::string_view body, ChatResponse& r) {
  using Kind = JsonScanner::Kind;
  static constexpr std::string_view kKeys[] = {"id",      "model", "created", "system_fingerprint",
                                               "choices", "usage"};
  static constexpr std::string_view kChoiceKeys[] = {"index", "message", "finish_reason"};
  static constexpr std::string_view kMessageKeys[] = {
      "role", "content", "name", "tool_call_id", "refusal", "tool_calls", "function_call"};
  JsonScanner s(body);
  bool has_choices = false;
  auto message = [&](Message& m) {
    bool has_role = false;
    const bool read = s.beginObject() && s.members(kMessageKeys, [&](std::size_t i) {
      if (s.peek() == Kind::kNull) return s.null();
      switch (i) {
        case 0: {
          std::string_view role;
          if (s.peek() != Kind::kString || !readWord(s, role)) return false;
          const auto known = roleFromString(role);
          if (!known) return false;
          m.role = *known;
          return has_role = true;
        }
        case 1:
          return s.peek() == Kind::kString && s.textOrSkip(m.content.emplace_back().text);
        case 2:
          return s.textOrSkip(m.name);
        case 3:
          return s.textOrSkip(m.tool_call_id);
        case 4:
          if (s.peek() != Kind::kString) return s.skip();
          return s.textOrSkip(m.refusal.emplace());
        default:  // tool calls are read the general way
          return false;
      }
    });
    return read && has_role && !(m.role == Role::kTool && m.tool_call_id.empty() && m.name.empty());
  };
  auto choice = [&](Choice& ch) {
    return s.object(kChoiceKeys, [&](std::size_t i) {
      if (s.peek() == Kind::kNull) return s.null();
      switch (i) {
        case 0: {
          if (s.peek() != Kind::kNumber) return s.skip();
          long long index = 0;
          if (!s.integer(index)) return false;
          ch.index = static_cast<int>(index);
          return true;
        }
        case 1:
          return message(ch.message);
        default: {
          std::string_view reason;
          if (!readWord(s, reason)) return false;
          if (!reason.empty()) ch.finish_reason = finishReasonFromString(reason);
          return true;
        }
      }
    });
  };
  const bool read = s.object(kKeys, [&](std::size_t i) {
    switch (i) {
      case 0:
        return s.textOrSkip(r.id);
      case 1:
        return s.textOrSkip(r.model);
      case 2:
        if (s.peek() != Kind::kNumber) return s.skip();
        return s.integer(r.created);
      case 3:
        return s.textOrSkip(r.system_fingerprint);
      case 4:
        if (!s.beginArray()) return false;
        while (s.nextElement()) {
          if (s.peek() != Kind::kObject) {
            if (!s.skip()) return false;
          } else if (!choice(r.choices.emplace_back())) {
            return false;
          }
        }
        return has_choices = !s.failed();
      default:
        if (s.peek() == Kind::kNull) return s.null();
        return readUsage(s, r.usage.emplace());
    }
  });
  return read && s.finish() && has_choices;
}

bool matchOpenAITextChunk(std::string_view data, TextDelta& out) {
  const TextChunk& known = knownTextChunk();
  if (known.proto.choices.size() != 1 || known.proto.usage) return false;
  const ChunkChoice& p = known.proto.choices.front();
  // A role or finish reason makes it another chunk than a token's.
  if (p.role || p.finish_reason != FinishReason::kNone || !p.tool_calls.empty()) return false;
  JsonString text;
  if (!known.slot.match(data, text)) return false;
  out = TextDelta{text.raw,          text.escaped,        known.proto.id,
                  known.proto.model, known.proto.created, p.index};
  return true;
}

core::Status parseOpenAIChatChunk(std::string_view data, ChatChunk& c) {
  if (readCommonChunk(data, c)) return core::Ok{};
  c.clear();
  dom::element root;
  if (detail::parseDocument(data).get(root))
    return core::Error::badGateway("The upstream sent a stream event that is not JSON");
  dom::object o;
  if (root.get_object().get(o)) return core::Error::badGateway("A stream chunk is not an object");
  const auto [error, id, model, created, choices, usage] =
      detail::members(o, {"error", "id", "model", "created", "choices", "usage"});
  if (error) {
    core::Error e = core::Error::badGateway("The upstream reported an error in the stream");
    if (std::string msg = openAIErrorMessage(data); !msg.empty()) e.message = std::move(msg);
    return e;
  }
  c.id = detail::stringOf(id);
  c.model = detail::stringOf(model);
  if (created) c.created = detail::integer(*created).value_or(0);
  if (const auto arr = detail::arrayOf(choices)) {
    for (const dom::element ch : *arr) {
      dom::object co;
      if (ch.get_object().get(co)) continue;
      ChunkChoice& cc = c.choices.emplace_back();
      const auto [index, delta, finish] = detail::members(co, {"index", "delta", "finish_reason"});
      if (index) cc.index = static_cast<int>(detail::integer(*index).value_or(0));
      if (const auto d = detail::objectOf(delta)) {
        const auto [role, content, tool_calls] =
            detail::members(*d, {"role", "content", "tool_calls"});
        std::string_view text;
        if (role && !role->get_string().get(text)) cc.role = roleFromString(text);
        if (content && !content->get_string().get(text)) cc.content.emplace(text);
        if (const auto tcs = detail::arrayOf(tool_calls)) {
          for (const dom::element tc : *tcs) {
            dom::object to;
            if (tc.get_object().get(to)) continue;
            ToolCallDelta& td = cc.tool_calls.emplace_back();
            const auto [call_index, call_id, function] =
                detail::members(to, {"index", "id", "function"});
            if (call_index) td.index = static_cast<int>(detail::integer(*call_index).value_or(0));
            td.id = detail::stringOf(call_id);
            if (const auto fn = detail::objectOf(function)) {
              const auto [name, arguments] = detail::members(*fn, {"name", "arguments"});
              td.name = detail::stringOf(name);
              td.arguments = detail::stringOf(arguments);
            }
          }
        }
      }
      std::string_view reason;
      if (finish && !finish->get_string().get(reason))
        cc.finish_reason = finishReasonFromString(reason);
    }
  }
  if (usage) c.usage = parseUsage(*usage);
  return core::Ok{};
}

core::Status parseOpenAICompletionRequest(dom::element body, ChatRequest& out) {
  dom::object o;
  if (body.get_object().get(o)) return bad("", "The request body must be a JSON object");
  const auto prompt = detail::member(o, "prompt");
  if (!prompt) return bad("prompt", "'prompt' is required");
  std::string text;
  dom::array one;
  if (const auto s = detail::asString(*prompt)) {
    text = *s;
  } else if (!prompt->get_array().get(one) && one.size() == 1 && detail::asString(*one.begin())) {
    text = *detail::asString(*one.begin());
  } else {
    return bad("prompt", "'prompt' must be one string for this model (it is served through chat)");
  }
  if (const auto echo = detail::member(o, "echo"); echo && detail::asBool(*echo).value_or(false))
    return bad("echo", "'echo' is not supported for this model (it is served through chat)");
  if (const auto suffix = detail::member(o, "suffix"); suffix && detail::asString(*suffix))
    return bad("suffix", "'suffix' is not supported for this model (it is served through chat)");
  // The prompt becomes the one user turn; the completion-only fields (echo, logprobs, …) have no
  // chat counterpart, so nothing unmodelled is passed on.
  return readChatRequest(body, &text, out);
}

core::Result<ChatRequest> parseOpenAICompletionRequest(dom::element body) {
  ChatRequest r;
  if (auto s = parseOpenAICompletionRequest(body, r); !s) return std::move(s).error();
  return r;
}

core::Result<ChatRequest> parseOpenAICompletionRequest(const json::value& body) {
  return throughDom(body, [](dom::element root) { return parseOpenAICompletionRequest(root); });
}

namespace {

// Chunks are written as text straight into the output: building a document per token cost more
// than the token itself. Keys come in the order OpenAI sends them.

void appendUsageJson(const Usage& u, std::string& out) {
  out.append("{\"prompt_tokens\":"sv);
  core::appendJsonInt(out, u.prompt_tokens);
  out.append(",\"completion_tokens\":"sv);
  core::appendJsonInt(out, u.completion_tokens);
  out.append(",\"total_tokens\":"sv);
  core::appendJsonInt(out, u.total());
  out.append(",\"prompt_tokens_details\":{\"cached_tokens\":"sv);
  core::appendJsonInt(out, u.cached_tokens);
  out.append("},\"completion_tokens_details\":{\"reasoning_tokens\":"sv);
  core::appendJsonInt(out, u.reasoning_tokens);
  out.append("}}"sv);
}

void appendFinishReason(FinishReason r, std::string& out) {
  if (r == FinishReason::kNone) {
    out.append("null"sv);
  } else {
    out.push_back('"');
    out.append(toString(r));
    out.push_back('"');
  }
}

// The fields every chunk starts with, up to the opening bracket of "choices".
// Every chunk of a stream has the same head, so the last one written on this thread is kept:
// comparing its inputs is cheaper than escaping them again.
void appendChunkHead(const ChatChunk& c, std::string_view object, std::string& out) {
  struct Cached {
    std::string id, model, object, text;
    long long created = 0;
  };
  thread_local Cached cached;
  if (c.created != cached.created || c.id != cached.id || c.model != cached.model ||
      object != cached.object || cached.text.empty()) {
    cached.id = c.id;
    cached.model = c.model;
    cached.object = object;
    cached.created = c.created;
    std::string& t = cached.text;
    t.clear();
    t.append("{\"id\":"sv);
    core::appendJsonString(t, c.id);
    t.append(",\"object\":\""sv).append(object).append("\",\"created\":"sv);
    core::appendJsonInt(t, c.created);
    t.append(",\"model\":"sv);
    core::appendJsonString(t, c.model);
    t.append(",\"choices\":["sv);
  }
  out.append(cached.text);
}

void appendChunkTail(const ChatChunk& c, bool with_usage, std::string& out) {
  out.push_back(']');
  if (c.usage && with_usage) {
    out.append(",\"usage\":"sv);
    appendUsageJson(*c.usage, out);
  }
  out.push_back('}');
}

}  // namespace

namespace {

// A message as OpenAI takes and sends it: content a string when it is all text, parts otherwise.
// `answer` adds refusal:null when the model did not refuse, as OpenAI's answers always carry it.
void appendMessageJson(const Message& m, bool answer, std::string& out) {
  out.append("{\"role\":"sv);
  core::appendPlainJsonString(out, toString(m.role));
  out.append(",\"content\":"sv);
  bool all_text = true;
  for (const auto& p : m.content) all_text = all_text && p.kind == ContentPart::Kind::kText;
  if (m.content.empty()) {
    out.append("null"sv);
  } else if (all_text) {
    // Two calls, not one with `?:`: its joined-text arm would make both arms copies.
    if (m.content.size() == 1)
      core::appendJsonString(out, m.content.front().text);
    else
      core::appendJsonString(out, m.text());
  } else {
    out.push_back('[');
    bool first = true;
    for (const auto& p : m.content) {
      if (!first) out.push_back(',');
      first = false;
      if (p.kind == ContentPart::Kind::kText) {
        out.append("{\"type\":\"text\",\"text\":"sv);
        core::appendJsonString(out, p.text);
        out.push_back('}');
      } else {
        out.append("{\"type\":\"image_url\",\"image_url\":{\"url\":"sv);
        core::appendJsonString(out, imageToUrl(p.image));
        if (!p.image.detail.empty()) {
          out.append(",\"detail\":"sv);
          core::appendJsonString(out, p.image.detail);
        }
        out.append("}}"sv);
      }
    }
    out.push_back(']');
  }
  if (!m.name.empty()) {
    out.append(",\"name\":"sv);
    core::appendJsonString(out, m.name);
  }
  if (!m.tool_calls.empty()) {
    out.append(",\"tool_calls\":["sv);
    bool first = true;
    for (const auto& c : m.tool_calls) {
      if (!first) out.push_back(',');
      first = false;
      out.append("{\"id\":"sv);
      core::appendJsonString(out, c.id);
      out.append(",\"type\":\"function\",\"function\":{\"name\":"sv);
      core::appendJsonString(out, c.name);
      out.append(",\"arguments\":"sv);
      core::appendJsonString(out, c.arguments);
      out.append("}}"sv);
    }
    out.push_back(']');
  }
  if (!m.tool_call_id.empty()) {
    out.append(",\"tool_call_id\":"sv);
    core::appendJsonString(out, m.tool_call_id);
  }
  if (m.refusal) {
    out.append(",\"refusal\":"sv);
    core::appendJsonString(out, *m.refusal);
  } else if (answer) {
    out.append(",\"refusal\":null"sv);
  }
  out.push_back('}');
}

// The fields a whole answer starts with, up to the opening bracket of "choices".
void appendAnswerHead(const ChatResponse& r, std::string_view object, std::string& out) {
  out.append("{\"id\":"sv);
  core::appendJsonString(out, r.id);
  out.append(",\"object\":\""sv).append(object).append("\",\"created\":"sv);
  core::appendJsonInt(out, r.created);
  out.append(",\"model\":"sv);
  core::appendJsonString(out, r.model);
  out.append(",\"choices\":["sv);
}

}  // namespace

namespace {

// A request body's members after the messages, and its closing brace.
void appendMembersAfterMessages(const ChatRequest& r, std::string_view max_tokens_key,
                                std::string& out) {
  if (!r.tools.empty()) {
    out.append(",\"tools\":["sv);
    for (size_t i = 0; i < r.tools.size(); ++i) {
      const Tool& t = r.tools[i];
      if (i > 0) out.push_back(',');
      out.append("{\"type\":\"function\",\"function\":{\"name\":"sv);
      core::appendJsonString(out, t.name);
      if (!t.description.empty()) {
        out.append(",\"description\":"sv);
        core::appendJsonString(out, t.description);
      }
      if (!t.parameters.is_null()) {
        out.append(",\"parameters\":"sv);
        detail::appendJson(t.parameters, out);
      }
      if (t.strict) out.append(",\"strict\":true"sv);
      out.append("}}"sv);
    }
    out.push_back(']');
  }
  switch (r.tool_choice.mode) {
    case ToolChoice::Mode::kUnset:
      break;
    case ToolChoice::Mode::kAuto:
      out.append(",\"tool_choice\":\"auto\""sv);
      break;
    case ToolChoice::Mode::kNone:
      out.append(",\"tool_choice\":\"none\""sv);
      break;
    case ToolChoice::Mode::kRequired:
      out.append(",\"tool_choice\":\"required\""sv);
      break;
    case ToolChoice::Mode::kNamed:
      out.append(",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"sv);
      core::appendJsonString(out, r.tool_choice.name);
      out.append("}}"sv);
      break;
  }
  auto number = [&](std::string_view key, double d) {
    out.append(",\""sv).append(key).append("\":"sv);
    detail::appendJsonNumber(d, out);
  };
  auto integer = [&](std::string_view key, long long n) {
    out.append(",\""sv).append(key).append("\":"sv);
    core::appendJsonInt(out, n);
  };
  if (r.parallel_tool_calls)
    out.append(*r.parallel_tool_calls ? ",\"parallel_tool_calls\":true"
                                      : ",\"parallel_tool_calls\":false");
  if (r.temperature) number("temperature", *r.temperature);
  if (r.top_p) number("top_p", *r.top_p);
  if (r.max_tokens) integer(max_tokens_key, *r.max_tokens);
  if (r.n) integer("n", *r.n);
  if (r.seed) integer("seed", *r.seed);
  if (r.presence_penalty) number("presence_penalty", *r.presence_penalty);
  if (r.frequency_penalty) number("frequency_penalty", *r.frequency_penalty);
  if (!r.stop.empty()) {
    out.append(",\"stop\":["sv);
    for (size_t i = 0; i < r.stop.size(); ++i) {
      if (i > 0) out.push_back(',');
      core::appendJsonString(out, r.stop[i]);
    }
    out.push_back(']');
  }
  if (r.stream) out.append(",\"stream\":true,\"stream_options\":{\"include_usage\":true}"sv);
  switch (r.response_format.kind) {
    case ResponseFormat::Kind::kUnset:
      break;
    case ResponseFormat::Kind::kText:
      out.append(",\"response_format\":{\"type\":\"text\"}"sv);
      break;
    case ResponseFormat::Kind::kJsonObject:
      out.append(",\"response_format\":{\"type\":\"json_object\"}"sv);
      break;
    case ResponseFormat::Kind::kJsonSchema:
      out.append(",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"sv);
      core::appendJsonString(out, r.response_format.name.empty() ? std::string_view("response")
                                                                 : r.response_format.name);
      out.append(",\"schema\":"sv);
      detail::appendJson(r.response_format.schema, out);
      if (r.response_format.strict) out.append(",\"strict\":true"sv);
      out.append("}}"sv);
      break;
  }
  if (!r.user.empty()) {
    out.append(",\"user\":"sv);
    core::appendJsonString(out, r.user);
  }
  out.push_back('}');
}

}  // namespace

// The body is written as JSON text: building a document first cost as much as parsing the
// client's body. Keys come in the order the canonical form was always rendered in: the client's
// unmodelled fields first, then the modelled ones.
void appendOpenAIRequestJson(const ChatRequest& r, std::string_view max_tokens_key,
                             std::string& out) {
  out.push_back('{');
  for (const auto& [key, value] : r.extra) {
    core::appendJsonString(out, key);
    out.push_back(':');
    detail::appendJson(value, out);
    out.push_back(',');
  }
  out.append("\"model\":"sv);
  core::appendJsonString(out, r.model);
  out.append(",\"messages\":["sv);
  for (size_t i = 0; i < r.messages.size(); ++i) {
    if (i > 0) out.push_back(',');
    appendMessageJson(r.messages[i], false, out);
  }
  out.push_back(']');
  appendMembersAfterMessages(r, max_tokens_key, out);
}

bool appendOpenAITextRequestJson(const ChatRequest& head, std::span<const TextMessage> messages,
                                 std::string_view max_tokens_key, std::string& out) {
  if (!head.extra.empty()) return false;
  out.append("{\"model\":"sv);
  core::appendJsonString(out, head.model);
  out.append(",\"messages\":["sv);
  bool first = true;
  // As appendMessageJson writes a message of one text.
  for (const TextMessage& m : messages) {
    out.append(first ? "{\"role\":\""sv : ",{\"role\":\""sv);
    first = false;
    out.append(toString(m.role));
    if (m.has_content)
      out.append("\",\"content\":\""sv).append(m.json_text).push_back('"');
    else
      out.append("\",\"content\":null"sv);
    if (!m.json_name.empty()) out.append(",\"name\":\""sv).append(m.json_name).push_back('"');
    out.push_back('}');
  }
  out.push_back(']');
  appendMembersAfterMessages(head, max_tokens_key, out);
  return true;
}

json::object toOpenAIJson(const ChatRequest& r) {
  std::string text;
  appendOpenAIRequestJson(r, "max_completion_tokens", text);
  return json::parse(text).as_object();
}

// Whole answers are written as text too: building a document only to serialize it cost more
// than the translation itself. Keys come in the order OpenAI sends them.
void appendOpenAIChatResponseJson(const ChatResponse& r, std::string& out) {
  appendAnswerHead(r, "chat.completion", out);
  bool first = true;
  for (const auto& c : r.choices) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"index\":"sv);
    core::appendJsonInt(out, c.index);
    out.append(",\"message\":"sv);
    appendMessageJson(c.message, true, out);
    out.append(",\"logprobs\":null,\"finish_reason\":"sv);
    appendFinishReason(c.finish_reason, out);
    out.push_back('}');
  }
  out.push_back(']');
  if (r.usage) {
    out.append(",\"usage\":"sv);
    appendUsageJson(*r.usage, out);
  }
  if (!r.system_fingerprint.empty()) {
    out.append(",\"system_fingerprint\":"sv);
    core::appendJsonString(out, r.system_fingerprint);
  }
  out.push_back('}');
}

void appendOpenAICompletionJson(const ChatResponse& r, std::string& out) {
  appendAnswerHead(r, "text_completion", out);
  bool first = true;
  for (const auto& c : r.choices) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"text\":"sv);
    core::appendJsonString(out, c.message.text());
    out.append(",\"index\":"sv);
    core::appendJsonInt(out, c.index);
    out.append(",\"logprobs\":null,\"finish_reason\":"sv);
    appendFinishReason(c.finish_reason, out);
    out.push_back('}');
  }
  out.push_back(']');
  if (r.usage) {
    out.append(",\"usage\":"sv);
    appendUsageJson(*r.usage, out);
  }
  out.push_back('}');
}

const std::string* textOnlyContent(const ChatChunk& c) {
  if (c.choices.size() != 1 || c.usage) return nullptr;
  const ChunkChoice& ch = c.choices.front();
  if (ch.index != 0 || !ch.content || ch.role || !ch.tool_calls.empty() ||
      ch.finish_reason != FinishReason::kNone)
    return nullptr;
  return &*ch.content;
}

void appendOpenAITextChunkPrefix(const ChatChunk& c, std::string& out) {
  appendChunkHead(c, "chat.completion.chunk", out);
  out.append(R"({"index":0,"delta":{"content":)"sv);
}

void appendOpenAIChunkJson(const ChatChunk& c, bool with_usage, std::string& out) {
  // Nearly every chunk of a stream is one choice with a piece of text and nothing else: written
  // in three appends, the same bytes as below.
  if (const std::string* text = textOnlyContent(c)) {
    appendOpenAITextChunkPrefix(c, out);
    core::appendJsonString(out, *text);
    out.append(kOpenAITextChunkSuffix);
    return;
  }
  appendChunkHead(c, "chat.completion.chunk", out);
  bool first = true;
  for (const auto& ch : c.choices) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"index\":"sv);
    core::appendJsonInt(out, ch.index);
    out.append(",\"delta\":{"sv);
    bool any = false;
    auto key = [&](std::string_view k) {
      if (any) out.push_back(',');
      any = true;
      out.push_back('"');
      out.append(k);
      out.append("\":"sv);
    };
    if (ch.role) {
      key("role");
      core::appendPlainJsonString(out, toString(*ch.role));
    }
    if (ch.content) {
      key("content");
      core::appendJsonString(out, *ch.content);
    }
    if (!ch.tool_calls.empty()) {
      key("tool_calls");
      out.push_back('[');
      bool first_call = true;
      for (const auto& td : ch.tool_calls) {
        if (!first_call) out.push_back(',');
        first_call = false;
        out.append("{\"index\":"sv);
        core::appendJsonInt(out, td.index);
        out.append(",\"function\":{\"arguments\":"sv);
        core::appendJsonString(out, td.arguments);
        if (!td.name.empty()) {
          out.append(",\"name\":"sv);
          core::appendJsonString(out, td.name);
        }
        out.push_back('}');
        if (!td.id.empty()) {
          out.append(",\"id\":"sv);
          core::appendJsonString(out, td.id);
          out.append(",\"type\":\"function\""sv);
        }
        out.push_back('}');
      }
      out.push_back(']');
    }
    out.append("},\"logprobs\":null,\"finish_reason\":"sv);
    appendFinishReason(ch.finish_reason, out);
    out.push_back('}');
  }
  appendChunkTail(c, with_usage, out);
}

void appendOpenAICompletionChunkJson(const ChatChunk& c, bool with_usage, std::string& out) {
  appendChunkHead(c, "text_completion", out);
  bool first = true;
  for (const auto& ch : c.choices) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"text\":"sv);
    core::appendJsonString(out, ch.content ? std::string_view(*ch.content) : std::string_view());
    out.append(",\"index\":"sv);
    core::appendJsonInt(out, ch.index);
    out.append(",\"logprobs\":null,\"finish_reason\":"sv);
    appendFinishReason(ch.finish_reason, out);
    out.push_back('}');
  }
  appendChunkTail(c, with_usage, out);
}

std::string openAIErrorMessage(std::string_view body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const json::value* err = field(v.as_object(), "error");
  if (!err) return {};
  if (err->is_string()) return str(*err);
  if (!err->is_object()) return {};
  const json::value* msg = field(err->as_object(), "message");
  return msg && msg->is_string() ? str(*msg) : std::string();
}

core::Result<EmbeddingRequest> parseOpenAIEmbeddingRequest(const json::value& body) {
  if (!body.is_object()) return bad("", "The request body must be a JSON object");
  const auto& o = body.as_object();
  EmbeddingRequest r;
  const json::value* model = field(o, "model");
  if (!model || !model->is_string()) return bad("model", "'model' must be a string");
  r.model = str(*model);
  const json::value* input = field(o, "input");
  if (!input) return bad("input", "'input' is required");
  if (input->is_string()) {
    r.input.push_back(str(*input));
  } else if (input->is_array()) {
    for (const auto& s : input->as_array()) {
      // Token-id arrays are an OpenAI-only form; they cannot be translated, so they are refused.
      if (!s.is_string()) return bad("input", "'input' must be a string or an array of strings");
      r.input.push_back(str(s));
    }
  } else {
    return bad("input", "'input' must be a string or an array of strings");
  }
  if (r.input.empty()) return bad("input", "'input' must not be empty");
  if (const auto* f = field(o, "encoding_format")) {
    if (!f->is_string() || (f->as_string() != "float" && f->as_string() != "base64"))
      return bad("encoding_format", "'encoding_format' must be 'float' or 'base64'");
    r.encoding_format = str(*f);
  }
  if (const auto* d = field(o, "dimensions")) {
    auto i = integer(*d);
    if (!i || *i < 1) return bad("dimensions", "'dimensions' must be a positive integer");
    r.dimensions = static_cast<int>(*i);
  }
  if (const auto* u = field(o, "user"); u && u->is_string()) r.user = str(*u);
  return r;
}

json::object toOpenAIJson(const EmbeddingResponse& r, bool base64) {
  json::array data;
  for (size_t i = 0; i < r.embeddings.size(); ++i) {
    json::value embedding;
    if (base64) {
      // OpenAI's base64 form: the float32 values' little-endian bytes (x86 and ARM are both).
      const auto& vec = r.embeddings[i];
      std::string raw(reinterpret_cast<const char*>(vec.data()), vec.size() * sizeof(float));
      embedding = json::string(core::base64Encode(raw));
    } else {
      json::array vec;
      vec.reserve(r.embeddings[i].size());
      for (float f : r.embeddings[i]) vec.push_back(static_cast<double>(f));
      embedding = std::move(vec);
    }
    data.push_back(
        json::object{{"object", "embedding"}, {"index", i}, {"embedding", std::move(embedding)}});
  }
  return json::object{{"object", "list"},
                      {"data", std::move(data)},
                      {"model", r.model},
                      {"usage", json::object{{"prompt_tokens", r.usage.prompt_tokens},
                                             {"total_tokens", r.usage.prompt_tokens}}}};
}

}  // namespace kh::model

namespace kh::model::detail {

// "data:image/png;base64,AAAA" → media type and data; other URLs stay URLs.
Image imageFromUrl(std::string_view url, std::string detail) {
  Image img;
  img.detail = std::move(detail);
  if (url.starts_with("data:")) {
    const size_t comma = url.find(',');
    const std::string_view meta = url.substr(5, comma == std::string_view::npos ? 0 : comma - 5);
    if (comma != std::string_view::npos && meta.ends_with(";base64")) {
      img.media_type = std::string(meta.substr(0, meta.size() - 7));
      img.data = std::string(url.substr(comma + 1));
      return img;
    }
  }
  img.url = std::string(url);
  return img;
}

std::string imageToUrl(const Image& img) {
  if (!img.url.empty()) return img.url;
  return fmt::format("data:{};base64,{}", img.media_type, img.data);
}

bool appendTextTurns(std::span<const TextMessage> messages, std::string_view user,
                     std::string_view assistant, std::string_view block, std::string& out) {
  Role open = Role::kSystem;  // the role of the turn being written; kSystem before the first
  for (const TextMessage& m : messages) {
    if ((m.role != Role::kUser && m.role != Role::kAssistant) || m.json_text.empty()) continue;
    if (m.role == open) {
      out.push_back(',');
    } else {
      if (open != Role::kSystem) out.append("]},"sv);
      out.append(m.role == Role::kUser ? user : assistant);
      open = m.role;
    }
    out.append(block).append(m.json_text).append("\"}"sv);
  }
  if (open == Role::kSystem) return false;
  out.append("]}"sv);
  return true;
}

void appendJsonNumber(double d, std::string& out) {
  static constexpr double kScale[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
  char buf[48];
  char* end = buf;
  if (d > -1e9 && d < 1e9) {
    for (int k = 0; k < 7; ++k) {
      const double n = std::nearbyint(d * kScale[k]);
      // n and 10^k are exact, so the quotient is the double nearest n / 10^k: what a reader
      // makes of the decimal written below.
      if (n / kScale[k] != d) continue;
      if (std::signbit(d)) *end++ = '-';
      const auto digits = static_cast<unsigned long long>(std::fabs(n));
      const auto scale = static_cast<unsigned long long>(kScale[k]);
      end = std::to_chars(end, buf + sizeof buf, digits / scale).ptr;
      *end++ = '.';
      if (k == 0) {
        *end++ = '0';
      } else {
        char* const fraction = end;
        end += k;
        for (auto rest = digits % scale; end-- > fraction; rest /= 10)
          *end = static_cast<char>('0' + rest % 10);
        end = fraction + k;
      }
      out.append(buf, static_cast<std::size_t>(end - buf));
      return;
    }
  }
  end = std::to_chars(buf, buf + sizeof buf - 2, d).ptr;
  if (std::string_view(buf, static_cast<std::size_t>(end - buf)).find_first_of(".e") ==
      std::string_view::npos) {
    *end++ = '.';
    *end++ = '0';
  }
  out.append(buf, static_cast<std::size_t>(end - buf));
}

void appendJson(const boost::json::value& v, std::string& out) {
  boost::json::serializer sr;
  sr.reset(&v);
  char buf[256];
  while (!sr.done()) out.append(sr.read(buf, sizeof buf));
}

}  // namespace kh::model::detail
