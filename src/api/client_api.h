#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/openai_body.h"
#include "core/result.h"
#include "model/types.h"
#include "providers/provider.h"

namespace kh::api {

// The wire format a client speaks to the gateway: OpenAI's (chat, completions, embeddings) or
// Anthropic's Messages API (/v1/messages). When the chosen provider speaks the same format the
// body is passed through; otherwise it goes through the canonical form, and everything sent
// back — answers, stream events, errors — is rendered in the client's format by this module.
enum class ClientApi { kOpenAI, kAnthropic };

providers::WireFormat wireOf(ClientApi api);

// Canonical chunks → the client's stream, event by event. One per request; not thread-safe.
class ChatStreamEncoder {
 public:
  virtual ~ChatStreamEncoder() = default;
  virtual void encode(const model::ChatChunk& chunk, std::string& out) = 0;
  // The chunk `delta` stands for, written from its text as it stands when the encoder's state
  // allows (the event around the text is the one the stream's last token had). false: nothing
  // written, the caller encodes the chunk instead.
  virtual bool encodeText(const model::TextDelta& /*delta*/, std::string& /*out*/) { return false; }
  // The upstream stream ended normally.
  virtual void finish(std::string& out) = 0;
  // The stream failed after it started: an error event in the client's format ends it.
  virtual void fail(const core::Error& error, std::string& out) = 0;
};

// The client's body → canonical chat request (chat, legacy completions or Anthropic messages).
// With `inspected` (inspectBody's answer for this body) the document inspectBody built is read
// when the thread still holds it, instead of parsing the body again.
core::Result<model::ChatRequest> parseChatRequest(ClientApi api, providers::Operation op,
                                                  std::string_view body,
                                                  const OpenAIBodyInfo* inspected = nullptr);
// The same into `out`, a fresh request kept where it will live (the pipeline's context), so that
// it is not moved there afterwards.
core::Status parseChatRequest(ClientApi api, providers::Operation op, std::string_view body,
                              const OpenAIBodyInfo* inspected, model::ChatRequest& out);
// The usual chat body (OpenAI's or Anthropic's), whose messages are all text, read in one pass
// without its canonical messages (model::readOpenAIChatAsText, model::readAnthropicChatAsText)
// into `head`, a fresh request, and `messages`, and `info` set as inspectPaddedBody sets it: true
// when read, false for any other body or operation, with all three to be discarded. At least
// kJsonPadding readable bytes must follow the body.
bool readChatAsText(ClientApi api, providers::Operation op, std::string_view body,
                    OpenAIBodyInfo& info, model::ChatRequest& head,
                    std::vector<model::TextMessage>& messages);
core::Result<model::EmbeddingRequest> parseEmbeddingRequest(std::string_view body);

std::string renderChatResponse(ClientApi api, providers::Operation op,
                               const model::ChatResponse& response);
// An Anthropic stream's message is named after the request (msg_ and its id), so that the two
// are found together.
std::unique_ptr<ChatStreamEncoder> chatStreamEncoder(ClientApi api, providers::Operation op,
                                                     const model::ChatRequest& request,
                                                     std::string_view request_id);
std::string renderEmbeddingResponse(const model::EmbeddingRequest& request,
                                    const model::EmbeddingResponse& response);

// An error body in the client's shape. An upstream error body already in that shape (same wire
// format) is passed on as it is.
std::string renderError(ClientApi api, const core::Error& error);
std::string renderStreamError(ClientApi api, const core::Error& error);

// Usage from an Anthropic answer or stream event (message_start, message_delta), merged into
// `into`: for pass-through /v1/messages, where the gateway only reads what accounting needs.
void mergeAnthropicUsage(std::string_view json, UsageCounts& into);

}  // namespace kh::api
