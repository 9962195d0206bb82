#include <algorithm>

#include <fmt/format.h>

#include "api/openai_errors.h"
#include "http/sse_parser.h"
#include "pipeline/stages.h"

namespace kh::pipeline {

namespace {

using Clock = std::chrono::steady_clock;
namespace net = boost::asio;

// Upstream error bodies are small; a bigger one is cut rather than buffered without bound.
constexpr std::size_t kMaxErrorBody = 1 << 20;
constexpr std::size_t kMaxResponseBody = 256 << 20;

long long sinceStartUs(const RequestContext& ctx) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - ctx.start).count();
}

bool retryOn(const RequestContext& ctx, int status) {
  const auto& codes = ctx.catalog->config().failover.retry_on_status;
  return std::find(codes.begin(), codes.end(), status) != codes.end();
}

std::string_view contentTypeOf(const http::UpstreamResponse& resp) {
  std::string_view ct = resp.header("Content-Type");
  return ct.empty() ? std::string_view("application/json") : ct;
}

// Relays an SSE body event by event. Complete events are forwarded byte for byte, batched per
// upstream read; the usage-only chunk the gateway asked for on the client's behalf is dropped.
net::awaitable<core::Status> relayStream(RequestContext& ctx, http::UpstreamResponse& resp) {
  http::HeaderList headers = ctx.responseHeaders();
  headers.emplace_back("Cache-Control", "no-cache");
  if (!co_await ctx.ex.sink.begin(200, headers, "text/event-stream"))
    co_return core::Error::cancelled();
  ctx.status = 200;
  const bool drop_usage_chunk = !ctx.info.include_usage;
  http::SseParser parser;
  std::string out;
  auto onEvent = [&](const http::SseEvent& ev) {
    if (ev.has_data && api::mayCarryUsage(ev.data)) {
      const api::ChunkInfo chunk = api::inspectChunk(ev.data);
      if (chunk.usage.present) ctx.usage = chunk.usage;
      if (chunk.usage_only && drop_usage_chunk) return;
    }
    out.append(ev.raw);
  };
  // Sends what the events collected; `last` also ends the response, in the same write.
  auto flush = [&](bool last) -> net::awaitable<bool> {
    if (!out.empty() && ctx.ttft_us < 0) ctx.ttft_us = sinceStartUs(ctx);
    ctx.bytes_out += out.size();
    bool ok = true;
    if (last) {
      ok = co_await ctx.ex.sink.end(out);
    } else if (!out.empty()) {
      ok = co_await ctx.ex.sink.write(out);
    }
    out.clear();
    co_return ok;
  };
  for (;;) {
    auto piece = co_await resp.read();
    if (!piece) {
      if (piece.error().code == core::ErrorCode::kCancelled || ctx.ex.cancel.fired())
        co_return core::Error::cancelled();
      // The status is already 200: the failure becomes the stream's last event.
      parser.finish(onEvent);
      core::Error e = std::move(piece).error();
      ctx.error = e.message;
      e.message = "The upstream stream failed: " + e.message;
      out.append(api::renderOpenAIStreamError(e));
      co_await flush(true);
      co_return core::Ok{};
    }
    bool last = piece->empty();
    if (!last) {
      parser.feed(*piece, onEvent);
      last = resp.done();
    }
    if (last) parser.finish(onEvent);
    if (!co_await flush(last)) co_return core::Error::cancelled();
    if (last) co_return core::Ok{};
  }
}

}  // namespace

net::awaitable<core::Status> dispatchStage(RequestContext& ctx) {
  const auto& targets = ctx.route.targets;
  const int max_attempts =
      std::min<int>(ctx.catalog->config().failover.max_attempts, static_cast<int>(targets.size()));
  core::Error last = core::Error::unavailable("No target is available for this model");
  for (int i = 0; i < max_attempts; ++i) {
    const routing::Target& target = targets[i];
    const providers::Provider& provider = *target.provider;
    ctx.attempts = i + 1;
    ctx.provider = provider.name();
    ctx.upstream_model = target.model;
    if (provider.wire() != providers::WireFormat::kOpenAI) {
      last = {core::ErrorCode::kNotImplemented,
              501,
              fmt::format("Provider '{}' (type {}) is not served yet", provider.name(),
                          provider.config().type),
              {},
              false,
              {}};
      continue;
    }
    http::UpstreamRequest req = provider.passThrough(
        ctx.op, api::rewriteBody(ctx.body, ctx.info, target.model), ctx.info.stream);
    auto sent = co_await ctx.ex.upstream.send(req, &ctx.ex.cancel);
    if (!sent) {
      last = std::move(sent).error();
      if (last.code == core::ErrorCode::kCancelled || !last.retryable) co_return last;
      continue;
    }
    http::UpstreamResponse& resp = **sent;
    const int status = resp.status();
    if (status < 200 || status >= 300) {
      auto body = co_await resp.readAll(kMaxErrorBody);
      last = core::Error::upstreamStatus(status, body ? std::move(*body) : std::string());
      last.retryable = retryOn(ctx, status);
      if (last.retryable) continue;
      co_return last;
    }
    const bool is_sse = resp.header("Content-Type").starts_with("text/event-stream");
    if (ctx.info.stream && is_sse) co_return co_await relayStream(ctx, resp);

    auto body = co_await resp.readAll(kMaxResponseBody);
    if (!body) {
      last = std::move(body).error();
      if (last.code == core::ErrorCode::kCancelled || !last.retryable) co_return last;
      continue;
    }
    if (!is_sse) {
      auto usage = api::extractUsage(*body);
      if (!usage) {
        last = core::Error::badGateway("The upstream answered with a body that is not valid JSON");
        continue;
      }
      ctx.usage = *usage;
    }
    ctx.status = 200;
    ctx.ttft_us = sinceStartUs(ctx);
    ctx.bytes_out += body->size();
    const http::HeaderList headers = ctx.responseHeaders();
    if (!co_await ctx.ex.sink.send(200, headers, contentTypeOf(resp), *body))
      co_return core::Error::cancelled();
    co_return core::Ok{};
  }
  co_return last;
}

}  // namespace kh::pipeline
