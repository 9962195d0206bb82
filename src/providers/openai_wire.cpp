#include "providers/openai_wire.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "http/url.h"

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

http::UpstreamRequest OpenAIWireProvider::passThrough(Operation op, std::string body,
                                                      bool stream) const {
  http::UpstreamRequest req;
  req.method = "POST";
  req.target = op == Operation::kChat         ? chat_
               : op == Operation::kCompletion ? completions_
                                              : embeddings_;
  req.fixed_headers = &headers_;
  req.accept = stream ? "text/event-stream" : "application/json";
  req.body = std::move(body);
  req.deadline = http::Clock::now() + std::chrono::seconds(config_.timeout_s);
  return req;
}

http::UpstreamRequest OpenAIWireProvider::listModels() const {
  http::UpstreamRequest req;
  req.method = "GET";
  req.target = models_;
  req.fixed_headers = &get_headers_;
  req.deadline = http::Clock::now() + std::chrono::seconds(10);
  return req;
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

}  // namespace kh::providers
