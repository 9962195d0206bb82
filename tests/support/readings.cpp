#include "support/readings.h"

#include <initializer_list>
#include <string_view>

#include <simdjson.h>

#include "api/openai_body.h"
#include "model/anthropic_codec.h"
#include "model/gemini_codec.h"
#include "model/json_dom.h"
#include "model/openai_codec.h"

namespace kh::test_support {

namespace dom = simdjson::dom;
using model::ChatRequest;
using model::ChatResponse;

namespace {

constexpr int kMaxDepth = 32;  // the gateway's nesting limit for request bodies

template <class T>
std::string optional(const std::optional<T>& v) {
  return v ? std::to_string(*v) : "none";
}

std::string dumpMessage(const model::Message& m) {
  std::string out = "role=" + std::string(model::toString(m.role)) + " name=" + m.name +
                    " tool_call_id=" + m.tool_call_id +
                    " refusal=" + (m.refusal ? "<" + *m.refusal + ">" : "none");
  for (const model::ContentPart& p : m.content) {
    out += p.kind == model::ContentPart::Kind::kText
               ? " text<" + p.text + ">"
               : " image<" + p.image.url + "|" + p.image.data + ">";
  }
  for (const model::ToolCall& c : m.tool_calls)
    out += " call<" + c.id + "|" + c.name + "|" + c.arguments + ">";
  return out;
}

// A body as the gateway holds it: followed by readable padding.
std::string padded(const std::string& body) {
  std::string out = body;
  out.reserve(body.size() + 64);
  return out;
}

std::string differ(std::string_view what, const std::string& input, const std::string& a = {},
                   const std::string& b = {}) {
  std::string out = std::string(what) + "\ninput: " + input;
  if (!a.empty() || !b.empty()) out += "\nfirst:  " + a + "\nsecond: " + b;
  return out;
}

core::Result<ChatResponse> parseResponse(Wire wire, const std::string& body) {
  switch (wire) {
    case Wire::kAnthropic:
      return model::parseAnthropicResponse(std::string_view(body));
    case Wire::kOpenAI:
      return model::parseOpenAIChatResponse(std::string_view(body));
    case Wire::kGemini:
      break;
  }
  return model::parseGeminiResponse(std::string_view(body), "chatcmpl-1", "gemini-x", 1700000000);
}

bool scansResponse(Wire wire, const std::string& body) {
  ChatResponse r;
  switch (wire) {
    case Wire::kAnthropic:
      return model::scanAnthropicResponse(body, r);
    case Wire::kOpenAI:
      return model::scanOpenAIChatResponse(body, r);
    case Wire::kGemini:
      break;
  }
  return model::scanGeminiResponse(body, r);
}

}  // namespace

std::string forGeneralReading(const std::string& data) {
  const auto open = data.find_first_not_of(" \t\r\n");
  if (open == std::string::npos || data[open] != '{') return data;
  const auto next = data.find_first_not_of(" \t\r\n", open + 1);
  const bool empty = next != std::string::npos && data[next] == '}';
  return data.substr(0, open + 1) + (empty ? R"("\u005f":0)" : R"("\u005f":0,)") +
         data.substr(open + 1);
}

std::string dumpResponse(const core::Result<ChatResponse>& r, bool with_created) {
  if (!r)
    return "error " + std::to_string(r.error().http_status) + " " +
           std::to_string(static_cast<int>(r.error().code)) + ": " + r.error().message +
           " param=" + r.error().param + " retryable=" + std::to_string(r.error().retryable);
  std::string out = "id=" + r->id + " model=" + r->model + " fp=" + r->system_fingerprint;
  if (with_created) out += " created=" + std::to_string(r->created);
  for (const model::Choice& c : r->choices)
    out += "\n[" + std::to_string(c.index) +
           " finish=" + std::to_string(static_cast<int>(c.finish_reason)) + "] " +
           dumpMessage(c.message);
  if (r->usage) {
    const model::Usage& u = *r->usage;
    out += "\nusage " + std::to_string(u.prompt_tokens) + "/" +
           std::to_string(u.completion_tokens) + " cached=" + std::to_string(u.cached_tokens) +
           " creation=" + std::to_string(u.cache_creation_tokens) +
           " reasoning=" + std::to_string(u.reasoning_tokens);
  }
  return out;
}

std::string dumpRequestHead(const ChatRequest& r) {
  std::string out =
      "model=" + r.model + " tools=" + std::to_string(r.tools.size()) +
      " tool_choice=" + std::to_string(static_cast<int>(r.tool_choice.mode)) +
      " parallel=" + (r.parallel_tool_calls ? std::to_string(*r.parallel_tool_calls) : "none") +
      " temperature=" + optional(r.temperature) + " top_p=" + optional(r.top_p) +
      " top_k=" + optional(r.top_k) + " max_tokens=" + optional(r.max_tokens) +
      " n=" + optional(r.n) + " seed=" + optional(r.seed) +
      " presence=" + optional(r.presence_penalty) + " frequency=" + optional(r.frequency_penalty) +
      " stream=" + std::to_string(r.stream) + " include_usage=" + std::to_string(r.include_usage) +
      " format=" + std::to_string(static_cast<int>(r.response_format.kind)) + " user=" + r.user +
      " extra=" + std::to_string(r.extra.size()) + " stop=";
  for (const std::string& s : r.stop) out += "<" + s + ">";
  return out;
}

std::string renderChunks(const core::Status& s, const model::ChunkBuffer& chunks) {
  std::string out;
  for (const model::ChatChunk& c : chunks) {
    model::appendOpenAIChunkJson(c, true, out);
    out += '\n';
  }
  if (!s) out += "error " + std::to_string(s.error().http_status) + ": " + s.error().message;
  return out;
}

ResponseReading compareResponseReadings(Wire wire, const std::string& body) {
  ResponseReading out;
  out.scanned = scansResponse(wire, body);
  const std::string general = forGeneralReading(body);
  if (scansResponse(wire, general)) {
    out.mismatch = differ("the general form was scanned", body);
    return out;
  }
  // Anthropic's reader stamps the clock.
  const bool with_created = wire != Wire::kAnthropic;
  const std::string a = dumpResponse(parseResponse(wire, body), with_created);
  const std::string b = dumpResponse(parseResponse(wire, general), with_created);
  if (a != b) out.mismatch = differ("the readings differ", body, a, b);
  return out;
}

TextRequestReading compareTextRequestReadings(Wire client, const std::string& raw) {
  TextRequestReading o;
  const bool anthropic = client == Wire::kAnthropic;
  auto read_text = [&](const std::string& body, ChatRequest& head,
                       std::vector<model::TextMessage>& messages, model::ChatBodyLayout& layout) {
    return anthropic ? model::readAnthropicChatAsText(body, kMaxDepth, head, messages, layout)
                     : model::readOpenAIChatAsText(body, kMaxDepth, head, messages, layout);
  };
  const std::string body = padded(raw);
  ChatRequest head;
  std::vector<model::TextMessage> messages;
  model::ChatBodyLayout layout;
  o.read = read_text(body, head, messages, layout);
  {
    // A body the general path would also read otherwise (a leading member with an escaped key)
    // is never read as text.
    ChatRequest h;
    std::vector<model::TextMessage> m;
    model::ChatBodyLayout l;
    if (read_text(padded(forGeneralReading(raw)), h, m, l)) {
      o.mismatch = differ("the general form was read as text", raw);
      return o;
    }
  }
  if (!o.read) return o;
  dom::parser parser;
  dom::element root;
  if (parser.parse(raw).get(root)) {
    o.mismatch = differ("read as text, yet not JSON", raw);
    return o;
  }
  if (model::detail::deeperThan(root, kMaxDepth)) {
    o.mismatch = differ("read as text, yet nested too deep", raw);
    return o;
  }
  auto general =
      anthropic ? model::parseAnthropicRequest(root) : model::parseOpenAIChatRequest(root);
  if (!general) {
    o.mismatch =
        differ("read as text, yet the general reading refuses it", raw, general.error().message);
    return o;
  }
  if (dumpRequestHead(head) != dumpRequestHead(*general)) {
    o.mismatch = differ("the heads differ", raw, dumpRequestHead(head), dumpRequestHead(*general));
    return o;
  }
  if (messages.size() != general->messages.size()) {
    o.mismatch = differ("the message counts differ", raw, std::to_string(messages.size()),
                        std::to_string(general->messages.size()));
    return o;
  }
  const std::string_view model =
      std::string_view(raw).substr(layout.model_begin, layout.model_end - layout.model_begin);
  if (!model.starts_with('"') || !model.ends_with('"')) {
    o.mismatch = differ("the model's place is not a string", raw, std::string(model));
    return o;
  }
  head.model = general->model = "upstream-model";
  for (const std::string_view key : {"max_completion_tokens", "max_tokens"}) {
    std::string text, whole;
    o.openai_text = model::appendOpenAITextRequestJson(head, messages, key, text);
    model::appendOpenAIRequestJson(*general, key, whole);
    // Only the unmodelled members the general reading keeps are left to the general writer.
    if (o.openai_text != general->extra.empty()) {
      o.mismatch = differ("OpenAI's text writer took the wrong bodies", raw, text, whole);
      return o;
    }
    if (o.openai_text && text != whole) {
      o.mismatch = differ("OpenAI's upstream bodies differ", raw, text, whole);
      return o;
    }
  }
  model::AnthropicRequestOptions options;
  options.default_max_tokens = 777;
  std::string anthropic_text, anthropic_whole;
  o.anthropic_text = model::appendAnthropicTextRequestJson(head, messages, options, anthropic_text);
  const bool anthropic_ok =
      model::appendAnthropicRequestJson(*general, options, anthropic_whole).ok();
  // Only requests the general writer refuses are left to it.
  if (o.anthropic_text ? !anthropic_ok || anthropic_text != anthropic_whole
                       : !anthropic_text.empty() || anthropic_ok) {
    o.mismatch = differ("Anthropic's upstream bodies differ", raw, anthropic_text, anthropic_whole);
    return o;
  }
  std::string gemini_text, gemini_whole;
  o.gemini_text = model::appendGeminiTextRequestJson(head, messages, gemini_text);
  const bool gemini_ok = model::appendGeminiRequestJson(*general, gemini_whole).ok();
  if (o.gemini_text) {
    if (!gemini_ok || gemini_text != gemini_whole)
      o.mismatch = differ("Gemini's upstream bodies differ", raw, gemini_text, gemini_whole);
    return o;
  }
  // Left to the general writer: only requests without a user or assistant text.
  bool turn_with_text = false;
  for (const model::Message& m : general->messages) {
    const bool turn = m.role == model::Role::kUser || m.role == model::Role::kAssistant;
    turn_with_text = turn_with_text || (turn && !m.text().empty());
  }
  if (!gemini_text.empty() || turn_with_text)
    o.mismatch =
        differ("Gemini's text writer declined a text chat", raw, gemini_text, gemini_whole);
  return o;
}

std::string compareStreamReadings(Wire wire, const std::vector<StreamEvent>& events) {
  model::AnthropicStreamDecoder anthropic_fast, anthropic_general;
  model::GeminiStreamDecoder gemini_fast("chatcmpl-1", "gemini-x", 1700000000);
  model::GeminiStreamDecoder gemini_general("chatcmpl-1", "gemini-x", 1700000000);
  model::ChunkBuffer a, b;
  for (const StreamEvent& e : events) {
    a.clear();
    b.clear();
    const std::string general = forGeneralReading(e.data);
    core::Status sa = core::Ok{}, sb = core::Ok{};
    switch (wire) {
      case Wire::kOpenAI:
        sa = model::parseOpenAIChatChunk(e.data, a.add());
        sb = model::parseOpenAIChatChunk(general, b.add());
        break;
      case Wire::kAnthropic:
        sa = anthropic_fast.feed(e.name, e.data, a);
        sb = anthropic_general.feed(e.name, general, b);
        // The decoder stamps its chunks with the clock at message_start.
        for (std::size_t i = 0; i < a.size(); ++i) a[i].created = 0;
        for (std::size_t i = 0; i < b.size(); ++i) b[i].created = 0;
        break;
      case Wire::kGemini:
        sa = gemini_fast.feed(e.data, a);
        sb = gemini_general.feed(general, b);
        break;
    }
    const std::string ra = renderChunks(sa, a), rb = renderChunks(sb, b);
    if (ra != rb) return differ("the readings differ", e.name + "\n" + e.data, ra, rb);
  }
  return {};
}

BodyInspection compareBodyInspections(providers::Operation op, bool messages_api,
                                      const std::string& body) {
  BodyInspection out;
  std::string a = body, b = body;
  const auto by_scan = api::inspectBody(a, op, messages_api, api::BodyReading::kScan);
  const auto by_doc = api::inspectBody(b, op, messages_api, api::BodyReading::kDocument);
  auto describe = [](const core::Result<api::OpenAIBodyInfo>& r) {
    if (!r) return "error " + r.error().message + " param=" + r.error().param;
    return "model=" + r->model + " at " + std::to_string(r->model_begin) + "-" +
           std::to_string(r->model_end) + " stream=" + std::to_string(r->stream) +
           " stream_options=" + std::to_string(r->has_stream_options) + "/" +
           std::to_string(r->stream_options_member) +
           " include_usage=" + std::to_string(r->include_usage) +
           " object_begin=" + std::to_string(r->object_begin) +
           " user_preferences=" + std::to_string(r->has_user_preferences);
  };
  out.scanned = by_scan && by_scan->document.parser == nullptr;
  const std::string sa = describe(by_scan), sb = describe(by_doc);
  if (sa != sb) out.mismatch = differ("the inspections differ", body, sa, sb);
  return out;
}

}  // namespace kh::test_support
