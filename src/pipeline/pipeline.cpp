#include "api/client_api.h"
#include "pipeline/stages.h"

namespace kh::pipeline {

boost::asio::awaitable<void> runPipeline(http::Exchange& ex, std::string request_id,
                                         api::ClientApi client, providers::Operation op,
                                         std::shared_ptr<const routing::ModelCatalog> catalog) {
  RequestContext ctx(ex, std::move(request_id), client, op, std::move(catalog));
  core::Status s = parseStage(ctx);
  if (s) s = routeStage(ctx);
  if (s) s = co_await dispatchStage(ctx);
  if (!s) {
    const core::Error& e = s.error();
    ctx.status = e.http_status;
    ctx.error = e.message;
    if (e.code != core::ErrorCode::kCancelled && ctx.stream_open) {
      // Keep-alives already opened the stream: the failure is its last event.
      const std::string event = api::renderStreamError(ctx.client, e);
      ctx.status = 200;
      co_await ctx.ex.sink.end(event);
    } else if (e.code != core::ErrorCode::kCancelled && !ctx.ex.sink.started()) {
      const std::string body = api::renderError(ctx.client, e);
      ctx.bytes_out += body.size();
      http::HeaderBlock headers;
      ctx.addResponseHeaders(headers);
      if (!e.retry_after.empty()) headers.add("Retry-After", e.retry_after);
      co_await ctx.ex.sink.send(e.http_status, headers.fields(), "application/json", body);
    }
  }
  recordStage(ctx);
}

}  // namespace kh::pipeline
