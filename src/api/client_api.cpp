#include "api/client_api.h"

#include <simdjson.h>

#include <optional>

#include <boost/json/error.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>

#include "api/openai_errors.h"
#include "core/json_text.h"
#include "core/text_search.h"
#include "model/anthropic_codec.h"
#include "model/json_dom.h"
#include "model/openai_codec.h"

namespace kh::api {

using namespace std::string_view_literals;

namespace {

namespace json = boost::json;
using providers::Operation;

// A body simdjson refused. Boost.JSON's account of the fault is given where it has one: that is
// the message clients got before requests were read with simdjson.
core::Error notJson(std::string_view body, simdjson::error_code err) {
  boost::system::error_code ec;
  json::parse(body, ec);
  return core::Error::invalidJson("The request body is not valid JSON: " +
                                  (ec ? ec.message() : std::string(simdjson::error_message(err))));
}

core::Result<json::value> parseJson(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return core::Error::invalidJson("The request body is not valid JSON: " + ec.message());
  return v;
}

class OpenAIChatEncoder final : public ChatStreamEncoder {
 public:
  OpenAIChatEncoder(bool include_usage, bool completion)
      : include_usage_(include_usage), completion_(completion) {}

  void encode(const model::ChatChunk& chunk, std::string& out) override {
    // The gateway always learns usage; the client sees the usage chunk only if it asked.
    if (chunk.usage && !include_usage_ && chunk.choices.empty()) return;
    // A token's chunk: everything before its text is the same for every token of the stream, and
    // is written once.
    if (const std::string* text = completion_ ? nullptr : model::textOnlyContent(chunk)) {
      if (!prefixIsFor(chunk.id, chunk.model, chunk.created)) {
        created_ = chunk.created;
        id_ = chunk.id;
        model_ = chunk.model;
        text_prefix_.assign("data: "sv);
        model::appendOpenAITextChunkPrefix(chunk, text_prefix_);
      }
      out.append(text_prefix_);
      core::appendJsonString(out, *text);
      out.append(model::kOpenAITextChunkSuffix).append("\n\n"sv);
      return;
    }
    out.append("data: "sv);
    if (completion_)
      model::appendOpenAICompletionChunkJson(chunk, include_usage_, out);
    else
      model::appendOpenAIChunkJson(chunk, include_usage_, out);
    out.append("\n\n"sv);
  }
  bool encodeText(const model::TextDelta& delta, std::string& out) override {
    // The event of the stream's last token, but for its text.
    if (completion_ || delta.index != 0 || !prefixIsFor(delta.id, delta.model, delta.created))
      return false;
    out.append(text_prefix_).push_back('"');
    out.append(delta.json_text).push_back('"');
    out.append(model::kOpenAITextChunkSuffix).append("\n\n"sv);
    return true;
  }
  void finish(std::string& out) override { out.append("data: [DONE]\n\n"sv); }
  void fail(const core::Error& error, std::string& out) override {
    out.append(renderOpenAIStreamError(error));
  }

 private:
  bool prefixIsFor(std::string_view id, std::string_view model, long long created) const {
    return !text_prefix_.empty() && created == created_ && core::sameBytes(id, id_) &&
           core::sameBytes(model, model_);
  }

  bool include_usage_;
  bool completion_;
  // What the last token's chunk had before its text, and the id, model and created it was for.
  std::string text_prefix_;
  std::string id_;
  std::string model_;
  long long created_ = 0;
};

class AnthropicEncoder final : public ChatStreamEncoder {
 public:
  AnthropicEncoder(std::string id, std::string model) : encoder_(std::move(id), std::move(model)) {}
  void encode(const model::ChatChunk& chunk, std::string& out) override {
    encoder_.encode(chunk, out);
  }
  bool encodeText(const model::TextDelta& delta, std::string& out) override {
    return encoder_.encodeText(delta, out);
  }
  void finish(std::string& out) override { encoder_.finish(out); }
  void fail(const core::Error& error, std::string& out) override {
    out.append(model::renderAnthropicStreamError(error));
  }

 private:
  model::AnthropicStreamEncoder encoder_;
};

}  // namespace

providers::WireFormat wireOf(ClientApi api) {
  return api == ClientApi::kAnthropic ? providers::WireFormat::kAnthropic
                                      : providers::WireFormat::kOpenAI;
}

namespace {

// The nesting limit of the Boost.JSON parser the canonical reading used before: documents nested
// deeper are still refused, as they were.
int maxRequestDepth() {
  return static_cast<int>(json::parse_options().max_depth);
}

}  // namespace

bool readChatAsText(ClientApi api, Operation op, std::string_view body, OpenAIBodyInfo& info,
                    model::ChatRequest& head, std::vector<model::TextMessage>& messages) {
  // A body that names tools (tools, tool_choice, tool calls or results) is not text only: it is
  // left to the general reading untried, rather than scanned up to its first tool for nothing.
  if (op != Operation::kChat || core::findText(body, "\"tool") != std::string_view::npos)
    return false;
  model::ChatBodyLayout layout;
  const bool read =
      api == ClientApi::kOpenAI
          ? model::readOpenAIChatAsText(body, maxRequestDepth(), head, messages, layout)
          : model::readAnthropicChatAsText(body, maxRequestDepth(), head, messages, layout);
  if (!read) return false;
  info = OpenAIBodyInfo{};
  info.model = head.model;
  info.model_begin = layout.model_begin;
  info.model_end = layout.model_end;
  info.stream = head.stream;
  info.has_stream_options = layout.has_stream_options;
  // stream_options' own: an Anthropic client's stream always has usage, and never this member.
  info.include_usage = layout.has_stream_options && head.include_usage;
  info.stream_options_member = layout.stream_options_member;
  info.object_begin = body.find_first_not_of(" \t\r\n");
  return true;
}

core::Status parseChatRequest(ClientApi api, Operation op, std::string_view body,
                              const OpenAIBodyInfo* inspected, model::ChatRequest& out) {
  // Requests read the client's document once (inspectBody's) on the usual path; strings and the
  // JSON the canonical request keeps are copied out of it.
  std::optional<simdjson::dom::element> doc;
  if (inspected) doc = inspectedDocument(*inspected);
  simdjson::dom::element root;
  if (doc) {
    root = *doc;
  } else if (auto err = parseBodyDocument(body).get(root); err) {
    return notJson(body, err);
  }
  if (model::detail::deeperThan(root, static_cast<std::size_t>(maxRequestDepth())))
    return core::Error::invalidJson("The request body is not valid JSON: " +
                                    json::make_error_code(json::error::too_deep).message());
  if (api == ClientApi::kAnthropic) return model::parseAnthropicRequest(root, out);
  if (op == Operation::kCompletion) return model::parseOpenAICompletionRequest(root, out);
  return model::parseOpenAIChatRequest(root, out);
}

core::Result<model::ChatRequest> parseChatRequest(ClientApi api, Operation op,
                                                  std::string_view body,
                                                  const OpenAIBodyInfo* inspected) {
  model::ChatRequest r;
  if (auto s = parseChatRequest(api, op, body, inspected, r); !s) return std::move(s).error();
  return r;
}

core::Result<model::EmbeddingRequest> parseEmbeddingRequest(std::string_view body) {
  auto v = parseJson(body);
  if (!v) return std::move(v).error();
  return model::parseOpenAIEmbeddingRequest(*v);
}

std::string renderChatResponse(ClientApi api, Operation op, const model::ChatResponse& response) {
  // Room for the text and a typical envelope, so that the answer is written without regrowing.
  size_t size = 512;
  for (const auto& c : response.choices)
    for (const auto& p : c.message.content) size += p.text.size();
  std::string out;
  out.reserve(size);
  if (api == ClientApi::kAnthropic)
    model::appendAnthropicResponseJson(response, out);
  else if (op == Operation::kCompletion)
    model::appendOpenAICompletionJson(response, out);
  else
    model::appendOpenAIChatResponseJson(response, out);
  return out;
}

std::unique_ptr<ChatStreamEncoder> chatStreamEncoder(ClientApi api, Operation op,
                                                     const model::ChatRequest& request,
                                                     std::string_view request_id) {
  if (api == ClientApi::kAnthropic) {
    std::string id;
    id.reserve(request_id.size() + 4);
    id.append("msg_").append(request_id);
    return std::make_unique<AnthropicEncoder>(std::move(id), request.model);
  }
  return std::make_unique<OpenAIChatEncoder>(request.include_usage, op == Operation::kCompletion);
}

std::string renderEmbeddingResponse(const model::EmbeddingRequest& request,
                                    const model::EmbeddingResponse& response) {
  return json::serialize(model::toOpenAIJson(response, request.encoding_format == "base64"));
}

std::string renderError(ClientApi api, const core::Error& error) {
  return api == ClientApi::kOpenAI ? renderOpenAIError(error) : model::renderAnthropicError(error);
}

std::string renderStreamError(ClientApi api, const core::Error& error) {
  return api == ClientApi::kOpenAI ? renderOpenAIStreamError(error)
                                   : model::renderAnthropicStreamError(error);
}

void mergeAnthropicUsage(std::string_view text, UsageCounts& into) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size(), true).get(doc)) return;
  simdjson::dom::element usage;
  // message_start nests the message; message_delta and whole answers have usage at the top.
  if (doc["usage"].get(usage) && doc["message"]["usage"].get(usage)) return;
  if (!usage.is_object()) return;
  int64_t input = 0, output = 0, cache_read = 0, cache_write = 0;
  const bool has_input = !usage["input_tokens"].get_int64().get(input);
  const bool has_output = !usage["output_tokens"].get_int64().get(output);
  const bool has_read = !usage["cache_read_input_tokens"].get_int64().get(cache_read);
  const bool has_write = !usage["cache_creation_input_tokens"].get_int64().get(cache_write);
  // Anthropic counts cached prompt tokens apart from input_tokens; OpenAI's prompt_tokens holds
  // them all. A later event repeats or completes an earlier one, so fields present win.
  if (has_input || has_read || has_write) {
    into.prompt_tokens = input + cache_read + cache_write;
    into.cached_tokens = cache_read;
  }
  if (has_output) into.completion_tokens = output;
  into.present = true;
}

}  // namespace kh::api
