#include "model/gemini_codec.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_text.h"
#include "core/utf8.h"
#include "model/json_dom.h"
#include "model/json_scan.h"
#include "model/json_util.h"
#include "model/scratch.h"

namespace kh::model {

using namespace std::string_view_literals;

namespace json = boost::json;
namespace dom = simdjson::dom;

using detail::bad;
using detail::field;
using detail::integer;
using detail::number;
using detail::str;

namespace {

// Field spelling: the proto-JSON camelCase form (inlineData, mimeType, fileData, functionCall…)
// throughout. The API accepts snake_case too, but answers in camelCase, and one spelling keeps
// requests and parsed answers comparable.

// A Gemini tool call may carry a thoughtSignature that Gemini 3 insists on getting back with the
// call in the next request. OpenAI clients only echo the call id, so the signature rides in it.
constexpr std::string_view kSignatureSep = "__thought__";

// Upstream error texts end up in client error messages and logs; keep them short.
constexpr size_t kMaxErrorText = 512;

// Recursion guard for schema reduction (self-referencing $ref, absurd nesting).
constexpr int kMaxSchemaDepth = 24;

const json::object* objectField(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* arrayField(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

std::string stringField(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  return v && v->is_string() ? str(*v) : std::string();
}

long long intField(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  return v ? integer(*v).value_or(0) : 0;
}

// ---- schema reduction -----------------------------------------------------------------------

std::string_view geminiType(std::string_view t) {
  if (t == "string") return "STRING";
  if (t == "number") return "NUMBER";
  if (t == "integer") return "INTEGER";
  if (t == "boolean") return "BOOLEAN";
  if (t == "array") return "ARRAY";
  if (t == "object") return "OBJECT";
  return "";
}

// The AI Studio API refuses most `format` values; these are the ones it documents per type.
bool formatAllowed(std::string_view type, std::string_view format) {
  if (type == "STRING") return format == "enum" || format == "date-time";
  if (type == "NUMBER") return format == "float" || format == "double";
  if (type == "INTEGER") return format == "int32" || format == "int64";
  return false;
}

bool isNullSchema(const json::value& v) {
  if (!v.is_object()) return false;
  const json::value* t = field(v.as_object(), "type");
  return t && t->is_string() && t->as_string() == "null";
}

class SchemaReducer {
 public:
  // keep_order: give every object a propertyOrdering in declaration order. Gemini otherwise
  // generates a responseSchema's properties alphabetically, where OpenAI's structured outputs
  // follow the schema's order (which clients rely on, e.g. "reasoning" before "answer").
  explicit SchemaReducer(const json::value& root, bool keep_order = false)
      : root_(root), keep_order_(keep_order) {}

  // JSON Schema → the OpenAPI subset Gemini's Schema accepts. Unknown or inexpressible keywords
  // are dropped rather than refused: a looser schema still gets a useful answer, a 400 gets none.
  json::object reduce(const json::value& node, int depth = 0) const {
    json::object out;
    if (!node.is_object() || depth > kMaxSchemaDepth) return out;
    const json::object& o = node.as_object();
    const std::string description = stringField(o, "description");

    if (const json::value* ref = field(o, "$ref"); ref && ref->is_string()) {
      const json::value* target = resolve(ref->as_string());
      if (!target) return out;
      out = reduce(*target, depth + 1);
      if (!description.empty() && !out.empty() && !out.contains("anyOf"))
        out["description"] = description;
      return out;
    }

    // pydantic wraps a described $ref as allOf:[{$ref}]; a single branch is just that schema.
    if (const json::array* all = arrayField(o, "allOf"); all && all->size() == 1) {
      out = reduce(all->front(), depth + 1);
      if (!description.empty() && !out.empty() && !out.contains("anyOf"))
        out["description"] = description;
      return out;
    }

    const json::array* variants = arrayField(o, "anyOf");
    if (!variants) variants = arrayField(o, "oneOf");
    if (variants) return reduceVariants(*variants, description, depth);

    bool nullable = false;
    std::string type;
    if (const json::value* t = field(o, "type")) {
      if (t->is_string()) {
        if (t->as_string() == "null")
          nullable = true;
        else
          type = geminiType(t->as_string());
      } else if (t->is_array()) {
        // ["string","null"] is the JSON Schema way to say nullable; several real types become
        // an anyOf of the bare types.
        std::vector<std::string> types;
        for (const auto& x : t->as_array()) {
          if (!x.is_string()) continue;
          if (x.as_string() == "null") {
            nullable = true;
          } else if (auto g = geminiType(x.as_string()); !g.empty()) {
            types.emplace_back(g);
          }
        }
        if (types.size() == 1) {
          type = types.front();
        } else if (types.size() > 1) {
          json::array any;
          for (const auto& ty : types) {
            json::object branch{{"type", ty}};
            if (nullable) branch["nullable"] = true;
            any.push_back(std::move(branch));
          }
          out["anyOf"] = std::move(any);
          return out;
        }
      }
    }

    json::array enum_values;
    bool enum_ok = false;
    if (const json::array* e = arrayField(o, "enum")) {
      // Gemini enums are strings; a null member means nullable, anything else voids the enum.
      enum_ok = true;
      for (const auto& x : *e) {
        if (x.is_null())
          nullable = true;
        else if (x.is_string())
          enum_values.push_back(x);
        else
          enum_ok = false;
      }
      if (enum_values.empty()) enum_ok = false;
      if (enum_ok && type.empty()) type = "STRING";
      if (type != "STRING") enum_ok = false;
    }

    if (!type.empty()) out["type"] = type;
    if (const std::string f = stringField(o, "format"); !f.empty() && formatAllowed(type, f))
      out["format"] = f;
    if (!description.empty()) out["description"] = description;
    if (const json::value* n = field(o, "nullable"); n && n->is_bool() && n->as_bool())
      nullable = true;
    if (nullable && !out.empty()) out["nullable"] = true;
    if (enum_ok) out["enum"] = std::move(enum_values);

    if (const json::value* items = field(o, "items")) {
      json::object it = reduce(*items, depth + 1);
      if (!it.empty()) out["items"] = std::move(it);
    }
    for (const char* key : {"minItems", "maxItems"})
      if (const json::value* v = field(o, key))
        if (auto i = integer(*v); i && *i >= 0) out[key] = *i;
    for (const char* key : {"minimum", "maximum"})
      if (const json::value* v = field(o, key); v && number(*v)) out[key] = *v;

    if (const json::object* props = objectField(o, "properties")) {
      json::object reduced;
      for (const auto& [name, sub] : *props) {
        // A property that reduces to nothing ({} or an unresolvable $ref) cannot be declared.
        json::object r = reduce(sub, depth + 1);
        if (!r.empty()) reduced.emplace(name, std::move(r));
      }
      if (const json::array* req = arrayField(o, "required")) {
        json::array required;
        for (const auto& r : *req)
          if (r.is_string() && reduced.contains(r.as_string())) required.push_back(r);
        if (!required.empty()) out["required"] = std::move(required);
      }
      if (const json::array* order = arrayField(o, "propertyOrdering")) {
        json::array ordering;
        for (const auto& p : *order)
          if (p.is_string() && reduced.contains(p.as_string())) ordering.push_back(p);
        if (!ordering.empty()) out["propertyOrdering"] = std::move(ordering);
      } else if (keep_order_ && reduced.size() > 1) {
        json::array ordering;
        for (const auto& [name, sub] : reduced) ordering.push_back(json::string(name));
        out["propertyOrdering"] = std::move(ordering);
      }
      out["properties"] = std::move(reduced);
      if (!out.contains("type")) out["type"] = "OBJECT";
    }
    return out;
  }

 private:
  json::object reduceVariants(const json::array& variants, const std::string& description,
                              int depth) const {
    bool nullable = false;
    std::vector<json::object> branches;
    for (const auto& v : variants) {
      if (isNullSchema(v)) {
        nullable = true;
        continue;
      }
      json::object r = reduce(v, depth + 1);
      if (!r.empty()) branches.push_back(std::move(r));
    }
    json::object out;
    if (branches.size() == 1) {
      // anyOf [X, null] is the common "optional X": flatten it.
      out = std::move(branches.front());
      if (nullable && !out.contains("anyOf")) out["nullable"] = true;
      if (!description.empty() && !out.contains("anyOf")) out["description"] = description;
    } else if (branches.size() > 1) {
      // Gemini wants anyOf alone on its node, so the nullability goes onto each branch.
      json::array any;
      for (auto& b : branches) {
        if (nullable) b["nullable"] = true;
        any.push_back(std::move(b));
      }
      out["anyOf"] = std::move(any);
    }
    return out;
  }

  // Local refs only ("#/$defs/X", "#/definitions/X"); remote refs cannot be fetched here.
  const json::value* resolve(std::string_view ref) const {
    if (!root_.is_object()) return nullptr;
    for (std::string_view prefix : {"#/$defs/", "#/definitions/"}) {
      if (!ref.starts_with(prefix)) continue;
      const json::object* defs =
          objectField(root_.as_object(), prefix.substr(2, prefix.size() - 3));
      if (!defs) return nullptr;
      const json::value* target = defs->if_contains(ref.substr(prefix.size()));
      return target && target->is_object() ? target : nullptr;
    }
    return nullptr;
  }

  const json::value& root_;
  bool keep_order_;
};

// ---- request ----------------------------------------------------------------------------------

std::string_view mimeFromUrl(std::string_view url) {
  // The extension of the path, ignoring any query or fragment.
  std::string_view path = url.substr(0, url.find_first_of("?#"));
  const size_t dot = path.rfind('.');
  const size_t slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
    return "image/jpeg";
  std::string ext(path.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == "png") return "image/png";
  if (ext == "webp") return "image/webp";
  if (ext == "gif") return "image/gif";
  if (ext == "heic") return "image/heic";
  if (ext == "heif") return "image/heif";
  return "image/jpeg";
}

// The request body is written as JSON text, not built as a document first: for a typical chat
// the document cost as much as parsing the client's body. Schemas and tool arguments still go
// through Boost.JSON (the reducer works on documents), written with its spelling.

void appendPart(const ContentPart& p, std::string& out) {
  if (p.kind == ContentPart::Kind::kText) {
    out.append("{\"text\":"sv);
    core::appendJsonString(out, p.text);
    out.push_back('}');
  } else if (!p.image.url.empty()) {
    // Gemini fetches public http(s) URLs given as fileData itself (and takes its own Files API
    // URIs the same way), so the gateway never downloads client-chosen URLs.
    out.append("{\"fileData\":{\"mimeType\":"sv);
    core::appendJsonString(out, mimeFromUrl(p.image.url));
    out.append(",\"fileUri\":"sv);
    core::appendJsonString(out, p.image.url);
    out.append("}}"sv);
  } else {
    out.append("{\"inlineData\":{\"mimeType\":"sv);
    core::appendJsonString(out, p.image.media_type.empty() ? std::string_view("image/jpeg")
                                                           : std::string_view(p.image.media_type));
    out.append(",\"data\":"sv);
    core::appendJsonString(out, p.image.data);
    out.append("}}"sv);
  }
}

json::object parseArgs(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

// A turn's parts as comma-separated JSON text.
struct Turn {
  std::string_view role;  // user | model
  std::string parts;
  template <class F>
  void forEachBuffer(F&& f) {
    f(parts);
  }
};
using Turns = ScratchTurns<Turn>;

// The turn that parts for `role` go into: Gemini wants user and model turns to alternate, so
// neighbours with one role become one turn. Returns its parts, ready for one more.
std::string& nextPart(Turns& turns, std::string_view role) {
  std::string& parts = turns.turnFor(role).parts;
  if (!parts.empty()) parts.push_back(',');
  return parts;
}

void appendFunctionCallPart(const ToolCall& call, std::string& out) {
  out.append("{\"functionCall\":{\"name\":"sv);
  core::appendJsonString(out, call.name);
  out.append(",\"args\":"sv);
  detail::appendJson(parseArgs(call.arguments), out);
  out.push_back('}');
  if (const size_t at = call.id.find(kSignatureSep); at != std::string::npos) {
    out.append(",\"thoughtSignature\":"sv);
    core::appendJsonString(out, std::string_view(call.id).substr(at + kSignatureSep.size()));
  }
  out.push_back('}');
}

void appendFunctionResponsePart(std::string_view name, const Message& m, std::string& out) {
  const std::string text = m.text();
  out.append("{\"functionResponse\":{\"name\":"sv);
  core::appendJsonString(out, name);
  out.append(",\"response\":"sv);
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (!ec && v.is_object()) {
    detail::appendJson(v, out);
  } else {
    out.append("{\"content\":"sv);
    core::appendJsonString(out, text);
    out.push_back('}');
  }
  out.append("}}"sv);
}

void appendToolConfig(const ToolChoice& choice, std::string& out) {
  std::string_view mode;
  switch (choice.mode) {
    case ToolChoice::Mode::kUnset:
      return;
    case ToolChoice::Mode::kAuto:
      mode = "AUTO";
      break;
    case ToolChoice::Mode::kNone:
      mode = "NONE";
      break;
    case ToolChoice::Mode::kRequired:
    case ToolChoice::Mode::kNamed:
      mode = "ANY";
      break;
  }
  out.append(",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\""sv)
      .append(mode)
      .push_back('"');
  if (choice.mode == ToolChoice::Mode::kNamed) {
    out.append(",\"allowedFunctionNames\":["sv);
    core::appendJsonString(out, choice.name);
    out.push_back(']');
  }
  out.append("}}"sv);
}

void appendGenerationConfig(const ChatRequest& r, std::string& out) {
  const size_t start = out.size();
  out.append(",\"generationConfig\":{"sv);
  const size_t empty = out.size();
  auto key = [&](std::string_view k) -> std::string& {
    if (out.size() != empty) out.push_back(',');
    out.push_back('"');
    out.append(k).append("\":"sv);
    return out;
  };
  if (r.temperature) detail::appendJsonNumber(*r.temperature, key("temperature"));
  if (r.top_p) detail::appendJsonNumber(*r.top_p, key("topP"));
  if (r.top_k) core::appendJsonInt(key("topK"), *r.top_k);
  if (r.max_tokens) core::appendJsonInt(key("maxOutputTokens"), *r.max_tokens);
  if (!r.stop.empty()) {
    key("stopSequences").push_back('[');
    for (size_t i = 0; i < r.stop.size(); ++i) {
      if (i > 0) out.push_back(',');
      core::appendJsonString(out, r.stop[i]);
    }
    out.push_back(']');
  }
  if (r.n) core::appendJsonInt(key("candidateCount"), *r.n);
  if (r.seed) core::appendJsonInt(key("seed"), *r.seed);
  if (r.presence_penalty) detail::appendJsonNumber(*r.presence_penalty, key("presencePenalty"));
  if (r.frequency_penalty) detail::appendJsonNumber(*r.frequency_penalty, key("frequencyPenalty"));
  if (r.response_format.kind == ResponseFormat::Kind::kJsonObject ||
      r.response_format.kind == ResponseFormat::Kind::kJsonSchema) {
    key("responseMimeType").append("\"application/json\""sv);
    if (r.response_format.kind == ResponseFormat::Kind::kJsonSchema) {
      const json::object schema =
          SchemaReducer(r.response_format.schema, true).reduce(r.response_format.schema);
      if (!schema.empty()) detail::appendJson(schema, key("responseSchema"));
    }
  }
  if (out.size() == empty)
    out.resize(start);  // nothing to configure: no generationConfig at all
  else
    out.push_back('}');
}

// ---- responses --------------------------------------------------------------------------------

FinishReason mapFinish(std::string_view reason, bool has_calls) {
  if (reason == "MAX_TOKENS") return FinishReason::kLength;
  if (reason == "SAFETY" || reason == "RECITATION" || reason == "BLOCKLIST" ||
      reason == "PROHIBITED_CONTENT" || reason == "SPII" || reason == "IMAGE_SAFETY")
    return FinishReason::kContentFilter;
  // STOP, OTHER, MALFORMED_FUNCTION_CALL, unspecified, future values: the answer simply ended.
  return has_calls ? FinishReason::kToolCalls : FinishReason::kStop;
}

Usage parseUsage(dom::object u) {
  const auto [prompt, tool_prompt, thoughts, candidates, cached] =
      detail::members(u, {"promptTokenCount", "toolUsePromptTokenCount", "thoughtsTokenCount",
                          "candidatesTokenCount", "cachedContentTokenCount"});
  Usage usage;
  // toolUsePromptTokenCount is input Gemini read for its own tools; counting it as prompt keeps
  // prompt + completion equal to Gemini's totalTokenCount.
  usage.prompt_tokens = detail::integerOf(prompt, 0) + detail::integerOf(tool_prompt, 0);
  usage.reasoning_tokens = detail::integerOf(thoughts, 0);
  // OpenAI counts reasoning inside completion_tokens; Gemini reports it beside.
  usage.completion_tokens = detail::integerOf(candidates, 0) + usage.reasoning_tokens;
  usage.cached_tokens = detail::integerOf(cached, 0);
  return usage;
}

// The call id a client will echo back: Gemini's own id, or one made up here, plus the thought
// signature if Gemini sent one (see kSignatureSep).
std::string callId(dom::object part, dom::object fc, int& counter) {
  std::string id(detail::stringMember(fc, "id"));
  if (id.empty()) id = fmt::format("call_{}", counter);
  ++counter;
  if (std::string_view sig = detail::stringMember(part, "thoughtSignature"); !sig.empty())
    id += fmt::format("{}{}", kSignatureSep, sig);
  return id;
}

// A candidate's parts as text and tool calls, in stream events and whole answers alike. Thought
// summaries are the model's scratchpad, not its answer; they are left out. Arguments keep
// Boost.JSON's spelling (see detail::serialize).
void readParts(dom::object candidate, std::string& text, std::vector<ToolCall>& calls,
               int& counter) {
  const auto content = detail::objectMember(candidate, "content");
  const auto parts = content ? detail::arrayMember(*content, "parts") : std::nullopt;
  if (!parts) return;
  for (const dom::element pv : *parts) {
    dom::object part;
    if (pv.get_object().get(part)) continue;
    const auto [th, t, function_call] = detail::members(part, {"thought", "text", "functionCall"});
    bool thought = false;
    if (th && !th->get_bool().get(thought) && thought) continue;
    if (t) {
      std::string_view sv;
      if (!t->get_string().get(sv)) text += sv;
    }
    if (const auto fc = detail::objectOf(function_call)) {
      ToolCall call;
      call.id = callId(part, *fc, counter);
      call.name = detail::stringMember(*fc, "name");
      const auto args = detail::member(*fc, "args");
      call.arguments = args ? detail::serialize(*args) : "{}";
      calls.push_back(std::move(call));
    }
  }
}

int statusFromName(std::string_view s) {
  if (s == "RESOURCE_EXHAUSTED") return 429;
  if (s == "UNAVAILABLE") return 503;
  if (s == "INTERNAL" || s == "UNKNOWN" || s == "DATA_LOSS") return 500;
  if (s == "DEADLINE_EXCEEDED") return 504;
  if (s == "INVALID_ARGUMENT" || s == "FAILED_PRECONDITION" || s == "OUT_OF_RANGE") return 400;
  if (s == "PERMISSION_DENIED") return 403;
  if (s == "UNAUTHENTICATED") return 401;
  if (s == "NOT_FOUND") return 404;
  if (s == "ALREADY_EXISTS" || s == "ABORTED") return 409;
  if (s == "CANCELLED") return 499;
  if (s == "UNIMPLEMENTED") return 501;
  return 0;
}

// `{"error":{…}}` or Gemini's array-wrapped `[{"error":{…}}]`; none when the value is neither.
std::optional<dom::object> errorObject(dom::element v) {
  dom::array a;
  if (!v.get_array().get(a))
    for (const dom::element first : a) {
      v = first;
      break;
    }
  dom::object o;
  if (v.get_object().get(o)) return std::nullopt;
  return detail::objectMember(o, "error");
}

// errorObject's test for the documents Boost.JSON still reads (embeddings).
bool hasErrorObject(const json::value& v) {
  const json::value* holder = &v;
  if (v.is_array() && !v.as_array().empty()) holder = &v.as_array().front();
  return holder->is_object() && objectField(holder->as_object(), "error");
}

core::Error errorFrom(int status, dom::object err) {
  const std::string_view name = detail::stringMember(err, "status");
  // The HTTP status is what Gemini meant; inside a 200 stream only the body can tell.
  int http = status >= 400 ? status : statusFromName(name);
  if (http == 0) {
    const long long code = detail::integerMember(err, "code", 0);
    http = code >= 400 && code < 600 ? static_cast<int>(code) : 500;
  }
  core::Error e = core::Error::upstreamStatus(http, "");
  std::string message = core::textExcerpt(detail::stringMember(err, "message"), kMaxErrorText);
  if (message.empty())
    message = name.empty() ? fmt::format("Gemini answered HTTP {}", http)
                           : fmt::format("Gemini answered {}", name);
  e.message = std::move(message);
  return e;
}

}  // namespace

// ---- public -----------------------------------------------------------------------------------

core::Status appendGeminiRequestJson(const ChatRequest& request, std::string& out) {
  thread_local std::string system_parts;
  trimScratch(system_parts);
  system_parts.clear();
  Turns& turns = Turns::forThread();
  std::map<std::string, std::string, std::less<>> call_names;  // tool_call_id → function name

  for (size_t i = 0; i < request.messages.size(); ++i) {
    const Message& m = request.messages[i];
    switch (m.role) {
      case Role::kSystem:
      case Role::kDeveloper: {
        if (std::string text = m.text(); !text.empty()) {
          if (!system_parts.empty()) system_parts.push_back(',');
          appendPart(ContentPart::textPart(std::move(text)), system_parts);
        }
        break;
      }
      case Role::kUser:
      case Role::kAssistant: {
        const std::string_view role = m.role == Role::kUser ? "user" : "model";
        for (const auto& p : m.content) {
          // Gemini refuses empty text parts.
          if (p.kind == ContentPart::Kind::kText && p.text.empty()) continue;
          appendPart(p, nextPart(turns, role));
        }
        if (m.role == Role::kAssistant) {
          for (const auto& call : m.tool_calls) {
            if (!call.id.empty()) call_names[call.id] = call.name;
            appendFunctionCallPart(call, nextPart(turns, role));
          }
        }
        break;
      }
      case Role::kTool: {
        // Gemini matches a result to its call by function name, which OpenAI tool messages do not
        // carry: it comes from the assistant turn that made the call.
        std::string_view name;
        if (auto it = call_names.find(m.tool_call_id); it != call_names.end())
          name = it->second;
        else if (m.tool_call_id.empty())
          name = m.name;  // legacy role "function" messages carry the name instead
        if (name.empty())
          return bad(fmt::format("messages[{}].tool_call_id", i),
                     fmt::format("No earlier assistant tool call has the id '{}'", m.tool_call_id));
        appendFunctionResponsePart(name, m, nextPart(turns, "user"));
        break;
      }
    }
  }

  if (turns.empty()) {
    // Gemini needs at least one content; a system-only prompt is sent as the user's turn.
    if (system_parts.empty())
      return bad("messages", "At least one message with content is required");
    turns.turnFor("user").parts.swap(system_parts);
  }
  out.append("{\"contents\":["sv);
  for (size_t t = 0; t < turns.size(); ++t) {
    if (t > 0) out.push_back(',');
    out.append("{\"role\":\""sv).append(turns[t].role).append("\",\"parts\":["sv);
    out.append(turns[t].parts).append("]}"sv);
  }
  out.push_back(']');
  if (!system_parts.empty())
    out.append(",\"systemInstruction\":{\"parts\":["sv).append(system_parts).append("]}"sv);

  if (!request.tools.empty()) {
    out.append(",\"tools\":[{\"functionDeclarations\":["sv);
    for (size_t t = 0; t < request.tools.size(); ++t) {
      const Tool& tool = request.tools[t];
      if (t > 0) out.push_back(',');
      out.append("{\"name\":"sv);
      core::appendJsonString(out, tool.name);
      if (!tool.description.empty()) {
        out.append(",\"description\":"sv);
        core::appendJsonString(out, tool.description);
      }
      const json::object params = SchemaReducer(tool.parameters).reduce(tool.parameters);
      // Gemini rejects an OBJECT without properties; a tool without arguments omits parameters.
      const json::object* props = objectField(params, "properties");
      const bool empty_object =
          params.empty() || (stringField(params, "type") == "OBJECT" && (!props || props->empty()));
      if (!empty_object) {
        out.append(",\"parameters\":"sv);
        detail::appendJson(params, out);
      }
      out.push_back('}');
    }
    out.append("]}]"sv);
  }
  appendToolConfig(request.tool_choice, out);
  appendGenerationConfig(request, out);
  out.push_back('}');
  return core::Ok{};
}

bool appendGeminiTextRequestJson(const ChatRequest& head, std::span<const TextMessage> messages,
                                 std::string& out) {
  const std::size_t start = out.size();
  // As appendGeminiRequestJson: neighbouring messages of one role make one turn, and empty texts
  // are left out.
  out.append("{\"contents\":["sv);
  if (!detail::appendTextTurns(messages, "{\"role\":\"user\",\"parts\":["sv,
                               "{\"role\":\"model\",\"parts\":["sv, "{\"text\":\""sv, out)) {
    out.resize(start);  // appendGeminiRequestJson sends the system prompt as the turn
    return false;
  }
  out.push_back(']');
  bool system = false;
  for (const TextMessage& m : messages) {
    if ((m.role != Role::kSystem && m.role != Role::kDeveloper) || m.json_text.empty()) continue;
    out.append(system ? ",{\"text\":\""sv : ",\"systemInstruction\":{\"parts\":[{\"text\":\""sv);
    out.append(m.json_text).append("\"}"sv);
    system = true;
  }
  if (system) out.append("]}"sv);
  appendToolConfig(head.tool_choice, out);
  appendGenerationConfig(head, out);
  out.push_back('}');
  return true;
}

core::Result<json::object> toGeminiRequest(const ChatRequest& request) {
  std::string text;
  if (auto s = appendGeminiRequestJson(request, text); !s) return std::move(s).error();
  return json::parse(text).as_object();
}

bool scanGeminiResponse(std::string_view body, ChatResponse& r) {
  using Kind = JsonScanner::Kind;
  static constexpr std::string_view kKeys[] = {"candidates", "usageMetadata", "responseId",
                                               "modelVersion", "error"};
  static constexpr std::string_view kCandidateKeys[] = {"index", "content", "finishReason"};
  static constexpr std::string_view kContentKeys[] = {"parts"};
  static constexpr std::string_view kPartKeys[] = {"text", "thought", "functionCall"};
  static constexpr std::string_view kUsageKeys[] = {"promptTokenCount", "toolUsePromptTokenCount",
                                                    "thoughtsTokenCount", "candidatesTokenCount",
                                                    "cachedContentTokenCount"};
  JsonScanner s(body);
  // promptTokenCount, toolUsePromptTokenCount, thoughtsTokenCount, candidatesTokenCount,
  // cachedContentTokenCount; null counts as 0, as in parseUsage.
  long long counts[5] = {};
  bool has_usage = false;
  // One part into `out`, as readParts reads it: thought summaries left out.
  auto part = [&](std::string& out) {
    if (s.peek() != Kind::kObject) return s.skip();
    JsonString t;
    bool has_text = false, thought = false;
    const bool read = s.object(kPartKeys, [&](std::size_t i) {
      switch (i) {
        case 0:
          if (s.peek() != Kind::kString) return s.skip();
          has_text = true;
          return s.string(t);
        case 1:
          return s.peek() == Kind::kBool ? s.boolean(thought) : s.skip();
        default:  // calls are read the general way
          return s.peek() == Kind::kNull && s.null();
      }
    });
    return read && (thought || !has_text || t.appendTo(out));
  };
  auto candidate = [&](Choice& ch, int pos) {
    std::string answer;
    JsonString reason;
    long long index = pos;
    const bool read = s.object(kCandidateKeys, [&](std::size_t i) {
      switch (i) {
        case 0:
          if (s.peek() != Kind::kNumber) return s.skip();
          return s.integer(index);
        case 1:
          if (s.peek() != Kind::kObject) return s.skip();
          return s.object(kContentKeys, [&](std::size_t) {
            if (s.peek() != Kind::kArray) return s.skip();
            if (!s.beginArray()) return false;
            while (s.nextElement())
              if (!part(answer)) return false;
            return !s.failed();
          });
        default:
          if (s.peek() != Kind::kString) return s.skip();
          return s.string(reason);
      }
    });
    std::string finish;
    if (!read || !reason.appendTo(finish)) return false;
    ch.index = static_cast<int>(index);
    ch.message.role = Role::kAssistant;
    ch.message.content.emplace_back().text = std::move(answer);
    ch.finish_reason = mapFinish(finish, false);
    return true;
  };
  const bool read = s.object(kKeys, [&](std::size_t i) {
    switch (i) {
      case 0: {
        if (!s.beginArray()) return false;
        int pos = 0;
        for (; s.nextElement(); ++pos) {
          if (s.peek() != Kind::kObject) {
            if (!s.skip()) return false;
          } else if (!candidate(r.choices.emplace_back(), pos)) {
            return false;
          }
        }
        return !s.failed();
      }
      case 1:
        if (s.peek() != Kind::kObject) return s.skip();
        has_usage = true;
        return s.object(kUsageKeys, [&](std::size_t k) {
          return s.peek() == Kind::kNull ? s.null() : s.integer(counts[k]);
        });
      case 2:
        return s.textOrSkip(r.id);
      case 3:
        return s.textOrSkip(r.model);
      default:
        return s.peek() == Kind::kNull && s.null();
    }
  });
  // A response without candidates is a blocked prompt or an error: the general reading's.
  if (!read || !s.finish() || r.choices.empty()) return false;
  if (has_usage) {
    Usage& u = r.usage.emplace();
    u.prompt_tokens = counts[0] + counts[1];
    u.reasoning_tokens = counts[2];
    u.completion_tokens = counts[3] + counts[2];
    u.cached_tokens = counts[4];
  }
  return true;
}

core::Result<ChatResponse> parseGeminiResponse(std::string_view body, std::string_view id,
                                               std::string_view model, long long created) {
  if (ChatResponse scanned; scanGeminiResponse(body, scanned)) {
    if (scanned.id.empty()) scanned.id = id;
    if (scanned.model.empty()) scanned.model = model;
    scanned.created = created;
    return scanned;
  }
  dom::element root;
  if (detail::parseDocument(body).get(root))
    return core::Error::badGateway("The upstream answered with a body that is not valid JSON");
  if (const auto err = errorObject(root)) return errorFrom(0, *err);
  dom::object o;
  if (root.get_object().get(o))
    return core::Error::badGateway("The Gemini response is not an object");
  ChatResponse r;
  r.id = detail::stringMember(o, "responseId");
  if (r.id.empty()) r.id = id;
  r.model = detail::stringMember(o, "modelVersion");
  if (r.model.empty()) r.model = model;
  r.created = created;

  int counter = 0;
  if (const auto candidates = detail::arrayMember(o, "candidates")) {
    int pos = -1;
    for (const dom::element ce : *candidates) {
      ++pos;
      dom::object c;
      if (ce.get_object().get(c)) continue;
      Choice& ch = r.choices.emplace_back();
      ch.index = static_cast<int>(detail::integerMember(c, "index", pos));
      ch.message.role = Role::kAssistant;
      std::string text;
      readParts(c, text, ch.message.tool_calls, counter);
      if (!text.empty() || ch.message.tool_calls.empty())
        ch.message.content.emplace_back().text = std::move(text);
      ch.finish_reason =
          mapFinish(detail::stringMember(c, "finishReason"), !ch.message.tool_calls.empty());
    }
  }
  if (r.choices.empty()) {
    const auto feedback = detail::objectMember(o, "promptFeedback");
    if (!feedback || detail::stringMember(*feedback, "blockReason").empty())
      return core::Error::badGateway("The Gemini response has no candidates");
    // A blocked prompt is an answer, not an error: OpenAI reports it as a filtered choice.
    Choice& ch = r.choices.emplace_back();
    ch.message.role = Role::kAssistant;
    ch.message.content.push_back(ContentPart::textPart(""));
    ch.finish_reason = FinishReason::kContentFilter;
  }
  if (const auto u = detail::objectMember(o, "usageMetadata")) r.usage = parseUsage(*u);
  return r;
}

core::Result<ChatResponse> parseGeminiResponse(const json::value& body, std::string_view id,
                                               std::string_view model, long long created) {
  return parseGeminiResponse(std::string_view(json::serialize(body)), id, model, created);
}

core::Error parseGeminiError(int status, std::string_view body) {
  dom::element root;
  if (!detail::parseDocument(body).get(root))
    if (const auto err = errorObject(root)) return errorFrom(status, *err);
  const int http = status >= 400 ? status : 502;
  core::Error e = core::Error::upstreamStatus(http, "");
  std::string text = core::textExcerpt(body, kMaxErrorText);
  e.message = text.empty() ? fmt::format("Gemini answered HTTP {}", http) : std::move(text);
  return e;
}

GeminiStreamDecoder::GeminiStreamDecoder(std::string id, std::string model, long long created)
    : id_(std::move(id)), model_(std::move(model)), created_(created) {}

GeminiStreamDecoder::CandidateState& GeminiStreamDecoder::candidate(int index) {
  const size_t i = static_cast<size_t>(std::clamp(index, 0, 127));
  if (candidates_.size() <= i) candidates_.resize(i + 1);
  return candidates_[i];
}

ChatChunk& GeminiStreamDecoder::chunk(ChunkBuffer& out) const {
  return out.add(id_, model_, created_);
}

core::Status GeminiStreamDecoder::feed(std::string_view data, ChunkBuffer& out) {
  if (readCommonEvent(data, out)) return core::Ok{};
  dom::element root;
  if (detail::parseDocument(data).get(root))
    return core::Error::badGateway("Gemini sent a stream event that is not JSON");
  if (const auto err = errorObject(root)) return errorFrom(0, *err);
  dom::object o;
  if (root.get_object().get(o))
    return core::Error::badGateway("Gemini sent a stream event that is not an object");

  const auto [usage_member, candidates_member, feedback_member] =
      detail::members(o, {"usageMetadata", "candidates", "promptFeedback"});
  if (const auto u = detail::objectOf(usage_member)) {
    usage_ = parseUsage(*u);  // cumulative in every event; the latest is the total
    saw_usage_ = true;
  }

  const auto candidates = detail::arrayOf(candidates_member);
  if (!candidates || candidates->size() == 0) {
    // A blocked prompt streams as one event with promptFeedback and no candidates.
    const auto feedback = detail::objectOf(feedback_member);
    if (feedback && !detail::stringMember(*feedback, "blockReason").empty()) {
      CandidateState& st = candidate(0);
      if (!st.finish_sent) {
        ChunkChoice& cc = chunk(out).choices.emplace_back();
        if (!st.role_sent) cc.role = Role::kAssistant;
        cc.finish_reason = FinishReason::kContentFilter;
        st.role_sent = st.finish_sent = true;
      }
    }
    return core::Ok{};
  }

  int pos = -1;
  for (const dom::element ce : *candidates) {
    ++pos;
    dom::object c;
    if (ce.get_object().get(c)) continue;
    const auto given = detail::member(c, "index");
    const int index = given ? static_cast<int>(detail::integer(*given).value_or(pos)) : pos;
    text_.clear();
    calls_.clear();
    readParts(c, text_, calls_, call_ids_);
    emitCandidate(index, detail::stringMember(c, "finishReason"), out);
  }
  return core::Ok{};
}

void GeminiStreamDecoder::emitCandidate(int index, std::string_view reason, ChunkBuffer& out) {
  CandidateState& st = candidate(index);
  if (!text_.empty() || !calls_.empty()) {
    ChunkChoice& cc = chunk(out).choices.emplace_back();
    cc.index = index;
    if (!st.role_sent) cc.role = Role::kAssistant;
    st.role_sent = true;
    if (!text_.empty()) cc.content.emplace(text_);
    for (auto& call : calls_) {
      // Gemini sends each call whole, so one delta carries id, name and all the arguments.
      cc.tool_calls.push_back(ToolCallDelta{st.tool_count++, std::move(call.id),
                                            std::move(call.name), std::move(call.arguments)});
      st.saw_tool_call = true;
    }
  }
  if (!reason.empty() && !st.finish_sent) {
    ChunkChoice& cc = chunk(out).choices.emplace_back();
    cc.index = index;
    if (!st.role_sent) cc.role = Role::kAssistant;
    st.role_sent = st.finish_sent = true;
    cc.finish_reason = mapFinish(reason, st.saw_tool_call);
  }
}

namespace {

// The last one-part text event read on this thread, split around its text, and what the rest of
// it held: Gemini repeats all else (the parts' frame, usageMetadata, modelVersion, responseId) in
// every event of a stream.
struct TextEventTemplate {
  StringSlot slot;
  bool has_usage = false;
  Usage usage;
  int index = 0;
  std::string reason;
};

TextEventTemplate& knownTextEvent() {
  thread_local TextEventTemplate known;
  return known;
}

}  // namespace

bool GeminiStreamDecoder::textDelta(std::string_view data, TextDelta& out) {
  const TextEventTemplate& known = knownTextEvent();
  // Only a candidate whose role went out already gets a chunk of its text alone.
  if (!known.reason.empty() || static_cast<std::size_t>(known.index) >= candidates_.size() ||
      !candidates_[known.index].role_sent)
    return false;
  JsonString text;
  if (!known.slot.match(data, text) || text.raw.empty()) return false;
  if (known.has_usage) {
    usage_ = known.usage;
    saw_usage_ = true;
  }
  out = TextDelta{text.raw, text.escaped, id_, model_, created_, known.index};
  return true;
}

bool GeminiStreamDecoder::readCommonEvent(std::string_view data, ChunkBuffer& out) {
  using Kind = JsonScanner::Kind;
  TextEventTemplate& known = knownTextEvent();
  text_.clear();
  calls_.clear();
  if (JsonString text; known.slot.match(data, text)) {
    if (text.appendTo(text_)) {
      if (known.has_usage) {
        usage_ = known.usage;
        saw_usage_ = true;
      }
      emitCandidate(known.index, known.reason, out);
      return true;
    }
    text_.clear();
  }

  static constexpr std::string_view kKeys[] = {"usageMetadata", "candidates", "error",
                                               "promptFeedback"};
  static constexpr std::string_view kUsageKeys[] = {"promptTokenCount", "toolUsePromptTokenCount",
                                                    "thoughtsTokenCount", "candidatesTokenCount",
                                                    "cachedContentTokenCount"};
  static constexpr std::string_view kCandidateKeys[] = {"index", "finishReason", "content"};
  JsonScanner s(data);
  JsonString reason;
  bool has_usage = false;
  // promptTokenCount, toolUsePromptTokenCount, thoughtsTokenCount, candidatesTokenCount,
  // cachedContentTokenCount; null counts as 0, as generally.
  long long counts[5] = {};
  int candidates = 0;
  long long index = 0;
  TextParts parts;
  auto candidate = [&](std::size_t i) {
    switch (i) {
      case 0:
        return s.integer(index) && index >= 0 && index < 128;
      case 1:
        if (s.peek() != Kind::kString) return s.skip();
        return s.string(reason) && !reason.escaped;
      default:
        return s.peek() != Kind::kObject ? s.skip() : readTextParts(s, parts);
    }
  };
  const bool read = s.object(kKeys, [&](std::size_t i) {
    switch (i) {
      case 0:
        if (s.peek() != Kind::kObject) return s.skip();
        has_usage = true;
        return s.object(kUsageKeys, [&](std::size_t k) {
          return s.peek() == Kind::kNull ? s.null() : s.integer(counts[k]) && counts[k] >= 0;
        });
      case 1:
        if (s.peek() != Kind::kArray || !s.beginArray()) return false;
        while (s.nextElement()) {
          // Several candidates (n > 1) are left to the general reading.
          if (++candidates > 1 || s.peek() != Kind::kObject || !s.object(kCandidateKeys, candidate))
            return false;
        }
        return !s.failed();
      default:
        return s.peek() == Kind::kNull && s.null();
    }
  });
  if (!read) return false;
  Usage usage;
  usage.prompt_tokens = counts[0] + counts[1];
  usage.reasoning_tokens = counts[2];
  usage.completion_tokens = counts[3] + counts[2];
  usage.cached_tokens = counts[4];
  if (!s.finish() || candidates == 0) return false;

  if (has_usage) {
    usage_ = usage;  // cumulative in every event; the latest is the total
    saw_usage_ = true;
  }
  emitCandidate(static_cast<int>(index), reason.raw, out);
  if (parts.count == 1 && parts.text.raw.data() != nullptr && !parts.thought) {
    known.slot.keep(data, parts.text);
    known.has_usage = has_usage;
    known.usage = usage;
    known.index = static_cast<int>(index);
    known.reason.assign(reason.raw);
  }
  return true;
}

bool GeminiStreamDecoder::readTextParts(JsonScanner& s, TextParts& parts) {
  using Kind = JsonScanner::Kind;
  static constexpr std::string_view kContentKeys[] = {"parts"};
  static constexpr std::string_view kPartKeys[] = {"text", "thought", "functionCall"};
  JsonString text;
  bool thought = false;
  auto part = [&](std::size_t i) {
    switch (i) {
      case 0:
        return s.peek() == Kind::kString ? s.string(text) : s.skip();
      case 1:
        return s.peek() == Kind::kBool ? s.boolean(thought) : s.skip();
      // Calls come whole, once a stream at most: the general reading serves them.
      default:
        return s.peek() == Kind::kNull && s.null();
    }
  };
  return s.object(kContentKeys, [&](std::size_t) {
    if (s.peek() != Kind::kArray) return s.skip();
    if (!s.beginArray()) return false;
    while (s.nextElement()) {
      text = JsonString{};
      thought = false;
      if (s.peek() != Kind::kObject || !s.object(kPartKeys, part)) return false;
      if (!thought && !text.appendTo(text_)) return false;
      ++parts.count;
      parts.text = text;
      parts.thought = thought;
    }
    return !s.failed();
  });
}

void GeminiStreamDecoder::finish(ChunkBuffer& out) {
  if (!saw_usage_ || usage_sent_) return;
  chunk(out).usage = usage_;
  usage_sent_ = true;
}

json::object toGeminiEmbedRequest(const EmbeddingRequest& request, std::string_view model) {
  const std::string name = fmt::format("models/{}", model);
  json::array requests;
  for (const auto& input : request.input) {
    json::object r{
        {"model", name},
        {"content", json::object{{"parts", json::array{json::object{{"text", input}}}}}}};
    if (request.dimensions) r["outputDimensionality"] = *request.dimensions;
    requests.push_back(std::move(r));
  }
  return json::object{{"requests", std::move(requests)}};
}

core::Result<EmbeddingResponse> parseGeminiEmbedResponse(const json::value& body,
                                                         std::string_view model) {
  // Rare: the error is read again, by the reader that serves every other Gemini error.
  if (hasErrorObject(body)) return parseGeminiError(0, json::serialize(body));
  if (!body.is_object()) return core::Error::badGateway("The Gemini response is not an object");
  const json::object& o = body.as_object();

  auto values = [](const json::value& e) -> std::optional<std::vector<float>> {
    const json::array* vals = e.is_object() ? arrayField(e.as_object(), "values") : nullptr;
    if (!vals) return std::nullopt;
    std::vector<float> vec;
    vec.reserve(vals->size());
    for (const auto& x : *vals) {
      auto d = number(x);
      // Beyond a float's range the conversion is undefined: such an answer is malformed.
      if (!d || !(std::abs(*d) <= std::numeric_limits<float>::max())) return std::nullopt;
      vec.push_back(static_cast<float>(*d));
    }
    return vec;
  };

  EmbeddingResponse r;
  r.model = std::string(model);
  if (const json::array* list = arrayField(o, "embeddings")) {
    for (const auto& e : *list) {
      auto vec = values(e);
      if (!vec) return core::Error::badGateway("A Gemini embedding has no numeric 'values'");
      r.embeddings.push_back(std::move(*vec));
    }
  } else if (const json::value* single = field(o, "embedding")) {
    auto vec = values(*single);
    if (!vec) return core::Error::badGateway("The Gemini embedding has no numeric 'values'");
    r.embeddings.push_back(std::move(*vec));
  } else {
    return core::Error::badGateway("The Gemini response has no embeddings");
  }
  // Gemini's embedding answers carry no token counts (newer ones may carry usageMetadata); the
  // provider estimates from the input when this stays 0, as it alone still has the input.
  if (const json::object* u = objectField(o, "usageMetadata"))
    r.usage.prompt_tokens = intField(*u, "promptTokenCount");
  return r;
}

std::vector<std::string> parseGeminiModelList(std::string_view body) {
  std::vector<std::string> ids;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return ids;
  const json::array* models = arrayField(v.as_object(), "models");
  if (!models) return ids;
  for (const auto& m : *models) {
    if (!m.is_object()) continue;
    const json::object& mo = m.as_object();
    const json::array* methods = arrayField(mo, "supportedGenerationMethods");
    if (!methods) continue;
    const bool usable = std::any_of(methods->begin(), methods->end(), [](const json::value& x) {
      if (!x.is_string()) return false;
      const std::string_view s = x.as_string();
      return s == "generateContent" || s == "streamGenerateContent" || s == "embedContent" ||
             s == "batchEmbedContents";
    });
    if (!usable) continue;
    std::string name = stringField(mo, "name");
    if (name.starts_with("models/")) name.erase(0, 7);
    if (!name.empty()) ids.push_back(std::move(name));
  }
  return ids;
}

}  // namespace kh::model
