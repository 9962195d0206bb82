#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>
#include <boost/json/value.hpp>

#include "core/result.h"
#include "model/types.h"

namespace kh::model {

// OpenAI's chat/embeddings wire format ⇄ the canonical types. Parsing validates shapes and names
// the offending field in the Error's `param` (e.g. "messages[2].content"); rendering produces what
// OpenAI itself would send or accept.

// The client's body, read from its simdjson document (strings are copied out of it).
core::Result<ChatRequest> parseOpenAIChatRequest(simdjson::dom::element body);
// The same into `out`, a fresh request kept where it will live (no move afterwards).
core::Status parseOpenAIChatRequest(simdjson::dom::element body, ChatRequest& out);
// The same from a document, for tests that hold one.
core::Result<ChatRequest> parseOpenAIChatRequest(const boost::json::value& body);
// The usual body, all of whose messages are text (one string each, no tool messages, refusals or
// tool calls), with sampling parameters and no tools or unmodelled members, read in one scanning
// pass without the canonical messages: `head` (a fresh request) gets every member but the
// messages exactly as parseOpenAIChatRequest reads them from a document that nests no deeper than
// `max_depth`, and `messages` the messages as they stand in the body, for a writer to copy. false
// for any other body, the invalid ones included, with both partly filled: the general reading
// then decides. model::kJsonScanPadding readable bytes must follow the body. `layout` tells
// where the body holds the members a rewrite of it needs.
bool readOpenAIChatAsText(std::string_view body, int max_depth, ChatRequest& head,
                          std::vector<TextMessage>& messages, ChatBodyLayout& layout);
// The request body's JSON text appended to `out`; the cap goes under `max_tokens_key`
// (max_completion_tokens for OpenAI itself, max_tokens for most servers that mimic it).
void appendOpenAIRequestJson(const ChatRequest& request, std::string_view max_tokens_key,
                             std::string& out);
// The same for a request whose messages are text as it stands in the client's body (`head` holds
// every other member): the very text appendOpenAIRequestJson writes for that request. false, with
// `out` as it was, for a request with unmodelled members, which it leaves to
// appendOpenAIRequestJson.
bool appendOpenAITextRequestJson(const ChatRequest& head, std::span<const TextMessage> messages,
                                 std::string_view max_tokens_key, std::string& out);
// The same as a document (with max_completion_tokens), for tests that inspect one.
boost::json::object toOpenAIJson(const ChatRequest& request);

// An upstream answer's body text; the usual answer is read by scanOpenAIChatResponse, any other
// with simdjson, so no document is built.
core::Result<ChatResponse> parseOpenAIChatResponse(std::string_view body);
// The usual answer (messages of text or a refusal, plain token counts, no escaped or repeated
// keys) read in one scanning pass, without a document, exactly as parseOpenAIChatResponse's
// general reading reads it. false for any other (tool calls, content arrays), with `out` partly
// filled.
bool scanOpenAIChatResponse(std::string_view body, ChatResponse& out);
// The answer's JSON text (what OpenAI sends) appended to `out`.
void appendOpenAIChatResponseJson(const ChatResponse& response, std::string& out);
// The same two as documents, for tests that hold or inspect one.
core::Result<ChatResponse> parseOpenAIChatResponse(const boost::json::value& body);
boost::json::object toOpenAIJson(const ChatResponse& response);

// One stream event's data (a chat.completion.chunk) → `chunk`, filled in place so that its memory
// is reused. An `error` object in the event (servers that fail half-way put one there) returns
// that error.
core::Status parseOpenAIChatChunk(std::string_view data, ChatChunk& chunk);
// A chunk like the last text chunk parsed on this thread but for its text, one choice with text
// and nothing else: true, with the chunk parseOpenAIChatChunk would give.
bool matchOpenAITextChunk(std::string_view data, TextDelta& out);
// The chunk's JSON text appended to `out`; `with_usage` false leaves its usage out.
void appendOpenAIChunkJson(const ChatChunk& chunk, bool with_usage, std::string& out);

// The chunk of nearly every token: one choice, index 0, a piece of text and nothing else. Its JSON
// text is the text prefix (which depends only on the chunk's id, model and created), the text as
// a JSON string, and kOpenAITextChunkSuffix: a stream's encoder writes the prefix once.
const std::string* textOnlyContent(const ChatChunk& chunk);
void appendOpenAITextChunkPrefix(const ChatChunk& chunk, std::string& out);
inline constexpr std::string_view kOpenAITextChunkSuffix =
    R"(},"logprobs":null,"finish_reason":null}]})";

// Legacy /v1/completions for upstreams that only chat: the prompt becomes one user turn, and the
// answer's message text comes back as the completion's text.
core::Result<ChatRequest> parseOpenAICompletionRequest(simdjson::dom::element body);
core::Status parseOpenAICompletionRequest(simdjson::dom::element body, ChatRequest& out);
core::Result<ChatRequest> parseOpenAICompletionRequest(const boost::json::value& body);
void appendOpenAICompletionJson(const ChatResponse& response, std::string& out);
void appendOpenAICompletionChunkJson(const ChatChunk& chunk, bool with_usage, std::string& out);

// An OpenAI error body's message, or "" when the body is not in that shape.
std::string openAIErrorMessage(std::string_view body);

core::Result<EmbeddingRequest> parseOpenAIEmbeddingRequest(const boost::json::value& body);
// `base64` renders each vector as little-endian float32 bytes in base64, as OpenAI does for
// encoding_format "base64".
boost::json::object toOpenAIJson(const EmbeddingResponse& response, bool base64 = false);

}  // namespace kh::model
