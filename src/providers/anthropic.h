#pragma once

#include "providers/provider.h"

namespace kh::providers {

// Anthropic's Messages API. Clients that speak it (/v1/messages) are passed through; OpenAI
// clients go through the canonical form.
class AnthropicProvider final : public Provider {
 public:
  // The API version the translation is written against.
  static constexpr std::string_view kApiVersion = "2023-06-01";

  AnthropicProvider(config::ProviderConfig config, const ProviderType& type);

  core::Result<http::UpstreamRequest> passThrough(Operation op, std::string body,
                                                  bool stream) const override;
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

 private:
  http::HeaderList headers_;
  http::HeaderList get_headers_;
  const http::UpstreamTarget* messages_ = nullptr;
  const http::UpstreamTarget* models_ = nullptr;
};

}  // namespace kh::providers
