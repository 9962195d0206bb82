#include "model/anthropic_codec.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/ids.h"
#include "core/json_text.h"
#include "core/text_search.h"
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

std::string_view stringField(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

// Upstream error text that is not JSON (a load balancer's HTML page) is cut to this many bytes.
constexpr size_t kMaxErrorText = 1024;

// OpenAI-oriented clients send temperatures up to 2; Anthropic refuses anything above 1.
constexpr double kMaxTemperature = 1.0;

// response_format json_object has no Anthropic counterpart without a schema (structured outputs
// require one, and objects in it must forbid additional properties), so it becomes an instruction.
constexpr std::string_view kJsonObjectInstruction =
    "Respond only with a single valid JSON object, with no text before or after it.";

std::string_view stopReasonFor(FinishReason r) {
  switch (r) {
    case FinishReason::kLength:
      return "max_tokens";
    case FinishReason::kToolCalls:
      return "tool_use";
    case FinishReason::kContentFilter:
      return "refusal";
    case FinishReason::kStop:
    case FinishReason::kNone:
      break;
  }
  return "end_turn";
}

FinishReason finishFor(std::string_view stop_reason) {
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded")
    return FinishReason::kLength;
  if (stop_reason == "tool_use") return FinishReason::kToolCalls;
  if (stop_reason == "refusal") return FinishReason::kContentFilter;
  // end_turn, stop_sequence, pause_turn, and reasons Anthropic may add later.
  return FinishReason::kStop;
}

// Anthropic's input_tokens leaves out cache reads and writes; the canonical prompt count holds
// all three. Only the fields present are updated, because message_delta repeats some of
// message_start's counts and omits others.
// The counts a usage object names; those absent, null or not integers stay unset.
struct UsageCounts {
  std::optional<long long> input, cache_read, cache_creation, output;
};

void applyUsageCounts(const UsageCounts& c, Usage& u) {
  const long long input =
      c.input.value_or(u.prompt_tokens - u.cached_tokens - u.cache_creation_tokens);
  u.cached_tokens = c.cache_read.value_or(u.cached_tokens);
  u.cache_creation_tokens = c.cache_creation.value_or(u.cache_creation_tokens);
  u.prompt_tokens = input + u.cached_tokens + u.cache_creation_tokens;
  u.completion_tokens = c.output.value_or(u.completion_tokens);
}

void applyUsage(dom::element v, Usage& u) {
  dom::object o;
  if (v.get_object().get(o)) return;
  const auto [input_tokens, cache_read, cache_creation, output] = detail::members(
      o,
      {"input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens"});
  auto count = [](const std::optional<dom::element>& e) -> std::optional<long long> {
    return e ? detail::integer(*e) : std::nullopt;
  };
  applyUsageCounts({count(input_tokens), count(cache_read), count(cache_creation), count(output)},
                   u);
}

// A usage object as applyUsage reads it, by the scanner: false for any count that is not a plain
// integer or null (the general reading decides those).
bool scanUsageCounts(JsonScanner& s, UsageCounts& counts) {
  static constexpr std::string_view kKeys[] = {"input_tokens", "cache_read_input_tokens",
                                               "cache_creation_input_tokens", "output_tokens"};
  return s.object(kKeys, [&](std::size_t i) {
    std::optional<long long>& to = i == 0   ? counts.input
                                   : i == 1 ? counts.cache_read
                                   : i == 2 ? counts.cache_creation
                                            : counts.output;
    if (s.peek() == JsonScanner::Kind::kNull) return s.null();
    long long n = 0;
    if (!s.integer(n)) return false;
    to = n;
    return true;
  });
}

long long uncachedInput(const Usage& u) {
  return std::max(0LL, u.prompt_tokens - u.cached_tokens - u.cache_creation_tokens);
}

// One writer for whole answers and streams alike, in the key order Anthropic's own Messages
// responses use, so a client sees the same object whichever way it asked.
void appendUsageObject(const Usage& u, std::string& out) {
  out.append("{\"input_tokens\":"sv);
  core::appendJsonInt(out, uncachedInput(u));
  out.append(",\"cache_creation_input_tokens\":"sv);
  core::appendJsonInt(out, u.cache_creation_tokens);
  out.append(",\"cache_read_input_tokens\":"sv);
  core::appendJsonInt(out, u.cached_tokens);
  out.append(",\"output_tokens\":"sv);
  core::appendJsonInt(out, u.completion_tokens);
  out.push_back('}');
}

// Arguments are JSON text in the canonical form; Anthropic wants an object. Anything that is not
// one (empty, truncated, an array) becomes {} rather than failing the whole request.
json::object argumentsObject(std::string_view arguments) {
  boost::system::error_code ec;
  json::value v = json::parse(arguments, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

std::string messageId(std::string_view id) {
  if (id.starts_with("msg_")) return std::string(id);
  if (id.empty()) return "msg_" + core::newRequestId().substr(4);
  std::string out;
  out.reserve(id.size() + 4);
  out.append("msg_"sv).append(id);
  return out;
}

// messageId(id) as a JSON string, without a string of its own for the usual id.
void appendMessageId(std::string_view id, std::string& out) {
  if (id.empty() || id.starts_with("msg_")) return core::appendJsonString(out, messageId(id));
  const std::size_t quote = out.size();
  core::appendJsonString(out, id);
  out.insert(quote + 1, "msg_"sv);
}

// Anthropic checks tool_use ids against ^[a-zA-Z0-9_-]+$; other providers' ids may hold other
// characters. The same mapping is applied to tool_use and tool_result, so pairs still match.
std::string toolUseId(std::string_view id) {
  std::string out(id);
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  return out;
}

int statusForErrorType(std::string_view type) {
  if (type == "invalid_request_error") return 400;
  if (type == "authentication_error") return 401;
  if (type == "billing_error") return 402;
  if (type == "permission_error") return 403;
  if (type == "not_found_error") return 404;
  if (type == "request_too_large") return 413;
  if (type == "rate_limit_error") return 429;
  if (type == "api_error") return 500;
  if (type == "timeout_error") return 504;
  if (type == "overloaded_error") return 503;
  return 0;
}

// `status` below 400 means there is no HTTP status to go by (an error event inside a 200
// stream), so the error type decides.
core::Error upstreamError(int status, std::string_view type, std::string message) {
  int s = status;
  if (s == 529) s = 503;  // Anthropic's "overloaded" is not a status clients know
  if (s < 400) {
    s = statusForErrorType(type);
    if (s == 0) s = 502;
  }
  core::Error e;
  e.code = core::ErrorCode::kUpstreamStatus;
  e.http_status = s;
  e.message = message.empty() ? fmt::format("Upstream answered HTTP {}", status) : message;
  e.retryable = core::isRetryableStatus(s);
  return e;
}

// An error body or event: {"type":"error","error":{"type":…,"message":…}}, or a bare message.
core::Error errorFrom(int status, dom::element v) {
  std::string_view type, message;
  dom::object o;
  if (!v.get_object().get(o)) {
    if (const auto err = detail::objectMember(o, "error")) {
      type = detail::stringMember(*err, "type");
      message = detail::stringMember(*err, "message");
    } else {
      message = detail::stringMember(o, "message");
    }
  }
  return upstreamError(status, type, std::string(message));
}

// ---- Inbound request (/v1/messages) ----

using detail::asBool;
using detail::asString;
using detail::Path;

// The non-null member `key` as a string.
std::optional<std::string_view> stringAt(dom::object o, std::string_view key) {
  const auto v = detail::member(o, key);
  return v ? asString(*v) : std::nullopt;
}

// A content block and its type.
struct Block {
  dom::object o;
  std::string_view type;
};

core::Result<Block> blockOf(dom::element v, const Path& at) {
  Block b;
  if (v.get_object().get(b.o))
    return bad(at.str(), fmt::format("'{}' must be an object", at.str()));
  const auto type = stringAt(b.o, "type");
  if (!type) return bad(at + ".type", "content blocks need a string 'type'");
  b.type = *type;
  return b;
}

core::Result<std::string_view> textOf(dom::object block, const Path& at) {
  const auto text = stringAt(block, "text");
  if (!text) return bad(at + ".text", "text blocks need a string 'text'");
  return *text;
}

core::Result<ContentPart> imagePart(dom::object block, const Path& at) {
  const auto s = detail::objectMember(block, "source");
  if (!s) return bad(at + ".source", "image blocks need a 'source' object");
  const auto t = stringAt(*s, "type");
  if (!t) return bad(at + ".source.type", "image sources need a string 'type'");
  ContentPart p;
  p.kind = ContentPart::Kind::kImage;
  if (*t == "base64") {
    const auto mt = stringAt(*s, "media_type");
    if (!mt)
      return bad(at + ".source.media_type", "base64 image sources need a string 'media_type'");
    const auto data = stringAt(*s, "data");
    if (!data) return bad(at + ".source.data", "base64 image sources need a string 'data'");
    p.image.media_type = *mt;
    p.image.data = *data;
  } else if (*t == "url") {
    const auto url = stringAt(*s, "url");
    if (!url) return bad(at + ".source.url", "url image sources need a string 'url'");
    p.image.url = *url;
  } else {
    // File ids only mean something to Anthropic's Files API, which other providers lack.
    return bad(at + ".source.type", fmt::format("unsupported image source type '{}'", *t));
  }
  return p;
}

// Text and image blocks: what tool results and user turns share.
core::Status mediaPart(const Block& block, const Path& at, std::vector<ContentPart>& out) {
  if (block.type == "text") {
    auto text = textOf(block.o, at);
    if (!text) return std::move(text).error();
    out.emplace_back().text.assign(*text);
    return core::Ok{};
  }
  if (block.type == "image") {
    auto part = imagePart(block.o, at);
    if (!part) return std::move(part).error();
    out.push_back(std::move(*part));
    return core::Ok{};
  }
  return bad(at + ".type", fmt::format("unsupported content block type '{}'", block.type));
}

// A system prompt (top level or a `role: system` turn): a string or text blocks, joined by a
// blank line so that providers taking one string keep the blocks apart.
core::Result<std::string> systemText(dom::element v, const Path& at) {
  if (const auto s = asString(v)) return std::string(*s);
  dom::array arr;
  if (v.get_array().get(arr))
    return bad(at.str(), fmt::format("'{}' must be a string or an array", at.str()));
  std::string out;
  size_t i = 0;
  for (const dom::element item : arr) {
    const Path bat(at, i++);
    auto block = blockOf(item, bat);
    if (!block) return std::move(block).error();
    if (block->type != "text")
      return bad(bat + ".type",
                 fmt::format("system prompts take text blocks only, not '{}'", block->type));
    auto text = textOf(block->o, bat);
    if (!text) return std::move(text).error();
    if (!out.empty() && !text->empty()) out += "\n\n";
    out += *text;
  }
  return out;
}

core::Status toolResultMessage(dom::object block, const Path& at, Message& m) {
  m.role = Role::kTool;
  const auto id = stringAt(block, "tool_use_id");
  if (!id) return bad(at + ".tool_use_id", "tool_result blocks need a string 'tool_use_id'");
  m.tool_call_id = *id;
  if (const auto c = detail::member(block, "content")) {
    dom::array arr;
    if (const auto s = asString(*c)) {
      m.addText(*s);
    } else if (!c->get_array().get(arr)) {
      const Path content(at, "content");
      size_t i = 0;
      for (const dom::element item : arr) {
        const Path bat(content, i++);
        auto b = blockOf(item, bat);
        if (!b) return std::move(b).error();
        if (auto s = mediaPart(*b, bat, m.content); !s) return s;
      }
    } else {
      return bad(at + ".content", "tool_result 'content' must be a string or an array");
    }
  }
  if (const auto e = detail::member(block, "is_error")) {
    const auto b = asBool(*e);
    if (!b) return bad(at + ".is_error", "'is_error' must be a boolean");
    // The canonical tool turn has no error flag; the model still learns the call failed.
    if (*b) {
      if (!m.content.empty() && m.content.front().kind == ContentPart::Kind::kText)
        m.content.front().text.insert(0, "Error: ");
      else
        m.content.insert(m.content.begin(), ContentPart::textPart("Error"));
    }
  }
  return core::Ok{};
}

// `content`, already known to be an array.
dom::array arrayOf(dom::element content) {
  dom::array arr;
  if (content.get_array().get(arr)) return {};
  return arr;
}

// A user turn may mix tool results and text; each tool_result becomes its own `role: tool`
// message, in block order, so the text keeps its place relative to the results.
core::Status parseUserTurn(dom::element content, const Path& at, std::vector<Message>& out) {
  if (const auto s = asString(content)) {
    Message& user = out.emplace_back();
    user.role = Role::kUser;
    user.addText(*s);
    return core::Ok{};
  }
  Message user;
  user.role = Role::kUser;
  bool any_tool = false;
  size_t i = 0;
  for (const dom::element item : arrayOf(content)) {
    const Path bat(at, i++);
    auto block = blockOf(item, bat);
    if (!block) return std::move(block).error();
    if (block->type == "tool_result") {
      if (!user.content.empty()) {
        out.push_back(std::move(user));
        user = Message{};
        user.role = Role::kUser;
      }
      if (auto s = toolResultMessage(block->o, bat, out.emplace_back()); !s) return s;
      any_tool = true;
      continue;
    }
    if (auto s = mediaPart(*block, bat, user.content); !s) return s;
  }
  // An empty array is still a (pointless) user turn; a turn of only tool results is not.
  if (!user.content.empty() || !any_tool) out.push_back(std::move(user));
  return core::Ok{};
}

core::Status parseAssistantTurn(dom::element content, const Path& at, Message& m) {
  m.role = Role::kAssistant;
  if (const auto s = asString(content)) {
    m.addText(*s);
    return core::Ok{};
  }
  size_t i = 0;
  for (const dom::element item : arrayOf(content)) {
    const Path bat(at, i++);
    auto block = blockOf(item, bat);
    if (!block) return std::move(block).error();
    if (block->type == "text") {
      auto text = textOf(block->o, bat);
      if (!text) return std::move(text).error();
      m.addText(*text);
    } else if (block->type == "tool_use") {
      const auto id = stringAt(block->o, "id");
      if (!id) return bad(bat + ".id", "tool_use blocks need a string 'id'");
      const auto name = stringAt(block->o, "name");
      if (!name) return bad(bat + ".name", "tool_use blocks need a string 'name'");
      const auto input = detail::member(block->o, "input");
      if (input && !input->is_object()) return bad(bat + ".input", "'input' must be an object");
      ToolCall& c = m.tool_calls.emplace_back();
      c.id = *id;
      c.name = *name;
      c.arguments = input ? detail::serialize(*input) : "{}";
    } else if (block->type == "thinking" || block->type == "redacted_thinking") {
      // Signed reasoning only Anthropic can verify; other providers cannot take it back.
    } else {
      return bad(bat + ".type", fmt::format("unsupported content block type '{}'", block->type));
    }
  }
  return core::Ok{};
}

core::Status parseTools(dom::element v, ChatRequest& r) {
  dom::array arr;
  if (v.get_array().get(arr)) return bad("tools", "'tools' must be an array");
  const Path tools("tools");
  size_t i = 0;
  for (const dom::element item : arr) {
    const Path at(tools, i++);
    dom::object o;
    if (item.get_object().get(o))
      return bad(at.str(), fmt::format("'{}' must be an object", at.str()));
    // Server tools (web_search_…, code_execution_…, bash_…) run inside Anthropic; no other
    // provider can run them, and dropping one silently would let the model pretend it did.
    if (const auto type = detail::member(o, "type")) {
      const auto t = asString(*type);
      if (!t) return bad(at + ".type", "'type' must be a string");
      if (*t != "custom")
        return bad(at + ".type",
                   fmt::format("server tool '{}' is not supported; only custom tools are", *t));
    }
    const auto name = stringAt(o, "name");
    if (!name) return bad(at + ".name", "tools need a string 'name'");
    Tool& t = r.tools.emplace_back();
    t.name = *name;
    if (const auto d = detail::member(o, "description")) {
      const auto s = asString(*d);
      if (!s) return bad(at + ".description", "'description' must be a string");
      t.description = *s;
    }
    if (const auto s = detail::member(o, "input_schema")) {
      if (!s->is_object()) return bad(at + ".input_schema", "'input_schema' must be an object");
      t.parameters = detail::toBoost(*s);
    }
    if (const auto s = detail::member(o, "strict")) {
      const auto b = asBool(*s);
      if (!b) return bad(at + ".strict", "'strict' must be a boolean");
      t.strict = *b;
    }
  }
  return core::Ok{};
}

core::Status parseToolChoice(dom::element v, ChatRequest& r) {
  dom::object o;
  if (v.get_object().get(o)) return bad("tool_choice", "'tool_choice' must be an object");
  const auto t = stringAt(o, "type");
  if (!t) return bad("tool_choice.type", "'tool_choice' needs a string 'type'");
  if (*t == "auto") {
    r.tool_choice.mode = ToolChoice::Mode::kAuto;
  } else if (*t == "any") {
    r.tool_choice.mode = ToolChoice::Mode::kRequired;
  } else if (*t == "none") {
    r.tool_choice.mode = ToolChoice::Mode::kNone;
  } else if (*t == "tool") {
    const auto name = stringAt(o, "name");
    if (!name) return bad("tool_choice.name", "tool_choice of type 'tool' needs a string 'name'");
    r.tool_choice.mode = ToolChoice::Mode::kNamed;
    r.tool_choice.name = *name;
  } else {
    return bad("tool_choice.type", fmt::format("unknown tool_choice type '{}'", *t));
  }
  if (const auto d = detail::member(o, "disable_parallel_tool_use")) {
    const auto b = asBool(*d);
    if (!b)
      return bad("tool_choice.disable_parallel_tool_use",
                 "'disable_parallel_tool_use' must be a boolean");
    if (*b) r.parallel_tool_calls = false;
  }
  return core::Ok{};
}

// output_config.format (GA) or the beta's top-level output_format: {type: json_schema, schema}.
core::Status parseOutputFormat(dom::element v, std::string_view at, ChatRequest& r) {
  dom::object o;
  if (v.get_object().get(o)) return bad(std::string(at), fmt::format("'{}' must be an object", at));
  if (stringAt(o, "type").value_or("") != "json_schema")
    return bad(fmt::format("{}.type", at), "the only output format type is 'json_schema'");
  const auto schema = detail::member(o, "schema");
  if (!schema || !schema->is_object())
    return bad(fmt::format("{}.schema", at), "json_schema output formats need a 'schema' object");
  r.response_format.kind = ResponseFormat::Kind::kJsonSchema;
  r.response_format.name = "response";
  r.response_format.schema = detail::toBoost(*schema);
  // Anthropic's structured outputs always constrain decoding; OpenAI calls that strict.
  r.response_format.strict = true;
  return core::Ok{};
}

core::Status numberInRange(const std::optional<dom::element>& v, std::string_view key, double min,
                           double max, std::optional<double>& out) {
  if (!v) return core::Ok{};
  const auto d = number(*v);
  if (!d) return bad(std::string(key), fmt::format("'{}' must be a number", key));
  if (*d < min || *d > max)
    return bad(std::string(key), fmt::format("'{}' must be between {} and {}", key, min, max));
  out = *d;
  return core::Ok{};
}

// The request members the inbound reader looks at; the others are dropped.
enum Member {
  kModel,
  kMaxTokens,
  kSystem,
  kMessages,
  kStopSequences,
  kTemperature,
  kTopP,
  kTopK,
  kTools,
  kToolChoice,
  kMetadata,
  kStream,
  kOutputConfig,
  kOutputFormat,
  kMemberCount
};
constexpr std::string_view kMembers[kMemberCount] = {
    "model",       "max_tokens", "system",        "messages",     "stop_sequences",
    "temperature", "top_p",      "top_k",         "tools",        "tool_choice",
    "metadata",    "stream",     "output_config", "output_format"};

int memberOf(std::string_view key) {
  for (int i = 0; i < kMemberCount; ++i)
    if (kMembers[i] == key) return i;
  return kMemberCount;
}

core::Status parseTurn(dom::element v, const Path& at, std::vector<Message>& out) {
  dom::object o;
  if (v.get_object().get(o)) return bad(at.str(), fmt::format("'{}' must be an object", at.str()));
  // Of duplicate keys the last counts, and null counts as absent.
  std::optional<dom::element> role, content;
  for (const dom::key_value_pair kv : o) {
    std::optional<dom::element>* slot = kv.key == "role"      ? &role
                                        : kv.key == "content" ? &content
                                                              : nullptr;
    if (!slot) continue;
    if (kv.value.is_null())
      slot->reset();
    else
      *slot = kv.value;
  }
  const auto rs = role ? asString(*role) : std::nullopt;
  if (!rs) return bad(at + ".role", "messages need a string 'role'");
  if (!content) return bad(at + ".content", "messages need 'content'");
  if (!content->is_string() && !content->is_array())
    return bad(at + ".content", "'content' must be a string or an array");
  const Path where(at, "content");
  if (*rs == "user") return parseUserTurn(*content, where, out);
  if (*rs == "assistant") return parseAssistantTurn(*content, where, out.emplace_back());
  if (*rs == "system") {
    // Not in Anthropic's documented schema, but current Claude clients send such turns.
    auto text = systemText(*content, where);
    if (!text) return std::move(text).error();
    Message& m = out.emplace_back();
    m.role = Role::kSystem;
    m.content.emplace_back().text = std::move(*text);
    return core::Ok{};
  }
  return bad(at + ".role", fmt::format("unknown role '{}'", *rs));
}

// ---- Outbound request (to Anthropic) ----

// The request body is written as JSON text, not built as a document first: for a typical chat
// the document cost as much as parsing the client's body. The blocks of a turn are written as
// they come; only the JSON the canonical form holds as values (schemas) or text (tool
// arguments) goes through Boost.JSON, so that it keeps Boost.JSON's spelling.

// A message's path for errors, built only when one is reported.
std::string messagePath(size_t i, std::string_view rest = {}) {
  return fmt::format("messages[{}]{}", i, rest);
}

void appendTextBlock(std::string_view text, std::string& out) {
  out.append("{\"type\":\"text\",\"text\":"sv);
  core::appendJsonString(out, text);
  out.push_back('}');
}

core::Status appendImageBlock(const Image& img, size_t message, size_t part, std::string& out) {
  if (img.url.empty()) {
    if (img.media_type.empty() || img.data.empty())
      return bad(messagePath(message, fmt::format(".content[{}]", part)),
                 "inline images need a media type and base64 data");
    out.append("{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"sv);
    core::appendJsonString(out, img.media_type);
    out.append(",\"data\":"sv);
    core::appendJsonString(out, img.data);
    out.append("}}"sv);
    return core::Ok{};
  }
  if (img.url.starts_with("https://") || img.url.starts_with("http://")) {
    out.append("{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":"sv);
    core::appendJsonString(out, img.url);
    out.append("}}"sv);
    return core::Ok{};
  }
  return bad(messagePath(message, fmt::format(".content[{}]", part)),
             "Anthropic takes images as base64 data: URLs or http(s) URLs only");
}

// One turn's content blocks as comma-separated JSON text, kept in two runs: Anthropic wants strict
// user/assistant alternation, so same-role neighbours merge, and tool results go before any
// other blocks of their user turn (Anthropic answers 400 when text comes between a tool_use and
// its tool_result). Results are only ever added to the leading run, the rest after it.
struct Turn {
  std::string_view role;
  std::string results;
  std::string others;
  template <class F>
  void forEachBuffer(F&& f) {
    f(results);
    f(others);
  }
};

// Opens a block in `run` and returns it to be written into.
std::string& nextBlock(std::string& run) {
  if (!run.empty()) run.push_back(',');
  return run;
}

using Turns = ScratchTurns<Turn>;

// Text and image parts as blocks in `run`. Empty text parts are left out: Anthropic refuses
// empty text blocks. Returns how many blocks were written.
core::Result<size_t> appendParts(const std::vector<ContentPart>& parts, size_t message,
                                 std::string& run) {
  size_t n = 0;
  for (size_t j = 0; j < parts.size(); ++j) {
    const auto& p = parts[j];
    if (p.kind == ContentPart::Kind::kText) {
      if (p.text.empty()) continue;
      appendTextBlock(p.text, nextBlock(run));
    } else if (auto s = appendImageBlock(p.image, message, j, nextBlock(run)); !s) {
      return std::move(s).error();
    }
    ++n;
  }
  return n;
}

bool hasBlocks(const std::vector<ContentPart>& parts) {
  for (const auto& p : parts)
    if (p.kind != ContentPart::Kind::kText || !p.text.empty()) return true;
  return false;
}

}  // namespace

core::Status parseAnthropicRequest(dom::element body, ChatRequest& r) {
  dom::object o;
  if (body.get_object().get(o)) return bad("", "The request body must be a JSON object");
  // One pass over the members: of duplicate keys the last counts, and null counts as absent.
  std::optional<dom::element> f[kMemberCount];
  for (const dom::key_value_pair kv : o) {
    const int i = memberOf(kv.key);
    if (i == kMemberCount) continue;
    if (kv.value.is_null())
      f[i].reset();
    else
      f[i] = kv.value;
  }
  if (!f[kModel]) return bad("model", "'model' is required");
  const auto model = asString(*f[kModel]);
  if (!model) return bad("model", "'model' must be a string");
  r.model = *model;

  // Anthropic requires max_tokens; a missing one is left to the provider's default.
  if (const auto& v = f[kMaxTokens]) {
    const auto i = integer(*v);
    if (!i || *i < 1) return bad("max_tokens", "'max_tokens' must be a positive integer");
    r.max_tokens = *i;
  }

  if (const auto& sys = f[kSystem]) {
    auto text = systemText(*sys, Path("system"));
    if (!text) return std::move(text).error();
    if (!text->empty()) {
      Message& m = r.messages.emplace_back();
      m.role = Role::kSystem;
      m.content.emplace_back().text = std::move(*text);
    }
  }

  if (!f[kMessages]) return bad("messages", "'messages' is required");
  dom::array arr;
  if (f[kMessages]->get_array().get(arr)) return bad("messages", "'messages' must be an array");
  // Tool results may split a turn; most turns are one message.
  r.messages.reserve(r.messages.size() + arr.size());
  const Path messages("messages");
  size_t i = 0;
  for (const dom::element m : arr)
    if (auto s = parseTurn(m, Path(messages, i++), r.messages); !s) return std::move(s).error();

  if (const auto& v = f[kStopSequences]) {
    dom::array stops;
    if (v->get_array().get(stops))
      return bad("stop_sequences", "'stop_sequences' must be an array");
    for (const dom::element s : stops) {
      const auto text = asString(s);
      if (!text) return bad("stop_sequences", "'stop_sequences' must hold strings");
      r.stop.emplace_back(*text);
    }
  }
  if (auto s = numberInRange(f[kTemperature], "temperature", 0, 1, r.temperature); !s)
    return std::move(s).error();
  if (auto s = numberInRange(f[kTopP], "top_p", 0, 1, r.top_p); !s) return std::move(s).error();
  if (const auto& k = f[kTopK]) {
    const auto i = integer(*k);
    if (!i || *i < 0) return bad("top_k", "'top_k' must be a non-negative integer");
    r.top_k = static_cast<int>(*i);
  }
  if (f[kTools])
    if (auto s = parseTools(*f[kTools], r); !s) return std::move(s).error();
  if (f[kToolChoice])
    if (auto s = parseToolChoice(*f[kToolChoice], r); !s) return std::move(s).error();
  if (const auto& md = f[kMetadata]) {
    dom::object mo;
    if (md->get_object().get(mo)) return bad("metadata", "'metadata' must be an object");
    if (const auto u = detail::member(mo, "user_id")) {
      const auto s = asString(*u);
      if (!s) return bad("metadata.user_id", "'metadata.user_id' must be a string");
      r.user = *s;
    }
  }
  if (const auto& v = f[kStream]) {
    const auto b = asBool(*v);
    if (!b) return bad("stream", "'stream' must be a boolean");
    r.stream = *b;
    // message_delta carries usage in every Anthropic stream, so the upstream must send it.
    r.include_usage = r.stream;
  }
  if (const auto& oc = f[kOutputConfig]) {
    dom::object oco;
    if (oc->get_object().get(oco)) return bad("output_config", "'output_config' must be an object");
    if (const auto format = detail::member(oco, "format"))
      if (auto s = parseOutputFormat(*format, "output_config.format", r); !s)
        return std::move(s).error();
  } else if (const auto& format = f[kOutputFormat]) {
    if (auto s = parseOutputFormat(*format, "output_format", r); !s) return std::move(s).error();
  }
  // `thinking`, `service_tier`, `container` and other Anthropic-only fields are dropped: `extra`
  // is passed to OpenAI-wire upstreams, which would refuse them.
  return core::Ok{};
}

core::Result<ChatRequest> parseAnthropicRequest(dom::element body) {
  ChatRequest r;
  if (auto s = parseAnthropicRequest(body, r); !s) return std::move(s).error();
  return r;
}

core::Result<ChatRequest> parseAnthropicRequest(const json::value& body) {
  // Tests hold documents; the gateway reads the client's body with simdjson.
  dom::parser parser;
  dom::element root;
  if (parser.parse(json::serialize(body)).get(root))
    return core::Error::invalidJson("The request body is not valid JSON");
  return parseAnthropicRequest(root);
}

namespace {

// One turn of readAnthropicChatAsText's: a role parseTurn knows and its content one string, in
// core::appendJsonString's escaping.
bool readTextTurn(JsonScanner& s, TextMessage& m) {
  using Kind = JsonScanner::Kind;
  static constexpr std::string_view kKeys[] = {"role", "content"};
  bool has_role = false;
  m.has_content = false;
  const bool read = s.peek() == Kind::kObject && s.object(kKeys, [&](std::size_t i) {
    if (i == 1) return m.has_content = s.canonicalString(m.json_text);
    JsonString role;
    if (s.peek() != Kind::kString || !s.string(role) || role.escaped) return false;
    if (role.raw == "user")
      m.role = Role::kUser;
    else if (role.raw == "assistant")
      m.role = Role::kAssistant;
    else if (role.raw == "system")
      m.role = Role::kSystem;
    else
      return false;
    return has_role = true;
  });
  return read && has_role && m.has_content;
}

}  // namespace

bool readAnthropicChatAsText(std::string_view body, int max_depth, ChatRequest& head,
                             std::vector<TextMessage>& messages, ChatBodyLayout& layout) {
  using Kind = JsonScanner::Kind;
  ChatRequest& r = head;
  JsonScanner s(body, max_depth);
  if (!s.beginObject()) return false;
  std::uint32_t seen = 0, given = 0;  // members present; those not null
  std::string_view system;
  auto unitRange = [&](std::optional<double>& out) {
    double d = 0;
    if (!s.decimal(d) || d > 1) return false;
    out = d;
    return true;
  };
  JsonString key;
  while (s.nextKey(key)) {
    if (key.escaped) return false;
    const int i = memberOf(key.raw);
    if (i == kMemberCount) {
      // Dropped, as the general reading drops it; these two change what inspecting the body
      // finds, and are left to it.
      if (key.raw == "stream_options" || key.raw == "user_preferences" || !s.skip()) return false;
      continue;
    }
    if (seen & (1u << i)) return false;  // of repeated keys the general reading keeps the last
    seen |= 1u << i;
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
      case kMaxTokens:
        read = s.integer(n) && n >= 1;
        r.max_tokens = n;
        break;
      case kSystem:  // text blocks are the general reading's
        read = s.canonicalString(system);
        break;
      case kMessages:
        read = s.beginArray();
        while (read && s.nextElement()) read = readTextTurn(s, messages.emplace_back());
        read = read && !s.failed();
        break;
      case kStopSequences:
        read = s.beginArray();
        while (read && s.nextElement()) read = s.decodedString(r.stop.emplace_back());
        read = read && !s.failed();
        break;
      case kTemperature:
        read = unitRange(r.temperature);
        break;
      case kTopP:
        read = unitRange(r.top_p);
        break;
      case kTopK:
        read = s.integer(n) && n >= 0;
        r.top_k = static_cast<int>(n);
        break;
      case kMetadata: {
        static constexpr std::string_view kKeys[] = {"user_id"};
        read = s.peek() == Kind::kObject && s.object(kKeys, [&](std::size_t) {
          return s.peek() == Kind::kNull ? s.null() : s.decodedString(r.user);
        });
        break;
      }
      case kStream:
        read = s.peek() == Kind::kBool && s.boolean(b);
        r.stream = r.include_usage = b;
        break;
      default:  // tools, tool_choice and output formats: the general reading's
        break;
    }
    if (!read) return false;
  }
  if (!s.finish()) return false;
  // Inspecting a Messages body requires max_tokens.
  constexpr std::uint32_t kRequired = 1u << kModel | 1u << kMaxTokens | 1u << kMessages;
  if ((given & kRequired) != kRequired) return false;
  // An empty prompt is no system message; the prompt leads wherever the member stood.
  if (!system.empty())
    messages.insert(messages.begin(), TextMessage{Role::kSystem, true, system, {}});
  return true;
}

namespace {

// The members after the messages and tools that do not depend on either, as Anthropic names them.
void appendSamplingMembers(const ChatRequest& r, std::string& out) {
  if (!r.stop.empty()) {
    out.append(",\"stop_sequences\":["sv);
    for (size_t s = 0; s < r.stop.size(); ++s) {
      if (s > 0) out.push_back(',');
      core::appendJsonString(out, r.stop[s]);
    }
    out.push_back(']');
  }
  if (r.temperature) {
    out.append(",\"temperature\":"sv);
    detail::appendJsonNumber(std::min(*r.temperature, kMaxTemperature), out);
  }
  if (r.top_p) {
    out.append(",\"top_p\":"sv);
    detail::appendJsonNumber(*r.top_p, out);
  }
  if (r.top_k) {
    out.append(",\"top_k\":"sv);
    core::appendJsonInt(out, *r.top_k);
  }
  if (!r.user.empty()) {
    out.append(",\"metadata\":{\"user_id\":"sv);
    core::appendJsonString(out, r.user);
    out.push_back('}');
  }
  if (r.stream) out.append(",\"stream\":true"sv);
}

}  // namespace

core::Status appendAnthropicRequestJson(const ChatRequest& r,
                                        const AnthropicRequestOptions& options, std::string& out) {
  if (r.n && *r.n > 1)
    return bad("n", "Anthropic models return one choice per request; 'n' must be 1");

  thread_local std::string system;
  trimScratch(system);
  system.clear();
  Turns& turns = Turns::forThread();
  for (size_t i = 0; i < r.messages.size(); ++i) {
    const Message& m = r.messages[i];
    switch (m.role) {
      case Role::kSystem:
      case Role::kDeveloper: {
        // Anthropic has one system prompt, outside the turns; every system message joins it.
        for (size_t j = 0; j < m.content.size(); ++j)
          if (m.content[j].kind != ContentPart::Kind::kText)
            return bad(messagePath(i, fmt::format(".content[{}]", j)),
                       "Anthropic system prompts can only hold text");
        size_t length = 0;
        for (const auto& p : m.content) length += p.text.size();
        if (length == 0) break;
        if (!system.empty()) system += "\n\n";
        for (const auto& p : m.content) system += p.text;
        break;
      }
      case Role::kUser: {
        if (!hasBlocks(m.content)) break;
        if (auto n = appendParts(m.content, i, turns.turnFor("user").others); !n)
          return std::move(n).error();
        break;
      }
      case Role::kAssistant: {
        const bool refusal = m.refusal && !m.refusal->empty();
        if (!hasBlocks(m.content) && m.tool_calls.empty() && !refusal) break;
        std::string& run = turns.turnFor("assistant").others;
        auto n = appendParts(m.content, i, run);
        if (!n) return std::move(n).error();
        if (*n == 0 && m.tool_calls.empty() && refusal) appendTextBlock(*m.refusal, nextBlock(run));
        for (size_t j = 0; j < m.tool_calls.size(); ++j) {
          const ToolCall& c = m.tool_calls[j];
          if (c.name.empty())
            return bad(messagePath(i, fmt::format(".tool_calls[{}].function.name", j)),
                       "tool calls need a function name");
          std::string& block = nextBlock(run);
          block.append("{\"type\":\"tool_use\",\"id\":"sv);
          // A call without an id cannot be answered anyway; it still needs a valid one.
          core::appendJsonString(
              block, c.id.empty() ? fmt::format("toolu_kh_{}_{}", i, j) : toolUseId(c.id));
          block.append(",\"name\":"sv);
          core::appendJsonString(block, c.name);
          block.append(",\"input\":"sv);
          detail::appendJson(argumentsObject(c.arguments), block);
          block.push_back('}');
        }
        break;
      }
      case Role::kTool: {
        if (m.tool_call_id.empty())
          return bad(messagePath(i, ".tool_call_id"),
                     "Anthropic needs 'tool_call_id' on tool messages");
        bool all_text = true;
        for (const auto& p : m.content) all_text = all_text && p.kind == ContentPart::Kind::kText;
        std::string& block = nextBlock(turns.turnFor("user").results);
        block.append("{\"type\":\"tool_result\",\"tool_use_id\":"sv);
        core::appendJsonString(block, toolUseId(m.tool_call_id));
        if (all_text) {
          if (const std::string text = m.text(); !text.empty()) {
            block.append(",\"content\":"sv);
            core::appendJsonString(block, text);
          }
        } else {
          block.append(",\"content\":["sv);
          std::string parts;
          if (auto n = appendParts(m.content, i, parts); !n) return std::move(n).error();
          block.append(parts);
          block.push_back(']');
        }
        block.push_back('}');
        break;
      }
    }
  }
  if (r.response_format.kind == ResponseFormat::Kind::kJsonObject) {
    if (!system.empty()) system += "\n\n";
    system += kJsonObjectInstruction;
  }
  if (turns.empty())
    return bad("messages", "Anthropic needs at least one user or assistant message");

  out.append("{\"model\":"sv);
  core::appendJsonString(out, r.model);
  if (!system.empty()) {
    out.append(",\"system\":"sv);
    core::appendJsonString(out, system);
  }
  out.append(",\"messages\":["sv);
  for (size_t t = 0; t < turns.size(); ++t) {
    if (t > 0) out.push_back(',');
    out.append("{\"role\":\""sv).append(turns[t].role).append("\",\"content\":["sv);
    out.append(turns[t].results);
    if (!turns[t].results.empty() && !turns[t].others.empty()) out.push_back(',');
    out.append(turns[t].others);
    out.append("]}"sv);
  }
  out.append("],\"max_tokens\":"sv);
  core::appendJsonInt(out, r.max_tokens.value_or(options.default_max_tokens));

  if (!r.tools.empty()) {
    out.append(",\"tools\":["sv);
    for (size_t t = 0; t < r.tools.size(); ++t) {
      const Tool& tool = r.tools[t];
      if (t > 0) out.push_back(',');
      out.append("{\"name\":"sv);
      core::appendJsonString(out, tool.name);
      if (!tool.description.empty()) {
        out.append(",\"description\":"sv);
        core::appendJsonString(out, tool.description);
      }
      // Anthropic requires an object schema even for tools that take no arguments.
      out.append(",\"input_schema\":"sv);
      if (tool.parameters.is_null())
        out.append("{\"type\":\"object\",\"properties\":{}}"sv);
      else
        detail::appendJson(tool.parameters, out);
      if (tool.strict) out.append(",\"strict\":true"sv);
      out.push_back('}');
    }
    out.push_back(']');

    // Anthropic refuses tool_choice without tools, so it is only rendered alongside them.
    std::string_view type;
    switch (r.tool_choice.mode) {
      case ToolChoice::Mode::kUnset:
        break;
      case ToolChoice::Mode::kAuto:
        type = "auto";
        break;
      case ToolChoice::Mode::kNone:
        type = "none";
        break;
      case ToolChoice::Mode::kRequired:
        type = "any";
        break;
      case ToolChoice::Mode::kNamed:
        if (r.tool_choice.name.empty()) return bad("tool_choice", "tool_choice needs a name");
        type = "tool";
        break;
    }
    const bool serial =
        r.parallel_tool_calls == false && r.tool_choice.mode != ToolChoice::Mode::kNone;
    if (serial && type.empty()) type = "auto";
    if (!type.empty()) {
      out.append(",\"tool_choice\":{\"type\":\""sv).append(type).push_back('"');
      if (r.tool_choice.mode == ToolChoice::Mode::kNamed) {
        out.append(",\"name\":"sv);
        core::appendJsonString(out, r.tool_choice.name);
      }
      if (serial) out.append(",\"disable_parallel_tool_use\":true"sv);
      out.push_back('}');
    }
  } else if (r.tool_choice.mode == ToolChoice::Mode::kNamed) {
    return bad("tool_choice",
               fmt::format("tool_choice names '{}' but no tools are given", r.tool_choice.name));
  }

  appendSamplingMembers(r, out);
  if (r.response_format.kind == ResponseFormat::Kind::kJsonSchema) {
    // Anthropic's documented structured-output mechanism (GA): output_config.format constrains
    // decoding to the schema and the answer stays a plain text block. A forced tool would turn
    // the answer into a tool_use block that parseAnthropicResponse cannot tell from a real call.
    if (!r.response_format.schema.is_object())
      return bad("response_format.json_schema.schema",
                 "json_schema response formats need a 'schema' object");
    out.append(",\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":"sv);
    detail::appendJson(r.response_format.schema, out);
    out.append("}}"sv);
  }
  // seed, presence/frequency penalties, logprobs and OpenAI-only extras have no Anthropic
  // counterpart and are dropped.
  out.push_back('}');
  return core::Ok{};
}

bool appendAnthropicTextRequestJson(const ChatRequest& head, std::span<const TextMessage> messages,
                                    const AnthropicRequestOptions& options, std::string& out) {
  if (head.n && *head.n > 1) return false;
  const std::size_t start = out.size();
  out.append("{\"model\":"sv);
  core::appendJsonString(out, head.model);
  // As appendAnthropicRequestJson: every system message's text joins the one system prompt, and
  // neighbouring turns of one role become one turn; empty texts are left out.
  bool system = false;
  for (const TextMessage& m : messages) {
    if ((m.role != Role::kSystem && m.role != Role::kDeveloper) || m.json_text.empty()) continue;
    out.append(system ? "\\n\\n"sv : ",\"system\":\""sv);
    out.append(m.json_text);
    system = true;
  }
  if (system) out.push_back('"');
  out.append(",\"messages\":["sv);
  if (!detail::appendTextTurns(messages, "{\"role\":\"user\",\"content\":["sv,
                               "{\"role\":\"assistant\",\"content\":["sv,
                               "{\"type\":\"text\",\"text\":\""sv, out)) {
    out.resize(start);  // no turns: appendAnthropicRequestJson words that error
    return false;
  }
  out.append("],\"max_tokens\":"sv);
  core::appendJsonInt(out, head.max_tokens.value_or(options.default_max_tokens));
  appendSamplingMembers(head, out);
  out.push_back('}');
  return true;
}

core::Result<json::object> toAnthropicRequest(const ChatRequest& r,
                                              const AnthropicRequestOptions& options) {
  std::string text;
  if (auto s = appendAnthropicRequestJson(r, options, text); !s) return std::move(s).error();
  return json::parse(text).as_object();
}

bool scanAnthropicResponse(std::string_view body, ChatResponse& r) {
  using Kind = JsonScanner::Kind;
  static constexpr std::string_view kKeys[] = {"type",    "id",          "model",
                                               "content", "stop_reason", "usage"};
  static constexpr std::string_view kBlockKeys[] = {"type", "text"};
  JsonScanner s(body);
  std::string text;
  bool has_content = false, has_text = false, has_usage = false;
  JsonString stop_reason;
  UsageCounts usage;
  auto block = [&] {
    if (s.peek() != Kind::kObject) return s.skip();
    JsonString type, block_text;
    bool text_is_string = false;
    const bool read = s.object(kBlockKeys, [&](std::size_t i) {
      if (s.peek() != Kind::kString) return s.skip();
      if (i == 1) text_is_string = true;
      return s.string(i == 0 ? type : block_text);
    });
    // An escaped type could spell any of them; a tool_use block's input is read the general way.
    if (!read || type.escaped || type.is("tool_use")) return false;
    if (!type.is("text")) return true;
    has_text = true;
    return !text_is_string || block_text.appendTo(text);
  };
  const bool read = s.object(kKeys, [&](std::size_t i) {
    switch (i) {
      case 0: {
        if (s.peek() != Kind::kString) return s.skip();
        JsonString type;
        return s.string(type) && !type.escaped && !type.is("error");
      }
      case 1:
        return s.textOrSkip(r.id);
      case 2:
        return s.textOrSkip(r.model);
      case 3:
        if (!s.beginArray()) return false;
        while (s.nextElement())
          if (!block()) return false;
        return has_content = !s.failed();
      case 4:
        if (s.peek() != Kind::kString) return s.skip();
        return s.string(stop_reason);
      default:
        if (s.peek() == Kind::kNull) return s.null();
        has_usage = true;
        return s.peek() == Kind::kObject ? scanUsageCounts(s, usage) : s.skip();
    }
  });
  if (!read || !s.finish() || !has_content) return false;
  r.created = core::nowUnixSeconds();
  Choice& ch = r.choices.emplace_back();
  ch.message.role = Role::kAssistant;
  if (has_text) ch.message.content.emplace_back().text = std::move(text);
  std::string reason;
  if (!stop_reason.appendTo(reason)) return false;
  ch.finish_reason = reason.empty() ? FinishReason::kStop : finishFor(reason);
  if (has_usage) applyUsageCounts(usage, r.usage.emplace());
  return true;
}

core::Result<ChatResponse> parseAnthropicResponse(std::string_view body) {
  if (ChatResponse scanned; scanAnthropicResponse(body, scanned)) return scanned;
  dom::element root;
  if (detail::parseDocument(body).get(root))
    return core::Error::badGateway("The upstream answered with a body that is not valid JSON");
  dom::object o;
  if (root.get_object().get(o))
    return core::Error::badGateway("The upstream response is not an object");
  if (detail::stringMember(o, "type") == "error") return errorFrom(0, root);
  ChatResponse r;
  r.id = detail::stringMember(o, "id");
  r.model = detail::stringMember(o, "model");
  r.created = core::nowUnixSeconds();  // Anthropic sends no timestamp
  const auto content = detail::arrayMember(o, "content");
  if (!content) return core::Error::badGateway("The upstream response has no 'content'");
  Choice& ch = r.choices.emplace_back();
  ch.message.role = Role::kAssistant;
  std::string text;
  bool has_text = false;
  for (const dom::element b : *content) {
    dom::object bo;
    if (b.get_object().get(bo)) continue;
    const std::string_view type = detail::stringMember(bo, "type");
    if (type == "text") {
      // Citations split one answer into several text blocks; they read as one text.
      text += detail::stringMember(bo, "text");
      has_text = true;
    } else if (type == "tool_use") {
      ToolCall& c = ch.message.tool_calls.emplace_back();
      c.id = detail::stringMember(bo, "id");
      c.name = detail::stringMember(bo, "name");
      const auto input = detail::member(bo, "input");
      c.arguments = input ? detail::serialize(*input) : "{}";
    }
    // thinking, redacted_thinking and server tool blocks have no canonical form.
  }
  if (has_text) ch.message.content.emplace_back().text = std::move(text);
  if (const std::string_view sr = detail::stringMember(o, "stop_reason"); !sr.empty())
    ch.finish_reason = finishFor(sr);
  else
    ch.finish_reason =
        ch.message.tool_calls.empty() ? FinishReason::kStop : FinishReason::kToolCalls;
  if (const auto u = detail::member(o, "usage")) {
    Usage usage;
    applyUsage(*u, usage);
    r.usage = usage;
  }
  return r;
}

core::Result<ChatResponse> parseAnthropicResponse(const json::value& body) {
  return parseAnthropicResponse(std::string_view(json::serialize(body)));
}

// Written as text, as the stream events are: building a document only to serialize it cost more
// than the translation itself. Keys come in the order Anthropic sends them.
void appendAnthropicResponseJson(const ChatResponse& r, std::string& out) {
  FinishReason finish = FinishReason::kNone;
  bool has_tools = false;
  out.append("{\"id\":"sv);
  appendMessageId(r.id, out);
  out.append(",\"type\":\"message\",\"role\":\"assistant\",\"model\":"sv);
  core::appendJsonString(out, r.model);
  out.append(",\"content\":["sv);
  if (!r.choices.empty()) {
    const Choice& c = r.choices.front();
    const std::vector<ContentPart>& parts = c.message.content;
    std::string joined;  // only for an answer of several parts
    std::string_view text;
    if (parts.size() == 1 && parts.front().kind == ContentPart::Kind::kText)
      text = parts.front().text;
    else if (!parts.empty())
      text = joined = c.message.text();
    if (text.empty() && c.message.refusal) text = *c.message.refusal;
    bool first = true;
    if (!text.empty()) {
      out.append("{\"type\":\"text\",\"text\":"sv);
      core::appendJsonString(out, text);
      out.push_back('}');
      first = false;
    }
    for (const auto& tc : c.message.tool_calls) {
      if (!first) out.push_back(',');
      first = false;
      out.append("{\"type\":\"tool_use\",\"id\":"sv);
      core::appendJsonString(out, tc.id);
      out.append(",\"name\":"sv);
      core::appendJsonString(out, tc.name);
      // Arguments go through a document: they must become an object, in Boost.JSON's spelling.
      out.append(",\"input\":"sv);
      out.append(json::serialize(argumentsObject(tc.arguments)));
      out.push_back('}');
      has_tools = true;
    }
    finish = c.finish_reason;
  }
  // Anthropic answers tool_use whenever the message calls a tool, and clients run tools on that;
  // OpenAI says "stop" for a call forced by a named tool_choice.
  if ((finish == FinishReason::kNone || finish == FinishReason::kStop) && has_tools)
    finish = FinishReason::kToolCalls;
  out.append("],\"stop_reason\":\""sv);
  out.append(stopReasonFor(finish));
  out.append("\",\"stop_sequence\":null,\"usage\":"sv);
  appendUsageObject(r.usage.value_or(Usage{}), out);
  out.push_back('}');
}

json::object toAnthropicResponse(const ChatResponse& r) {
  std::string text;
  appendAnthropicResponseJson(r, text);
  return json::parse(text).as_object();
}

core::Error parseAnthropicError(int status, std::string_view body) {
  dom::element root;
  if (!detail::parseDocument(body).get(root) && root.is_object()) return errorFrom(status, root);
  return upstreamError(status, "", core::textExcerpt(body, kMaxErrorText));
}

std::string_view anthropicErrorType(int status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    case 504:
      return "timeout_error";
    default:
      break;
  }
  // Anthropic's own docs use invalid_request_error for 4xx statuses they do not list.
  return status >= 500 ? "api_error" : "invalid_request_error";
}

std::string renderAnthropicError(const core::Error& e) {
  std::string message = e.message;
  if (e.code == core::ErrorCode::kUpstreamStatus && !e.upstream_body.empty()) {
    boost::system::error_code ec;
    const json::value v = json::parse(e.upstream_body, ec);
    if (!ec && v.is_object()) {
      const auto& o = v.as_object();
      const json::value* err = field(o, "error");
      // Already Anthropic's shape (a pass-through from Anthropic itself): as it is.
      if (stringField(o, "type") == "error" && err && err->is_object()) return e.upstream_body;
      if (err && err->is_object() && !stringField(err->as_object(), "message").empty())
        message = std::string(stringField(err->as_object(), "message"));
      else
        message = fmt::format("Upstream answered HTTP {}: {}", e.http_status,
                              core::textExcerpt(json::serialize(v), kMaxErrorText));
    } else {
      message = fmt::format("Upstream answered HTTP {}: {}", e.http_status,
                            core::textExcerpt(e.upstream_body, kMaxErrorText));
    }
  } else if (e.code == core::ErrorCode::kInvalidRequest && !e.param.empty() &&
             !message.starts_with(e.param + ":")) {
    // Anthropic's shape has no `param`; its own messages lead with the field path instead.
    message = fmt::format("{}: {}", e.param, message);
  }
  json::object root{{"type", "error"},
                    {"error", json::object{{"type", anthropicErrorType(e.http_status)},
                                           {"message", core::validUtf8(message)}}}};
  return json::serialize(root);
}

std::string renderAnthropicStreamError(const core::Error& e) {
  std::string out = "event: error\ndata: ";
  core::appendJsonOnOneLine(out, renderAnthropicError(e));
  out += "\n\n";
  return out;
}

// ---- AnthropicStreamDecoder ----

ChatChunk& AnthropicStreamDecoder::chunk(ChunkBuffer& out) const {
  ChatChunk& c = out.add(id_, model_, created_);
  c.choices.emplace_back();
  return c;
}

void AnthropicStreamDecoder::finishChunk(FinishReason reason, ChunkBuffer& out) const {
  chunk(out).choices.front().finish_reason = reason;
}

namespace {

// The last text or JSON delta read on this thread, split around its text, and its block index:
// the deltas of a block differ only in their text.
struct DeltaTemplate {
  StringSlot slot;
  long long index = 0;
  bool json = false;  // input_json_delta, not text_delta
};

// content_block_delta, named by its `event:` line or by its data alone.
bool isBlockDelta(std::string_view event) {
  return event.empty() || core::sameBytes(event, "content_block_delta");
}

DeltaTemplate& knownDelta() {
  thread_local DeltaTemplate known;
  return known;
}

}  // namespace

bool AnthropicStreamDecoder::textDelta(std::string_view event, std::string_view data,
                                       TextDelta& out) const {
  if (!isBlockDelta(event)) return false;
  const DeltaTemplate& known = knownDelta();
  JsonString text;
  // An empty text makes no chunk: left to feed().
  if (known.json || !known.slot.match(data, text) || text.raw.empty()) return false;
  out = TextDelta{text.raw, text.escaped, id_, model_, created_, 0};
  return true;
}

bool AnthropicStreamDecoder::readBlockDelta(std::string_view data, ChunkBuffer& out) const {
  using Kind = JsonScanner::Kind;
  DeltaTemplate& known = knownDelta();
  if (JsonString value; known.slot.match(data, value))
    return emitDelta(known.index, known.json, value, out);

  static constexpr std::string_view kKeys[] = {"type", "index", "delta"};
  static constexpr std::string_view kDeltaKeys[] = {"type", "text", "partial_json"};
  JsonScanner s(data);
  JsonString type, delta_type, text, partial;
  long long index = -1;
  bool has_delta = false;
  // A string member, if it is one; a value of any other type reads as absent, as generally.
  auto string = [&](JsonString& to) {
    if (s.peek() != Kind::kString) return s.skip();
    return s.string(to);
  };
  auto delta = [&](std::size_t i) { return string(i == 0 ? delta_type : i == 1 ? text : partial); };
  const bool read = s.object(kKeys, [&](std::size_t i) {
    switch (i) {
      case 0:  // Anthropic names the type first: other events leave at once.
        return s.peek() == Kind::kString && s.string(type) && type.is("content_block_delta");
      case 1:
        return s.peek() == Kind::kNull ? s.null() : s.integer(index);
      default:
        if (s.peek() != Kind::kObject) return s.skip();
        has_delta = true;
        return s.object(kDeltaKeys, delta);
    }
  });
  if (!read) return false;
  if (!s.finish() || !type.is("content_block_delta") || delta_type.escaped) return false;

  if (index < 0 || index >= 4096 || !has_delta) return true;
  const bool json = delta_type.is("input_json_delta");
  if (!json && !delta_type.is("text_delta")) return true;
  const JsonString& value = json ? partial : text;
  if (!emitDelta(index, json, value, out)) return false;
  if (value.raw.data() != nullptr) {
    known.slot.keep(data, value);
    known.index = index;
    known.json = json;
  }
  return true;
}

bool AnthropicStreamDecoder::emitDelta(long long index, bool json, const JsonString& value,
                                       ChunkBuffer& out) const {
  if (value.raw.empty()) return true;
  if (!json) {
    if (value.appendTo(chunk(out).choices.front().content.emplace())) return true;
  } else {
    if (static_cast<size_t>(index) >= block_tool_.size() || block_tool_[index] < 0) return true;
    ToolCallDelta& td = chunk(out).choices.front().tool_calls.emplace_back();
    td.index = block_tool_[index];
    if (value.appendTo(td.arguments)) return true;
  }
  out.pop_back();
  return false;
}

void AnthropicStreamDecoder::stop(ChunkBuffer& out) {
  if (finished_) return;
  // A stream without a stop_reason still owes OpenAI clients a finish reason.
  if (finish_ == FinishReason::kNone) {
    finish_ = tool_count_ > 0 ? FinishReason::kToolCalls : FinishReason::kStop;
    finishChunk(finish_, out);
  }
  ChatChunk& c = chunk(out);
  c.choices.clear();
  c.usage = usage_;
  finished_ = true;
}

namespace {

// The type of an event whose other members need no reading (content_block_stop, message_stop),
// read by the scanner; empty when the data is not a valid object with one unescaped type.
std::string_view bareEventType(std::string_view data) {
  static constexpr std::string_view kKeys[] = {"type"};
  JsonScanner s(data);
  JsonString type;
  const bool read = s.object(kKeys, [&](std::size_t) {
    return s.peek() == JsonScanner::Kind::kString && s.string(type) && !type.escaped;
  });
  return read && s.finish() ? type.raw : std::string_view();
}

}  // namespace

bool AnthropicStreamDecoder::readLifecycleEvent(std::string_view data, ChunkBuffer& out) {
  using Kind = JsonScanner::Kind;
  enum class Type { kNone, kMessageStart, kBlockStart, kMessageDelta };
  static constexpr std::string_view kKeys[] = {"type",          "message", "index",
                                               "content_block", "delta",   "usage"};
  static constexpr std::string_view kMessageKeys[] = {"id", "model", "usage"};
  static constexpr std::string_view kBlockKeys[] = {"type", "text"};
  static constexpr std::string_view kDeltaKeys[] = {"stop_reason"};
  JsonScanner s(data);
  Type type = Type::kNone;
  JsonString id, model, block_type, text, stop_reason;
  bool has_message = false, has_block = false, has_usage = false;
  long long index = -1;
  UsageCounts usage;

  // A string member, unescaped (ids, names and reasons are): null and other types read as empty,
  // as in the general reading.
  auto plain = [&](JsonString& to) {
    if (s.peek() != Kind::kString) return s.skip();
    return s.string(to) && !to.escaped;
  };
  // A usage object; any count that is not a plain integer or null is left to the general reading.
  auto readUsage = [&] {
    if (s.peek() != Kind::kObject) return s.skip();
    has_usage = true;
    return scanUsageCounts(s, usage);
  };
  const bool read = s.object(kKeys, [&](std::size_t i) {
    // Anthropic names the type first; any other order goes the general way.
    if (i != 0 && type == Type::kNone) return false;
    switch (i) {
      case 0: {
        JsonString t;
        if (!(s.peek() == Kind::kString && s.string(t))) return false;
        if (t.is("message_start")) {
          type = Type::kMessageStart;
        } else if (t.is("content_block_start")) {
          type = Type::kBlockStart;
        } else if (t.is("message_delta")) {
          type = Type::kMessageDelta;
        } else {
          return false;
        }
        return true;
      }
      case 1:
        if (type != Type::kMessageStart || s.peek() != Kind::kObject) return s.skip();
        has_message = true;
        return s.object(kMessageKeys, [&](std::size_t k) {
          return k == 0 ? plain(id) : k == 1 ? plain(model) : readUsage();
        });
      case 2:
        if (type != Type::kBlockStart) return s.skip();
        if (s.peek() == Kind::kNull) return s.null();
        return s.integer(index);
      case 3:
        if (type != Type::kBlockStart || s.peek() != Kind::kObject) return s.skip();
        has_block = true;
        return s.object(kBlockKeys,
                        [&](std::size_t k) { return k == 0 ? plain(block_type) : plain(text); });
      case 4:
        if (type != Type::kMessageDelta || s.peek() != Kind::kObject) return s.skip();
        return s.object(kDeltaKeys, [&](std::size_t) { return plain(stop_reason); });
      default:
        return type == Type::kMessageDelta ? readUsage() : s.skip();
    }
  });
  if (!read || !s.finish()) return false;

  switch (type) {
    case Type::kMessageStart: {
      created_ = core::nowUnixSeconds();
      if (has_message) {
        id_.assign(id.raw);
        model_.assign(model.raw);
        if (has_usage) applyUsageCounts(usage, usage_);
      }
      ChatChunk& c = chunk(out);
      c.choices.front().role = Role::kAssistant;
      c.choices.front().content.emplace();
      return true;
    }
    case Type::kBlockStart: {
      // A tool_use block's id, name and input are read the general way.
      if (block_type.is("tool_use")) return false;
      if (index < 0 || index >= 4096 || !has_block) return true;
      if (static_cast<size_t>(index) >= block_tool_.size()) block_tool_.resize(index + 1, -1);
      if (block_type.is("text") && !text.raw.empty())
        chunk(out).choices.front().content.emplace(text.raw);
      return true;
    }
    case Type::kMessageDelta:
      if (has_usage) applyUsageCounts(usage, usage_);
      if (!stop_reason.raw.empty() && finish_ == FinishReason::kNone) {
        finish_ = finishFor(stop_reason.raw);
        finishChunk(finish_, out);
      }
      return true;
    case Type::kNone:
      break;
  }
  return false;
}

core::Status AnthropicStreamDecoder::feed(std::string_view event, std::string_view data,
                                          ChunkBuffer& out) {
  // Event names compared inline (a memcmp call each cost more than the comparison; these run for
  // every token).
  using core::sameBytes;
  if (sameBytes(event, "ping")) return core::Ok{};
  if (isBlockDelta(event) && readBlockDelta(data, out)) return core::Ok{};
  if (sameBytes(event, "content_block_stop") || sameBytes(event, "message_stop")) {
    if (const std::string_view type = bareEventType(data); type == "content_block_stop") {
      return core::Ok{};
    } else if (type == "message_stop") {
      stop(out);
      return core::Ok{};
    }
  }
  if (readLifecycleEvent(data, out)) return core::Ok{};
  // An event without data is named by its `event:` line alone (message_stop, ping).
  dom::element root;
  dom::object o;
  if (detail::parseDocument(data.empty() ? std::string_view("{}") : data).get(root) ||
      root.get_object().get(o))
    return core::Error::badGateway(
        fmt::format("Anthropic sent a malformed '{}' stream event", event));
  // One pass over the event's members; each type reads its own.
  const auto [type_member, index_member, delta_member, message_member, block_member, usage_member] =
      detail::members(o, {"type", "index", "delta", "message", "content_block", "usage"});
  std::string_view type = detail::stringOf(type_member);
  if (type.empty()) type = event;

  auto blockIndex = [&]() -> int {
    const long long n = detail::integerOf(index_member, -1);
    return n >= 0 && n < 4096 ? static_cast<int>(n) : -1;
  };

  if (type == "content_block_delta") {
    const int index = blockIndex();
    const auto delta = detail::objectOf(delta_member);
    if (index < 0 || !delta) return core::Ok{};
    const auto [dtype_member, text_member, partial_member] =
        detail::members(*delta, {"type", "text", "partial_json"});
    const std::string_view dtype = detail::stringOf(dtype_member);
    if (dtype == "text_delta") {
      const std::string_view t = detail::stringOf(text_member);
      if (t.empty()) return core::Ok{};
      chunk(out).choices.front().content.emplace(t);
    } else if (dtype == "input_json_delta") {
      const std::string_view part = detail::stringOf(partial_member);
      if (part.empty() || static_cast<size_t>(index) >= block_tool_.size() ||
          block_tool_[index] < 0)
        return core::Ok{};
      ToolCallDelta& td = chunk(out).choices.front().tool_calls.emplace_back();
      td.index = block_tool_[index];
      td.arguments.assign(part);
    }
    // thinking_delta, signature_delta and citations_delta have no canonical form.
  } else if (type == "message_start") {
    created_ = core::nowUnixSeconds();
    if (const auto m = detail::objectOf(message_member)) {
      id_.assign(detail::stringMember(*m, "id"));
      model_.assign(detail::stringMember(*m, "model"));
      if (const auto u = detail::member(*m, "usage")) applyUsage(*u, usage_);
    }
    ChatChunk& c = chunk(out);
    c.choices.front().role = Role::kAssistant;
    c.choices.front().content.emplace();
  } else if (type == "content_block_start") {
    const int index = blockIndex();
    const auto b = detail::objectOf(block_member);
    if (index < 0 || !b) return core::Ok{};
    if (static_cast<size_t>(index) >= block_tool_.size()) block_tool_.resize(index + 1, -1);
    const std::string_view btype = detail::stringMember(*b, "type");
    if (btype == "tool_use") {
      block_tool_[index] = tool_count_++;
      ToolCallDelta& td = chunk(out).choices.front().tool_calls.emplace_back();
      td.index = block_tool_[index];
      td.id.assign(detail::stringMember(*b, "id"));
      td.name.assign(detail::stringMember(*b, "name"));
      // Anthropic starts with input {} and streams it as deltas; some relays send it whole here.
      if (const auto in = detail::member(*b, "input")) {
        dom::object io;
        if (!in->get_object().get(io) && io.size() > 0) td.arguments = detail::serialize(*in);
      }
    } else if (btype == "text") {
      if (const std::string_view t = detail::stringMember(*b, "text"); !t.empty())
        chunk(out).choices.front().content.emplace(t);
    }
  } else if (type == "message_delta") {
    if (usage_member) applyUsage(*usage_member, usage_);
    const auto d = detail::objectOf(delta_member);
    const std::string_view sr = d ? detail::stringMember(*d, "stop_reason") : std::string_view();
    if (!sr.empty() && finish_ == FinishReason::kNone) {
      finish_ = finishFor(sr);
      finishChunk(finish_, out);
    }
  } else if (type == "message_stop") {
    stop(out);
  } else if (type == "error") {
    return errorFrom(0, root);
  }
  // ping and event types added later carry nothing to translate.
  return core::Ok{};
}

// ---- AnthropicStreamEncoder ----

namespace {

// Events are written as text straight into the output: they are few shapes, all small, and
// building a document per token cost more than the token itself.
void beginEvent(std::string_view name, std::string& out) {
  out.append("event: "sv).append(name).append("\ndata: "sv);
}

}  // namespace

AnthropicStreamEncoder::AnthropicStreamEncoder(std::string id, std::string model)
    : id_(messageId(id)), model_(std::move(model)) {}

void AnthropicStreamEncoder::start(std::string& out) {
  if (started_) return;
  started_ = true;
  beginEvent("message_start", out);
  out.append("{\"type\":\"message_start\",\"message\":{\"id\":"sv);
  core::appendJsonString(out, id_);
  out.append(",\"type\":\"message\",\"role\":\"assistant\",\"model\":"sv);
  core::appendJsonString(out, model_);
  out.append(",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":"sv);
  appendUsageObject(usage_, out);
  out.append("}}\n\n"sv);
  out.append("event: ping\ndata: {\"type\":\"ping\"}\n\n"sv);
}

void AnthropicStreamEncoder::openBlock(Block kind, const ToolCallDelta* tool, std::string& out) {
  closeBlock(out);
  beginEvent("content_block_start", out);
  out.append("{\"type\":\"content_block_start\",\"index\":"sv);
  core::appendJsonInt(out, next_block_);
  if (kind == Block::kText) {
    out.append(",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"sv);
    delta_prefix_.clear();
    beginEvent("content_block_delta", delta_prefix_);
    delta_prefix_.append("{\"type\":\"content_block_delta\",\"index\":"sv);
    core::appendJsonInt(delta_prefix_, next_block_);
    delta_prefix_.append(",\"delta\":{\"type\":\"text_delta\",\"text\":"sv);
  } else {
    out.append(",\"content_block\":{\"type\":\"tool_use\",\"id\":"sv);
    if (tool->id.empty())
      core::appendJsonString(out, fmt::format("toolu_{}_{}", id_.substr(4), tool->index));
    else
      core::appendJsonString(out, tool->id);
    out.append(",\"name\":"sv);
    core::appendJsonString(out, tool->name);
    out.append(",\"input\":{}}}\n\n"sv);
    open_tool_ = tool->index;
    last_tool_ = std::max(last_tool_, tool->index);
  }
  open_ = kind;
}

void AnthropicStreamEncoder::closeBlock(std::string& out) {
  if (open_ == Block::kNone) return;
  beginEvent("content_block_stop", out);
  out.append("{\"type\":\"content_block_stop\",\"index\":"sv);
  core::appendJsonInt(out, next_block_);
  out.append("}\n\n"sv);
  ++next_block_;
  open_ = Block::kNone;
  open_tool_ = -1;
}

void AnthropicStreamEncoder::encode(const ChatChunk& chunk, std::string& out) {
  if (finished_) return;
  // Usage first: a chunk carrying it before any content gives message_start its input count.
  if (chunk.usage) usage_ = *chunk.usage;
  // The model that answers, as a whole answer names it; the requested name until one is known.
  if (!started_ && !chunk.model.empty()) model_ = chunk.model;
  start(out);
  for (const auto& ch : chunk.choices) {
    if (ch.index != 0) continue;  // Anthropic messages have one choice
    if (ch.content && !ch.content->empty()) {
      if (open_ != Block::kText) openBlock(Block::kText, nullptr, out);
      out.append(delta_prefix_);
      core::appendJsonString(out, *ch.content);
      out.append("}}\n\n"sv);
    }
    for (const auto& td : ch.tool_calls) {
      if (open_ != Block::kTool || open_tool_ != td.index) {
        // A closed tool_use block cannot be reopened; late fragments of an earlier call (which
        // OpenAI-style upstreams do not send) have nowhere to go.
        if (td.index <= last_tool_) continue;
        openBlock(Block::kTool, &td, out);
      }
      if (td.arguments.empty()) continue;
      beginEvent("content_block_delta", out);
      out.append("{\"type\":\"content_block_delta\",\"index\":"sv);
      core::appendJsonInt(out, next_block_);
      out.append(",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"sv);
      core::appendJsonString(out, td.arguments);
      out.append("}}\n\n"sv);
    }
    if (ch.finish_reason != FinishReason::kNone) finish_ = ch.finish_reason;
  }
}

bool AnthropicStreamEncoder::encodeText(const TextDelta& delta, std::string& out) {
  if (finished_ || open_ != Block::kText || delta.index != 0) return false;
  if (delta.json_text.empty()) return true;  // as encode(): no event for no text
  out.append(delta_prefix_).push_back('"');
  out.append(delta.json_text).append("\"}}\n\n"sv);
  return true;
}

void AnthropicStreamEncoder::finish(std::string& out) {
  if (finished_) return;
  start(out);
  closeBlock(out);
  FinishReason reason = finish_;
  // As in toAnthropicResponse: a message that called a tool ends with tool_use, even when the
  // upstream said "stop" (OpenAI does for a forced tool_choice).
  if (reason == FinishReason::kNone || reason == FinishReason::kStop)
    reason = last_tool_ >= 0 ? FinishReason::kToolCalls : FinishReason::kStop;
  beginEvent("message_delta", out);
  out.append("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\""sv);
  out.append(stopReasonFor(reason));
  out.append("\",\"stop_sequence\":null},\"usage\":"sv);
  appendUsageObject(usage_, out);
  out.append("}\n\n"sv);
  out.append("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"sv);
  finished_ = true;
}

}  // namespace kh::model
