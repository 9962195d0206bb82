#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "core/result.h"
#include "providers/provider.h"

namespace kh::api {

// Names the document a thread's body parser holds (see inspectedDocument).
struct BodyDocument {
  const void* parser = nullptr;
  std::uint64_t generation = 0;
};

// What the gateway needs from an OpenAI request body, with byte offsets so the body can be
// forwarded with only the model replaced (the pass-through fast path) instead of re-serialised.
struct OpenAIBodyInfo {
  std::string model;
  std::size_t model_begin = 0, model_end = 0;  // the JSON string token, quotes included
  bool stream = false;
  bool has_stream_options = false;  // a stream_options member, an object or null
  bool include_usage = false;       // the client asked for the usage chunk
  // Which top-level member stream_options is (its offsets are looked up only when a rewrite
  // needs them).
  std::size_t stream_options_member = 0;
  std::size_t object_begin = 0;  // offset of the top-level '{'
  // The gateway's own `user_preferences` (model "auto"): no upstream knows it, so such a body is
  // rebuilt without it rather than passed through.
  bool has_user_preferences = false;
  // The document inspectBody validated the body with, for the translated path to read.
  BodyDocument document;
};

// Readable bytes the JSON parser needs past the end of a text it parses in place.
inline constexpr std::size_t kJsonPadding = 64;

// How inspectBody validates a body.
enum class BodyReading : std::uint8_t {
  // One scanning pass (model::scanJsonObject), for a body that goes upstream as it is; a body it
  // does not settle is read as a document.
  kScan,
  // simdjson's document, kept for the translated request to read (see inspectedDocument).
  kDocument,
};

// Validates and inspects a request body that is followed by at least kJsonPadding readable bytes
// (parsed in place). Errors are 400s naming the field at fault; both readings give the same
// answer.
// `messages_api`: the body is an Anthropic Messages request, which must carry max_tokens.
core::Result<OpenAIBodyInfo> inspectPaddedBody(std::string_view body, providers::Operation op,
                                               bool messages_api = false,
                                               BodyReading reading = BodyReading::kScan);
// The same for a body in a string, which first gains spare capacity for the padding (its contents
// are unchanged).
core::Result<OpenAIBodyInfo> inspectBody(std::string& body, providers::Operation op,
                                         bool messages_api = false,
                                         BodyReading reading = BodyReading::kScan);

// The model a body names when its first member is "model" with a string free of escapes, as
// clients write it: enough to learn the route before the body is read. Empty otherwise. The body
// is not validated; inspectBody's model is the one that counts.
std::string_view leadingModel(std::string_view body);

// The document inspectBody built for `info`'s body, as long as the calling thread's body parser
// still holds it: the translated path then reads the body without parsing it again. nullopt once
// that thread parsed another body (another request ran in between) or on another thread; the
// caller then parses the body anew with parseBodyDocument.
std::optional<simdjson::dom::element> inspectedDocument(const OpenAIBodyInfo& info);
// `body` parsed into the calling thread's body parser, in place of the document it held. Valid
// until the next body is parsed on this thread.
simdjson::simdjson_result<simdjson::dom::element> parseBodyDocument(std::string_view body);

// The body to send upstream: `model` replaced; with `force_usage` (OpenAI's wire format), streams
// get `stream_options.include_usage` forced on so usage is always known.
// needsRewrite() says whether that changes anything: if not, the client's body goes as it is.
bool needsRewrite(const OpenAIBodyInfo& info, std::string_view model, bool force_usage = true);
std::string rewriteBody(std::string_view body, const OpenAIBodyInfo& info, std::string_view model,
                        bool force_usage = true);

// Usage numbers from an OpenAI response or chunk; all zero when absent.
struct UsageCounts {
  long long prompt_tokens = 0;
  long long completion_tokens = 0;
  long long cached_tokens = 0;
  bool present = false;
};

// Reads "usage" from a whole JSON response; nullopt when the text is not valid JSON. `readable`:
// how many bytes may be read from json.data() (a string's capacity); with fewer than the
// parser's padding past the end, the text is copied first.
std::optional<UsageCounts> extractUsage(std::string_view json, std::size_t readable = 0);

// Classifies one streamed chunk: whether it carries a usage object and whether its "choices" is
// empty (the extra usage-only chunk that include_usage adds).
struct ChunkInfo {
  UsageCounts usage;
  bool usage_only = false;
};
ChunkInfo inspectChunk(std::string_view data);

// Cheap pre-check: might this SSE data carry a non-null "usage"? Avoids parsing every chunk.
bool mayCarryUsage(std::string_view data);
// Where the first `"usage"` followed by an object is in `text`, or npos (streams with
// include_usage carry "usage":null in every chunk but the last).
std::size_t firstUsageObject(std::string_view text);

}  // namespace kh::api
