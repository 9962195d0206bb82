// Whole answers are read by a scanning pass when they have the usual shape and by simdjson
// otherwise. These tests read each answer both ways (as sent, and with a leading member whose
// escaped key sends it down the general path, which ignores that member) and require the same
// response or the same error: the golden answers, the benchmark's, answers made to probe every
// member's null, wrong-typed, escaped, repeated and malformed forms, and randomly edited ones.

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
#include "read_file.h"
#include "support/random_edits.h"
#include "support/readings.h"

namespace kh::model {
namespace {

namespace fs = std::filesystem;

struct Format {
  const char* name;
  test_support::Wire wire;
};

const Format kAnthropic{"anthropic", test_support::Wire::kAnthropic};
const Format kOpenAI{"openai", test_support::Wire::kOpenAI};
const Format kGemini{"gemini", test_support::Wire::kGemini};

// Both readings of `body` alike; true when the scanning pass read it.
bool expectAlike(const Format& f, const std::string& body, const std::string& where) {
  const test_support::ResponseReading r = test_support::compareResponseReadings(f.wire, body);
  EXPECT_EQ(r.mismatch, "") << f.name << " " << where;
  return r.scanned;
}

using ::kh::test_support::readFile;

// The benchmark mock's answers, as it sends them (Gemini's pretty-printed, as Google's API does).
const std::string kBenchAnthropic =
    R"({"id":"msg_01BenchXq7Lm2Vw9Pz4Rt6Yk3N","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"A reverse proxy sits between clients and upstream servers."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":231,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":44,"service_tier":"standard"}})";
const std::string kBenchOpenAI =
    R"({"id":"chatcmpl-bench1","object":"chat.completion","created":1735689600,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_bench0001","choices":[{"index":0,"message":{"role":"assistant","content":"A reverse proxy sits between clients and upstream servers.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":231,"completion_tokens":44,"total_tokens":275,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}})";
const std::string kBenchGemini = R"({
  "candidates": [
    {
      "content": {
        "parts": [
          {
            "text": "A reverse proxy sits between clients and upstream servers."
          }
        ],
        "role": "model"
      },
      "finishReason": "STOP",
      "avgLogprobs": -0.10790280004342397
    }
  ],
  "usageMetadata": {
    "promptTokenCount": 231,
    "candidatesTokenCount": 44,
    "totalTokenCount": 275,
    "promptTokensDetails": [
      {
        "modality": "TEXT",
        "tokenCount": 231
      }
    ]
  },
  "modelVersion": "gemini-2.0-flash",
  "responseId": "bench0Gx2Yv8Kq4Lm7Nw3Pt5Rs"
}
)";

TEST(ResponseReading, UsualAnswersAreScanned) {
  EXPECT_TRUE(expectAlike(kAnthropic, kBenchAnthropic, "bench"));
  EXPECT_TRUE(expectAlike(kOpenAI, kBenchOpenAI, "bench"));
  EXPECT_TRUE(expectAlike(kGemini, kBenchGemini, "bench"));
}

TEST(ResponseReading, GoldenAnswersReadAlike) {
  // The golden "openai" cases are Anthropic clients served by OpenAI-format upstreams.
  int answers = 0, scanned = 0;
  for (const Format* f : {&kAnthropic, &kOpenAI, &kGemini}) {
    for (const auto& dir :
         fs::directory_iterator(fs::path(KH_TEST_DATA_DIR) / "golden" / f->name)) {
      const fs::path file = dir.path() / "upstream_response.json";
      if (!fs::exists(file)) continue;
      const std::string body = readFile(file);
      scanned += expectAlike(*f, body, file.string());
      ++answers;
    }
  }
  EXPECT_GE(answers, 30);
  // Most golden answers probe tools, errors and other shapes the scan leaves to simdjson; the
  // plain ones must still be scanned.
  EXPECT_GE(scanned, 8);
}

TEST(ResponseReading, AnthropicVariantsReadAlike) {
  const std::vector<std::string> bodies = {
      R"({"id":"m","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"a"},{"type":"text","text":"b \"q\"\n\u00e9"}],"stop_reason":"max_tokens","usage":{"input_tokens":3,"output_tokens":4,"cache_read_input_tokens":2,"cache_creation_input_tokens":1}})",
      R"({"id":"m","content":[],"stop_reason":"end_turn"})",
      R"({"id":"m","content":[{"type":"text"}]})",
      R"({"id":"m","content":[{"type":"text","text":null}]})",
      R"({"id":"m","content":[{"type":"text","text":5}]})",
      R"({"id":"m","content":[{"text":"late type","type":"text"}]})",
      R"({"id":"m","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"x"}]})",
      R"({"id":"m","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":1}}],"stop_reason":"tool_use"})",
      R"({"id":"m","content":[{"type":"te\u0078t","text":"x"}]})",
      R"({"id":"m","content":[{"type":"text","text":"a","text":"b"}]})",
      R"({"id":"m","content":[{"type":null,"text":"x"},1,null,"s",[]]})",
      R"({"id":"m","content":[{"type":"text","text":"\ud83d"}]})",
      R"({"id":"m","content":[{"type":"text","text":"\ud83d\ude00"}]})",
      R"({"id":"m","content":null})",
      R"({"id":"m","content":{}})",
      R"({"id":"m"})",
      R"({"id":null,"model":5,"content":[],"stop_reason":null,"usage":null})",
      R"({"id":"m\u0031","model":"c\"x","content":[]})",
      R"({"id":"a","id":"b","content":[]})",
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
      R"({"type":"err\u006fr","error":{"type":"overloaded_error","message":"Overloaded"},"content":[]})",
      R"({"type":5,"content":[]})",
      R"({"content":[],"stop_reason":"st\u006fp_sequence"})",
      R"({"content":[],"stop_reason":"refusal"})",
      R"({"content":[],"stop_reason":7})",
      R"({"content":[],"usage":{"input_tokens":null,"output_tokens":2}})",
      R"({"content":[],"usage":{"input_tokens":1.0}})",
      R"({"content":[],"usage":{"input_tokens":"3"}})",
      R"({"content":[],"usage":[]})",
      R"({"content":[],"usage":7})",
      R"({"content":[],"usage":{"output_tokens":1,"output_tokens":2}})",
      R"({"content":[],"usage":{"input_tokens":-4}})",
      R"({"content":[],"usage":{"input_tokens":12345678901234567890}})",
      R"({"content":[]} )",
      R"( {"content":[]})",
      R"({"content":[]}x)",
      R"({"content":[])",
      R"({"content":[],})",
      R"([{"content":[]}])",
      R"("message")",
      R"({})",
      R"()",
  };
  for (const std::string& b : bodies) expectAlike(kAnthropic, b, "variant");
}

TEST(ResponseReading, OpenAIVariantsReadAlike) {
  const std::vector<std::string> bodies = {
      R"({"id":"c","created":5,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi \"q\"\n\u00e9"},"finish_reason":"length"}]})",
      R"({"id":"c","choices":[{"index":1,"message":{"role":"assistant","content":"b"}},{"index":0,"message":{"role":"assistant","content":"a"}}]})",
      R"({"id":"c","choices":[{"message":{"role":"assistant","content":null,"refusal":"no"},"finish_reason":"stop"}]})",
      R"({"id":"c","choices":[{"message":{"role":"assistant","content":"x","refusal":5}}]})",
      R"({"id":"c","choices":[{"message":{"role":"assistant","content":"x","name":"n","tool_call_id":7}}]})",
      R"({"id":"c","choices":[{"message":{"role":"tool","content":"x"}}]})",
      R"({"id":"c","choices":[{"message":{"role":"tool","content":"x","tool_call_id":"t"}}]})",
      R"({"id":"c","choices":[{"message":{"role":"function","content":"x","name":"f"}}]})",
      R"({"id":"c","choices":[{"message":{"role":"robot","content":"x"}}]})",
      R"({"id":"c","choices":[{"message":{"role":"assi\u0073tant","content":"x"}}]})",
      R"({"id":"c","choices":[{"message":{"role":null,"content":"x"}}]})",
      R"({"id":"c","choices":[{"message":{"content":"x"}}]})",
      R"({"id":"c","choices":[{"message":{"role":"assistant","content":5}}]})",
      R"({"id":"c","choices":[{"message":{"role":"assistant","content":[{"type":"text","text":"parts"}]}}]})",
      R"({"id":"c","choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]})",
      R"({"id":"c","choices":[{"message":{"role":"assistant","content":"x","tool_calls":null,"function_call":null}}]})",
      R"({"id":"c","choices":[{"message":{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}}]})",
      R"({"id":"c","choices":[{"message":{"role":"assistant","content":"x","audio":{"id":"a","data":[1,{"b":null}]}}}]})",
      R"({"id":"c","choices":[{"message":null,"finish_reason":"stop"}]})",
      R"({"id":"c","choices":[{"message":"text"}]})",
      R"({"id":"c","choices":[{"message":{"role":"assistant","content":"a","content":"b"}}]})",
      R"({"id":"c","choices":[{"index":null,"message":{"role":"assistant","content":"x"}}]})",
      R"({"id":"c","choices":[{"index":"1","message":{"role":"assistant","content":"x"}}]})",
      R"({"id":"c","choices":[{"index":2.0,"message":{"role":"assistant","content":"x"}}]})",
      R"({"id":"c","choices":[{"finish_reason":"stop\u0000"}]})",
      R"({"id":"c","choices":[{"finish_reason":"content_filter"},{"finish_reason":""},{"finish_reason":7}]})",
      R"({"id":"c","choices":[{"finish_reason":"sto\u0070"}]})",
      R"({"id":"c","choices":[1,null,"x",{"index":3}]})",
      R"({"id":"c","choices":[]})",
      R"({"id":"c","choices":null})",
      R"({"id":"c","choices":{}})",
      R"({"id":"c"})",
      R"({"id":5,"model":null,"created":"soon","system_fingerprint":[],"choices":[]})",
      R"({"id":"c","created":1.5,"choices":[]})",
      R"({"id":"c","created":-3,"choices":[]})",
      R"({"id":"c","created":null,"choices":[]})",
      R"({"id":"a","id":"b","choices":[]})",
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":1},"completion_tokens_details":{"reasoning_tokens":2}}})",
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":null,"prompt_tokens_details":null,"completion_tokens_details":5}})",
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":1.5}})",
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":"3"}})",
      R"({"id":"c","choices":[],"usage":[]})",
      R"({"id":"c","choices":[],"usage":null})",
      R"({"id":"c","choices":[],"usage":{"prompt_tokens_details":{"cached_tokens":1,"cached_tokens":2}}})",
      R"({"error":{"message":"boom","type":"server_error"}})",
      R"({"id":"c","choices":[{"message":{"role":"assistant","content":"\udc00"}}]})",
      R"({"id":"c","choices":[]} )",
      R"({"id":"c","choices":[]}x)",
      R"({"id":"c","choices":[})",
      R"([1])",
      R"({})",
      R"()",
  };
  for (const std::string& b : bodies) expectAlike(kOpenAI, b, "variant");
}

TEST(ResponseReading, GeminiVariantsReadAlike) {
  const std::vector<std::string> bodies = {
      R"({"candidates":[{"content":{"parts":[{"text":"a"},{"text":" b \"q\"\n\u00e9"}],"role":"model"},"finishReason":"MAX_TOKENS","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":9,"thoughtsTokenCount":2,"cachedContentTokenCount":1,"toolUsePromptTokenCount":4},"modelVersion":"g","responseId":"r"})",
      R"({"candidates":[{"content":{"parts":[{"text":"a","thought":true},{"text":"b","thought":false},{"text":"c","thought":"yes"}]}}]})",
      R"({"candidates":[{"content":{"parts":[{"text":null},{"text":4},{},1,null]}}]})",
      R"({"candidates":[{"content":{"parts":"none"}},{"content":null},{"content":{"parts":[]}},{}]})",
      R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1}}}]}}]})",
      R"({"candidates":[{"content":{"parts":[{"text":"x","functionCall":null}]}}]})",
      R"({"candidates":[{"content":{"parts":[{"text":"a","text":"b"}]}}]})",
      R"({"candidates":[{"content":{"parts":[{"text":"\ud83d"}]}}]})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"SAFETY"},{"content":{"parts":[{"text":"b"}]},"finishReason":"RECITATION","index":1}]})",
      R"({"candidates":[1,{"content":{"parts":[{"text":"b"}]}}]})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"index":null}]})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"index":"2"}]})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"index":2.0}]})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":7}]})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"MAX\u005fTOKENS"}]})",
      R"({"candidates":[],"promptFeedback":{"blockReason":"SAFETY"}})",
      R"({"candidates":[]})",
      R"({"candidates":null})",
      R"({"candidates":{}})",
      R"({"usageMetadata":{"promptTokenCount":3}})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":"3"}})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":3.0}})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":null,"candidatesTokenCount":-2}})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":null})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":[]})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":1,"promptTokenCount":2}})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],"responseId":5,"modelVersion":null})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],"responseId":"r\u0031","modelVersion":""})",
      R"({"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}})",
      R"({"error":null,"candidates":[{"content":{"parts":[{"text":"a"}]}}]})",
      R"({"error":5,"candidates":[{"content":{"parts":[{"text":"a"}]}}]})",
      R"([{"error":{"code":500,"message":"boom","status":"INTERNAL"}}])",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}]]})",
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}]}x)",
      R"({})",
      R"()",
  };
  for (const std::string& b : bodies) expectAlike(kGemini, b, "variant");
}

// The usual answers of each format, most of them then edited at random (bytes dropped, added,
// changed).
TEST(ResponseReading, RandomlyEditedAnswersReadAlike) {
  const std::vector<std::pair<const Format*, std::string>> bases = {
      {&kAnthropic, kBenchAnthropic},
      {&kAnthropic,
       R"({"id":"m","type":"message","content":[{"type":"text","text":"Hi \u00e9"},{"type":"text","text":"x"}],"stop_reason":"stop_sequence","usage":{"input_tokens":3,"cache_read_input_tokens":2,"output_tokens":1}})"},
      {&kOpenAI, kBenchOpenAI},
      {&kOpenAI,
       R"({"id":"c","created":1,"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"no \"x\""},"finish_reason":"stop"},{"index":1,"message":{"role":"assistant","content":"y"},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":2}})"},
      {&kGemini, kBenchGemini},
      {&kGemini,
       R"({"candidates":[{"content":{"parts":[{"text":"a","thought":true},{"text":"b\n"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":9,"thoughtsTokenCount":2},"responseId":"r"})"},
  };
  std::mt19937 rng(2211);
  const std::string noise = "{}[]\",:\\ -+.eE019tfnulx\x01\x80\xc3\xa9";
  int scanned = 0;
  for (int run = 0; run < 20000; ++run) {
    const auto& [format, base] = bases[rng() % bases.size()];
    std::string body = base;
    if (rng() % 4 != 0) test_support::editRandomly(body, rng, noise, 1 + rng() % 2);
    scanned += expectAlike(*format, body, "random edit");
    if (HasFailure()) return;
  }
  // The unedited quarter and edits inside text leave many scanned.
  EXPECT_GE(scanned, 5000);
}

}  // namespace
}  // namespace kh::model
