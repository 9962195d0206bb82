#pragma once

#include "providers/provider.h"

namespace kh::providers {

// Every provider that speaks OpenAI's wire format (openai, openai-compatible, openrouter,
// lmstudio, ollama, vscode-lm, llamacpp): one implementation, differing only by defaults.
class OpenAIWireProvider final : public Provider {
 public:
  OpenAIWireProvider(config::ProviderConfig config, const ProviderType& type);

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

  static std::string_view pathFor(Operation op);

 private:
  std::string_view maxTokensKey() const;

  http::HeaderList headers_;      // auth, content type and configured extras, built once
  http::HeaderList get_headers_;  // the same without a content type
  const http::UpstreamTarget* chat_ = nullptr;
  const http::UpstreamTarget* completions_ = nullptr;
  const http::UpstreamTarget* embeddings_ = nullptr;
  const http::UpstreamTarget* models_ = nullptr;
};

}  // namespace kh::providers
