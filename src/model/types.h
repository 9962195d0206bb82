#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace kh::model {

// The canonical form every non-pass-through path goes through: an inbound wire format is parsed
// into these types, and a provider renders them into its own wire format (and back). They hold
// what all supported APIs can express; anything else rides along in `extra` for same-format
// upstreams.

enum class Role { kSystem, kDeveloper, kUser, kAssistant, kTool };

struct Image {
  std::string url;         // http(s) URL, empty for inline data
  std::string media_type;  // for inline data, e.g. image/png
  std::string data;        // base64, for inline data
  std::string detail;      // OpenAI's low | high | auto
};

struct ContentPart {
  enum class Kind { kText, kImage };
  Kind kind = Kind::kText;
  std::string text;
  Image image;

  static ContentPart textPart(std::string text);
};

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text, as OpenAI carries it
};

struct Message {
  Role role = Role::kUser;
  std::vector<ContentPart> content;
  std::string name;
  std::vector<ToolCall> tool_calls;  // assistant turns
  std::string tool_call_id;          // tool turns
  std::optional<std::string> refusal;

  // The text parts joined, for APIs and estimates that want plain text.
  std::string text() const;
  // A text part made in place (the usual turn is one string of text).
  void addText(std::string_view text) {
    ContentPart& p = content.emplace_back();
    p.text.assign(text);
  }
};

struct Tool {
  std::string name;
  std::string description;
  boost::json::value parameters;  // JSON Schema; null when the tool takes none
  bool strict = false;
};

struct ToolChoice {
  enum class Mode { kUnset, kAuto, kNone, kRequired, kNamed };
  Mode mode = Mode::kUnset;
  std::string name;  // for kNamed
};

struct ResponseFormat {
  enum class Kind { kUnset, kText, kJsonObject, kJsonSchema };
  Kind kind = Kind::kUnset;
  std::string name;
  boost::json::value schema;
  bool strict = false;
};

struct ChatRequest {
  std::string model;
  std::vector<Message> messages;
  std::vector<Tool> tools;
  ToolChoice tool_choice;
  std::optional<bool> parallel_tool_calls;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int> top_k;  // not OpenAI; Anthropic and Gemini have it
  std::optional<long long> max_tokens;
  std::optional<int> n;
  std::vector<std::string> stop;
  std::optional<long long> seed;
  std::optional<double> presence_penalty;
  std::optional<double> frequency_penalty;
  bool stream = false;
  bool include_usage = false;
  ResponseFormat response_format;
  std::string user;
  boost::json::object extra;  // unmodelled fields, passed on to OpenAI-wire upstreams
};

enum class FinishReason { kNone, kStop, kLength, kToolCalls, kContentFilter };
std::string_view toString(FinishReason r);
FinishReason finishReasonFromString(std::string_view s);
std::string_view toString(Role r);
std::optional<Role> roleFromString(std::string_view s);

struct Usage {
  long long prompt_tokens = 0;
  long long completion_tokens = 0;
  long long cached_tokens = 0;          // prompt tokens read from a cache
  long long cache_creation_tokens = 0;  // prompt tokens written to a cache (Anthropic)
  long long reasoning_tokens = 0;
  long long total() const { return prompt_tokens + completion_tokens; }
};

struct Choice {
  int index = 0;
  Message message;
  FinishReason finish_reason = FinishReason::kNone;
};

struct ChatResponse {
  std::string id;
  std::string model;
  long long created = 0;
  std::vector<Choice> choices;
  std::optional<Usage> usage;
  std::string system_fingerprint;
};

struct ToolCallDelta {
  int index = 0;
  std::string id;    // first delta of a call only
  std::string name;  // first delta of a call only
  std::string arguments;
};

struct ChunkChoice {
  int index = 0;
  std::optional<Role> role;
  std::optional<std::string> content;
  std::vector<ToolCallDelta> tool_calls;
  FinishReason finish_reason = FinishReason::kNone;
};

struct ChatChunk {
  std::string id;
  std::string model;
  long long created = 0;
  std::vector<ChunkChoice> choices;
  std::optional<Usage> usage;

  // Empty again, keeping the strings' memory.
  void clear() {
    id.clear();
    model.clear();
    created = 0;
    choices.clear();
    usage.reset();
  }
};

// A stream event that only adds text to one choice: the chunk it stands for is `id`, `model`,
// `created` and choice `index` with that text as its content. The text is as the upstream wrote it
// in its JSON (checked, escapes not decoded): every wire format escapes text as JSON does, so an
// encoder puts it into the client's event as it stands, and the text is neither decoded nor
// escaped again. Points into the decoder's state and the event; valid until the next event.
struct TextDelta {
  std::string_view json_text;  // between the quotes
  bool escaped = false;        // json_text holds at least one backslash escape
  std::string_view id;
  std::string_view model;
  long long created = 0;
  int index = 0;
};

// One message of a request whose content is a single text, as it stands in the client's JSON body:
// the characters between the quotes, escaped exactly as core::appendJsonString escapes (so that
// the text goes into another JSON body as it is, neither decoded nor escaped again). Points into
// the client's body.
struct TextMessage {
  Role role = Role::kUser;
  bool has_content = true;  // false: content null (or absent), which only OpenAI's body allows
  std::string_view json_text;
  std::string_view json_name;  // the sender's name, in the same escaping; empty when none
};

// Room for the messages in a body written from them: their texts and the parts around each.
inline std::size_t textBytes(std::span<const TextMessage> messages) {
  std::size_t n = 0;
  for (const TextMessage& m : messages) n += m.json_text.size() + m.json_name.size() + 64;
  return n;
}

// Where in the body a text chat's reading (readOpenAIChatAsText, readAnthropicChatAsText) found
// what a rewrite of the body needs.
struct ChatBodyLayout {
  std::size_t model_begin = 0, model_end = 0;  // the model's JSON string, quotes included
  bool has_stream_options = false;             // a stream_options member, an object or null
  std::size_t stream_options_member = static_cast<std::size_t>(-1);  // which member; -1: none
};

// The chunks decoded from one stream event. clear() keeps the chunks it held, so refilling one
// reuses the memory of its strings and choice vector: a steady stream of deltas allocates little.
// Not thread-safe; one per stream.
class ChunkBuffer {
 public:
  // A new last chunk: empty strings, no choices, no usage.
  ChatChunk& add();
  // A new last chunk of the stream `id`, `model`, `created`: no choices, no usage. A reused chunk
  // whose strings already hold that id and model keeps them (a stream's chunks all carry the
  // same), instead of copying them again.
  ChatChunk& add(std::string_view id, std::string_view model, long long created);
  // A new last chunk: the one `delta` stands for, its text decoded.
  ChatChunk& add(const TextDelta& delta);
  // Forgets the last chunk (a decoder that failed half-way through it).
  void pop_back() { --size_; }
  void clear() { size_ = 0; }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  ChatChunk& operator[](std::size_t i) { return chunks_[i]; }
  const ChatChunk& operator[](std::size_t i) const { return chunks_[i]; }
  ChatChunk& back() { return chunks_[size_ - 1]; }
  // The bytes its chunks' strings and vectors hold, in use or kept: what keeping the buffer for
  // another stream would pin.
  std::size_t heldBytes() const;
  const ChatChunk* begin() const { return chunks_.data(); }
  const ChatChunk* end() const { return chunks_.data() + size_; }

 private:
  // The next chunk, a reused one as the last stream event left it.
  ChatChunk& next();

  std::vector<ChatChunk> chunks_;
  std::size_t size_ = 0;
};

struct EmbeddingRequest {
  std::string model;
  std::vector<std::string> input;
  std::string encoding_format;  // "" | float | base64
  std::optional<int> dimensions;
  std::string user;
};

struct EmbeddingResponse {
  std::string model;
  std::vector<std::vector<float>> embeddings;
  Usage usage;
};

}  // namespace kh::model
