// The stream decoders read the events of every token with JsonScanner and all others with
// simdjson. These tests feed each event twice, once as sent and once with a leading member whose
// escaped key sends it down the general path (and which that path ignores), and require the same
// chunks, or the same error, both ways: from the golden streams and from events made to probe
// every member's null, wrong-typed, escaped, repeated and malformed forms.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "model/anthropic_codec.h"
#include "model/gemini_codec.h"
#include "model/openai_codec.h"
#include "support/random_edits.h"
#include "support/readings.h"

namespace kh::model {
namespace {

namespace fs = std::filesystem;

using Event = test_support::StreamEvent;

// The events of an SSE file, CRLF or LF framed.
std::vector<Event> readEvents(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<Event> events;
  Event e;
  bool any = false;
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (any) events.push_back(e);
      e = {};
      any = false;
    } else if (line.starts_with("event:")) {
      e.name = line.substr(line.find_first_not_of(' ', 6));
      any = true;
    } else if (line.starts_with("data:")) {
      const std::string value = line.size() > 5 && line[5] == ' ' ? line.substr(6) : line.substr(5);
      if (!e.data.empty()) e.data += '\n';
      e.data += value;
      any = true;
    }
  }
  if (any) events.push_back(e);
  return events;
}

// Feeds `events` to two fresh decoders, as sent and for the general reading, and compares.
void expectAlike(const std::vector<Event>& events, test_support::Wire wire,
                 const std::string& where) {
  EXPECT_EQ(test_support::compareStreamReadings(wire, events), "") << where;
}

std::vector<fs::path> goldenStreams(std::string_view provider) {
  std::vector<fs::path> files;
  for (const auto& dir : fs::directory_iterator(fs::path(KH_TEST_DATA_DIR) / "golden" / provider))
    if (fs::exists(dir.path() / "upstream_response.sse"))
      files.push_back(dir.path() / "upstream_response.sse");
  return files;
}

TEST(StreamEventReading, GoldenStreamsReadAlike) {
  int streams = 0;
  for (const auto& file : goldenStreams("openai")) {
    std::vector<Event> events = readEvents(file);
    std::erase_if(events, [](const Event& e) { return e.data == "[DONE]"; });
    expectAlike(events, test_support::Wire::kOpenAI, file.string());
    ++streams;
  }
  for (const auto& file : goldenStreams("anthropic")) {
    expectAlike(readEvents(file), test_support::Wire::kAnthropic, file.string());
    ++streams;
  }
  for (const auto& file : goldenStreams("gemini")) {
    expectAlike(readEvents(file), test_support::Wire::kGemini, file.string());
    ++streams;
  }
  EXPECT_GE(streams, 10);
}

TEST(StreamEventReading, OpenAIChunksReadAlike) {
  const std::vector<std::string> chunks = {
      R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]})",
      R"({"id":"c","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"caf\u00e9 \"q\"\n\ud83d\ude00 ü"},"finish_reason":null}]})",
      R"({"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null})",
      R"({"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"length"}]})",
      R"({"id":"c","choices":[{"index":0,"delta":{},"finish_reason":""}]})",
      R"({"id":"c","choices":[{"index":0,"delta":{},"finish_reason":7}]})",
      R"({"id":"c","choices":[{"index":1,"delta":{"content":"b"}},{"index":0,"delta":{"content":"a"}}]})",
      R"({"id":"c","choices":[{"delta":{"role":null,"content":null}}]})",
      R"({"id":"c","choices":[{"delta":{"role":"robot","content":5}}]})",
      R"({"id":"c","choices":[{"delta":{"role":"assistant"}}]})",
      R"({"id":"c","choices":[{"delta":{"role":"as\u0073istant"}}]})",
      R"({"id":"c","choices":[{"delta":"text"}]})",
      R"({"id":"c","choices":[{"index":null,"delta":{"content":"x"}}]})",
      R"({"id":"c","choices":[{"index":1.0,"delta":{"content":"x"}}]})",
      R"({"id":"c","choices":[1,{"delta":{"content":"x"}}]})",
      R"({"id":"c","choices":null})",
      R"({"id":"c","choices":{}})",
      R"({"id":"c","choices":[]})",
      R"({"id":5,"model":null,"created":null,"choices":[]})",
      R"({"id":"c","created":"soon","choices":[]})",
      R"({"id":"c","created":1.5,"choices":[]})",
      R"({"id":"a","id":"b","choices":[]})",
      R"({"id":"c","choices":[{"delta":{"content":"x"}}]})",
      R"({"id":"c","choices":[{"delta":{"content":"\u00e9 more"}}]})",
      R"({"id":"c","choices":[{"delta":{"content":""}}]})",
      R"({"id":"c","choices":[{"delta":{"content":"a","content":"b"}}]})",
      R"({"id":"c","choices":[{"delta":{"content":"\ud83d"}}]})",
      R"({"id":"c","choices":[{"delta":{"content": "spaced"}}]})",
      R"({"id":"c","choices":[{"delta":{"content":"y"}}],"id":"d"})",
      R"({"id":"c","choices":[{"delta":{"content":"z"}}],"model":"m2"})",
      R"({"id":"c","choices":)",
      R"({"id":"c","choices":[{"delta":{"content":"a","content":"b"}}]})",
      R"({"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{}"}}]}}]})",
      R"({"id":"c","choices":[{"delta":{"tool_calls":null,"content":"x"}}]})",
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})",
      R"({"id":"u","usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":1,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2}},"choices":[]})",
      R"({"id":"u","usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":1,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2}},"choices":[{"delta":{"content":"x"}}]})",
      R"({"id":"u","usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":1,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2}},"choices":[{"delta":{"content":"y"}}]})",
      R"({"id":"c","choices":[{"delta":{"content":"z"}}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":1,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2}}})",
      R"({"id":"c","choices":[{"delta":{"content":"w"}}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":1,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2}}})",
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":null,"completion_tokens":2,"prompt_tokens_details":null,"completion_tokens_details":5}})",
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":1.5}})",
      R"({"id":"c","choices":[],"usage":[]})",
      R"({"id":"c","choices":[],"usage":{"prompt_tokens_details":{"cached_tokens":1,"cached_tokens":2}}})",
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":1,"prompt_tokens":2}})",
      R"({"id":"c","choices":[],"usage":{"completion_tokens_details":{"reasoning_tokens":"many"}}})",
      R"({"error":{"message":"overloaded","type":"server_error"}})",
      R"({"error":null,"id":"c","choices":[]})",
      R"({"id":"c","choices":[{"delta":{"content":"\ud83d"}}]})",
      R"({"id":"c","choices":[{"delta":{"content":"x"}}]} trailing)",
      R"({"id":"c","choices":[{"delta":{"content":"x"}}])",
      R"({"id":"c","choices":[{"delta":{"content":"x"}}],})",
      R"({"id":"c","choices":[{"delta":{"content":"bad\x01"}}]})",
      R"([1,2])",
      R"("text")",
      R"({})",
      R"()",
  };
  std::vector<Event> events;
  for (const auto& c : chunks) events.push_back({"", c});
  expectAlike(events, test_support::Wire::kOpenAI, "OpenAI chunks");
}

TEST(StreamEventReading, AnthropicDeltasReadAlike) {
  const std::string start =
      R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"usage":{"input_tokens":5,"output_tokens":1}}})";
  const std::string tool_start =
      R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}})";
  const std::vector<std::string> deltas = {
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"caf\u00e9\n\"x\" ü"}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"more"},"extra":[1,{"a":null}]})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x","type":"other"}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"y"},"index":1})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":)",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"z"}}  )",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":null}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":3}})",
      R"({"type":"content_block_delta","index":0,"delta":{"text":"no type","type":"text_delta"}})",
      R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}})",
      R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Oslo\"}"}})",
      R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}})",
      R"({"type":"content_block_delta","index":7,"delta":{"type":"input_json_delta","partial_json":"{}"}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text\u005fdelta","text":"esc"}})",
      R"({"type":"content_block_delta","index":-1,"delta":{"type":"text_delta","text":"x"}})",
      R"({"type":"content_block_delta","index":5000,"delta":{"type":"text_delta","text":"x"}})",
      R"({"type":"content_block_delta","index":null,"delta":{"type":"text_delta","text":"x"}})",
      R"({"type":"content_block_delta","index":"0","delta":{"type":"text_delta","text":"x"}})",
      R"({"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}})",
      R"({"type":"content_block_delta","index":0,"delta":null})",
      R"({"type":"content_block_delta","index":0,"delta":[1]})",
      R"({"type":"content_block_delta","index":0})",
      R"({"type":"content_block_delta","type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","text":"b"}})",
      R"({"type":null,"index":0,"delta":{"type":"text_delta","text":"x"}})",
      R"({"index":0,"delta":{"type":"text_delta","text":"named by the event line"}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\udc00"}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"})",
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}})",
      R"({"type":"message_stop"})",
  };
  std::vector<Event> events = {{"message_start", start}, {"content_block_start", tool_start}};
  for (const auto& d : deltas) events.push_back({"content_block_delta", d});

  expectAlike(events, test_support::Wire::kAnthropic, "Anthropic events");
  // The events read by their type alone, under their own names and others.
  // The events read by their type alone, under their own names and others, in a stream not yet
  // stopped.
  std::vector<Event> bare = {{"message_start", start}};
  for (const Event& e : std::vector<Event>{
           {"content_block_stop", R"({"type":"content_block_stop","index":0})"},
           {"content_block_stop", R"({"type":"content_block_stop","index":0,"extra":[1,{}]})"},
           {"content_block_stop", R"({"type":"message_stop"})"},
           {"message_stop", R"({"type":"content_block_stop","index":1})"},
           {"message_stop", R"({"type":"message_delta","delta":{"stop_reason":"max_tokens"}})"},
           {"message_stop", R"({"type":"message_stop","type":"message_stop"})"},
           {"message_stop", R"({"type":"message\u005fstop"})"},
           {"message_stop", R"({"type":"message_stop")"},
           {"message_stop", R"({})"},
           {"message_stop", ""},
           {"message_stop", R"({"type":"message_stop"})"},
           {"message_stop", R"({"type":"message_stop"})"},
       })
    bare.push_back(e);
  expectAlike(bare, test_support::Wire::kAnthropic, "Anthropic events read by type");
}

// message_start, content_block_start and message_delta, each in a stream of its own that then
// stops, so that the usage and finish reason it left behind are compared too.
TEST(StreamEventReading, AnthropicLifecycleEventsReadAlike) {
  const std::vector<Event> variants = {
      {"message_start",
       R"({"type":"message_start","message":{"id":"msg_9","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":2,"cache_read_input_tokens":4,"output_tokens":1}}})"},
      {"message_start", R"({"type":"message_start","message":{"id":"msg_9","model":"m"}})"},
      {"message_start", R"({"type":"message_start","message":{"id":null,"model":5,"usage":null}})"},
      {"message_start", R"({"type":"message_start","message":{"usage":{"input_tokens":null}}})"},
      {"message_start", R"({"type":"message_start","message":{"usage":{"input_tokens":1.5}}})"},
      {"message_start", R"({"type":"message_start","message":{"usage":{"input_tokens":"3"}}})"},
      {"message_start", R"({"type":"message_start","message":{"usage":[]}})"},
      {"message_start",
       R"({"type":"message_start","message":{"usage":{"output_tokens":1,"output_tokens":2}}})"},
      {"message_start", R"({"type":"message_start","message":{"id":"a","id":"b"}})"},
      {"message_start", R"({"type":"message_start","message":{"id":"m\u0073g","model":"c"}})"},
      {"message_start", R"({"type":"message_start","message":null})"},
      {"message_start", R"({"type":"message_start","message":"msg"})"},
      {"message_start", R"({"type":"message_start"})"},
      {"message_start", R"({"message":{"id":"late"},"type":"message_start"})"},
      {"message_start",
       R"({"type":"message_start","message":{"id":"x"},"usage":{"input_tokens":7}})"},
      {"message_start", R"({"type":"message_start","message":{"id":"x"}} )"},
      {"message_start", R"({"type":"message_start","message":{"id":"x"})"},
      {"", R"({"type":"message_start","message":{"id":"unnamed","model":"c"}})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":"pre"}})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":"caf\u00e9"}})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":3,"content_block":{"type":"thinking","thinking":""}})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f","input":{"a":1}}})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":null,"content_block":{"type":"text","text":"x"}})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":"0","content_block":{"type":"text","text":"x"}})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":-1,"content_block":{"type":"text","text":"x"}})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":5000,"content_block":{"type":"text","text":"x"}})"},
      {"content_block_start", R"({"type":"content_block_start","index":0,"content_block":null})"},
      {"content_block_start", R"({"type":"content_block_start","index":0})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":0,"content_block":{"type":null,"text":"x"}})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":7}})"},
      {"message_delta",
       R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}})"},
      {"message_delta",
       R"({"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"input_tokens":12,"cache_read_input_tokens":4,"output_tokens":30}})"},
      {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":"tool_use"}})"},
      {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":null},"usage":null})"},
      {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":5},"usage":[]})"},
      {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":"e\u006ed_turn"}})"},
      {"message_delta", R"({"type":"message_delta","delta":null,"usage":{"output_tokens":2}})"},
      {"message_delta", R"({"type":"message_delta","usage":{"output_tokens":2.0}})"},
      {"message_delta",
       R"({"type":"message_delta","delta":{"stop_reason":"refusal"},"message":{}})"},
      {"message_delta", R"({"type":"message_delta","delta":{},"delta":{}})"},
      {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn"}]})"},
  };
  const std::string start =
      R"({"type":"message_start","message":{"id":"msg_1","model":"claude","usage":{"input_tokens":5,"output_tokens":1}}})";
  for (const Event& v : variants) {
    const std::vector<Event> events = {
        {"message_start", start},
        v,
        {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn"}})"},
        {"message_stop", R"({"type":"message_stop"})"}};
    expectAlike(events, test_support::Wire::kAnthropic, "Anthropic lifecycle event");
    if (HasFailure()) return;
  }
}

TEST(StreamEventReading, GeminiEventsReadAlike) {
  const std::vector<std::string>
      data =
          {
              R"({"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]},"modelVersion":"gemini-2.5-flash","responseId":"r1"})",
              R"({"candidates":[{"content":{"parts":[{"text":"lo"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]},"modelVersion":"gemini-2.5-flash","responseId":"r1"})",
              R"({"candidates":[{"content":{"parts":[{"text":"caf\u00e9\n\"q\""}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]},"modelVersion":"gemini-2.5-flash","responseId":"r1"})",
              R"({"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]},"modelVersion":"gemini-2.5-flash","responseId":"r1"})",
              R"({"candidates":[{"content":{"parts":[{"text":"\ud83d"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]},"modelVersion":"gemini-2.5-flash","responseId":"r1"})",
              R"({"candidates":[{"content":{"parts":[{"text":"a"},{"text":"b"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]},"modelVersion":"gemini-2.5-flash","responseId":"r1"})",
              R"({"candidates":[{"content":{"parts":[{"text":"a","thought":true}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]},"modelVersion":"gemini-2.5-flash","responseId":"r1"})",
              R"({"candidates":[{"content":{"parts":[{"text":"ü"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]},"modelVersion":"gemini-2.5-flash","responseId":"r1"})",
              R"({"candidates":[{"content":{"parts":[{"text": "spaced"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]},"modelVersion":"gemini-2.5-flash","responseId":"r1"})",
              R"({"candidates":[{"content":{"parts":[{"text":"x"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4,"promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]},"modelVersion":"gemini-2.5-flash","responseId":"r1"})",
              R"({"candidates":[{"content":{"parts":[{"text":"lo \u00e9\n"},{"text":"thinking","thought":true},{"text":" there"}],"role":"model"}}]})",
              R"({"candidates":[{"content":{"parts":[{"text":"x","thought":false}]},"index":0,"safetyRatings":[{"category":"HARM","probability":"NEGLIGIBLE"}]}]})",
              R"({"candidates":[{"content":{"parts":[{"text":"y","thought":"yes"}]}}]})",
              R"({"candidates":[{"content":{"parts":[{"text":null},{"text":4},{}]}}]})",
              R"({"candidates":[{"content":{"parts":"none"}}]})",
              R"({"candidates":[{"content":null,"finishReason":"STOP"}]})",
              R"({"candidates":[{"content":{"parts":[{"text":"z"}]},"finishReason":"MAX_TOKENS","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":9,"thoughtsTokenCount":2,"cachedContentTokenCount":1,"toolUsePromptTokenCount":4}})",
              R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"index":1}]})",
              R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"index":null}]})",
              R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":7}]})",
              R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"S\u0054OP"}]})",
              R"({"candidates":[{"content":{"parts":[{"text":"a"}]}},{"content":{"parts":[{"text":"b"}]},"index":1}]})",
              R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1.5}}}]}}]})",
              R"({"candidates":[{"content":{"parts":[{"text":"a","text":"b"}]}}]})",
              R"({"candidates":[],"promptFeedback":{"blockReason":"SAFETY"}})",
              R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":"3"}})",
              R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":null})",
              R"({"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":12}})",
              R"({"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}})",
              R"([{"error":{"code":500,"message":"boom","status":"INTERNAL"}}])",
              R"({"candidates":[{"content":{"parts":[{"text":"\ud83d"}]}}]})",
              R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}]])",
              R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}]}x)",
          };
  std::vector<Event> events;
  for (const auto& d : data) events.push_back({"", d});
  expectAlike(events, test_support::Wire::kGemini, "Gemini events");
}

// Events from each format's common shapes, most of them then edited at random (bytes dropped,
// added, changed), fed in runs so that the cached event of one is compared with the next.
TEST(StreamEventReading, RandomlyEditedEventsReadAlike) {
  const std::vector<std::string> openai = {
      R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})",
      R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hello \"there\"\n"},"logprobs":null,"finish_reason":null}],"usage":null})",
      R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})",
      R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":2}}})",
  };
  const std::vector<std::string> anthropic = {
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi \u00e9"}})",
      R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1"}})",
      R"({"type":"content_block_stop","index":0})",
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}})",
      R"({"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":12,"cache_read_input_tokens":4,"cache_creation_input_tokens":2,"output_tokens":1}}})",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
      R"({"type":"content_block_start","index":2,"content_block":{"type":"text","text":"pre"}})",
      R"({"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"input_tokens":12,"output_tokens":30,"cache_read_input_tokens":4}})",
  };
  const std::vector<std::string> gemini_events = {
      R"({"candidates": [{"content": {"parts": [{"text": "Hel\nlo"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 5,"totalTokenCount": 5},"modelVersion": "g","responseId": "r"})",
      R"({"candidates": [{"content": {"parts": [{"text": "done"}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 5,"candidatesTokenCount": 2,"thoughtsTokenCount": 1}})",
  };
  std::mt19937 rng(1122);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::string noise = "{}[]\",:\\ -+.eE019tfnulx\x01\x80\xc3\xa9";
  auto edited = [&](const std::string& base) {
    std::string doc = base;
    if (pick(3) != 0) test_support::editRandomly(doc, rng, noise, 1 + pick(2));
    return doc;
  };
  const std::vector<std::string> names = {"content_block_delta",
                                          "content_block_stop",
                                          "message_delta",
                                          "message_stop",
                                          "message_start",
                                          "content_block_start",
                                          ""};
  for (int run = 0; run < 30000; ++run) {
    std::vector<Event> o, a, g;
    std::vector<Event> start = {
        {"message_start",
         R"({"type":"message_start","message":{"id":"msg_1","model":"c","usage":{"input_tokens":3}}})"},
        {"content_block_start",
         R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}})"}};
    a = start;
    for (int i = 0; i < 12; ++i) {
      o.push_back({"", edited(openai[pick(openai.size())])});
      a.push_back({names[pick(names.size())], edited(anthropic[pick(anthropic.size())])});
      g.push_back({"", edited(gemini_events[pick(gemini_events.size())])});
    }
    a.push_back({"message_stop", R"({"type":"message_stop"})"});
    expectAlike(o, test_support::Wire::kOpenAI, "random OpenAI chunks");
    expectAlike(a, test_support::Wire::kAnthropic, "random Anthropic events");
    expectAlike(g, test_support::Wire::kGemini, "random Gemini events");
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace kh::model
