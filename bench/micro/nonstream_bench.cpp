// Micro-benchmarks of the translated non-stream path, the per-request work besides I/O: the
// client's body → canonical request → the upstream's body, and the upstream's answer → canonical
// → the client's answer, through the same functions the dispatch stage calls.
//
// Run as stream_bench.cpp says; each iteration is one request (or one answer), so the reported
// time is nanoseconds per request. Filter with --benchmark_filter=Request, =Inbound or =Answer.
// Inbound_* is the whole per-request body work of the parse and dispatch stages (inspectBody,
// then the rewrite or the translation), to set against Inbound_PassThrough.

#include <benchmark/benchmark.h>

#include <string>

#include "api/client_api.h"
#include "api/openai_body.h"
#include "providers/provider.h"

namespace kh {
namespace {

using providers::Operation;

// ~1 KB: a system prompt and four turns, the common shape of a chat request.
const std::string kOpenAIRequest = R"({
  "model": "bench-model",
  "messages": [
    {"role": "system", "content": "You are a helpful assistant. Answer concisely, cite sources when you can, and say \"I don't know\" when you are unsure."},
    {"role": "user", "content": "What is the capital of France, and what is it known for? Please keep it short."},
    {"role": "assistant", "content": "Paris. It is known for the Eiffel Tower, the Louvre, its cafés and its cuisine, and as a centre of art, fashion and culture since the 17th century."},
    {"role": "user", "content": "And what about Japan? Mention one dish too — something a visitor should try (日本語 is fine)."},
    {"role": "assistant", "content": "Tokyo. It is known for its mix of modern skyscrapers and old temples, its trains, and its food: try ramen or sushi at a small counter restaurant."}
  ],
  "temperature": 0.7,
  "max_tokens": 512,
  "top_p": 0.95,
  "stream": false,
  "user": "user-1234"
})";

const std::string kAnthropicRequest = R"({
  "model": "bench-model",
  "max_tokens": 512,
  "system": "You are a helpful assistant. Answer concisely, cite sources when you can, and say \"I don't know\" when you are unsure.",
  "messages": [
    {"role": "user", "content": "What is the capital of France, and what is it known for? Please keep it short."},
    {"role": "assistant", "content": [{"type": "text", "text": "Paris. It is known for the Eiffel Tower, the Louvre, its cafés and its cuisine, and as a centre of art, fashion and culture since the 17th century."}]},
    {"role": "user", "content": [{"type": "text", "text": "And what about Japan? Mention one dish too — something a visitor should try (日本語 is fine)."}]},
    {"role": "assistant", "content": "Tokyo. It is known for its mix of modern skyscrapers and old temples, its trains, and its food: try ramen or sushi at a small counter restaurant."}
  ],
  "temperature": 0.7,
  "top_p": 0.95,
  "metadata": {"user_id": "user-1234"}
})";

// A legacy completion: one prompt and the usual sampling fields.
const std::string kCompletionRequest = R"({
  "model": "bench-model",
  "prompt": "Write a short paragraph about Tokyo for a visitor: what it is known for, how to get around, and one dish to try. Keep it friendly and under a hundred words.",
  "max_tokens": 256,
  "temperature": 0.7,
  "top_p": 0.95,
  "stream": false,
  "user": "user-1234"
})";

// ~600 B answers as the providers send them.
const std::string kAnthropicAnswer =
    R"({"id":"msg_01MqGf6rX1s9cRzW1dN5Hj8m","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Tokyo is Japan's capital. Visitors should try ramen: a bowl of wheat noodles in a rich broth (often pork or soy based), topped with sliced pork, a soft egg and spring onions. Small counter shops serve it fast and cheap, and every region has its own style — \"Sapporo miso\", \"Hakata tonkotsu\", \"Tokyo shoyu\"."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":182,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":87,"service_tier":"standard"}})";

const std::string kGeminiAnswer = R"({
  "candidates": [
    {
      "content": {
        "parts": [
          {
            "text": "Tokyo is Japan's capital. Visitors should try ramen: a bowl of wheat noodles in a rich broth (often pork or soy based), topped with sliced pork, a soft egg and spring onions. Small counter shops serve it fast and cheap, and every region has its own style — \"Sapporo miso\", \"Hakata tonkotsu\", \"Tokyo shoyu\"."
          }
        ],
        "role": "model"
      },
      "finishReason": "STOP",
      "avgLogprobs": -0.2178
    }
  ],
  "usageMetadata": {
    "promptTokenCount": 182,
    "candidatesTokenCount": 87,
    "totalTokenCount": 269,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 182}]
  },
  "modelVersion": "gemini-2.0-flash",
  "responseId": "Gk3UaMjRKsK_1PIPxrSvqA0"
})";

const std::string kOpenAIAnswer =
    R"({"id":"chatcmpl-C1sTrEaMtExT00000000000001","object":"chat.completion","created":1741570283,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Tokyo is Japan's capital. Visitors should try ramen: a bowl of wheat noodles in a rich broth (often pork or soy based), topped with sliced pork, a soft egg and spring onions. Small counter shops serve it fast and cheap, and every region has its own style — \"Sapporo miso\", \"Hakata tonkotsu\", \"Tokyo shoyu\".","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":182,"completion_tokens":87,"total_tokens":269,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_0392822090"})";

std::unique_ptr<providers::Provider> provider(const std::string& type, const std::string& url) {
  config::ProviderConfig c;
  c.name = type;
  c.type = type;
  c.base_url = url;
  c.api_key = "sk-bench";
  std::string why;
  return providers::makeProvider(c, &why);
}

const providers::Provider& anthropic() {
  static const auto p = provider("anthropic", "http://upstream.test");
  return *p;
}
const providers::Provider& gemini() {
  static const auto p = provider("gemini", "http://upstream.test/v1beta");
  return *p;
}
const providers::Provider& openai() {
  static const auto p = provider("openai", "http://upstream.test/v1");
  return *p;
}

// The client's body parsed only: how much of a request the parse is.
void parseOnly(benchmark::State& state, api::ClientApi client, const std::string& body) {
  for (auto _ : state) {
    auto req = api::parseChatRequest(client, Operation::kChat, body);
    if (!req) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(req);
  }
}

// The client's body → the upstream request, as buildRequest does it.
void request(benchmark::State& state, api::ClientApi client, const std::string& body,
             const providers::Provider& p) {
  size_t bytes = 0;
  for (auto _ : state) {
    auto req = api::parseChatRequest(client, Operation::kChat, body);
    if (!req) {
      state.SkipWithError("parse failed");
      break;
    }
    req->model = "upstream-model";
    auto up = p.buildChat(*req);
    if (!up) {
      state.SkipWithError("build failed");
      break;
    }
    bytes = up->body.size();
    benchmark::DoNotOptimize(up);
  }
  state.counters["out_bytes"] = static_cast<double>(bytes);
}

// The body as the parse stage sees it: the request's own string, which inspectBody gives the
// padding simdjson wants; a real request moves such a body out of its HTTP message.
std::string bodyOf(const std::string& text) {
  std::string body = text;
  body.reserve(body.size() + 64);
  return body;
}

// inspectBody, then the body as the dispatch stage sends it to a provider of the same format.
void inboundPassThrough(benchmark::State& state, api::ClientApi client, const std::string& text) {
  std::string body = bodyOf(text);
  const bool messages = client == api::ClientApi::kAnthropic;
  for (auto _ : state) {
    auto info = api::inspectBody(body, Operation::kChat, messages);
    if (!info) {
      state.SkipWithError("inspect failed");
      break;
    }
    std::string out = api::rewriteBody(body, *info, "upstream-model", !messages);
    benchmark::DoNotOptimize(out.data());
  }
}

// inspectBody, then the body translated for a provider of another format.
void inboundTranslated(benchmark::State& state, api::ClientApi client, Operation op,
                       const std::string& text, const providers::Provider& p) {
  std::string body = bodyOf(text);
  const bool messages = client == api::ClientApi::kAnthropic;
  for (auto _ : state) {
    auto info = api::inspectBody(body, op, messages);
    if (!info) {
      state.SkipWithError("inspect failed");
      break;
    }
    auto req = api::parseChatRequest(client, op, body, &*info);
    if (!req) {
      state.SkipWithError("parse failed");
      break;
    }
    req->model = "upstream-model";
    auto up = p.buildChat(*req);
    if (!up) {
      state.SkipWithError("build failed");
      break;
    }
    benchmark::DoNotOptimize(up);
  }
}

// The upstream's answer → the client's answer, as translateAnswer does it.
void answer(benchmark::State& state, api::ClientApi client, const std::string& body,
            const providers::Provider& p) {
  model::ChatRequest chat;
  chat.model = "bench-model";
  size_t bytes = 0;
  for (auto _ : state) {
    auto resp = p.parseChat(body, chat);
    if (!resp) {
      state.SkipWithError("parse failed");
      break;
    }
    std::string out = api::renderChatResponse(client, Operation::kChat, *resp);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["out_bytes"] = static_cast<double>(bytes);
}

void BM_RequestParse_OpenAI(benchmark::State& s) {
  parseOnly(s, api::ClientApi::kOpenAI, kOpenAIRequest);
}
BENCHMARK(BM_RequestParse_OpenAI);

void BM_RequestParse_Anthropic(benchmark::State& s) {
  parseOnly(s, api::ClientApi::kAnthropic, kAnthropicRequest);
}
BENCHMARK(BM_RequestParse_Anthropic);

void BM_Request_OpenAIToAnthropic(benchmark::State& s) {
  request(s, api::ClientApi::kOpenAI, kOpenAIRequest, anthropic());
}
BENCHMARK(BM_Request_OpenAIToAnthropic);

void BM_Request_OpenAIToGemini(benchmark::State& s) {
  request(s, api::ClientApi::kOpenAI, kOpenAIRequest, gemini());
}
BENCHMARK(BM_Request_OpenAIToGemini);

void BM_Request_AnthropicToOpenAI(benchmark::State& s) {
  request(s, api::ClientApi::kAnthropic, kAnthropicRequest, openai());
}
BENCHMARK(BM_Request_AnthropicToOpenAI);

void BM_Inbound_PassThrough_OpenAI(benchmark::State& s) {
  inboundPassThrough(s, api::ClientApi::kOpenAI, kOpenAIRequest);
}
BENCHMARK(BM_Inbound_PassThrough_OpenAI);

void BM_Inbound_PassThrough_Anthropic(benchmark::State& s) {
  inboundPassThrough(s, api::ClientApi::kAnthropic, kAnthropicRequest);
}
BENCHMARK(BM_Inbound_PassThrough_Anthropic);

void BM_Inbound_OpenAIToAnthropic(benchmark::State& s) {
  inboundTranslated(s, api::ClientApi::kOpenAI, Operation::kChat, kOpenAIRequest, anthropic());
}
BENCHMARK(BM_Inbound_OpenAIToAnthropic);

void BM_Inbound_CompletionToAnthropic(benchmark::State& s) {
  inboundTranslated(s, api::ClientApi::kOpenAI, Operation::kCompletion, kCompletionRequest,
                    anthropic());
}
BENCHMARK(BM_Inbound_CompletionToAnthropic);

void BM_Inbound_AnthropicToOpenAI(benchmark::State& s) {
  inboundTranslated(s, api::ClientApi::kAnthropic, Operation::kChat, kAnthropicRequest, openai());
}
BENCHMARK(BM_Inbound_AnthropicToOpenAI);

void BM_Answer_AnthropicToOpenAI(benchmark::State& s) {
  answer(s, api::ClientApi::kOpenAI, kAnthropicAnswer, anthropic());
}
BENCHMARK(BM_Answer_AnthropicToOpenAI);

void BM_Answer_GeminiToOpenAI(benchmark::State& s) {
  answer(s, api::ClientApi::kOpenAI, kGeminiAnswer, gemini());
}
BENCHMARK(BM_Answer_GeminiToOpenAI);

void BM_Answer_OpenAIToAnthropic(benchmark::State& s) {
  answer(s, api::ClientApi::kAnthropic, kOpenAIAnswer, openai());
}
BENCHMARK(BM_Answer_OpenAIToAnthropic);

}  // namespace
}  // namespace kh
