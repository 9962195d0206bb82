#include "pipeline/request_context.h"

namespace kh::pipeline {

RequestContext::RequestContext(http::Exchange& exchange, std::string id, api::ClientApi api,
                               providers::Operation o,
                               std::shared_ptr<const routing::ModelCatalog> c)
    : ex(exchange), request_id(std::move(id)), client(api), op(o), catalog(std::move(c)) {}

http::HeaderList RequestContext::responseHeaders() const {
  http::HeaderList h;
  h.reserve(5);
  h.emplace_back("x-request-id", request_id);
  // Anthropic's SDKs read the id from request-id (error.requestID, message._request_id).
  if (client == api::ClientApi::kAnthropic) h.emplace_back("request-id", request_id);
  if (!auto_reason.empty()) {
    h.emplace_back("x-kakehashi-auto-rule", auto_rule.empty() ? "default" : auto_rule);
    h.emplace_back("x-kakehashi-auto-reason", auto_reason);
  }
  if (!provider.empty()) {
    h.emplace_back("x-kakehashi-provider", provider);
    h.emplace_back("x-kakehashi-model", upstream_model);
    h.emplace_back("x-kakehashi-attempts", std::to_string(attempts));
  }
  return h;
}

}  // namespace kh::pipeline
