#include "providers/openai_wire.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "http/url.h"
#include "model/openai_codec.h"

namespace kh::providers {

OpenAIWireProvider::OpenAIWireProvider(config::ProviderConfig config, const ProviderType& type)
    : Provider(std::move(config), type) {
  headers_.emplace_back("Content-Type", "application/json");
  if (!config_.api_key.empty()) headers_.emplace_back("Authorization", "Bearer " + config_.api_key);
  headers_.emplace_back("User-Agent", "kakehashi");
  for (const auto& h : config_.headers) headers_.push_back(h);
  for (const auto& h : headers_)
    if (h.first != "Content-Type") get_headers_.push_back(h);
  chat_ = addTarget(pathFor(Operation::kChat));
  completions_ = addTarget(pathFor(Operation::kCompletion));
  embeddings_ = addTarget(pathFor(Operation::kEmbedding));
  models_ = addTarget("/models");
}

std::string_view OpenAIWireProvider::pathFor(Operation op) {
  switch (op) {
    case Operation::kChat:
      return "/chat/completions";
    case Operation::kCompletion:
      return "/completions";
    case Operation::kEmbedding:
      return "/embeddings";
  }
  return "/chat/completions";
}

core::Result<http::UpstreamRequest> OpenAIWireProvider::passThrough(Operation op, std::string body,
                                                                    bool stream) const {
  const http::UpstreamTarget* target = op == Operation::kChat         ? chat_
                                       : op == Operation::kCompletion ? completions_
                                                                      : embeddings_;
  return request(target, &headers_, std::move(body), stream);
}

http::UpstreamRequest OpenAIWireProvider::listModels() const {
  return listRequest(models_, &get_headers_);
}

std::vector<std::string> OpenAIWireProvider::parseModelList(std::string_view body) const {
  std::vector<std::string> ids;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return ids;
  const auto* data = v.as_object().if_contains("data");
  // Ollama's native /api/tags shape uses "models"; accept it too.
  if (!data) data = v.as_object().if_contains("models");
  if (!data || !data->is_array()) return ids;
  for (const auto& m : data->as_array()) {
    if (!m.is_object()) continue;
    const auto* id = m.as_object().if_contains("id");
    if (!id) id = m.as_object().if_contains("name");
    if (id && id->is_string()) ids.emplace_back(id->as_string().c_str());
  }
  return ids;
}

namespace {

// OpenAI chunks are already canonical in shape; this only parses them and spots the error object
// some servers put into a stream when they fail half-way.
class OpenAIStreamDecoder final : public ChatStreamDecoder {
 public:
  core::Status feed(const http::SseEvent& event, model::ChunkBuffer& out) override {
    if (!event.has_data || event.data == "[DONE]") return core::Ok{};
    core::Status s = model::parseOpenAIChatChunk(event.data, out.add());
    if (!s) out.pop_back();
    return s;
  }
  bool textDelta(const http::SseEvent& event, model::TextDelta& out) override {
    return event.has_data && model::matchOpenAITextChunk(event.data, out);
  }
  void finish(model::ChunkBuffer&) override {}
};

}  // namespace

std::string_view OpenAIWireProvider::maxTokensKey() const {
  // OpenAI itself wants max_completion_tokens (its reasoning models refuse max_tokens); the
  // servers that mimic its API mostly know only max_tokens.
  return config_.type == "openai" ? "max_completion_tokens" : "max_tokens";
}

core::Result<http::UpstreamRequest> OpenAIWireProvider::buildChat(
    const model::ChatRequest& request) const {
  std::string body;
  body.reserve(1024);
  model::appendOpenAIRequestJson(request, maxTokensKey(), body);
  return this->request(chat_, &headers_, std::move(body), request.stream);
}

std::optional<http::UpstreamRequest> OpenAIWireProvider::buildTextChat(
    const model::ChatRequest& head, std::span<const model::TextMessage> messages) const {
  std::string body;
  body.reserve(model::textBytes(messages) + 256);  // and the other members
  if (!model::appendOpenAITextRequestJson(head, messages, maxTokensKey(), body))
    return std::nullopt;
  return this->request(chat_, &headers_, std::move(body), head.stream);
}

core::Result<model::ChatResponse> OpenAIWireProvider::parseChat(std::string_view body,
                                                                const model::ChatRequest&) const {
  return model::parseOpenAIChatResponse(body);
}

std::unique_ptr<ChatStreamDecoder> OpenAIWireProvider::chatStreamDecoder(
    const model::ChatRequest&) const {
  return std::make_unique<OpenAIStreamDecoder>();
}

core::Error OpenAIWireProvider::parseError(int status, std::string body) const {
  std::string message = model::openAIErrorMessage(body);
  core::Error e = core::Error::upstreamStatus(status, std::move(body));
  if (!message.empty()) e.message = std::move(message);
  return e;
}

}  // namespace kh::providers
