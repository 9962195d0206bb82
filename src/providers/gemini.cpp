#include "providers/gemini.h"

#include <charconv>
#include <cmath>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/ids.h"
#include "model/gemini_codec.h"
#include "model/token_estimate.h"

namespace kh::providers {

namespace {

class GeminiDecoder final : public ChatStreamDecoder {
 public:
  GeminiDecoder(std::string id, std::string model)
      : decoder_(std::move(id), std::move(model), core::nowUnixSeconds()) {}
  core::Status feed(const http::SseEvent& event, model::ChunkBuffer& out) override {
    if (!event.has_data) return core::Ok{};
    return decoder_.feed(event.data, out);
  }
  bool textDelta(const http::SseEvent& event, model::TextDelta& out) override {
    return event.has_data && decoder_.textDelta(event.data, out);
  }
  void finish(model::ChunkBuffer& out) override { decoder_.finish(out); }

 private:
  model::GeminiStreamDecoder decoder_;
};

// Gemini answers carry no OpenAI-style id; clients expect one.
std::string completionId() {
  return "chatcmpl-" + core::newRequestId();
}

// Google sends no Retry-After header; a 429 says how long to wait in a RetryInfo detail
// ("retryDelay": "17s" or "0.5s"). Rounded up to whole seconds, as Retry-After needs.
std::string retryDelaySeconds(std::string_view body) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(body, ec);
  if (ec) return {};
  const boost::json::value* err = v.is_object() ? v.as_object().if_contains("error") : nullptr;
  if (v.is_array() && !v.as_array().empty() && v.as_array()[0].is_object())
    err = v.as_array()[0].as_object().if_contains("error");
  const auto* details = err && err->is_object() ? err->as_object().if_contains("details") : nullptr;
  if (!details || !details->is_array()) return {};
  for (const auto& d : details->as_array()) {
    const auto* delay = d.is_object() ? d.as_object().if_contains("retryDelay") : nullptr;
    if (!delay || !delay->is_string()) continue;
    std::string_view text = delay->as_string();
    if (text.ends_with('s')) text.remove_suffix(1);
    double seconds = 0;
    const auto [ptr, rc] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    // A delay beyond a day (or not a number at all) is no advice a client can act on.
    if (rc != std::errc() || !(seconds >= 0 && seconds <= 86400)) continue;
    return std::to_string(static_cast<long long>(std::ceil(seconds)));
  }
  return {};
}

}  // namespace

GeminiProvider::GeminiProvider(config::ProviderConfig config, const ProviderType& type)
    : Provider(std::move(config), type) {
  headers_.emplace_back("Content-Type", "application/json");
  if (!config_.api_key.empty()) headers_.emplace_back("x-goog-api-key", config_.api_key);
  headers_.emplace_back("User-Agent", "kakehashi");
  for (const auto& h : config_.headers) headers_.push_back(h);
  for (const auto& h : headers_)
    if (h.first != "Content-Type") get_headers_.push_back(h);
  models_ = addTarget("/models?pageSize=1000");
  per_model_ = addTarget("/models/");
}

std::string GeminiProvider::modelPath(std::string_view model, std::string_view method) {
  if (model.starts_with("models/")) model.remove_prefix(7);
  std::string out;
  out.reserve(model.size() + method.size() + 1);
  for (const char c : model) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
      out.push_back(kHex[static_cast<unsigned char>(c) & 15]);
    }
  }
  out.push_back(':');
  out.append(method);
  return out;
}

http::UpstreamRequest GeminiProvider::listModels() const {
  return listRequest(models_, &get_headers_);
}

std::vector<std::string> GeminiProvider::parseModelList(std::string_view body) const {
  return model::parseGeminiModelList(body);
}

core::Result<http::UpstreamRequest> GeminiProvider::buildChat(
    const model::ChatRequest& request) const {
  std::string body;
  body.reserve(1024);
  if (auto s = model::appendGeminiRequestJson(request, body); !s) return std::move(s).error();
  return chatRequest(request, std::move(body));
}

http::UpstreamRequest GeminiProvider::chatRequest(const model::ChatRequest& request,
                                                  std::string body) const {
  http::UpstreamRequest req = this->request(per_model_, &headers_, std::move(body), request.stream);
  req.path_suffix = modelPath(request.model,
                              request.stream ? "streamGenerateContent?alt=sse" : "generateContent");
  return req;
}

std::optional<http::UpstreamRequest> GeminiProvider::buildTextChat(
    const model::ChatRequest& head, std::span<const model::TextMessage> messages) const {
  std::string body;
  body.reserve(model::textBytes(messages) + 256);  // and the other members
  if (!model::appendGeminiTextRequestJson(head, messages, body)) return std::nullopt;
  return chatRequest(head, std::move(body));
}

core::Result<model::ChatResponse> GeminiProvider::parseChat(
    std::string_view body, const model::ChatRequest& request) const {
  return model::parseGeminiResponse(body, completionId(), request.model, core::nowUnixSeconds());
}

std::unique_ptr<ChatStreamDecoder> GeminiProvider::chatStreamDecoder(
    const model::ChatRequest& request) const {
  return std::make_unique<GeminiDecoder>(completionId(), request.model);
}

core::Error GeminiProvider::parseError(int status, std::string body) const {
  core::Error e = model::parseGeminiError(status, body);
  e.retry_after = retryDelaySeconds(body);
  return e;
}

core::Result<http::UpstreamRequest> GeminiProvider::buildEmbedding(
    const model::EmbeddingRequest& request) const {
  const boost::json::object body = model::toGeminiEmbedRequest(request, request.model);
  http::UpstreamRequest req =
      this->request(per_model_, &headers_, boost::json::serialize(body), false);
  req.path_suffix = modelPath(request.model, "batchEmbedContents");
  return req;
}

core::Result<model::EmbeddingResponse> GeminiProvider::parseEmbedding(
    std::string_view body, const model::EmbeddingRequest& request) const {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(body, ec);
  if (ec)
    return core::Error::badGateway("The upstream answered with a body that is not valid JSON");
  auto r = model::parseGeminiEmbedResponse(v, request.model);
  // Gemini's embedding answers carry no token counts; OpenAI clients and the gateway's own
  // accounting expect prompt_tokens, so the input is estimated the way count_tokens does.
  if (r && r->usage.prompt_tokens == 0)
    for (const auto& input : request.input) r->usage.prompt_tokens += model::estimateTokens(input);
  return r;
}

}  // namespace kh::providers
