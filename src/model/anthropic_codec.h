#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.h"
#include "core/result.h"
#include "model/json_scan.h"
#include "model/types.h"

namespace kh::model {

// Anthropic's Messages API ⇄ the canonical types, in both directions: the anthropic provider
// renders requests and parses answers, errors and streams; the /v1/messages inbound API parses
// requests and renders answers, errors and streams. Pure functions and per-request state only.

struct AnthropicRequestOptions {
  // Anthropic requires max_tokens; used when the canonical request has none.
  long long default_max_tokens = 4096;
};

// Inbound: a /v1/messages body. Errors name the field at fault in `param`
// ("messages[1].content[0].source"). Strings are copied out of the client's simdjson document.
core::Result<ChatRequest> parseAnthropicRequest(simdjson::dom::element body);
// The same into `out`, a fresh request kept where it will live (no move afterwards).
core::Status parseAnthropicRequest(simdjson::dom::element body, ChatRequest& out);
// The same from a document, for tests that hold one.
core::Result<ChatRequest> parseAnthropicRequest(const boost::json::value& body);
// The usual Messages body, all of whose turns are text (role user, assistant or system, content one
// string), with a string system prompt, sampling parameters and no tools or output formats, read
// in one scanning pass without the canonical messages: `head` (a fresh request) gets every member
// but the messages exactly as parseAnthropicRequest reads them from a document that nests no
// deeper than `max_depth`, and `messages` the system prompt and turns as they stand in the body,
// for a writer to copy. false for any other body, the invalid ones and those inspecting would
// refuse (no max_tokens) included, with both partly filled: the general reading then decides.
// model::kJsonScanPadding readable bytes must follow the body. `layout` tells where the model is.
bool readAnthropicChatAsText(std::string_view body, int max_depth, ChatRequest& head,
                             std::vector<TextMessage>& messages, ChatBodyLayout& layout);
// Outbound: the body to send to Anthropic, its JSON text appended to `out` (which holds a partial
// body after an error); `request.model` is used as it is.
core::Status appendAnthropicRequestJson(const ChatRequest& request,
                                        const AnthropicRequestOptions& options, std::string& out);
// The same for a request whose messages are text as it stands in the client's body (`head` holds
// every other member): the very text appendAnthropicRequestJson writes for that request. false,
// with `out` as it was, for a request it leaves to appendAnthropicRequestJson (one that is an
// error, or needs its canonical messages).
bool appendAnthropicTextRequestJson(const ChatRequest& head, std::span<const TextMessage> messages,
                                    const AnthropicRequestOptions& options, std::string& out);
// The same as a document, for tests that inspect one.
core::Result<boost::json::object> toAnthropicRequest(const ChatRequest& request,
                                                     const AnthropicRequestOptions& options);

// Outbound answer (a `message` object's body text) → canonical; and canonical → the `message`
// object's JSON text inbound clients get, appended to `out`. The usual answer is read by
// scanAnthropicResponse, any other with simdjson.
core::Result<ChatResponse> parseAnthropicResponse(std::string_view body);
// The usual answer (text blocks, plain token counts, no escaped or repeated keys) read in one
// scanning pass, without a document, exactly as parseAnthropicResponse's general reading reads
// it. false for any other (tool_use blocks, errors), with `out` partly filled.
bool scanAnthropicResponse(std::string_view body, ChatResponse& out);
void appendAnthropicResponseJson(const ChatResponse& response, std::string& out);
// The same two as documents, for tests that hold or inspect one.
core::Result<ChatResponse> parseAnthropicResponse(const boost::json::value& body);
boost::json::object toAnthropicResponse(const ChatResponse& response);

// An error answer from Anthropic → Error with the status a client should see (529 overloaded
// becomes a retryable 503); no upstream_body, so it renders in the client's own shape.
core::Error parseAnthropicError(int status, std::string_view body);
// {"type":"error","error":{"type":…,"message":…}} for any Error (inbound /v1/messages).
std::string renderAnthropicError(const core::Error& error);
// The same as an SSE `event: error`, for failures after a stream has started.
std::string renderAnthropicStreamError(const core::Error& error);
// Anthropic's error type for an HTTP status (invalid_request_error, authentication_error, …).
std::string_view anthropicErrorType(int status);

// Anthropic SSE events from upstream → canonical chunks, as OpenAI would stream them: a first
// chunk with the role, content and tool-call deltas (tool calls numbered 0, 1, … in order of
// appearance, id and name on their first delta only), a chunk with the finish reason, and last a
// usage-only chunk (no choices) once message_stop arrives. Not thread-safe; one per request.
class AnthropicStreamDecoder {
 public:
  // One SSE event: its `event:` name (may be empty; the data's "type" decides) and its data.
  // Appends zero or more chunks. An `error` event returns its Error; the stream is over then.
  core::Status feed(std::string_view event, std::string_view data, ChunkBuffer& out);
  // A text_delta event like the last one read on this thread but for its text: true, with the
  // chunk feed() would append. Nothing changes either way.
  bool textDelta(std::string_view event, std::string_view data, TextDelta& out) const;
  // message_stop was seen.
  bool finished() const { return finished_; }

 private:
  // content_block_delta, the event of every token, read by the scanner. false for any other event
  // (and for a delta in a shape the general reading must weigh), left to feed()'s simdjson reading.
  bool readBlockDelta(std::string_view data, ChunkBuffer& out) const;
  // message_start, content_block_start of a text block and message_delta, once or twice a stream,
  // read by the scanner into the same state and chunks as the general reading gives. false, with
  // nothing changed, for any other event and for one the general reading must weigh (a tool_use
  // block, escaped text, a count that is not a plain integer, a repeated key).
  bool readLifecycleEvent(std::string_view data, ChunkBuffer& out);
  // The chunk for a text_delta or (`json`) an input_json_delta of block `index`. false: the text
  // is one the general reading must decode.
  bool emitDelta(long long index, bool json, const JsonString& value, ChunkBuffer& out) const;
  // message_stop: the finish reason if none came, then the usage chunk.
  void stop(ChunkBuffer& out);
  // A chunk with the stream's id, model and created, and one empty choice.
  ChatChunk& chunk(ChunkBuffer& out) const;
  void finishChunk(FinishReason reason, ChunkBuffer& out) const;

  std::string id_;
  std::string model_;
  long long created_ = 0;
  Usage usage_;
  FinishReason finish_ = FinishReason::kNone;  // kNone until message_delta named one
  // Content block index → tool-call ordinal, or -1 for text/thinking blocks.
  std::vector<int> block_tool_;
  int tool_count_ = 0;
  bool finished_ = false;
};

// Canonical chunks → Anthropic's SSE event sequence for an inbound /v1/messages stream:
// message_start, content_block_start/delta/stop per text or tool_use block (tool arguments as
// input_json_delta), message_delta with stop_reason and usage, message_stop. Not thread-safe.
class AnthropicStreamEncoder {
 public:
  AnthropicStreamEncoder(std::string id, std::string model);
  // Appends the events `chunk` calls for to `out` (message_start before the first).
  void encode(const ChatChunk& chunk, std::string& out);
  // A text delta while its text block is open, written from its text as it stands; false, with
  // nothing written, otherwise (encode() then opens the block).
  bool encodeText(const TextDelta& delta, std::string& out);
  // Closes the open block and appends message_delta and message_stop.
  void finish(std::string& out);

 private:
  enum class Block { kNone, kText, kTool };
  void start(std::string& out);
  void openBlock(Block kind, const ToolCallDelta* tool, std::string& out);
  void closeBlock(std::string& out);

  std::string id_;
  std::string model_;
  bool started_ = false;
  bool finished_ = false;
  Block open_ = Block::kNone;
  int open_tool_ = -1;  // the canonical tool-call index of the open tool_use block
  int last_tool_ = -1;  // the highest tool-call index a block was opened for
  int next_block_ = 0;
  // Everything a text_delta event of the open block writes before its text, written when the
  // block opens: the events of every token differ only in their text.
  std::string delta_prefix_;
  FinishReason finish_ = FinishReason::kNone;
  Usage usage_;
};

}  // namespace kh::model
