#include <chrono>

#include "observability/log.h"
#include "pipeline/stages.h"

namespace kh::pipeline {

namespace {
std::string_view opName(providers::Operation op) {
  switch (op) {
    case providers::Operation::kChat:
      return "chat";
    case providers::Operation::kCompletion:
      return "completion";
    case providers::Operation::kEmbedding:
      return "embedding";
  }
  return "chat";
}
}  // namespace

void logAccess(const http::Exchange& ex, std::string_view request_id, int status,
               std::chrono::steady_clock::time_point start, std::size_t bytes_out,
               const RequestContext* routed) {
  if (!obs::enabled(obs::Level::kInfo)) return;
  using namespace std::chrono;
  const auto elapsed = duration_cast<microseconds>(steady_clock::now() - start).count();
  const http::Request& req = ex.request;
  obs::LogLine line(obs::Level::kInfo, "access");
  line.str("request_id", request_id)
      .str("client_ip", ex.request.remote_ip)
      .str("method", req.method())
      .str("path", req.target())
      .num("status", status);
  if (routed) {
    const RequestContext& ctx = *routed;
    line.str("op", opName(ctx.op)).str("model", ctx.info.model).boolean("stream", ctx.info.stream);
    if (!ctx.provider.empty())
      line.str("provider", ctx.provider).str("upstream_model", ctx.upstream_model);
    line.num("attempts", ctx.attempts);
    if (ctx.ttft_us >= 0) line.millis("ttft_ms", ctx.ttft_us);
    if (ctx.usage.present)
      line.num("prompt_tokens", ctx.usage.prompt_tokens)
          .num("completion_tokens", ctx.usage.completion_tokens)
          .num("cached_tokens", ctx.usage.cached_tokens);
    if (!ctx.error.empty()) line.str("error", ctx.error);
  }
  line.millis("latency_ms", elapsed).num("bytes_out", static_cast<long long>(bytes_out));
}

void recordStage(const RequestContext& ctx) {
  logAccess(ctx.ex, ctx.request_id, ctx.status, ctx.start, ctx.bytes_out, &ctx);
}

}  // namespace kh::pipeline
