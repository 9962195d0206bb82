// Micro-benchmarks of the translated stream path: upstream SSE events → StreamTranslator → the
// client's events, the per-event work the gateway does for every streamed token.
//
// The non-stream path is in nonstream_bench.cpp; both link into kh_microbench.
// Run (Release-like build; the machine is shared, so repeat and read the medians):
//   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKH_BUILD_MICROBENCH=ON
//   nice -n 19 cmake --build build --target kh_microbench
//   ./build/kh_microbench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Each iteration is one whole stream (decoder and encoder created as a request would), so the
// reported time is nanoseconds per stream.

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "api/client_api.h"
#include "http/sse_parser.h"
#include "pipeline/stream_translator.h"
#include "providers/provider.h"

namespace kh {
namespace {

// Realistic deltas: short tokens, longer runs past the small-string buffer, escapes, non-ASCII.
const std::vector<std::string> kTexts = {"Hello",
                                         " there!",
                                         " Here is",
                                         " the \\\"answer\\\" you asked for:",
                                         "\\n\\n1. ",
                                         "The quick brown fox jumps over the lazy dog",
                                         " — déjà vu",
                                         " and 日本語 text,",
                                         " then a newline\\n"};

struct Stream {
  std::vector<std::pair<std::string, std::string>> events;  // event name, data
};

Stream anthropicStream() {
  Stream s;
  s.events.emplace_back(
      "message_start",
      R"({"type":"message_start","message":{"id":"msg_01MqGf6rX1s9cRzW1dN5Hj8m","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":1,"service_tier":"standard"}}})");
  s.events.emplace_back(
      "content_block_start",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
  s.events.emplace_back("ping", R"({"type":"ping"})");
  for (const auto& t : kTexts)
    s.events.emplace_back(
        "content_block_delta",
        R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")" + t +
            R"("}})");
  s.events.emplace_back("content_block_stop", R"({"type":"content_block_stop","index":0})");
  s.events.emplace_back(
      "message_delta",
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":42}})");
  s.events.emplace_back("message_stop", R"({"type":"message_stop"})");
  return s;
}

Stream geminiStream() {
  Stream s;
  for (size_t i = 0; i < kTexts.size(); ++i) {
    const bool last = i + 1 == kTexts.size();
    std::string d = R"({"candidates": [{"content": {"parts": [{"text": ")" + kTexts[i] +
                    R"("}],"role": "model"})";
    if (last) d += R"(,"finishReason": "STOP")";
    d += R"(}],"usageMetadata": {"promptTokenCount": 8,)";
    if (last) d += R"("candidatesTokenCount": 42,)";
    d +=
        R"("totalTokenCount": 50,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 8}]},"modelVersion": "gemini-2.0-flash","responseId": "Gk3UaMjRKsK_1PIPxrSvqA0"})";
    s.events.emplace_back("", std::move(d));
  }
  return s;
}

Stream openAIStream() {
  const std::string head =
      R"({"id":"chatcmpl-C1sTrEaMtExT00000000000001","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_0392822090","choices":[)";
  Stream s;
  s.events.emplace_back(
      "",
      head +
          R"({"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null})");
  for (const auto& t : kTexts)
    s.events.emplace_back("", head + R"({"index":0,"delta":{"content":")" + t +
                                  R"("},"logprobs":null,"finish_reason":null}],"usage":null})");
  s.events.emplace_back(
      "", head + R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null})");
  s.events.emplace_back(
      "",
      head +
          R"(],"usage":{"prompt_tokens":9,"completion_tokens":42,"total_tokens":51,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}})");
  s.events.emplace_back("", "[DONE]");
  return s;
}

std::unique_ptr<providers::Provider> provider(const std::string& type, const std::string& url) {
  config::ProviderConfig c;
  c.name = type;
  c.type = type;
  c.base_url = url;
  c.api_key = "sk-bench";
  std::string why;
  return providers::makeProvider(c, &why);
}

void runStreams(benchmark::State& state, const providers::Provider& p, api::ClientApi client,
                const Stream& stream) {
  model::ChatRequest chat;
  chat.model = "bench-model";
  chat.stream = true;
  chat.include_usage = true;
  std::string out;
  size_t bytes = 0;
  for (auto _ : state) {
    out.clear();
    pipeline::StreamTranslator t(
        p.chatStreamDecoder(chat),
        api::chatStreamEncoder(client, providers::Operation::kChat, chat, "req_bench"));
    for (const auto& [name, data] : stream.events) {
      http::SseEvent ev;
      ev.event = name;
      ev.data = data;
      ev.has_data = true;
      if (!t.onEvent(ev, out)) state.SkipWithError("stream failed");
    }
    t.onEnd(out);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["events"] = static_cast<double>(stream.events.size());
  state.counters["out_bytes"] = static_cast<double>(bytes);
}

void BM_AnthropicToOpenAI(benchmark::State& state) {
  static const auto p = provider("anthropic", "http://upstream.test");
  static const Stream s = anthropicStream();
  runStreams(state, *p, api::ClientApi::kOpenAI, s);
}
BENCHMARK(BM_AnthropicToOpenAI);

void BM_GeminiToOpenAI(benchmark::State& state) {
  static const auto p = provider("gemini", "http://upstream.test/v1beta");
  static const Stream s = geminiStream();
  runStreams(state, *p, api::ClientApi::kOpenAI, s);
}
BENCHMARK(BM_GeminiToOpenAI);

void BM_OpenAIToAnthropic(benchmark::State& state) {
  static const auto p = provider("openai", "http://upstream.test/v1");
  static const Stream s = openAIStream();
  runStreams(state, *p, api::ClientApi::kAnthropic, s);
}
BENCHMARK(BM_OpenAIToAnthropic);

}  // namespace
}  // namespace kh

BENCHMARK_MAIN();
