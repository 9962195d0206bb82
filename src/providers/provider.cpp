#include "providers/provider.h"

#include <fmt/format.h>

#include "core/clock.h"
#include "http/url.h"
#include "providers/anthropic.h"
#include "providers/gemini.h"
#include "providers/openai_wire.h"

namespace kh::providers {

namespace {

// The registry: one line per provider type.
constexpr ProviderType kTypes[] = {
    {"openai", WireFormat::kOpenAI, "https://api.openai.com/v1"},
    {"openai-compatible", WireFormat::kOpenAI, ""},
    {"openrouter", WireFormat::kOpenAI, "https://openrouter.ai/api/v1"},
    {"lmstudio", WireFormat::kOpenAI, "http://127.0.0.1:1234/v1"},
    {"ollama", WireFormat::kOpenAI, "http://127.0.0.1:11434/v1"},
    {"vscode-lm", WireFormat::kOpenAI, "http://127.0.0.1:3000/v1"},
    {"llamacpp", WireFormat::kOpenAI, "http://127.0.0.1:8080/v1"},
    {"anthropic", WireFormat::kAnthropic, "https://api.anthropic.com"},
    {"gemini", WireFormat::kGemini, "https://generativelanguage.googleapis.com/v1beta"},
};

}  // namespace

const ProviderType* findProviderType(std::string_view name) {
  for (const auto& t : kTypes)
    if (t.name == name) return &t;
  return nullptr;
}

Provider::Provider(config::ProviderConfig config, const ProviderType& type)
    : config_(std::move(config)), type_(type) {
  base_url_ = config_.base_url.empty() ? std::string(type.default_base_url) : config_.base_url;
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

const http::UpstreamTarget* Provider::addTarget(std::string_view path) {
  static const http::ProxySettings kProxy = http::ProxySettings::fromEnvironment();
  auto t = http::UpstreamTarget::make(http::joinUrl(base_url_, path), kProxy);
  if (!t) {
    target_error_ = t.error().message;
    return nullptr;
  }
  targets_.push_back(std::make_unique<http::UpstreamTarget>(std::move(*t)));
  return targets_.back().get();
}

http::UpstreamRequest Provider::request(const http::UpstreamTarget* target,
                                        const http::HeaderList* headers, std::string body,
                                        bool stream) const {
  http::UpstreamRequest req;
  req.method = "POST";
  req.target = target;
  req.fixed_headers = headers;
  req.accept = stream ? "text/event-stream" : "application/json";
  req.body = std::move(body);
  req.deadline = core::coarseNow() + std::chrono::seconds(config_.timeout_s);
  return req;
}

http::UpstreamRequest Provider::listRequest(const http::UpstreamTarget* target,
                                            const http::HeaderList* headers) {
  http::UpstreamRequest req;
  req.method = "GET";
  req.target = target;
  req.fixed_headers = headers;
  req.deadline = core::coarseNow() + std::chrono::seconds(10);
  return req;
}

core::Result<http::UpstreamRequest> Provider::passThrough(Operation, std::string, bool) const {
  return core::Error::internal(fmt::format(
      "Provider '{}' has no pass-through path: no client speaks its wire format", name()));
}

core::Result<http::UpstreamRequest> Provider::buildEmbedding(const model::EmbeddingRequest&) const {
  return core::Error::invalidField(
      "model",
      fmt::format("Provider '{}' (type {}) does not offer embeddings", name(), config_.type));
}

core::Result<model::EmbeddingResponse> Provider::parseEmbedding(
    std::string_view, const model::EmbeddingRequest&) const {
  return core::Error::internal("embeddings are not offered by this provider");
}

std::unique_ptr<Provider> makeProvider(const config::ProviderConfig& config, std::string* why) {
  const ProviderType* type = findProviderType(config.type);
  if (!type) {
    if (why) *why = fmt::format("unknown provider type '{}'", config.type);
    return nullptr;
  }
  std::unique_ptr<Provider> p;
  switch (type->wire) {
    case WireFormat::kOpenAI:
      p = std::make_unique<OpenAIWireProvider>(config, *type);
      break;
    case WireFormat::kAnthropic:
      p = std::make_unique<AnthropicProvider>(config, *type);
      break;
    case WireFormat::kGemini:
      p = std::make_unique<GeminiProvider>(config, *type);
      break;
  }
  if (p && !p->targetError().empty()) {
    if (why) *why = fmt::format("base_url '{}': {}", p->baseUrl(), p->targetError());
    return nullptr;
  }
  if (p) return p;
  if (why)
    *why =
        fmt::format("provider type '{}' is not served by this version of kakehashi", config.type);
  return nullptr;
}

}  // namespace kh::providers
