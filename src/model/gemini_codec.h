#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.h"
#include "core/result.h"
#include "model/json_scan.h"
#include "model/types.h"

namespace kh::model {

// Google AI Studio (Gemini v1beta) ⇄ the canonical types, for the gemini provider: requests for
// generateContent / streamGenerateContent and batchEmbedContents, their answers, errors and
// streams. Pure functions and per-request state only.

// The generateContent body (the model goes in the URL, not the body), in the camelCase field
// spelling. Image URLs go as fileData (Gemini fetches them); schemas are reduced to the OpenAPI
// subset Gemini accepts; what Gemini cannot express is dropped. Fails with a 400 naming the
// field only where no translation exists: a tool result whose tool_call_id matches no earlier
// call (Gemini needs the function name), or no message with content at all.
// The body's JSON text is appended to `out` (which holds a partial body after an error);
// toGeminiRequest is the same as a document, for tests that inspect one.
core::Status appendGeminiRequestJson(const ChatRequest& request, std::string& out);
// The same for a request whose messages are text as it stands in the client's body (`head` holds
// every other member): the very text appendGeminiRequestJson writes for that request. false, with
// `out` as it was, for a request it leaves to appendGeminiRequestJson (one without user or
// assistant text).
bool appendGeminiTextRequestJson(const ChatRequest& head, std::span<const TextMessage> messages,
                                 std::string& out);
core::Result<boost::json::object> toGeminiRequest(const ChatRequest& request);

// A GenerateContentResponse → canonical. Gemini sends no id: `id` is used unless the answer has
// a responseId; `model` is used unless it has a modelVersion. Tool call ids are Gemini's own or
// call_<n>, with any thoughtSignature appended after "__thought__" so that it comes back in the
// next request (Gemini 3 refuses function calls without it).
// The usual answer is read by scanGeminiResponse, any other with simdjson, so no document is
// built; the overload taking a document is for tests.
core::Result<ChatResponse> parseGeminiResponse(std::string_view body, std::string_view id,
                                               std::string_view model, long long created);
// The usual answer (candidates of text parts, plain token counts, no escaped or repeated keys)
// read in one scanning pass, without a document, exactly as parseGeminiResponse's general reading
// reads it, but for the id, model and timestamp, which the caller fills in. false for any other
// (function calls, errors, no candidates), with `out` partly filled.
bool scanGeminiResponse(std::string_view body, ChatResponse& out);
core::Result<ChatResponse> parseGeminiResponse(const boost::json::value& body, std::string_view id,
                                               std::string_view model, long long created);

// An error answer from Gemini ({"error":{"code","message","status"}}) → Error with the status a
// client should see; no upstream_body, so it renders in the client's own shape.
core::Error parseGeminiError(int status, std::string_view body);

// streamGenerateContent?alt=sse events → canonical chunks as OpenAI would stream them: the role
// on the first chunk, text and tool-call deltas (each functionCall is one complete call), the
// finish reason, and last a usage-only chunk (no choices) from the final usageMetadata. Every
// chunk carries the constructor's id, model and created. Not thread-safe; one per stream.
class GeminiStreamDecoder {
 public:
  GeminiStreamDecoder(std::string id, std::string model, long long created);
  // One event's data (a GenerateContentResponse). An error object in the stream returns its Error.
  core::Status feed(std::string_view data, ChunkBuffer& out);
  // An event like the last one-part text event read on this thread but for its text, for a
  // candidate whose role was sent: true, with the chunk feed() would append, and the event taken.
  bool textDelta(std::string_view data, TextDelta& out);
  // The upstream body ended: appends the usage chunk if one is due.
  void finish(ChunkBuffer& out);

 private:
  // Per candidate (choice index): Gemini streams each candidate's parts separately when
  // candidateCount > 1, and OpenAI numbers tool calls per choice.
  struct CandidateState {
    bool role_sent = false;
    bool finish_sent = false;
    bool saw_tool_call = false;
    int tool_count = 0;
  };
  CandidateState& candidate(int index);
  // An event of one candidate with text parts only (every token's), read by the scanner. false for
  // any other event, left to feed()'s simdjson reading; nothing is emitted or changed then.
  bool readCommonEvent(std::string_view data, ChunkBuffer& out);
  // What readTextParts saw: how many parts, and the last one's text and thought flag.
  struct TextParts {
    int count = 0;
    JsonString text;
    bool thought = false;
  };
  // The candidate's content object: its text parts, thoughts left out, appended to text_.
  bool readTextParts(JsonScanner& s, TextParts& parts);
  // The chunks for one candidate whose parts are in text_ and calls_.
  void emitCandidate(int index, std::string_view reason, ChunkBuffer& out);
  // A chunk with the stream's id, model and created, and no choices yet.
  ChatChunk& chunk(ChunkBuffer& out) const;

  std::string id_;
  std::string model_;
  long long created_ = 0;
  std::vector<CandidateState> candidates_;
  int call_ids_ = 0;  // synthesized call ids are unique across the whole stream
  bool usage_sent_ = false;
  bool saw_usage_ = false;
  Usage usage_;
  // One candidate's text and calls, kept so that their memory serves every event.
  std::string text_;
  std::vector<ToolCall> calls_;
};

// batchEmbedContents: `model` is the bare model id ("text-embedding-004"). The answer (batch or
// single embedContent shape) has no token counts: usage.prompt_tokens stays 0 unless Gemini
// sends usageMetadata, and the provider, which has the input, fills in an estimate.
boost::json::object toGeminiEmbedRequest(const EmbeddingRequest& request, std::string_view model);
core::Result<EmbeddingResponse> parseGeminiEmbedResponse(const boost::json::value& body,
                                                         std::string_view model);

// Model ids from GET /v1beta/models ("models/gemini-2.0-flash" → "gemini-2.0-flash"), only those
// that support generateContent or embedContent.
std::vector<std::string> parseGeminiModelList(std::string_view body);

}  // namespace kh::model
