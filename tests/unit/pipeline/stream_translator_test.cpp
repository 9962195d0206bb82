// The token shortcut of StreamTranslator: a text delta goes from the upstream's event into the
// client's as the upstream escaped it, without a canonical chunk. Each stream here is translated
// twice, with the shortcut and with decoders that never offer it, and the client must get the
// same events either way, whatever the text holds (escapes, \u sequences, raw UTF-8, empty text).

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/client_api.h"
#include "http/sse_parser.h"
#include "pipeline/stream_translator.h"
#include "providers/provider.h"

namespace kh::pipeline {
namespace {

namespace json = boost::json;

// Token texts as an upstream writes them inside its JSON strings.
const std::vector<std::string> kTokens = {
    "Hello",        " world",          " line\\nbreak",  " \\\"quoted\\\"", " caf\\u00e9",
    " caf\xc3\xa9", " \\ud83d\\ude00", " back\\\\slash", " slash\\/",       "",
    " tab\\there",  " plain text",     " more plain",    " \\u0041\\u0042", " end."};

// Forwards to a provider's decoder; `shortcut` false hides textDelta, so every event takes the
// general path. Counts the events the shortcut took.
class Decoder final : public providers::ChatStreamDecoder {
 public:
  Decoder(std::unique_ptr<providers::ChatStreamDecoder> inner, bool shortcut, int& taken)
      : inner_(std::move(inner)), shortcut_(shortcut), taken_(taken) {}
  core::Status feed(const http::SseEvent& event, model::ChunkBuffer& out) override {
    return inner_->feed(event, out);
  }
  bool textDelta(const http::SseEvent& event, model::TextDelta& out) override {
    if (!shortcut_ || !inner_->textDelta(event, out)) return false;
    ++taken_;
    return true;
  }
  void finish(model::ChunkBuffer& out) override { inner_->finish(out); }

 private:
  std::unique_ptr<providers::ChatStreamDecoder> inner_;
  bool shortcut_;
  int& taken_;
};

std::unique_ptr<providers::Provider> provider(const std::string& type, const std::string& url) {
  config::ProviderConfig c;
  c.name = type;
  c.type = type;
  c.base_url = url;
  c.api_key = "sk-test";
  c.max_tokens_default = 1024;
  std::string why;
  return providers::makeProvider(c, &why);
}

// Generated ids and timestamps differ between translators; all else must not.
void normalize(json::value& v) {
  if (v.is_object()) {
    for (auto& [k, x] : v.as_object()) {
      if (k == "created" || (k == "id" && x.is_string()))
        x = 0;
      else
        normalize(x);
    }
  } else if (v.is_array()) {
    for (auto& x : v.as_array()) normalize(x);
  }
}

// The client's stream as a list of events, JSON data parsed (so escapes written differently
// compare alike) and normalized.
std::vector<std::string> events(std::string_view sse) {
  std::vector<std::string> out;
  http::SseParser parser;
  auto onEvent = [&](const http::SseEvent& ev) {
    std::string e = "event=" + std::string(ev.event) + " data=";
    boost::system::error_code ec;
    json::value v = json::parse(ev.data, ec);
    if (ec) {
      e += ev.data;
    } else {
      normalize(v);
      e += json::serialize(v);
    }
    out.push_back(std::move(e));
  };
  parser.feed(sse, onEvent);
  parser.finish(onEvent);
  return out;
}

struct Translated {
  std::string out;
  int taken = 0;
};

Translated translate(const providers::Provider& p, api::ClientApi client, providers::Operation op,
                     std::string_view request, std::string_view upstream, bool shortcut) {
  Translated run;
  auto chat = api::parseChatRequest(client, op, request);
  EXPECT_TRUE(chat.ok());
  if (!chat.ok()) return run;
  StreamTranslator t(std::make_unique<Decoder>(p.chatStreamDecoder(*chat), shortcut, run.taken),
                     api::chatStreamEncoder(client, op, *chat, "req_test"));
  http::SseParser parser;
  bool open = true;
  auto onEvent = [&](const http::SseEvent& ev) {
    if (open) open = t.onEvent(ev, run.out);
  };
  parser.feed(upstream, onEvent);
  parser.finish(onEvent);
  if (open) t.onEnd(run.out);
  return run;
}

// Translates `upstream` with and without the shortcut: the client sees the same events, and the
// shortcut took at least `min_taken` of them. Twice, since the shortcut knows the shape of a
// token's event from the last one read on the thread.
void expectSameEvents(const providers::Provider& p, api::ClientApi client, providers::Operation op,
                      std::string_view request, std::string_view upstream, int min_taken) {
  for (int round = 0; round < 2; ++round) {
    const Translated general = translate(p, client, op, request, upstream, false);
    const Translated fast = translate(p, client, op, request, upstream, true);
    EXPECT_EQ(general.taken, 0);
    EXPECT_GE(fast.taken, min_taken) << "round " << round;
    EXPECT_EQ(events(fast.out), events(general.out)) << "round " << round << "\n" << fast.out;
  }
}

const std::string kOpenAIRequest =
    R"({"model":"m","messages":[{"role":"user","content":"Hi"}],"stream":true,)"
    R"("stream_options":{"include_usage":true}})";
const std::string kAnthropicRequest =
    R"({"model":"m","max_tokens":100,"messages":[{"role":"user","content":"Hi"}],"stream":true})";

std::string anthropicStream(std::string_view block_delta_event) {
  std::string s =
      "event: message_start\n"
      R"(data: {"type":"message_start","message":{"id":"msg_01Test","type":"message",)"
      R"("role":"assistant","model":"claude-test","content":[],"stop_reason":null,)"
      R"("stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}})"
      "\n\n"
      "event: content_block_start\n"
      R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
      "\n\n";
  for (const auto& t : kTokens) {
    s += block_delta_event;
    s += R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")";
    s += t + "\"}}\n\n";
  }
  s += "event: content_block_stop\n"
       R"(data: {"type":"content_block_stop","index":0})"
       "\n\n"
       // A tool's arguments, in deltas of the same shape but another type: not text.
       "event: content_block_start\n"
       R"(data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use",)"
       R"("id":"toolu_1","name":"lookup","input":{}}})"
       "\n\n";
  for (const char* part : {R"({\"q\")", R"(: \"caf\u00e9\")", R"(})"}) {
    s += block_delta_event;
    s += R"(data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",)";
    s += R"("partial_json":")" + std::string(part) + "\"}}\n\n";
  }
  s += "event: content_block_stop\n"
       R"(data: {"type":"content_block_stop","index":1})"
       "\n\n"
       "event: message_delta\n"
       R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
       R"("usage":{"output_tokens":15}})"
       "\n\n"
       "event: message_stop\n"
       R"(data: {"type":"message_stop"})"
       "\n\n";
  return s;
}

TEST(StreamTranslatorShortcut, AnthropicToOpenAI) {
  auto p = provider("anthropic", "http://upstream.test");
  ASSERT_NE(p, nullptr);
  // The first token is read whole (it teaches the shape); the empty one makes no chunk.
  const int tokens = static_cast<int>(kTokens.size());
  expectSameEvents(*p, api::ClientApi::kOpenAI, providers::Operation::kChat, kOpenAIRequest,
                   anthropicStream("event: content_block_delta\n"), tokens - 2);
  // Events named by their data alone.
  expectSameEvents(*p, api::ClientApi::kOpenAI, providers::Operation::kChat, kOpenAIRequest,
                   anthropicStream(""), tokens - 2);
}

TEST(StreamTranslatorShortcut, AnthropicToLegacyCompletions) {
  // The legacy completions stream has no shortcut of its own: the chunk goes the general way.
  auto p = provider("anthropic", "http://upstream.test");
  ASSERT_NE(p, nullptr);
  const std::string request = R"({"model":"m","prompt":"Hi","max_tokens":50,"stream":true})";
  expectSameEvents(*p, api::ClientApi::kOpenAI, providers::Operation::kCompletion, request,
                   anthropicStream("event: content_block_delta\n"), 1);
}

std::string geminiStream(bool usage_every_event, bool finish_event = true) {
  const std::string usage = R"("usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},)";
  std::string s;
  // An empty text first: the candidate is known before its role went out.
  std::vector<std::string> texts = kTokens;
  texts.insert(texts.begin(), std::string());
  for (const auto& t : texts) {
    s += R"(data: {"candidates": [{"content": {"parts": [{"text": ")" + t +
         R"("}],"role": "model"}}],)" + (usage_every_event ? usage : std::string()) +
         R"("modelVersion": "gemini-test","responseId": "resp1"})"
         "\r\n\r\n";
  }
  if (!finish_event) return s;
  s += R"(data: {"candidates": [{"content": {"parts": [{"text": " bye"}],"role": "model"},)"
       R"("finishReason": "STOP"}],"usageMetadata": {"promptTokenCount": 9,)"
       R"("candidatesTokenCount": 15,"totalTokenCount": 24},"modelVersion": "gemini-test",)"
       R"("responseId": "resp1"})"
       "\r\n\r\n";
  return s;
}

TEST(StreamTranslatorShortcut, GeminiToOpenAI) {
  auto p = provider("gemini", "http://upstream.test/v1beta");
  ASSERT_NE(p, nullptr);
  // The first text carries the role and is read whole; an empty text makes no chunk.
  const int tokens = static_cast<int>(kTokens.size());
  expectSameEvents(*p, api::ClientApi::kOpenAI, providers::Operation::kChat, kOpenAIRequest,
                   geminiStream(true), tokens - 2);
  expectSameEvents(*p, api::ClientApi::kOpenAI, providers::Operation::kChat, kOpenAIRequest,
                   geminiStream(false), tokens - 2);
}

std::string openAIChunk(std::string_view choice, std::string_view usage = "null") {
  return R"(data: {"id":"chatcmpl-test","object":"chat.completion.chunk","created":1700000000,)"
         R"("model":"gpt-test","system_fingerprint":"fp_1","choices":[)" +
         std::string(choice) + R"(],"usage":)" + std::string(usage) + "}\n\n";
}

std::string openAIStream(std::string_view usage_per_chunk) {
  std::string s = openAIChunk(
      R"({"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null})",
      usage_per_chunk);
  for (const auto& t : kTokens)
    s += openAIChunk(
        R"({"index":0,"delta":{"content":")" + t + R"("},"logprobs":null,"finish_reason":null})",
        usage_per_chunk);
  // A tool call between two runs of text: the text after it opens a new block, which the
  // shortcut leaves to the general path.
  s +=
      openAIChunk(R"({"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function",)"
                  R"("function":{"name":"lookup","arguments":"{\"q\":1}"}}]},"logprobs":null,)"
                  R"("finish_reason":null})",
                  usage_per_chunk);
  for (const auto& t : kTokens)
    s += openAIChunk(
        R"({"index":0,"delta":{"content":")" + t + R"("},"logprobs":null,"finish_reason":null})",
        usage_per_chunk);
  s += openAIChunk(R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"})",
                   usage_per_chunk);
  s += openAIChunk("", R"({"prompt_tokens":9,"completion_tokens":30,"total_tokens":39})");
  s += "data: [DONE]\n\n";
  return s;
}

TEST(StreamTranslatorShortcut, OpenAIToAnthropic) {
  auto p = provider("openai", "http://upstream.test/v1");
  ASSERT_NE(p, nullptr);
  const int tokens = static_cast<int>(kTokens.size());
  expectSameEvents(*p, api::ClientApi::kAnthropic, providers::Operation::kChat, kAnthropicRequest,
                   openAIStream("null"), 2 * tokens - 4);
}

TEST(StreamTranslatorShortcut, UsageInEveryChunkIsNotTaken) {
  // Servers that report usage in every chunk: those chunks carry more than text.
  auto p = provider("openai", "http://upstream.test/v1");
  ASSERT_NE(p, nullptr);
  expectSameEvents(*p, api::ClientApi::kAnthropic, providers::Operation::kChat, kAnthropicRequest,
                   openAIStream(R"({"prompt_tokens":9,"completion_tokens":1,"total_tokens":10})"),
                   0);
  const Translated fast = translate(
      *p, api::ClientApi::kAnthropic, providers::Operation::kChat, kAnthropicRequest,
      openAIStream(R"({"prompt_tokens":9,"completion_tokens":1,"total_tokens":10})"), true);
  EXPECT_EQ(fast.taken, 0);
}

TEST(StreamTranslatorShortcut, TextIsCopiedAsTheUpstreamEscapedIt) {
  auto p = provider("anthropic", "http://upstream.test");
  ASSERT_NE(p, nullptr);
  const Translated fast = translate(*p, api::ClientApi::kOpenAI, providers::Operation::kChat,
                                    kOpenAIRequest, anthropicStream(""), true);
  ASSERT_GT(fast.taken, 0);
  // Taken tokens keep the upstream's spelling; it decodes to the same text as the general
  // path's own escaping (checked above).
  EXPECT_NE(fast.out.find(R"("content":" \ud83d\ude00")"), std::string::npos) << fast.out;
  EXPECT_NE(fast.out.find(R"("content":" slash\/")"), std::string::npos) << fast.out;
}

// The chunk a taken text delta stands for, as text.
std::string describe(const model::ChatChunk& c) {
  // Not `created`: decoders that stamp the time when a stream starts may start a second apart.
  std::string d = c.id + "|" + c.model;
  for (const auto& ch : c.choices) {
    d += "|choice " + std::to_string(ch.index);
    if (ch.role) d += " role=" + std::string(model::toString(*ch.role));
    if (ch.content) d += " content=" + *ch.content;
    d += " tools=" + std::to_string(ch.tool_calls.size());
    for (const auto& t : ch.tool_calls) d += " " + t.id + "/" + t.name + "/" + t.arguments;
    d += " finish=" + std::string(model::toString(ch.finish_reason));
  }
  if (c.usage)
    d += "|usage " + std::to_string(c.usage->prompt_tokens) + "/" +
         std::to_string(c.usage->completion_tokens) + "/" + std::to_string(c.usage->cached_tokens) +
         "/" + std::to_string(c.usage->reasoning_tokens);
  return d;
}

std::vector<std::string> describe(const model::ChunkBuffer& chunks, std::string_view id) {
  std::vector<std::string> out;
  for (const auto& c : chunks) {
    model::ChatChunk copy = c;
    // Decoders that make up an id make up one each.
    if (!id.empty() && copy.id == id) copy.id = "<id>";
    out.push_back(describe(copy));
  }
  return out;
}

// Two decoders of one provider read the same events: one is offered each event through
// textDelta first, the other is fed them all. Every event the first takes must stand for exactly
// the chunks feed() gives the second, and both must end alike (usage included). Returns how many
// the shortcut took.
int expectTakenAsFed(const providers::Provider& p, api::ClientApi client, std::string_view request,
                     std::string_view upstream) {
  auto chat = api::parseChatRequest(client, providers::Operation::kChat, request);
  EXPECT_TRUE(chat.ok());
  if (!chat.ok()) return 0;
  auto fast = p.chatStreamDecoder(*chat);
  auto general = p.chatStreamDecoder(*chat);
  std::string fast_id, general_id;  // the id each decoder's chunks carry
  long long fast_created = 0;
  int taken = 0;
  http::SseParser parser;
  auto onEvent = [&](const http::SseEvent& ev) {
    model::ChunkBuffer want;
    ASSERT_TRUE(general->feed(ev, want).ok()) << ev.data;
    if (!want.empty()) general_id = want[0].id;
    model::ChunkBuffer got;
    if (model::TextDelta d; fast->textDelta(ev, d)) {
      ++taken;
      EXPECT_EQ(d.created, fast_created);
      got.add(d);
    } else {
      ASSERT_TRUE(fast->feed(ev, got).ok()) << ev.data;
    }
    if (!got.empty()) {
      fast_id = got[0].id;
      fast_created = got[0].created;
    }
    EXPECT_EQ(describe(got, fast_id), describe(want, general_id)) << ev.data;
  };
  parser.feed(upstream, onEvent);
  parser.finish(onEvent);
  model::ChunkBuffer want, got;
  general->finish(want);
  fast->finish(got);
  EXPECT_EQ(describe(got, fast_id), describe(want, general_id)) << "at the end";
  return taken;
}

TEST(StreamTranslatorShortcut, TakenEventsStandForWhatFeedGives) {
  auto anthropic = provider("anthropic", "http://upstream.test");
  auto gemini = provider("gemini", "http://upstream.test/v1beta");
  auto openai = provider("openai", "http://upstream.test/v1");
  ASSERT_TRUE(anthropic && gemini && openai);
  // Each stream twice: the second time the thread knows the shape of its events from the first,
  // even that of the stream's first event (and of its last).
  for (int round = 0; round < 2; ++round)
    EXPECT_GT(expectTakenAsFed(*anthropic, api::ClientApi::kOpenAI, kOpenAIRequest,
                               anthropicStream("event: content_block_delta\n")),
              0);
  for (bool usage : {true, false})
    for (bool finish : {true, false})
      for (int round = 0; round < 2; ++round)
        EXPECT_GT(expectTakenAsFed(*gemini, api::ClientApi::kOpenAI, kOpenAIRequest,
                                   geminiStream(usage, finish)),
                  0);
  for (int round = 0; round < 2; ++round)
    EXPECT_GT(expectTakenAsFed(*openai, api::ClientApi::kAnthropic, kAnthropicRequest,
                               openAIStream("null")),
              0);
  // A Gemini event's usage is the stream's latest: a taken event's counts it too.
  const std::string frame_head = R"(data: {"candidates": [{"content": {"parts": [{"text": ")";
  auto geminiEvent = [&](std::string_view text, int output_tokens) {
    return frame_head + std::string(text) +
           R"("}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 9,)"
           R"("candidatesTokenCount": )" +
           std::to_string(output_tokens) + R"(},"modelVersion": "gemini-test"})" + "\r\n\r\n";
  };
  const std::string call =
      R"(data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "lookup",)"
      R"("args": {"q": 1}}}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 9,)"
      R"("candidatesTokenCount": 7},"modelVersion": "gemini-test"})"
      "\r\n\r\n";
  EXPECT_EQ(expectTakenAsFed(*gemini, api::ClientApi::kOpenAI, kOpenAIRequest,
                             geminiEvent("Hello", 2) + call + geminiEvent(" world", 2)),
            1);

  // OpenAI-style servers that name the role in every chunk: those chunks are not a token's alone.
  std::string roles;
  for (const auto& t : kTokens)
    roles += openAIChunk(R"({"index":0,"delta":{"role":"assistant","content":")" + t +
                         R"("},"logprobs":null,"finish_reason":null})");
  EXPECT_EQ(expectTakenAsFed(*openai, api::ClientApi::kAnthropic, kAnthropicRequest, roles), 0);
}

}  // namespace
}  // namespace kh::pipeline
