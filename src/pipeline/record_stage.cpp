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

void recordStage(const RequestContext& ctx) {
  if (!obs::enabled(obs::Level::kInfo)) return;
  using namespace std::chrono;
  const auto elapsed = duration_cast<microseconds>(steady_clock::now() - ctx.start).count();
  const auto& req = ctx.ex.request.msg;
  obs::LogLine line(obs::Level::kInfo, "access");
  line.str("request_id", ctx.request_id)
      .str("client_ip", ctx.ex.request.remote_ip)
      .str("method", std::string_view(req.method_string().data(), req.method_string().size()))
      .str("path", std::string_view(req.target().data(), req.target().size()))
      .str("op", opName(ctx.op))
      .num("status", ctx.status)
      .str("model", ctx.info.model)
      .boolean("stream", ctx.info.stream);
  if (!ctx.provider.empty())
    line.str("provider", ctx.provider).str("upstream_model", ctx.upstream_model);
  line.num("attempts", ctx.attempts).real("latency_ms", elapsed / 1000.0);
  if (ctx.ttft_us >= 0) line.real("ttft_ms", ctx.ttft_us / 1000.0);
  if (ctx.usage.present)
    line.num("prompt_tokens", ctx.usage.prompt_tokens)
        .num("completion_tokens", ctx.usage.completion_tokens)
        .num("cached_tokens", ctx.usage.cached_tokens);
  line.num("bytes_out", static_cast<long long>(ctx.bytes_out));
  if (!ctx.error.empty()) line.str("error", ctx.error);
}

}  // namespace kh::pipeline
