#include "app/router.h"

#include <optional>

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/decode_view.hpp>
#include <boost/url/pct_string_view.hpp>

#include "api/client_api.h"
#include "api/openai_errors.h"
#include "core/ids.h"
#include "model/token_estimate.h"
#include "observability/log.h"
#include "pipeline/stages.h"
#include "routing/routing_state.h"

namespace kh::app {

namespace {

namespace net = boost::asio;

std::string requestIdFor(const http::Request& req) {
  const std::string_view id = req.header("x-request-id");
  if (!id.empty() && id.size() <= 200) return std::string(id);
  return core::newRequestId();
}

std::string_view pathOf(std::string_view target) {
  const size_t q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

// Answers a request that does not go through the pipeline, and logs it. Takes what it sends by
// value: the router returns this coroutine unstarted, and its own locals are gone by the time it
// runs.
// GCC 12 can destroy a temporary twice when it lives in a full-expression containing co_await;
// so across this code base, awaited calls only take named values, never temporaries.
net::awaitable<void> answer(http::Exchange& ex, std::string request_id, int status,
                            std::string body, api::ClientApi client = api::ClientApi::kOpenAI) {
  const auto start = std::chrono::steady_clock::now();
  http::HeaderBlock headers;
  headers.add("x-request-id", request_id);
  if (client == api::ClientApi::kAnthropic) headers.add("request-id", request_id);
  co_await ex.sink.send(status, headers.fields(), "application/json", body);
  pipeline::logAccess(ex, request_id, status, start, body.size(), nullptr);
}

struct Route {
  std::string_view path;
  providers::Operation op;
  api::ClientApi client = api::ClientApi::kOpenAI;
};
constexpr Route kPipelineRoutes[] = {
    {"/v1/chat/completions", providers::Operation::kChat},
    {"/api/chat", providers::Operation::kChat},
    {"/v1/completions", providers::Operation::kCompletion},
    {"/api/generate", providers::Operation::kCompletion},
    {"/v1/embeddings", providers::Operation::kEmbedding},
    {"/v1/messages", providers::Operation::kChat, api::ClientApi::kAnthropic},
};
constexpr std::string_view kCountTokens = "/v1/messages/count_tokens";

// Anthropic's count_tokens, answered locally with the gateway's estimate: the request may be
// routed to any provider, and most have no such endpoint.
std::pair<int, std::string> countTokens(const routing::ModelCatalog& catalog,
                                        const http::Request& req) {
  auto parsed =
      api::parseChatRequest(api::ClientApi::kAnthropic, providers::Operation::kChat, req.body);
  if (!parsed) {
    const core::Error& e = parsed.error();
    return {e.http_status, api::renderError(api::ClientApi::kAnthropic, e)};
  }
  // The same model names as /v1/messages: an unknown one is a 404 here too.
  if (auto route = catalog.resolve(parsed->model); !route)
    return {route.error().http_status, api::renderError(api::ClientApi::kAnthropic, route.error())};
  return {200, fmt::format(R"({{"input_tokens":{}}})", model::estimateTokens(*parsed))};
}

// GET /health/services: each provider's health as recent requests saw it (SPEC §3). Passive:
// no upstream is called to answer it.
std::string servicesJson(const routing::ModelCatalog& catalog) {
  routing::RoutingState* state = catalog.state();
  const auto breakers =
      state ? state->breakers().snapshot() : std::vector<routing::Breakers::Info>{};
  const auto now = state ? state->breakers().now() : routing::SteadyTime{};
  boost::json::array services;
  bool all_healthy = true;
  for (const auto& p : catalog.providers()) {
    const routing::ProviderHealth* h = catalog.health(p.get());
    boost::json::array models;
    int open = 0, half_open = 0;
    for (const auto& b : breakers) {
      if (b.provider != p->name()) continue;
      const routing::BreakerState st =
          b.state == routing::BreakerState::kOpen && b.open_until <= now
              ? routing::BreakerState::kHalfOpen
              : b.state;
      boost::json::object m{{"model", b.model}, {"breaker", routing::breakerStateName(st)}};
      if (st == routing::BreakerState::kOpen) {
        ++open;
        m["retry_in_s"] = std::chrono::ceil<std::chrono::seconds>(b.open_until - now).count();
      }
      if (st == routing::BreakerState::kHalfOpen) ++half_open;
      models.push_back(std::move(m));
    }
    const int failures = h ? h->consecutiveFailures() : 0;
    std::string_view status = "healthy";
    if (failures >= 3 || (open > 0 && open == static_cast<int>(models.size())))
      status = "down";
    else if (failures > 0 || open > 0 || half_open > 0)
      status = "degraded";
    all_healthy = all_healthy && status == "healthy";
    boost::json::object o{{"name", p->name()},
                          {"type", p->config().type},
                          {"status", status},
                          {"breaker", open > 0        ? "open"
                                      : half_open > 0 ? "half_open"
                                                      : "closed"}};
    const long long last = h ? h->lastCheckUnixMs() : 0;
    o["last_check"] = last > 0 ? boost::json::value(core::isoTimestampMs(last)) : nullptr;
    const long long us = h ? h->lastLatencyUs() : -1;
    o["response_time_ms"] = us >= 0 ? boost::json::value(static_cast<double>(us / 100) / 10.0)
                                    : boost::json::value(nullptr);
    o["successes"] = h ? h->successes() : 0;
    o["failures"] = h ? h->totalFailures() : 0;
    o["consecutive_failures"] = failures;
    o["models"] = std::move(models);
    services.push_back(std::move(o));
  }
  return boost::json::serialize(boost::json::object{{"status", all_healthy ? "ok" : "degraded"},
                                                    {"timestamp", core::nowUnixSeconds()},
                                                    {"services", std::move(services)}});
}

// Routes that need no upstream: their status and body, or nullopt when `path` is not one.
// Kept synchronous so the coroutine below awaits only named values (see answer()).
std::optional<std::pair<int, std::string>> localRoute(const routing::ModelCatalog& catalog,
                                                      const http::Request& req,
                                                      std::string_view path) {
  if (path != "/health" && path != "/health/services" && path != "/v1/models" &&
      !path.starts_with("/v1/models/"))
    return std::nullopt;
  if (req.method() != "GET" && req.method() != "HEAD") {
    const core::Error e{core::ErrorCode::kMethodNotAllowed,
                        405,
                        fmt::format("Use GET for {}", path),
                        {},
                        false,
                        {},
                        {}};
    return std::pair{e.http_status, api::renderOpenAIError(e)};
  }
  if (path == "/health")
    return std::pair{200,
                     fmt::format(R"({{"status":"ok","timestamp":{}}})", core::nowUnixSeconds())};
  if (path == "/health/services") return std::pair{200, servicesJson(catalog)};
  if (path == "/v1/models") return std::pair{200, catalog.listJson()};
  // Model ids may contain '/' and ':' and arrive percent-encoded.
  std::string id(path.substr(11));
  if (auto pct = boost::urls::make_pct_string_view(id)) {
    const boost::urls::decode_view decoded = **pct;
    id.assign(decoded.begin(), decoded.end());
  }
  auto model = catalog.modelJson(id);
  if (!model) return std::pair{model.error().http_status, api::renderOpenAIError(model.error())};
  return std::pair{200, std::move(*model)};
}

}  // namespace

// Not a coroutine itself: it picks the coroutine that answers and returns it unstarted, so a
// request runs one coroutine frame fewer (the pipeline's frame holds the request's context).
net::awaitable<void> ProxyRouter::handle(http::Exchange& ex) const {
  std::string request_id = requestIdFor(ex.request);
  const std::string_view path = pathOf(ex.request.target());
  const std::string_view method = ex.request.method();

  for (const auto& r : kPipelineRoutes) {
    if (path != r.path) continue;
    if (method != "POST") {
      const core::Error e{core::ErrorCode::kMethodNotAllowed,
                          405,
                          fmt::format("Use POST for {}", r.path),
                          {},
                          false,
                          {},
                          {}};
      return answer(ex, std::move(request_id), e.http_status, api::renderError(r.client, e),
                    r.client);
    }
    return pipeline::runPipeline(ex, std::move(request_id), r.client, r.op, catalogs_.current());
  }
  if (path == kCountTokens) {
    std::pair<int, std::string> counted{405, ""};
    if (method == "POST") {
      counted = countTokens(*catalogs_.current(), ex.request);
    } else {
      const core::Error e{core::ErrorCode::kMethodNotAllowed,
                          405,
                          "Use POST for /v1/messages/count_tokens",
                          {},
                          false,
                          {},
                          {}};
      counted.second = api::renderError(api::ClientApi::kAnthropic, e);
    }
    return answer(ex, std::move(request_id), counted.first, std::move(counted.second),
                  api::ClientApi::kAnthropic);
  }

  const auto catalog = catalogs_.current();
  auto local = localRoute(*catalog, ex.request, path);
  if (!local) {
    const core::Error e{core::ErrorCode::kNotFound,
                        404,
                        fmt::format("Unknown route {} {}", method, path),
                        {},
                        false,
                        {},
                        {}};
    local.emplace(e.http_status, api::renderOpenAIError(e));
  }
  return answer(ex, std::move(request_id), local->first, std::move(local->second));
}

std::pair<std::string, std::string> renderServerError(const core::Error& error) {
  return {api::renderOpenAIError(error), "application/json"};
}

}  // namespace kh::app
