#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "core/result.h"
#include "http/sse_parser.h"
#include "http/upstream.h"
#include "model/types.h"

namespace kh::providers {

enum class WireFormat { kOpenAI, kAnthropic, kGemini };

// What an inbound request asks an upstream to do.
enum class Operation { kChat, kCompletion, kEmbedding };

// Per-type facts: how to reach a provider of that type when the config does not say.
struct ProviderType {
  std::string_view name;
  WireFormat wire;
  std::string_view default_base_url;
};

const ProviderType* findProviderType(std::string_view name);

// Turns one upstream stream into canonical chunks, event by event. Created per request (it keeps
// the stream's state), not thread-safe.
class ChatStreamDecoder {
 public:
  virtual ~ChatStreamDecoder() = default;
  // Appends the chunks one SSE event carries. An Error means the upstream reported a failure in
  // the stream (or sent something unreadable); nothing more will follow.
  virtual core::Status feed(const http::SseEvent& event, model::ChunkBuffer& out) = 0;
  // The token's shortcut, tried before feed(): true when `event` only adds text to one choice, as
  // the stream's earlier events did, with `out` the chunk feed() would have given. The event is
  // then taken (the decoder's state moves on as feed() would move it) and is not fed. false, with
  // nothing changed, for any other event.
  virtual bool textDelta(const http::SseEvent& /*event*/, model::TextDelta& /*out*/) {
    return false;
  }
  // The upstream body ended; appends what was held back (e.g. the usage chunk).
  virtual void finish(model::ChunkBuffer& out) = 0;
};

// A configured upstream. Immutable after construction and shared by all threads; everything a
// request needs to mutate (stream decoders) is created per request. Pure transforms only: no I/O.
class Provider {
 public:
  virtual ~Provider() = default;

  const config::ProviderConfig& config() const { return config_; }
  const std::string& name() const { return config_.name; }
  const std::string& baseUrl() const { return base_url_; }
  WireFormat wire() const { return type_.wire; }
  // Why this provider cannot send anything (a malformed base_url), or "".
  const std::string& targetError() const { return target_error_; }

  // An upstream request whose body is already in this provider's wire format (the pass-through
  // fast path), for clients that speak it. `stream` selects the SSE accept header.
  virtual core::Result<http::UpstreamRequest> passThrough(Operation op, std::string body,
                                                          bool stream) const;
  // The request that lists the provider's models, and the model ids in its answer.
  virtual http::UpstreamRequest listModels() const = 0;
  virtual std::vector<std::string> parseModelList(std::string_view body) const = 0;

  // The translated path, for clients that speak another wire format: build the upstream request
  // from the canonical one (its `model` is the upstream model id), read the answer, a stream and
  // an error. Pure transforms: the same request may be built again for another attempt.
  virtual core::Result<http::UpstreamRequest> buildChat(
      const model::ChatRequest& request) const = 0;
  // buildChat() for a request whose messages are all text, given as they stand in the client's
  // body (`head` holds every other member): the same upstream request buildChat() builds from the
  // whole canonical request, without the canonical messages. nullopt where this provider leaves
  // the request to buildChat().
  virtual std::optional<http::UpstreamRequest> buildTextChat(
      const model::ChatRequest& /*head*/, std::span<const model::TextMessage> /*messages*/) const {
    return std::nullopt;
  }
  virtual core::Result<model::ChatResponse> parseChat(std::string_view body,
                                                      const model::ChatRequest& request) const = 0;
  virtual std::unique_ptr<ChatStreamDecoder> chatStreamDecoder(
      const model::ChatRequest& request) const = 0;
  // An upstream error answer as the client should see it (status mapped, message extracted).
  virtual core::Error parseError(int status, std::string body) const = 0;
  // Embeddings; providers without them answer 400.
  virtual core::Result<http::UpstreamRequest> buildEmbedding(
      const model::EmbeddingRequest& request) const;
  virtual core::Result<model::EmbeddingResponse> parseEmbedding(
      std::string_view body, const model::EmbeddingRequest& request) const;

 protected:
  Provider(config::ProviderConfig config, const ProviderType& type);

  // Resolves base_url + path once; an unusable URL leaves a target that fails every request.
  const http::UpstreamTarget* addTarget(std::string_view path);
  // A GET of a model list, with the short deadline discovery allows.
  static http::UpstreamRequest listRequest(const http::UpstreamTarget* target,
                                           const http::HeaderList* headers);
  // A request to `target` with this provider's deadline.
  http::UpstreamRequest request(const http::UpstreamTarget* target, const http::HeaderList* headers,
                                std::string body, bool stream) const;

  config::ProviderConfig config_;
  const ProviderType& type_;
  std::string base_url_;
  std::vector<std::unique_ptr<http::UpstreamTarget>> targets_;
  std::string target_error_;
};

// Builds the provider for a config entry; nullptr with a message for types not yet served.
std::unique_ptr<Provider> makeProvider(const config::ProviderConfig& config, std::string* why);

}  // namespace kh::providers
