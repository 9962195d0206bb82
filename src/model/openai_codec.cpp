#include "model/openai_codec.h"

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>

#include "core/base64.h"
#include "core/json_text.h"
#include "model/json_dom.h"
#include "model/json_util.h"

namespace kh::model {

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

core::Result<std::vector<ContentPart>> parseContent(const json::value& v,
                                                    const std::string& where) {
  std::vector<ContentPart> parts;
  if (v.is_null()) return parts;
  if (v.is_string()) {
    parts.push_back(ContentPart::textPart(str(v)));
    return parts;
  }
  if (!v.is_array()) return bad(where, fmt::format("'{}' must be a string or an array", where));
  const auto& arr = v.as_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    // The part's path, formatted only for an error.
    auto at = [&] { return fmt::format("{}[{}]", where, i); };
    if (!arr[i].is_object()) return bad(at(), fmt::format("'{}' must be an object", at()));
    const auto& o = arr[i].as_object();
    const json::value* type = field(o, "type");
    if (!type || !type->is_string())
      return bad(at() + ".type", "content parts need a string 'type'");
    const std::string_view t = type->as_string();
    if (t == "text" || t == "input_text") {
      const json::value* text = field(o, "text");
      if (!text || !text->is_string())
        return bad(at() + ".text", "text parts need a string 'text'");
      parts.push_back(ContentPart::textPart(str(*text)));
    } else if (t == "image_url") {
      const json::value* iu = field(o, "image_url");
      std::string url, detail;
      if (iu && iu->is_string()) {
        url = str(*iu);
      } else if (iu && iu->is_object()) {
        if (const auto* u = field(iu->as_object(), "url"); u && u->is_string()) url = str(*u);
        if (const auto* d = field(iu->as_object(), "detail"); d && d->is_string()) detail = str(*d);
      }
      if (url.empty()) return bad(at() + ".image_url", "image parts need 'image_url.url'");
      ContentPart p;
      p.kind = ContentPart::Kind::kImage;
      p.image = imageFromUrl(url, std::move(detail));
      parts.push_back(std::move(p));
    } else {
      return bad(at() + ".type", fmt::format("unsupported content part type '{}'", t));
    }
  }
  return parts;
}

core::Result<std::vector<ToolCall>> parseToolCalls(const json::value& v, const std::string& where) {
  std::vector<ToolCall> calls;
  if (!v.is_array()) return bad(where, fmt::format("'{}' must be an array", where));
  const auto& arr = v.as_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string at = fmt::format("{}[{}]", where, i);
    if (!arr[i].is_object()) return bad(at, "tool calls must be objects");
    const auto& o = arr[i].as_object();
    ToolCall c;
    if (const auto* id = field(o, "id"); id && id->is_string()) c.id = str(*id);
    const json::value* fn = field(o, "function");
    if (!fn || !fn->is_object()) return bad(at + ".function", "tool calls need a 'function'");
    const auto& f = fn->as_object();
    if (const auto* n = field(f, "name"); n && n->is_string()) c.name = str(*n);
    if (c.name.empty()) return bad(at + ".function.name", "tool calls need a function name");
    if (const auto* a = field(f, "arguments")) {
      // Some clients send arguments as an object; OpenAI's format is a JSON string.
      c.arguments = a->is_string() ? str(*a) : json::serialize(*a);
    }
    calls.push_back(std::move(c));
  }
  return calls;
}

core::Result<Message> parseMessage(const json::value& v, const std::string& at) {
  if (!v.is_object()) return bad(at, fmt::format("'{}' must be an object", at));
  const auto& o = v.as_object();
  Message m;
  const json::value* role = field(o, "role");
  if (!role || !role->is_string()) return bad(at + ".role", "messages need a string 'role'");
  auto r = roleFromString(role->as_string());
  if (!r)
    return bad(at + ".role", fmt::format("unknown role '{}'", std::string_view(role->as_string())));
  m.role = *r;
  if (const json::value* c = o.if_contains("content"); c && c->is_string()) {
    // The common case, without formatting the path parseContent reports errors with.
    m.content.push_back(ContentPart::textPart(str(*c)));
  } else if (c) {
    auto parts = parseContent(*c, at + ".content");
    if (!parts) return std::move(parts).error();
    m.content = std::move(*parts);
  }
  if (const auto* n = field(o, "name"); n && n->is_string()) m.name = str(*n);
  if (const auto* tc = field(o, "tool_calls")) {
    auto calls = parseToolCalls(*tc, at + ".tool_calls");
    if (!calls) return std::move(calls).error();
    m.tool_calls = std::move(*calls);
  } else if (const auto* fc = field(o, "function_call"); fc && fc->is_object()) {
    // The legacy single function_call becomes one tool call.
    json::array one{json::object{{"id", ""}, {"type", "function"}, {"function", *fc}}};
    auto calls = parseToolCalls(one, at + ".function_call");
    if (!calls) return std::move(calls).error();
    m.tool_calls = std::move(*calls);
  }
  if (const auto* id = field(o, "tool_call_id"); id && id->is_string()) m.tool_call_id = str(*id);
  if (m.role == Role::kTool && m.tool_call_id.empty() && m.name.empty())
    return bad(at + ".tool_call_id", "tool messages need 'tool_call_id'");
  if (const auto* rf = field(o, "refusal"); rf && rf->is_string()) m.refusal = str(*rf);
  return m;
}

// The request fields the canonical form models; everything else goes to `extra`.
constexpr std::string_view kModelled[] = {"model",
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

bool modelled(std::string_view key) {
  for (auto k : kModelled)
    if (k == key) return true;
  return false;
}

core::Result<double> numberField(const json::object& o, std::string_view key, double min,
                                 double max, std::optional<double>& out) {
  const json::value* v = field(o, key);
  if (!v) return 0.0;
  auto d = number(*v);
  if (!d) return bad(std::string(key), fmt::format("'{}' must be a number", key));
  if (*d < min || *d > max)
    return bad(std::string(key), fmt::format("'{}' must be between {} and {}", key, min, max));
  out = *d;
  return *d;
}

}  // namespace

core::Result<ChatRequest> parseOpenAIChatRequest(const json::value& body) {
  if (!body.is_object()) return bad("", "The request body must be a JSON object");
  const auto& o = body.as_object();
  ChatRequest r;
  const json::value* model = field(o, "model");
  if (!model) return bad("model", "'model' is required");
  if (!model->is_string()) return bad("model", "'model' must be a string");
  r.model = str(*model);

  const json::value* messages = field(o, "messages");
  if (!messages) return bad("messages", "'messages' is required");
  if (!messages->is_array()) return bad("messages", "'messages' must be an array");
  const auto& arr = messages->as_array();
  r.messages.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    auto m = parseMessage(arr[i], fmt::format("messages[{}]", i));
    if (!m) return std::move(m).error();
    r.messages.push_back(std::move(*m));
  }

  if (const json::value* tools = field(o, "tools")) {
    if (!tools->is_array()) return bad("tools", "'tools' must be an array");
    for (size_t i = 0; i < tools->as_array().size(); ++i) {
      const auto& t = tools->as_array()[i];
      const std::string at = fmt::format("tools[{}]", i);
      const json::value* fn = t.is_object() ? field(t.as_object(), "function") : nullptr;
      if (!fn || !fn->is_object()) return bad(at + ".function", "tools need a 'function' object");
      const auto& f = fn->as_object();
      Tool tool;
      if (const auto* n = field(f, "name"); n && n->is_string()) tool.name = str(*n);
      if (tool.name.empty()) return bad(at + ".function.name", "tools need a function name");
      if (const auto* d = field(f, "description"); d && d->is_string()) tool.description = str(*d);
      if (const auto* p = field(f, "parameters")) tool.parameters = *p;
      if (const auto* s = field(f, "strict"); s && s->is_bool()) tool.strict = s->as_bool();
      r.tools.push_back(std::move(tool));
    }
  }
  if (const json::value* tc = field(o, "tool_choice")) {
    if (tc->is_string()) {
      const std::string_view s = tc->as_string();
      if (s == "auto")
        r.tool_choice.mode = ToolChoice::Mode::kAuto;
      else if (s == "none")
        r.tool_choice.mode = ToolChoice::Mode::kNone;
      else if (s == "required")
        r.tool_choice.mode = ToolChoice::Mode::kRequired;
      else
        return bad("tool_choice", fmt::format("unknown tool_choice '{}'", s));
    } else if (tc->is_object()) {
      const json::value* fn = field(tc->as_object(), "function");
      const json::value* name = fn && fn->is_object() ? field(fn->as_object(), "name") : nullptr;
      if (!name || !name->is_string()) return bad("tool_choice", "tool_choice needs function.name");
      r.tool_choice.mode = ToolChoice::Mode::kNamed;
      r.tool_choice.name = str(*name);
    } else {
      return bad("tool_choice", "'tool_choice' must be a string or an object");
    }
  }
  if (const auto* p = field(o, "parallel_tool_calls")) {
    if (!p->is_bool()) return bad("parallel_tool_calls", "'parallel_tool_calls' must be a boolean");
    r.parallel_tool_calls = p->as_bool();
  }
  if (auto x = numberField(o, "temperature", 0, 2, r.temperature); !x) return std::move(x).error();
  if (auto x = numberField(o, "top_p", 0, 1, r.top_p); !x) return std::move(x).error();
  if (auto x = numberField(o, "presence_penalty", -2, 2, r.presence_penalty); !x)
    return std::move(x).error();
  if (auto x = numberField(o, "frequency_penalty", -2, 2, r.frequency_penalty); !x)
    return std::move(x).error();
  if (const auto* k = field(o, "top_k")) {
    auto i = integer(*k);
    if (!i || *i < 0) return bad("top_k", "'top_k' must be a non-negative integer");
    r.top_k = static_cast<int>(*i);
  }
  // max_completion_tokens is the current name; max_tokens the legacy one. Either sets the cap.
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (const auto* v = field(o, key)) {
      auto i = integer(*v);
      if (!i || *i < 1) return bad(key, fmt::format("'{}' must be a positive integer", key));
      r.max_tokens = *i;
    }
  }
  if (const auto* v = field(o, "n")) {
    auto i = integer(*v);
    if (!i || *i < 1 || *i > 128) return bad("n", "'n' must be an integer between 1 and 128");
    r.n = static_cast<int>(*i);
  }
  if (const auto* v = field(o, "seed")) {
    auto i = integer(*v);
    if (!i) return bad("seed", "'seed' must be an integer");
    r.seed = *i;
  }
  if (const auto* v = field(o, "stop")) {
    if (v->is_string()) {
      r.stop.push_back(str(*v));
    } else if (v->is_array()) {
      for (const auto& s : v->as_array()) {
        if (!s.is_string()) return bad("stop", "'stop' must be a string or an array of strings");
        r.stop.push_back(str(s));
      }
    } else {
      return bad("stop", "'stop' must be a string or an array of strings");
    }
  }
  if (const auto* v = field(o, "stream")) {
    if (!v->is_bool()) return bad("stream", "'stream' must be a boolean");
    r.stream = v->as_bool();
  }
  if (const auto* so = field(o, "stream_options")) {
    if (!so->is_object()) return bad("stream_options", "'stream_options' must be an object");
    if (const auto* iu = field(so->as_object(), "include_usage"); iu && iu->is_bool())
      r.include_usage = iu->as_bool();
  }
  if (const auto* rf = field(o, "response_format")) {
    const json::value* type = rf->is_object() ? field(rf->as_object(), "type") : nullptr;
    if (!type || !type->is_string())
      return bad("response_format", "'response_format' needs a string 'type'");
    const std::string_view t = type->as_string();
    if (t == "text") {
      r.response_format.kind = ResponseFormat::Kind::kText;
    } else if (t == "json_object") {
      r.response_format.kind = ResponseFormat::Kind::kJsonObject;
    } else if (t == "json_schema") {
      r.response_format.kind = ResponseFormat::Kind::kJsonSchema;
      const json::value* js = field(rf->as_object(), "json_schema");
      if (!js || !js->is_object())
        return bad("response_format.json_schema",
                   "json_schema response formats need 'json_schema'");
      const auto& jo = js->as_object();
      if (const auto* n = field(jo, "name"); n && n->is_string()) r.response_format.name = str(*n);
      if (const auto* s = field(jo, "schema")) r.response_format.schema = *s;
      if (const auto* s = field(jo, "strict"); s && s->is_bool())
        r.response_format.strict = s->as_bool();
    } else {
      return bad("response_format.type", fmt::format("unknown response_format type '{}'", t));
    }
  }
  if (const auto* u = field(o, "user"); u && u->is_string()) r.user = str(*u);
  for (const auto& [k, v] : o)
    if (!modelled(k)) r.extra.emplace(k, v);
  return r;
}

namespace {

// The usage object of an answer or a stream's last chunk.
Usage parseUsage(dom::element v) {
  Usage u;
  dom::object o;
  if (v.get_object().get(o)) return u;
  u.prompt_tokens = detail::integerMember(o, "prompt_tokens", 0);
  u.completion_tokens = detail::integerMember(o, "completion_tokens", 0);
  if (const auto d = detail::objectMember(o, "prompt_tokens_details"))
    u.cached_tokens = detail::integerMember(*d, "cached_tokens", 0);
  if (const auto d = detail::objectMember(o, "completion_tokens_details"))
    u.reasoning_tokens = detail::integerMember(*d, "reasoning_tokens", 0);
  return u;
}

// The readers below mirror parseContent/parseToolCalls/parseMessage for answers, which simdjson
// parses; the messages they fail with end up after "The upstream message is malformed: ".

core::Result<std::vector<ContentPart>> answerContent(dom::element v, const std::string& where) {
  std::vector<ContentPart> parts;
  std::string_view text;
  if (!v.get_string().get(text)) {
    parts.push_back(ContentPart::textPart(std::string(text)));
    return parts;
  }
  dom::array arr;
  if (v.get_array().get(arr))
    return bad(where, fmt::format("'{}' must be a string or an array", where));
  size_t i = 0;
  for (const dom::element pv : arr) {
    const std::string at = fmt::format("{}[{}]", where, i++);
    dom::object o;
    if (pv.get_object().get(o)) return bad(at, fmt::format("'{}' must be an object", at));
    const std::string_view t = detail::stringMember(o, "type");
    if (t.empty()) return bad(at + ".type", "content parts need a string 'type'");
    if (t == "text" || t == "input_text") {
      const auto tv = detail::member(o, "text");
      if (!tv || tv->get_string().get(text))
        return bad(at + ".text", "text parts need a string 'text'");
      parts.push_back(ContentPart::textPart(std::string(text)));
    } else if (t == "image_url") {
      const auto iu = detail::member(o, "image_url");
      std::string_view url, fidelity;
      dom::object io;
      if (iu && iu->get_string().get(url) && !iu->get_object().get(io)) {
        url = detail::stringMember(io, "url");
        fidelity = detail::stringMember(io, "detail");
      }
      if (url.empty()) return bad(at + ".image_url", "image parts need 'image_url.url'");
      ContentPart p;
      p.kind = ContentPart::Kind::kImage;
      p.image = imageFromUrl(url, std::string(fidelity));
      parts.push_back(std::move(p));
    } else {
      return bad(at + ".type", fmt::format("unsupported content part type '{}'", t));
    }
  }
  return parts;
}

// One call's `function` object (name and arguments) into `c`.
core::Status answerFunction(dom::object f, const std::string& at, ToolCall& c) {
  c.name = detail::stringMember(f, "name");
  if (c.name.empty()) return bad(at + ".function.name", "tool calls need a function name");
  if (const auto a = detail::member(f, "arguments")) {
    // Some servers send arguments as an object; OpenAI's format is a JSON string.
    std::string_view text;
    c.arguments = a->get_string().get(text) ? detail::serialize(*a) : std::string(text);
  }
  return core::Ok{};
}

core::Result<Message> answerMessage(dom::element v) {
  const std::string at = "message";
  dom::object o;
  if (v.get_object().get(o)) return bad(at, fmt::format("'{}' must be an object", at));
  Message m;
  const auto role = detail::member(o, "role");
  std::string_view rs;
  if (!role || role->get_string().get(rs))
    return bad(at + ".role", "messages need a string 'role'");
  const auto r = roleFromString(rs);
  if (!r) return bad(at + ".role", fmt::format("unknown role '{}'", rs));
  m.role = *r;
  if (const auto c = detail::member(o, "content")) {
    auto parts = answerContent(*c, at + ".content");
    if (!parts) return std::move(parts).error();
    m.content = std::move(*parts);
  }
  m.name = detail::stringMember(o, "name");
  if (const auto tc = detail::member(o, "tool_calls")) {
    dom::array arr;
    if (tc->get_array().get(arr))
      return bad(at + ".tool_calls", fmt::format("'{}.tool_calls' must be an array", at));
    size_t i = 0;
    for (const dom::element cv : arr) {
      const std::string cat = fmt::format("{}.tool_calls[{}]", at, i++);
      dom::object co;
      if (cv.get_object().get(co)) return bad(cat, "tool calls must be objects");
      ToolCall& c = m.tool_calls.emplace_back();
      c.id = detail::stringMember(co, "id");
      const auto fn = detail::objectMember(co, "function");
      if (!fn) return bad(cat + ".function", "tool calls need a 'function'");
      if (auto s = answerFunction(*fn, cat, c); !s) return std::move(s).error();
    }
  } else if (const auto fc = detail::objectMember(o, "function_call")) {
    // The legacy single function_call becomes one tool call.
    if (auto s = answerFunction(*fc, at + ".function_call[0]", m.tool_calls.emplace_back()); !s)
      return std::move(s).error();
  }
  m.tool_call_id = detail::stringMember(o, "tool_call_id");
  if (m.role == Role::kTool && m.tool_call_id.empty() && m.name.empty())
    return bad(at + ".tool_call_id", "tool messages need 'tool_call_id'");
  std::string_view refusal;
  if (const auto rf = detail::member(o, "refusal"); rf && !rf->get_string().get(refusal))
    m.refusal.emplace(refusal);
  return m;
}

}  // namespace

core::Result<ChatResponse> parseOpenAIChatResponse(std::string_view body) {
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
      auto msg = answerMessage(*m);
      if (!msg)
        return core::Error::badGateway("The upstream message is malformed: " + msg.error().message);
      ch.message = std::move(*msg);
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

core::Status parseOpenAIChatChunk(std::string_view data, ChatChunk& c) {
  dom::element root;
  if (detail::parseDocument(data).get(root))
    return core::Error::badGateway("The upstream sent a stream event that is not JSON");
  dom::object o;
  if (root.get_object().get(o)) return core::Error::badGateway("A stream chunk is not an object");
  if (detail::member(o, "error")) {
    core::Error e = core::Error::badGateway("The upstream reported an error in the stream");
    if (std::string msg = openAIErrorMessage(data); !msg.empty()) e.message = std::move(msg);
    return e;
  }
  c.id = detail::stringMember(o, "id");
  c.model = detail::stringMember(o, "model");
  if (const auto t = detail::member(o, "created")) c.created = detail::integer(*t).value_or(0);
  if (const auto choices = detail::arrayMember(o, "choices")) {
    for (const dom::element ch : *choices) {
      dom::object co;
      if (ch.get_object().get(co)) continue;
      ChunkChoice& cc = c.choices.emplace_back();
      if (const auto i = detail::member(co, "index"))
        cc.index = static_cast<int>(detail::integer(*i).value_or(0));
      if (const auto d = detail::objectMember(co, "delta")) {
        std::string_view text;
        if (const auto r = detail::member(*d, "role"); r && !r->get_string().get(text))
          cc.role = roleFromString(text);
        if (const auto t = detail::member(*d, "content"); t && !t->get_string().get(text))
          cc.content.emplace(text);
        if (const auto tcs = detail::arrayMember(*d, "tool_calls")) {
          for (const dom::element tc : *tcs) {
            dom::object to;
            if (tc.get_object().get(to)) continue;
            ToolCallDelta& td = cc.tool_calls.emplace_back();
            if (const auto i = detail::member(to, "index"))
              td.index = static_cast<int>(detail::integer(*i).value_or(0));
            td.id = detail::stringMember(to, "id");
            if (const auto fn = detail::objectMember(to, "function")) {
              td.name = detail::stringMember(*fn, "name");
              td.arguments = detail::stringMember(*fn, "arguments");
            }
          }
        }
      }
      std::string_view finish;
      if (const auto f = detail::member(co, "finish_reason"); f && !f->get_string().get(finish))
        cc.finish_reason = finishReasonFromString(finish);
    }
  }
  if (const auto u = detail::member(o, "usage")) c.usage = parseUsage(*u);
  return core::Ok{};
}

core::Result<ChatRequest> parseOpenAICompletionRequest(const json::value& body) {
  if (!body.is_object()) return bad("", "The request body must be a JSON object");
  json::object chat = body.as_object();
  const json::value* prompt = field(chat, "prompt");
  if (!prompt) return bad("prompt", "'prompt' is required");
  std::string text;
  if (prompt->is_string()) {
    text = str(*prompt);
  } else if (prompt->is_array() && prompt->as_array().size() == 1 &&
             prompt->as_array()[0].is_string()) {
    text = str(prompt->as_array()[0]);
  } else {
    return bad("prompt", "'prompt' must be one string for this model (it is served through chat)");
  }
  if (const auto* echo = field(chat, "echo"); echo && echo->is_bool() && echo->as_bool())
    return bad("echo", "'echo' is not supported for this model (it is served through chat)");
  if (const auto* suffix = field(chat, "suffix"); suffix && suffix->is_string())
    return bad("suffix", "'suffix' is not supported for this model (it is served through chat)");
  for (const char* key : {"prompt", "echo", "suffix", "best_of", "logprobs", "logit_bias"})
    chat.erase(key);
  chat["messages"] = json::array{json::object{{"role", "user"}, {"content", std::move(text)}}};
  auto r = parseOpenAIChatRequest(chat);
  if (!r) {
    core::Error e = std::move(r).error();
    if (e.param.starts_with("messages")) e.param = "prompt";
    return e;
  }
  r->extra.clear();
  return r;
}

namespace {

// Chunks are written as text straight into the output: building a document per token cost more
// than the token itself. Keys come in the order OpenAI sends them.

void appendUsageJson(const Usage& u, std::string& out) {
  out.append("{\"prompt_tokens\":");
  core::appendJsonInt(out, u.prompt_tokens);
  out.append(",\"completion_tokens\":");
  core::appendJsonInt(out, u.completion_tokens);
  out.append(",\"total_tokens\":");
  core::appendJsonInt(out, u.total());
  out.append(",\"prompt_tokens_details\":{\"cached_tokens\":");
  core::appendJsonInt(out, u.cached_tokens);
  out.append("},\"completion_tokens_details\":{\"reasoning_tokens\":");
  core::appendJsonInt(out, u.reasoning_tokens);
  out.append("}}");
}

void appendFinishReason(FinishReason r, std::string& out) {
  if (r == FinishReason::kNone) {
    out.append("null");
  } else {
    out.push_back('"');
    out.append(toString(r));
    out.push_back('"');
  }
}

// The fields every chunk starts with, up to the opening bracket of "choices".
void appendChunkHead(const ChatChunk& c, std::string_view object, std::string& out) {
  out.append("{\"id\":");
  core::appendJsonString(out, c.id);
  out.append(",\"object\":\"").append(object).append("\",\"created\":");
  core::appendJsonInt(out, c.created);
  out.append(",\"model\":");
  core::appendJsonString(out, c.model);
  out.append(",\"choices\":[");
}

void appendChunkTail(const ChatChunk& c, bool with_usage, std::string& out) {
  out.push_back(']');
  if (c.usage && with_usage) {
    out.append(",\"usage\":");
    appendUsageJson(*c.usage, out);
  }
  out.push_back('}');
}

}  // namespace

namespace {

// A message as OpenAI takes and sends it: content a string when it is all text, parts otherwise.
// `answer` adds refusal:null when the model did not refuse, as OpenAI's answers always carry it.
void appendMessageJson(const Message& m, bool answer, std::string& out) {
  out.append("{\"role\":");
  core::appendJsonString(out, toString(m.role));
  out.append(",\"content\":");
  bool all_text = true;
  for (const auto& p : m.content) all_text = all_text && p.kind == ContentPart::Kind::kText;
  if (m.content.empty()) {
    out.append("null");
  } else if (all_text) {
    core::appendJsonString(out, m.content.size() == 1 ? m.content.front().text : m.text());
  } else {
    out.push_back('[');
    bool first = true;
    for (const auto& p : m.content) {
      if (!first) out.push_back(',');
      first = false;
      if (p.kind == ContentPart::Kind::kText) {
        out.append("{\"type\":\"text\",\"text\":");
        core::appendJsonString(out, p.text);
        out.push_back('}');
      } else {
        out.append("{\"type\":\"image_url\",\"image_url\":{\"url\":");
        core::appendJsonString(out, imageToUrl(p.image));
        if (!p.image.detail.empty()) {
          out.append(",\"detail\":");
          core::appendJsonString(out, p.image.detail);
        }
        out.append("}}");
      }
    }
    out.push_back(']');
  }
  if (!m.name.empty()) {
    out.append(",\"name\":");
    core::appendJsonString(out, m.name);
  }
  if (!m.tool_calls.empty()) {
    out.append(",\"tool_calls\":[");
    bool first = true;
    for (const auto& c : m.tool_calls) {
      if (!first) out.push_back(',');
      first = false;
      out.append("{\"id\":");
      core::appendJsonString(out, c.id);
      out.append(",\"type\":\"function\",\"function\":{\"name\":");
      core::appendJsonString(out, c.name);
      out.append(",\"arguments\":");
      core::appendJsonString(out, c.arguments);
      out.append("}}");
    }
    out.push_back(']');
  }
  if (!m.tool_call_id.empty()) {
    out.append(",\"tool_call_id\":");
    core::appendJsonString(out, m.tool_call_id);
  }
  if (m.refusal) {
    out.append(",\"refusal\":");
    core::appendJsonString(out, *m.refusal);
  } else if (answer) {
    out.append(",\"refusal\":null");
  }
  out.push_back('}');
}

// The fields a whole answer starts with, up to the opening bracket of "choices".
void appendAnswerHead(const ChatResponse& r, std::string_view object, std::string& out) {
  out.append("{\"id\":");
  core::appendJsonString(out, r.id);
  out.append(",\"object\":\"").append(object).append("\",\"created\":");
  core::appendJsonInt(out, r.created);
  out.append(",\"model\":");
  core::appendJsonString(out, r.model);
  out.append(",\"choices\":[");
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
  out.append("\"model\":");
  core::appendJsonString(out, r.model);
  out.append(",\"messages\":[");
  for (size_t i = 0; i < r.messages.size(); ++i) {
    if (i > 0) out.push_back(',');
    appendMessageJson(r.messages[i], false, out);
  }
  out.push_back(']');
  if (!r.tools.empty()) {
    out.append(",\"tools\":[");
    for (size_t i = 0; i < r.tools.size(); ++i) {
      const Tool& t = r.tools[i];
      if (i > 0) out.push_back(',');
      out.append("{\"type\":\"function\",\"function\":{\"name\":");
      core::appendJsonString(out, t.name);
      if (!t.description.empty()) {
        out.append(",\"description\":");
        core::appendJsonString(out, t.description);
      }
      if (!t.parameters.is_null()) {
        out.append(",\"parameters\":");
        detail::appendJson(t.parameters, out);
      }
      if (t.strict) out.append(",\"strict\":true");
      out.append("}}");
    }
    out.push_back(']');
  }
  switch (r.tool_choice.mode) {
    case ToolChoice::Mode::kUnset:
      break;
    case ToolChoice::Mode::kAuto:
      out.append(",\"tool_choice\":\"auto\"");
      break;
    case ToolChoice::Mode::kNone:
      out.append(",\"tool_choice\":\"none\"");
      break;
    case ToolChoice::Mode::kRequired:
      out.append(",\"tool_choice\":\"required\"");
      break;
    case ToolChoice::Mode::kNamed:
      out.append(",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":");
      core::appendJsonString(out, r.tool_choice.name);
      out.append("}}");
      break;
  }
  auto number = [&](std::string_view key, double d) {
    out.append(",\"").append(key).append("\":");
    detail::appendJson(d, out);
  };
  auto integer = [&](std::string_view key, long long n) {
    out.append(",\"").append(key).append("\":");
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
    out.append(",\"stop\":[");
    for (size_t i = 0; i < r.stop.size(); ++i) {
      if (i > 0) out.push_back(',');
      core::appendJsonString(out, r.stop[i]);
    }
    out.push_back(']');
  }
  if (r.stream) out.append(",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
  switch (r.response_format.kind) {
    case ResponseFormat::Kind::kUnset:
      break;
    case ResponseFormat::Kind::kText:
      out.append(",\"response_format\":{\"type\":\"text\"}");
      break;
    case ResponseFormat::Kind::kJsonObject:
      out.append(",\"response_format\":{\"type\":\"json_object\"}");
      break;
    case ResponseFormat::Kind::kJsonSchema:
      out.append(",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":");
      core::appendJsonString(out, r.response_format.name.empty() ? std::string_view("response")
                                                                 : r.response_format.name);
      out.append(",\"schema\":");
      detail::appendJson(r.response_format.schema, out);
      if (r.response_format.strict) out.append(",\"strict\":true");
      out.append("}}");
      break;
  }
  if (!r.user.empty()) {
    out.append(",\"user\":");
    core::appendJsonString(out, r.user);
  }
  out.push_back('}');
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
    out.append("{\"index\":");
    core::appendJsonInt(out, c.index);
    out.append(",\"message\":");
    appendMessageJson(c.message, true, out);
    out.append(",\"logprobs\":null,\"finish_reason\":");
    appendFinishReason(c.finish_reason, out);
    out.push_back('}');
  }
  out.push_back(']');
  if (r.usage) {
    out.append(",\"usage\":");
    appendUsageJson(*r.usage, out);
  }
  if (!r.system_fingerprint.empty()) {
    out.append(",\"system_fingerprint\":");
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
    out.append("{\"text\":");
    core::appendJsonString(out, c.message.text());
    out.append(",\"index\":");
    core::appendJsonInt(out, c.index);
    out.append(",\"logprobs\":null,\"finish_reason\":");
    appendFinishReason(c.finish_reason, out);
    out.push_back('}');
  }
  out.push_back(']');
  if (r.usage) {
    out.append(",\"usage\":");
    appendUsageJson(*r.usage, out);
  }
  out.push_back('}');
}

void appendOpenAIChunkJson(const ChatChunk& c, bool with_usage, std::string& out) {
  appendChunkHead(c, "chat.completion.chunk", out);
  bool first = true;
  for (const auto& ch : c.choices) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"index\":");
    core::appendJsonInt(out, ch.index);
    out.append(",\"delta\":{");
    bool any = false;
    auto key = [&](std::string_view k) {
      if (any) out.push_back(',');
      any = true;
      out.push_back('"');
      out.append(k);
      out.append("\":");
    };
    if (ch.role) {
      key("role");
      core::appendJsonString(out, toString(*ch.role));
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
        out.append("{\"index\":");
        core::appendJsonInt(out, td.index);
        out.append(",\"function\":{\"arguments\":");
        core::appendJsonString(out, td.arguments);
        if (!td.name.empty()) {
          out.append(",\"name\":");
          core::appendJsonString(out, td.name);
        }
        out.push_back('}');
        if (!td.id.empty()) {
          out.append(",\"id\":");
          core::appendJsonString(out, td.id);
          out.append(",\"type\":\"function\"");
        }
        out.push_back('}');
      }
      out.push_back(']');
    }
    out.append("},\"logprobs\":null,\"finish_reason\":");
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
    out.append("{\"text\":");
    core::appendJsonString(out, ch.content ? std::string_view(*ch.content) : std::string_view());
    out.append(",\"index\":");
    core::appendJsonInt(out, ch.index);
    out.append(",\"logprobs\":null,\"finish_reason\":");
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

void appendJson(const boost::json::value& v, std::string& out) {
  boost::json::serializer sr;
  sr.reset(&v);
  char buf[256];
  while (!sr.done()) out.append(sr.read(buf, sizeof buf));
}

}  // namespace kh::model::detail
