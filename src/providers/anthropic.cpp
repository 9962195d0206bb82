#include "providers/anthropic.h"

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "model/anthropic_codec.h"

namespace kh::providers {

namespace {

class AnthropicDecoder final : public ChatStreamDecoder {
 public:
  core::Status feed(const http::SseEvent& event, model::ChunkBuffer& out) override {
    if (!event.has_data) return core::Ok{};
    return decoder_.feed(event.event, event.data, out);
  }
  bool textDelta(const http::SseEvent& event, model::TextDelta& out) override {
    return event.has_data && decoder_.textDelta(event.event, event.data, out);
  }
  void finish(model::ChunkBuffer&) override {}

 private:
  model::AnthropicStreamDecoder decoder_;
};

}  // namespace

AnthropicProvider::AnthropicProvider(config::ProviderConfig config, const ProviderType& type)
    : Provider(std::move(config), type) {
  headers_.emplace_back("Content-Type", "application/json");
  if (!config_.api_key.empty()) headers_.emplace_back("x-api-key", config_.api_key);
  headers_.emplace_back("anthropic-version", std::string(kApiVersion));
  headers_.emplace_back("User-Agent", "kakehashi");
  for (const auto& h : config_.headers) headers_.push_back(h);
  for (const auto& h : headers_)
    if (h.first != "Content-Type") get_headers_.push_back(h);
  // ANTHROPIC_BASE_URL is documented without the version, but "…/v1" is a common spelling.
  const bool has_version = baseUrl().ends_with("/v1");
  messages_ = addTarget(has_version ? "/messages" : "/v1/messages");
  models_ = addTarget(has_version ? "/models?limit=1000" : "/v1/models?limit=1000");
}

core::Result<http::UpstreamRequest> AnthropicProvider::passThrough(Operation op, std::string body,
                                                                   bool stream) const {
  if (op != Operation::kChat)
    return core::Error::invalidField(
        "model", fmt::format("Provider '{}' (type anthropic) only offers chat", name()));
  return request(messages_, &headers_, std::move(body), stream);
}

http::UpstreamRequest AnthropicProvider::listModels() const {
  return listRequest(models_, &get_headers_);
}

std::vector<std::string> AnthropicProvider::parseModelList(std::string_view body) const {
  std::vector<std::string> ids;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return ids;
  const auto* data = v.as_object().if_contains("data");
  if (!data || !data->is_array()) return ids;
  for (const auto& m : data->as_array()) {
    const auto* id = m.is_object() ? m.as_object().if_contains("id") : nullptr;
    if (id && id->is_string()) ids.emplace_back(id->as_string());
  }
  return ids;
}

core::Result<http::UpstreamRequest> AnthropicProvider::buildChat(
    const model::ChatRequest& request) const {
  model::AnthropicRequestOptions options;
  options.default_max_tokens = config_.max_tokens_default;
  std::string body;
  body.reserve(1024);
  if (auto s = model::appendAnthropicRequestJson(request, options, body); !s)
    return std::move(s).error();
  return this->request(messages_, &headers_, std::move(body), request.stream);
}

std::optional<http::UpstreamRequest> AnthropicProvider::buildTextChat(
    const model::ChatRequest& head, std::span<const model::TextMessage> messages) const {
  model::AnthropicRequestOptions options;
  options.default_max_tokens = config_.max_tokens_default;
  std::string body;
  body.reserve(model::textBytes(messages) + 256);  // and the other members
  if (!model::appendAnthropicTextRequestJson(head, messages, options, body)) return std::nullopt;
  return this->request(messages_, &headers_, std::move(body), head.stream);
}

core::Result<model::ChatResponse> AnthropicProvider::parseChat(std::string_view body,
                                                               const model::ChatRequest&) const {
  return model::parseAnthropicResponse(body);
}

std::unique_ptr<ChatStreamDecoder> AnthropicProvider::chatStreamDecoder(
    const model::ChatRequest&) const {
  return std::make_unique<AnthropicDecoder>();
}

core::Error AnthropicProvider::parseError(int status, std::string body) const {
  return model::parseAnthropicError(status, body);
}

}  // namespace kh::providers
