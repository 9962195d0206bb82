#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include <boost/asio/steady_timer.hpp>
#include "api/client_api.h"
#include "api/openai_errors.h"
#include "core/text_search.h"

#include "http/fast_io.h"
#include "http/sse_parser.h"
#include "pipeline/stages.h"
#include "pipeline/stream_translator.h"
#include "routing/routing_state.h"

namespace kh::pipeline {

namespace {

using Clock = std::chrono::steady_clock;
namespace net = boost::asio;

// Upstream error bodies are small; a bigger one is cut rather than buffered without bound.
constexpr std::size_t kMaxErrorBody = 1 << 20;
constexpr std::size_t kMaxResponseBody = 256 << 20;
// An upstream's Retry-After is honoured up to this long; beyond it the breaker's own probes decide.
constexpr long long kMaxHoldOffS = 600;

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

// The first configured failure keyword in `text`, or "" (SPEC §5: an answer containing one counts
// as a failed attempt, so the next target is tried).
std::string_view failureKeyword(const RequestContext& ctx, std::string_view text) {
  for (const auto& k : ctx.catalog->config().failover.failure_keywords)
    if (!k.empty() && text.find(k) != std::string_view::npos) return k;
  return {};
}

core::Error keywordFailure(std::string_view keyword) {
  core::Error e = core::Error::badGateway(
      fmt::format("The upstream answer contained the failure keyword '{}'", keyword));
  e.retryable = true;
  return e;
}

// Whether held-back stream output already carries generated content (text or a tool call) in
// any of the wire formats, so the failure keywords can be judged on it.
bool carriesContent(std::string_view out) {
  for (std::string_view marker : {"\"content\":\"", "\"text\":\"", "\"partial_json\":\"",
                                  "\"tool_calls\"", "\"functionCall\""}) {
    for (std::size_t at = out.find(marker); at != std::string_view::npos;
         at = out.find(marker, at + 1)) {
      const std::size_t next = at + marker.size();
      // An empty string ("content":"") is not content yet.
      if (marker.back() != '"' || (next < out.size() && out[next] != '"')) return true;
    }
  }
  return false;
}

api::UsageCounts usageCounts(const model::Usage& u) {
  return {u.prompt_tokens, u.completion_tokens, u.cached_tokens, true};
}

// What a relayed stream does with each upstream event; the loop around it (relayStream) is the
// same for every kind. All output goes to `out`, which is sent once per upstream read.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  // false: the stream is over (the handler wrote its closing events).
  virtual bool onEvent(const http::SseEvent& event, std::string& out) = 0;
  // The upstream body ended normally.
  virtual void onEnd(std::string& out) = 0;
  // The upstream connection failed half-way.
  virtual void onFail(const core::Error& error, std::string& out) = 0;
  // Where in `piece` (read with no earlier event pending) the first event the handler must look
  // at may begin, or npos: the whole events before it are forwarded byte for byte, without being
  // split into events. 0: every event is looked at.
  virtual std::size_t firstOfInterest(std::string_view /*piece*/) const { return 0; }
};

// How much of `piece` can go out as it is: the whole events before `interest` (a blank line ends
// an event; read from a clean parser state, "\n\n" always closes one).
std::size_t verbatimPrefix(std::string_view piece, std::size_t interest) {
  if (interest == 0) return 0;
  const std::string_view head = piece.substr(0, interest);
  const std::size_t boundary = head.rfind("\n\n");
  return boundary == std::string_view::npos ? 0 : boundary + 2;
}

// Same wire format, OpenAI: events are forwarded byte for byte; the usage-only chunk the gateway
// asked for on the client's behalf is dropped.
class OpenAIPassThrough final : public StreamHandler {
 public:
  OpenAIPassThrough(RequestContext& ctx, const providers::Provider&) : ctx_(ctx) {}
  bool onEvent(const http::SseEvent& ev, std::string& out) override {
    if (ev.has_data && api::mayCarryUsage(ev.data)) {
      const api::ChunkInfo chunk = api::inspectChunk(ev.data);
      if (chunk.usage.present) ctx_.usage = chunk.usage;
      if (chunk.usage_only && !ctx_.info.include_usage) return true;
    }
    out.append(ev.raw);
    return true;
  }
  void onEnd(std::string&) override {}
  void onFail(const core::Error& e, std::string& out) override {
    out.append(api::renderOpenAIStreamError(e));
  }
  std::size_t firstOfInterest(std::string_view piece) const override {
    return api::firstUsageObject(piece);
  }

 private:
  RequestContext& ctx_;
};

// Same wire format, Anthropic: forwarded byte for byte; usage read from the two events that carry
// it.
class AnthropicPassThrough final : public StreamHandler {
 public:
  AnthropicPassThrough(RequestContext& ctx, const providers::Provider&) : ctx_(ctx) {}
  bool onEvent(const http::SseEvent& ev, std::string& out) override {
    if (ev.has_data && (ev.event == "message_start" || ev.event == "message_delta"))
      api::mergeAnthropicUsage(ev.data, ctx_.usage);
    out.append(ev.raw);
    return true;
  }
  void onEnd(std::string&) override {}
  void onFail(const core::Error& e, std::string& out) override {
    out.append(api::renderStreamError(api::ClientApi::kAnthropic, e));
  }
  std::size_t firstOfInterest(std::string_view piece) const override {
    for (std::size_t at = core::findText(piece, "message_"); at != std::string_view::npos;
         at = core::findText(piece, "message_", at + 8)) {
      const std::string_view rest = piece.substr(at + 8);
      if (rest.starts_with("start") || rest.starts_with("delta")) return at;
    }
    return std::string_view::npos;
  }

 private:
  RequestContext& ctx_;
};

// Different wire formats: the translator does the work; the request records what it learnt.
class Translation final : public StreamHandler {
 public:
  Translation(RequestContext& ctx, const providers::Provider& provider)
      : ctx_(ctx),
        translator_(provider.chatStreamDecoder(*ctx.chat),
                    api::chatStreamEncoder(ctx.client, ctx.op, *ctx.chat, ctx.request_id)) {}

  bool onEvent(const http::SseEvent& ev, std::string& out) override {
    const bool open = translator_.onEvent(ev, out);
    record();
    return open;
  }
  void onEnd(std::string& out) override {
    translator_.onEnd(out);
    record();
  }
  void onFail(const core::Error& e, std::string& out) override { translator_.onFail(e, out); }

 private:
  void record() {
    if (translator_.usage()) ctx_.usage = usageCounts(*translator_.usage());
    if (!translator_.error().empty()) ctx_.error = translator_.error();
  }
  RequestContext& ctx_;
  StreamTranslator translator_;
};

// Relays an SSE body event by event: everything one upstream read yields goes out in one write,
// never buffered whole. The handler lives in this coroutine's frame, not in dispatchStage's, which
// stays alive (and in the cache) for every request in flight.
template <typename Handler>
net::awaitable<core::Status> relayStream(RequestContext& ctx, http::UpstreamResponse& resp,
                                         const providers::Provider& provider) {
  Handler handler(ctx, provider);
  // With failure keywords configured, nothing goes out until the first content arrived and was
  // judged: until then the attempt can still fail over without the client noticing.
  bool holding = !ctx.catalog->config().failover.failure_keywords.empty();
  auto start = [&]() -> net::awaitable<bool> {
    ctx.status = 200;
    if (ctx.stream_open) co_return true;  // opened while the request waited in a queue
    http::HeaderBlock headers;
    ctx.addResponseHeaders(headers);
    headers.add("Cache-Control", "no-cache");
    ctx.status = 200;
    co_return co_await ctx.ex.sink.begin(200, headers.fields(), "text/event-stream");
  };
  if (!holding && !co_await start()) co_return core::Error::cancelled();
  http::SseParser parser;
  // Whole events of the current read that go out as they came, straight from the upstream's
  // buffer (valid until the next read), ahead of `out`.
  std::string_view verbatim;
  std::string out;
  bool open = true;  // the handler still takes events
  auto onEvent = [&](const http::SseEvent& ev) {
    if (open) open = handler.onEvent(ev, out);
  };
  // Sends what the events collected; `last` also ends the response, in the same write.
  auto flush = [&](bool last) -> net::awaitable<bool> {
    const std::size_t size = verbatim.size() + out.size();
    if (size != 0 && ctx.ttft_us < 0) ctx.ttft_us = sinceStartUs(ctx);
    ctx.bytes_out += size;
    bool ok = true;
    if (last) {
      ok = co_await ctx.ex.sink.end(verbatim, out);
    } else if (size != 0) {
      ok = co_await ctx.ex.sink.write(verbatim, out);
    }
    verbatim = {};
    out.clear();
    co_return ok;
  };
  for (;;) {
    auto piece = co_await resp.read();
    if (!piece) {
      if (piece.error().code == core::ErrorCode::kCancelled || ctx.ex.cancel.fired())
        co_return core::Error::cancelled();
      // Nothing sent yet: the attempt fails like any other and the next target is tried.
      if (holding) co_return std::move(piece).error();
      // The status is already 200: the failure becomes the stream's last event.
      parser.finish(onEvent);
      core::Error e = std::move(piece).error();
      ctx.error = e.message;
      e.message = "The upstream stream failed: " + e.message;
      if (open) handler.onFail(e, out);
      co_await flush(true);
      co_return core::Ok{};
    }
    bool last = piece->empty();
    if (!last) {
      std::string_view rest = *piece;
      if (open && parser.buffered() == 0) {
        const std::size_t n = verbatimPrefix(rest, handler.firstOfInterest(rest));
        // While held back, what came so far is kept across reads (and judged): copied.
        if (holding) {
          out.append(rest.substr(0, n));
        } else {
          verbatim = rest.substr(0, n);
        }
        rest.remove_prefix(n);
      }
      if (!rest.empty()) {
        // Room for what this read's events become (translated events are of about their size),
        // so that `out` is not regrown and copied event by event.
        out.reserve(out.size() + 2 * rest.size());
        parser.feed(rest, onEvent);
      }
      last = resp.done() || !open;
    }
    if (last) {
      parser.finish(onEvent);
      if (open) handler.onEnd(out);
    }
    if (holding) {
      if (!last && !carriesContent(out)) continue;
      if (const std::string_view k = failureKeyword(ctx, out); !k.empty())
        co_return keywordFailure(k);
      holding = false;
      if (!co_await start()) co_return core::Error::cancelled();
    }
    if (!co_await flush(last)) co_return core::Error::cancelled();
    if (last) co_return core::Ok{};
  }
}

// The upstream request for one attempt: the client's body with the model spliced in when the
// provider speaks the client's format, else built from the canonical request.
core::Result<http::UpstreamRequest> buildRequest(RequestContext& ctx,
                                                 const providers::Provider& provider,
                                                 const std::string& model, bool same_wire) {
  if (same_wire) {
    const bool force_usage = ctx.client == api::ClientApi::kOpenAI;
    const bool rewrite = api::needsRewrite(ctx.info, model, force_usage);
    auto req = provider.passThrough(
        ctx.op, rewrite ? api::rewriteBody(ctx.body, ctx.info, model, force_usage) : std::string(),
        ctx.info.stream);
    // Unchanged, the client's body goes as it is: ctx.body outlives every attempt.
    if (req && !rewrite) req->borrowed_body = ctx.body;
    // Beta features are asked for by header; a pass-through must carry the client's ask.
    if (req && ctx.client == api::ClientApi::kAnthropic) {
      if (const std::string_view beta = ctx.ex.request.header("anthropic-beta"); !beta.empty())
        req->headers.emplace_back("anthropic-beta", std::string(beta));
    }
    return req;
  }
  if (ctx.op == providers::Operation::kEmbedding) {
    if (!ctx.embedding) {
      auto parsed = api::parseEmbeddingRequest(ctx.body);
      if (!parsed) return std::move(parsed).error();
      ctx.embedding = std::move(*parsed);
    }
    ctx.embedding->model = model;
    return provider.buildEmbedding(*ctx.embedding);
  }
  // The usual text chat goes without its canonical messages where the provider writes its body
  // from the client's text.
  if (ctx.readTextChat()) {
    ctx.chat->model = model;
    if (auto req = provider.buildTextChat(*ctx.chat, ctx.text_messages)) return std::move(*req);
  }
  if (auto read = ctx.readChat(); !read) return std::move(read).error();
  ctx.chat->extra.erase("user_preferences");
  ctx.chat->model = model;
  return provider.buildChat(*ctx.chat);
}

// A whole (non-stream) answer from a provider of another wire format, in the client's format.
core::Result<std::string> translateAnswer(RequestContext& ctx, const providers::Provider& provider,
                                          std::string_view body) {
  if (ctx.op == providers::Operation::kEmbedding) {
    auto r = provider.parseEmbedding(body, *ctx.embedding);
    if (!r) return std::move(r).error();
    ctx.usage = usageCounts(r->usage);
    return api::renderEmbeddingResponse(*ctx.embedding, *r);
  }
  auto r = provider.parseChat(body, *ctx.chat);
  if (!r) return std::move(r).error();
  if (r->usage) ctx.usage = usageCounts(*r->usage);
  return api::renderChatResponse(ctx.client, ctx.op, *r);
}

// Reports one attempt's outcome to the target's breaker, balancer statistics and the provider's
// health; an attempt that ends without a verdict (the client left, the request could not be
// built) gives a granted half-open probe back.
class AttemptReport {
 public:
  AttemptReport(const RequestContext& ctx, const RequestContext::Attempt& attempt,
                Clock::time_point start)
      : breaker_(attempt.breaker),
        stats_(attempt.stats),
        health_(ctx.catalog->health(attempt.target->provider)),
        start_(start) {
    if (stats_) busy_ = stats_->track();
  }
  AttemptReport(const AttemptReport&) = delete;
  AttemptReport& operator=(const AttemptReport&) = delete;
  ~AttemptReport() {
    if (!done_ && breaker_) breaker_->onCancel();
  }

  // The upstream answered as it should; `ttft_us` is the time to the first streamed byte.
  // Returns the time the verdict was taken.
  Clock::time_point success(long long ttft_us = -1) {
    const Clock::time_point now = Clock::now();
    if (done_) return now;
    done_ = true;
    const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(now - start_);
    if (breaker_) breaker_->onSuccess();
    if (stats_) {
      std::optional<std::chrono::microseconds> ttft;
      if (ttft_us >= 0) ttft = std::chrono::microseconds(ttft_us);
      stats_->recordSuccess(latency, ttft);
    }
    if (health_) health_->recordSuccess(latency);
    return now;
  }
  // The upstream is alive but refused this request (a 4xx): not the target's fault.
  void alive() {
    if (done_) return;
    done_ = true;
    if (breaker_) breaker_->onSuccess();
  }
  // The upstream said when to come back (Retry-After on a 429 or 503): the target is skipped
  // until then, like an open breaker.
  void holdOff(std::string_view retry_after) {
    if (!breaker_) return;
    long long secs = 0;
    const auto [ptr, ec] =
        std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), secs);
    if (ec != std::errc() || secs <= 0) return;
    breaker_->holdOff(Clock::now(), std::chrono::seconds(std::min<long long>(secs, kMaxHoldOffS)));
  }
  void failure() {
    if (done_) return;
    done_ = true;
    if (breaker_) breaker_->onFailure(Clock::now());
    if (health_) health_->recordFailure();
  }

 private:
  routing::Breaker* breaker_;
  routing::TargetStats::Entry* stats_;
  routing::ProviderHealth* health_;
  Clock::time_point start_;
  routing::TargetStats::Entry::InFlight busy_;
  bool done_ = false;
};

// A slot under a provider's max_concurrency, given back when the attempt is over.
class GateSlot {
 public:
  GateSlot() = default;
  explicit GateSlot(routing::ConcurrencyGate* gate) : gate_(gate) {}
  GateSlot(GateSlot&& o) noexcept : gate_(std::exchange(o.gate_, nullptr)) {}
  GateSlot& operator=(GateSlot&& o) noexcept {
    std::swap(gate_, o.gate_);
    return *this;
  }
  ~GateSlot() {
    if (gate_) gate_->release();
  }

 private:
  routing::ConcurrencyGate* gate_ = nullptr;
};

core::Error queueError(std::string_view provider, std::string_view why) {
  core::Error e = core::Error::unavailable(
      fmt::format("Provider '{}' is at its concurrency limit and {}", provider, why));
  e.retryable = false;
  e.retry_after = "1";
  return e;
}

// Waits for a slot of `gate` in its FIFO queue (SPEC §5): bounded by queue.max_waiting and
// queue.timeout_s, left at once when the client goes away. A stream that waits gets SSE comment
// keep-alives every queue.keepalive_s so proxies on the way do not cut it.
net::awaitable<core::Result<GateSlot>> waitForSlot(RequestContext& ctx,
                                                   routing::ConcurrencyGate& gate,
                                                   std::string_view provider) {
  if (gate.tryAcquire()) co_return GateSlot(&gate);
  const config::QueueConfig& q = ctx.catalog->config().queue;
  auto waiter = std::make_shared<routing::ConcurrencyGate::Waiter>(ctx.ex.upstream.executor());
  if (!gate.enqueue(waiter, static_cast<std::size_t>(std::max(0, q.max_waiting))))
    co_return queueError(provider, "its queue is full");
  if (waiter->granted) co_return GateSlot(&gate);
  ctx.ex.cancel.setHook([waiter] { waiter->timer.cancel(); });
  struct ClearHook {
    http::CancelSignal& c;
    ~ClearHook() { c.clearHook(); }
  } clear_hook{ctx.ex.cancel};
  const auto deadline = Clock::now() + std::chrono::seconds(q.timeout_s);
  const auto keepalive = std::chrono::seconds(std::max(1, q.keepalive_s));
  for (;;) {
    const auto wake = ctx.info.stream ? std::min(deadline, Clock::now() + keepalive) : deadline;
    waiter->timer.expires_at(wake);
    co_await waiter->timer.async_wait(net::as_tuple(net::use_awaitable));
    if (waiter->granted) co_return GateSlot(&gate);
    if (ctx.ex.cancel.fired()) {
      waiter->abandoned = true;
      co_return core::Error::cancelled();
    }
    if (Clock::now() >= deadline) {
      waiter->abandoned = true;
      co_return queueError(provider, fmt::format("the request waited {} s", q.timeout_s));
    }
    if (!ctx.stream_open) {
      http::HeaderBlock headers;
      ctx.addResponseHeaders(headers);
      headers.add("Cache-Control", "no-cache");
      if (!co_await ctx.ex.sink.begin(200, headers.fields(), "text/event-stream")) {
        waiter->abandoned = true;
        co_return core::Error::cancelled();
      }
      ctx.stream_open = true;
      ctx.status = 200;
    }
    static constexpr std::string_view kKeepAlive = ": keep-alive\n\n";
    if (!co_await ctx.ex.sink.write(kKeepAlive)) {
      waiter->abandoned = true;
      co_return core::Error::cancelled();
    }
  }
}

// Every target is cooling down but the first comes back soon enough: waits (the client leaving
// ends the wait), then plans again. A coroutine of its own, so that the timer is not part of
// every request's dispatchStage frame.
net::awaitable<core::Status> waitOutCooling(RequestContext& ctx) {
  net::steady_timer timer(ctx.ex.upstream.executor());
  timer.expires_at(*ctx.cooling_until);
  ctx.ex.cancel.setHook([&timer] { timer.cancel(); });
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  ctx.ex.cancel.clearHook();
  if (ctx.ex.cancel.fired()) co_return core::Error::cancelled();
  if (core::Status planned = planTargets(ctx); !planned) co_return planned;
  if (ctx.cooling_until) {
    core::Error e = core::Error::unavailable(
        fmt::format("Every target of '{}' is still cooling down", ctx.info.model));
    e.retryable = false;
    e.retry_after = "1";
    co_return e;
  }
  co_return core::Ok{};
}

// An attempt the upstream answered with a status other than 2xx: its error, in the terms of the
// provider's format, after the attempt was reported. A coroutine of its own, so that the error
// body is not part of every request's dispatchStage frame.
net::awaitable<core::Error> statusFailure(RequestContext& ctx, http::UpstreamResponse& resp,
                                          const providers::Provider& provider, bool same_wire,
                                          AttemptReport& report) {
  const int status = resp.status();
  auto body = co_await resp.readAll(kMaxErrorBody);
  std::string text = body ? std::move(*body) : std::string();
  core::Error e = same_wire ? core::Error::upstreamStatus(status, std::move(text))
                            : provider.parseError(status, std::move(text));
  if (const std::string_view ra = resp.header("Retry-After"); !ra.empty())
    e.retry_after = std::string(ra);
  e.retryable = retryOn(ctx, status);
  // In a group the next requests move on to other targets until then; a lone target keeps
  // passing the upstream's own answer on.
  if ((status == 429 || status == 503) && !e.retry_after.empty() && ctx.route.balancer)
    report.holdOff(e.retry_after);
  if (e.retryable || status >= 500) {
    report.failure();
  } else {
    report.alive();
  }
  co_return e;
}

}  // namespace

net::awaitable<core::Status> dispatchStage(RequestContext& ctx) {
  if (ctx.cooling_until) {
    if (core::Status waited = co_await waitOutCooling(ctx); !waited) co_return waited;
  }
  const int max_attempts = ctx.catalog->config().failover.max_attempts;
  // Why the last attempt failed; none yet while no attempt was made.
  std::optional<core::Error> last;
  for (const RequestContext::Attempt& attempt : ctx.plan) {
    if (ctx.attempts >= max_attempts) break;
    // Another request may have taken the one half-open probe since routing looked.
    const Clock::time_point attempt_start = Clock::now();
    if (attempt.breaker && !attempt.breaker->tryAcquire(attempt_start)) continue;
    AttemptReport report(ctx, attempt, attempt_start);
    const routing::Target& target = *attempt.target;
    const providers::Provider& provider = *target.provider;
    ++ctx.attempts;
    ctx.provider = provider.name();
    ctx.upstream_model = target.model;
    // A body carrying the gateway's own user_preferences is rebuilt without them.
    const bool same_wire =
        provider.wire() == api::wireOf(ctx.client) && !ctx.info.has_user_preferences;
    auto built = buildRequest(ctx, provider, target.model, same_wire);
    if (!built) {
      // The request cannot be expressed for this provider (a client error); another target of
      // a group may speak a format that can.
      last = std::move(built).error();
      continue;
    }
    const http::UpstreamRequest& req = *built;
    GateSlot slot;
    if (routing::ConcurrencyGate* gate = ctx.catalog->gate(&provider)) {
      auto acquired = co_await waitForSlot(ctx, *gate, provider.name());
      if (!acquired) {
        last = std::move(acquired).error();
        if (last->code == core::ErrorCode::kCancelled) co_return std::move(*last);
        // A stream already opened by keep-alives ends with the error as its last event.
        if (ctx.stream_open) {
          const std::string event = api::renderStreamError(ctx.client, *last);
          ctx.error = last->message;
          co_await ctx.ex.sink.end(event);
          co_return core::Ok{};
        }
        continue;
      }
      slot = std::move(*acquired);
    }
    auto sent = co_await ctx.ex.upstream.send(req, &ctx.ex.cancel);
    if (!sent) {
      last = std::move(sent).error();
      if (last->code == core::ErrorCode::kCancelled) co_return std::move(*last);
      report.failure();
      if (!last->retryable) co_return std::move(*last);
      continue;
    }
    http::UpstreamResponse& resp = **sent;
    const int status = resp.status();
    if (status < 200 || status >= 300) {
      last = co_await statusFailure(ctx, resp, provider, same_wire, report);
      if (last->retryable) continue;
      co_return std::move(*last);
    }
    const bool is_sse = resp.header("Content-Type").starts_with("text/event-stream");
    if (ctx.info.stream && is_sse) {
      core::Status relayed = core::Ok{};
      if (!same_wire) {
        relayed = co_await relayStream<Translation>(ctx, resp, provider);
      } else if (ctx.client == api::ClientApi::kAnthropic) {
        relayed = co_await relayStream<AnthropicPassThrough>(ctx, resp, provider);
      } else {
        relayed = co_await relayStream<OpenAIPassThrough>(ctx, resp, provider);
      }
      if (!relayed && relayed.error().code == core::ErrorCode::kCancelled) co_return relayed;
      // A stream judged before its first byte went out may still fail over.
      if (!relayed && !ctx.ex.sink.started() && relayed.error().retryable) {
        report.failure();
        last = std::move(relayed).error();
        ctx.status = 0;
        ctx.usage = {};
        ctx.ttft_us = -1;
        ctx.error.clear();
        continue;
      }
      // A stream that broke after it started ends with an error event (ctx.error says why).
      if (relayed && ctx.error.empty()) {
        report.success(ctx.ttft_us);
      } else {
        report.failure();
      }
      co_return relayed;
    }

    // The answer is read where it lies in the connection's buffer, which stays put until the
    // response (and with it the connection) is let go, after the answer went out. One that came
    // with its head is taken here, without the coroutine frame readBody() would cost.
    std::string_view text;
    if (auto whole = resp.takeBufferedBody(kMaxResponseBody)) {
      text = *whole;
    } else {
      auto body = co_await resp.readBody(kMaxResponseBody);
      if (!body) {
        last = std::move(body).error();
        if (last->code == core::ErrorCode::kCancelled) co_return std::move(*last);
        report.failure();
        if (!last->retryable) co_return std::move(*last);
        continue;
      }
      text = *body;
    }
    std::string_view content_type = contentTypeOf(resp);
    std::string rendered;  // the answer in the client's format, when translated
    if (!same_wire) {
      if (is_sse) {
        last =
            core::Error::badGateway("The upstream answered with a stream that was not asked for");
        report.failure();
        continue;
      }
      auto translated = translateAnswer(ctx, provider, text);
      if (!translated) {
        last = std::move(translated).error();
        report.failure();
        continue;
      }
      rendered = std::move(*translated);
      text = rendered;
      content_type = "application/json";
    } else if (!is_sse) {
      if (ctx.client == api::ClientApi::kAnthropic) {
        api::mergeAnthropicUsage(text, ctx.usage);
      } else {
        auto usage = api::extractUsage(text, text.size() + http::fastio::kReadPadding);
        if (!usage) {
          last =
              core::Error::badGateway("The upstream answered with a body that is not valid JSON");
          report.failure();
          continue;
        }
        ctx.usage = *usage;
      }
    }
    if (const std::string_view k = failureKeyword(ctx, text); !k.empty()) {
      last = keywordFailure(k);
      report.failure();
      continue;
    }
    const Clock::time_point answered = report.success();
    ctx.status = 200;
    ctx.ttft_us =
        std::chrono::duration_cast<std::chrono::microseconds>(answered - ctx.start).count();
    ctx.bytes_out += text.size();
    http::HeaderBlock headers;
    ctx.addResponseHeaders(headers);
    if (!co_await ctx.ex.sink.send(200, headers.fields(), content_type, text))
      co_return core::Error::cancelled();
    co_return core::Ok{};
  }
  if (!last) co_return core::Error::unavailable("No target is available for this model");
  co_return std::move(*last);
}

}  // namespace kh::pipeline
