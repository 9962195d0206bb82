#include "pipeline/request_context.h"

namespace kh::pipeline {

RequestContext::RequestContext(http::Exchange& exchange, std::string id, api::ClientApi api,
                               providers::Operation o,
                               std::shared_ptr<const routing::ModelCatalog> c)
    : ex(exchange), request_id(std::move(id)), client(api), op(o), catalog(std::move(c)) {}

void RequestContext::addResponseHeaders(http::HeaderBlock& h) const {
  h.add("x-request-id", request_id);
  // Anthropic's SDKs read the id from request-id (error.requestID, message._request_id).
  if (client == api::ClientApi::kAnthropic) h.add("request-id", request_id);
  if (!auto_reason.empty()) {
    h.add("x-kakehashi-auto-rule", auto_rule.empty() ? std::string_view("default") : auto_rule);
    h.add("x-kakehashi-auto-reason", auto_reason);
  }
  if (!provider.empty()) {
    h.add("x-kakehashi-provider", provider);
    h.add("x-kakehashi-model", upstream_model);
    h.addNumber("x-kakehashi-attempts", attempts);
  }
}

core::Status RequestContext::readChat() {
  if (chat && !chat_is_head) return core::Ok{};
  // Read where it lives: a ChatRequest is too big to build elsewhere and move in.
  chat.emplace();
  chat_is_head = false;
  text_messages.clear();
  if (auto s = api::parseChatRequest(client, op, body, &info, *chat); !s) {
    chat.reset();
    return s;
  }
  return core::Ok{};
}

bool RequestContext::readBodyAsText() {
  return readAsText(info);
}

bool RequestContext::readTextChat() {
  if (chat) return chat_is_head;
  api::OpenAIBodyInfo same;  // `info` is known already
  return !text_tried && readAsText(same);
}

bool RequestContext::readAsText(api::OpenAIBodyInfo& into) {
  chat.emplace();
  if (api::readChatAsText(client, op, body, into, *chat, text_messages)) return chat_is_head = true;
  chat.reset();
  text_messages.clear();
  text_tried = true;
  return false;
}

}  // namespace kh::pipeline
