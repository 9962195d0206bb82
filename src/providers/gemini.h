#pragma once

#include "providers/provider.h"

namespace kh::providers {

// Google AI Studio (Gemini API v1beta). No client speaks its wire format, so every request goes
// through the canonical form. The key travels in a header, never in a URL that could be logged.
class GeminiProvider final : public Provider {
 public:
  GeminiProvider(config::ProviderConfig config, const ProviderType& type);

  http::UpstreamRequest listModels() const override;
  std::vector<std::string> parseModelList(std::string_view body) const override;

  core::Result<http::UpstreamRequest> buildChat(const model::ChatRequest& request) const override;
  std::optional<http::UpstreamRequest> buildTextChat(
      const model::ChatRequest& head, std::span<const model::TextMessage> messages) const override;
  core::Result<model::ChatResponse> parseChat(std::string_view body,
                                              const model::ChatRequest& request) const override;
  std::unique_ptr<ChatStreamDecoder> chatStreamDecoder(
      const model::ChatRequest& request) const override;
  core::Error parseError(int status, std::string body) const override;
  core::Result<http::UpstreamRequest> buildEmbedding(
      const model::EmbeddingRequest& request) const override;
  core::Result<model::EmbeddingResponse> parseEmbedding(
      std::string_view body, const model::EmbeddingRequest& request) const override;

 private:
  // "/models/<id>:<method>" with the id made safe for a path.
  static std::string modelPath(std::string_view model, std::string_view method);
  // The generateContent (or streaming) request for `request`'s model, carrying `body`.
  http::UpstreamRequest chatRequest(const model::ChatRequest& request, std::string body) const;

  http::HeaderList headers_;
  http::HeaderList get_headers_;
  const http::UpstreamTarget* models_ = nullptr;     // GET the list
  const http::UpstreamTarget* per_model_ = nullptr;  // ".../models/", completed per request
};

}  // namespace kh::providers
