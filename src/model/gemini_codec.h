#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.h"
#include "core/result.h"
#include "model/types.h"

namespace kh::model {

// Google AI Studio (Gemini v1beta) ⇄ the canonical types, for the gemini provider: requests for
// generateContent / streamGenerateContent and batchEmbedContents, their answers, errors and
// streams. Pure functions and per-request state only.

// The generateContent body (the model goes in the URL, not the body). Fails with a 400 naming
// the field when the request asks for something Gemini cannot express.
core::Result<boost::json::object> toGeminiRequest(const ChatRequest& request);

// A GenerateContentResponse → canonical. Gemini sends no id: `id` is used unless the answer has
// a responseId; `model` is used unless it has a modelVersion.
core::Result<ChatResponse> parseGeminiResponse(const boost::json::value& body, std::string_view id,
                                               std::string_view model, long long created);

// An error answer from Gemini ({"error":{"code","message","status"}}) → Error with the status a
// client should see; no upstream_body, so it renders in the client's own shape.
core::Error parseGeminiError(int status, std::string_view body);

// streamGenerateContent?alt=sse events → canonical chunks as OpenAI would stream them: the role
// on the first chunk, text and tool-call deltas (each functionCall is one complete call), the
// finish reason, and last a usage-only chunk (no choices) from the final usageMetadata.
class GeminiStreamDecoder {
 public:
  GeminiStreamDecoder(std::string id, std::string model, long long created);
  // One event's data (a GenerateContentResponse). An error object in the stream returns its Error.
  core::Status feed(std::string_view data, std::vector<ChatChunk>& out);
  // The upstream body ended: appends the usage chunk if one is due.
  void finish(std::vector<ChatChunk>& out);

 private:
  std::string id_;
  std::string model_;
  long long created_ = 0;
  bool role_sent_ = false;
  bool finish_sent_ = false;
  bool usage_sent_ = false;
  bool saw_usage_ = false;
  int tool_count_ = 0;
  Usage usage_;
};

// batchEmbedContents: `model` is the bare model id ("text-embedding-004").
boost::json::object toGeminiEmbedRequest(const EmbeddingRequest& request, std::string_view model);
core::Result<EmbeddingResponse> parseGeminiEmbedResponse(const boost::json::value& body,
                                                         std::string_view model);

// Model ids from GET /v1beta/models ("models/gemini-2.0-flash" → "gemini-2.0-flash"), only those
// that support generateContent or embedContent.
std::vector<std::string> parseGeminiModelList(std::string_view body);

}  // namespace kh::model
