// The usual OpenAI chat body, all of whose messages are text, is translated for Anthropic and
// Gemini without its canonical messages: readOpenAIChatAsText reads every other member and keeps
// each message's text as it stands in the body, and the text writers copy that text. These tests
// require that path to give what the general path gives (simdjson's document, the canonical
// request, the general writers): the same members, and byte for byte the same upstream body, or
// else to leave the body to the general path. Bodies: the benchmark's, the golden OpenAI-client
// requests, bodies made to probe each member's forms, and randomly edited ones.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "model/anthropic_codec.h"
#include "model/gemini_codec.h"
#include "model/json_dom.h"
#include "model/openai_codec.h"
#include "read_file.h"
#include "support/random_edits.h"
#include "support/readings.h"

namespace kh::model {
namespace {

namespace fs = std::filesystem;

using Outcome = test_support::TextRequestReading;

// Both paths for `raw`, which must agree; what the text path took.
Outcome expectAlike(test_support::Wire client, const std::string& raw, const std::string& where) {
  Outcome o = test_support::compareTextRequestReadings(client, raw);
  EXPECT_EQ(o.mismatch, "") << where;
  return o;
}

Outcome expectAlike(const std::string& raw, const std::string& where) {
  return expectAlike(test_support::Wire::kOpenAI, raw, where);
}

using ::kh::test_support::readFile;

// The benchmark's translated request (bench/run.sh).
const std::string kBench =
    R"({"model":"claude-bench","messages":[{"role":"system","content":"You are a concise assistant for an infrastructure team. Answer in plain English, prefer short paragraphs, and mention trade-offs when they matter. When you are unsure, say so and suggest how to measure it instead of guessing."},{"role":"user","content":"We run several language model providers behind one endpoint. What does a gateway in front of them actually do on every request?"},{"role":"assistant","content":"It authenticates the caller, resolves the requested model to a provider, forwards the request over a pooled connection, and records usage such as tokens, latency and cost."},{"role":"user","content":"And how is that different from an ordinary reverse proxy like nginx? Please keep the answer under one hundred words and focus on the extra work per request, because we care about latency and CPU cost at high request rates."}],"temperature":0.2,"max_tokens":256,"stream":true,"stream_options":{"include_usage":true}})";

TEST(TextRequest, UsualBodiesAreReadAsText) {
  const Outcome bench = expectAlike(kBench, "bench");
  EXPECT_TRUE(bench.read && bench.anthropic_text && bench.gemini_text);
  const Outcome pretty = expectAlike(
      "{\n  \"model\": \"m\",\n  \"messages\": [\n    {\"role\": \"user\", \"content\": \"hi\"}\n  "
      "]\n}\n",
      "pretty");
  EXPECT_TRUE(pretty.read && pretty.anthropic_text && pretty.gemini_text);
}

// The client requests of the golden chat cases of `providers` sent by `client` ("openai" or
// "anthropic").
std::vector<fs::path> goldenChatRequests(std::initializer_list<const char*> providers,
                                         std::string_view client) {
  const std::string client_line = "\"client\": \"" + std::string(client) + "\"";
  std::vector<fs::path> files;
  for (const char* provider : providers) {
    for (const auto& dir :
         fs::directory_iterator(fs::path(KH_TEST_DATA_DIR) / "golden" / provider)) {
      const fs::path file = dir.path() / "request.json";
      const std::string meta = readFile(dir.path() / "case.json");
      if (fs::exists(file) && meta.find("\"operation\": \"chat\"") != std::string::npos &&
          meta.find(client_line) != std::string::npos)
        files.push_back(file);
    }
  }
  return files;
}

TEST(TextRequest, GoldenRequestsReadAlike) {
  int requests = 0, read = 0;
  for (const fs::path& file : goldenChatRequests({"anthropic", "gemini"}, "openai")) {
    read += expectAlike(readFile(file), file.string()).read;
    ++requests;
  }
  EXPECT_GE(requests, 30);
  // Most golden requests probe tools, images and formats the text path leaves alone; the plain
  // ones must still be read.
  EXPECT_GE(read, 5);
}

TEST(TextRequest, VariantsReadAlike) {
  const std::vector<std::string> bodies = {
      // Text and its escapes: those appendJsonString writes are copied, others are not.
      R"({"model":"m","messages":[{"role":"user","content":"a \"q\" \\ \n\t\r\b\f \u0001 \u001f é 😀"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"\u00e9"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"a\/b"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"\u000A"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"\u000a"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"\u001F"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"\u0022"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"\ud83d\ude00"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"\ud83d"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"\x"}]})",
      // Roles, merging and empty texts.
      R"({"model":"m","messages":[{"role":"system","content":"s1"},{"role":"developer","content":"s2"},{"role":"system","content":""},{"role":"user","content":"u1"},{"role":"user","content":"u2"},{"role":"assistant","content":""},{"role":"user","content":"u3"},{"role":"assistant","content":"a1"},{"role":"assistant","content":"a2"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"u"},{"role":"system","content":"late system"},{"role":"user","content":"v"}]})",
      R"({"model":"m","messages":[{"role":"system","content":"only system"}]})",
      R"({"model":"m","messages":[{"role":"user","content":""}]})",
      R"({"model":"m","messages":[]})",
      R"({"model":"m","messages":[{"role":"user","content":null},{"role":"assistant","content":"a"}]})",
      R"({"model":"m","messages":[{"role":"user"}]})",
      R"({"model":"m","messages":[{"content":"no role"}]})",
      R"({"model":"m","messages":[{"role":null,"content":"x"}]})",
      R"({"model":"m","messages":[{"role":"robot","content":"x"}]})",
      R"({"model":"m","messages":[{"role":"us\u0065r","content":"x"}]})",
      R"({"model":"m","messages":[{"role":"tool","content":"x","tool_call_id":"t"}]})",
      R"({"model":"m","messages":[{"role":"function","content":"x","name":"f"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"x","name":"ann"},{"role":"assistant","content":"y","name":5,"tool_call_id":"t"}]})",
      R"({"model":"m","messages":[{"role":"assistant","content":null,"refusal":"no"}]})",
      R"({"model":"m","messages":[{"role":"assistant","content":"x","refusal":null,"tool_calls":null,"function_call":null}]})",
      R"({"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]})",
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"parts"}]}]})",
      R"({"model":"m","messages":[{"role":"user","content":5}]})",
      R"({"model":"m","messages":[{"role":"user","content":"a","content":"b"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"x","extra":{"a":[1,{"b":null}]}}]})",
      R"({"model":"m","messages":[{"role":"user","content":"x","con\u0074ent":"y"}]})",
      R"({"model":"m","messages":["text",null]})",
      R"({"model":"m","messages":null})",
      R"({"model":"m","messages":{}})",
      R"({"model":"m"})",
      // Members other than the messages.
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1.5,"top_p":0.25,"top_k":40,"max_tokens":10,"max_completion_tokens":20,"n":1,"seed":42,"stop":["a","\n"],"stream":false,"parallel_tool_calls":true,"presence_penalty":0.5,"frequency_penalty":2,"user":"u-1"})",
      R"({"max_completion_tokens":20,"max_tokens":10,"model":"m","messages":[{"role":"user","content":"x"}]})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":10})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":2,"top_p":1,"top_k":0})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.30000000000000004})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.1234567890123456789})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1e0})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":2.5})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":-0.0})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"0.2"})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"presence_penalty":-1.5})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":100.0})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":12345678901234567890})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":2})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":129})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"seed":-7})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"top_k":-1})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":"end"})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":[]})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":[5]})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":null})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":"yes","other":[1]}})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":false}})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true,"include_usage":false}})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":5})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"user":7})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"user":null,"temperature":null,"stop":null})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[]})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"none"})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"metadata":{"a":"b"}})",
      R"({"model":"m","messages":[{"role":"user","content":"x"}],"user_preferences":{}})",
      R"({"model":"m","model":"n","messages":[{"role":"user","content":"x"}]})",
      R"({"model":"m\u0031","messages":[{"role":"user","content":"x"}]})",
      R"({"model":5,"messages":[{"role":"user","content":"x"}]})",
      R"({"model":null,"messages":[{"role":"user","content":"x"}]})",
      R"({"messages":[{"role":"user","content":"x"}]})",
      // Nesting at and past the gateway's limit, in a member the text path skips.
      R"({"model":"m","messages":[{"role":"user","content":"x","deep":)" + std::string(29, '[') +
          std::string(29, ']') + "}]}",
      R"({"model":"m","messages":[{"role":"user","content":"x","deep":)" + std::string(30, '[') +
          std::string(30, ']') + "}]}",
      // Not a body.
      R"({"model":"m","messages":[{"role":"user","content":"x"}]} )",
      R"({"model":"m","messages":[{"role":"user","content":"x"}]}x)",
      R"({"model":"m","messages":[{"role":"user","content":"x"}])",
      R"({"model":"m","messages":[{"role":"user","content":"x"},]})",
      R"([{"model":"m"}])",
      R"({})",
      R"()",
  };
  int read = 0;
  for (const std::string& b : bodies) read += expectAlike(b, "variant").read;
  EXPECT_GE(read, 20);
}

TEST(TextRequest, RandomlyEditedBodiesReadAlike) {
  const std::vector<std::string> bases = {
      kBench,
      R"({"model":"m","messages":[{"role":"system","content":"s \"x\"\n"},{"role":"user","content":"u1 é"},{"role":"user","content":"u2"},{"role":"assistant","content":"a"}],"stop":["\n"],"top_p":0.5,"n":1,"user":"me"})",
  };
  std::mt19937 rng(4242);
  const std::string noise = "{}[]\",:\\ -+.eE019tfnulx\x01\x80\xc3\xa9";
  int read = 0;
  for (int run = 0; run < 20000; ++run) {
    std::string body = bases[rng() % bases.size()];
    if (rng() % 4 != 0) test_support::editRandomly(body, rng, noise, 1 + rng() % 2);
    read += expectAlike(body, "random edit").read;
    if (HasFailure()) return;
  }
  EXPECT_GE(read, 5000);
}

// The benchmark's Anthropic-client request (bench/run.sh).
const std::string kAnthropicBench =
    R"({"model":"gpt-bench","max_tokens":256,"system":"You are a concise assistant for an infrastructure team. Answer in plain English, prefer short paragraphs, and mention trade-offs when they matter. When you are unsure, say so and suggest how to measure it instead of guessing.","messages":[{"role":"user","content":"We run several language model providers behind one endpoint. What does a gateway in front of them actually do on every request?"},{"role":"assistant","content":"It authenticates the caller, resolves the requested model to a provider, forwards the request over a pooled connection, and records usage such as tokens, latency and cost."},{"role":"user","content":"And how is that different from an ordinary reverse proxy like nginx? Please keep the answer under one hundred words and focus on the extra work per request, because we care about latency and CPU cost at high request rates."}],"temperature":0.2,"stream":true})";

Outcome expectAnthropicAlike(const std::string& raw, const std::string& where) {
  return expectAlike(test_support::Wire::kAnthropic, raw, where);
}

TEST(TextRequest, UsualAnthropicBodiesAreReadAsText) {
  const Outcome bench = expectAnthropicAlike(kAnthropicBench, "bench");
  EXPECT_TRUE(bench.read && bench.openai_text && bench.gemini_text);
  const Outcome pretty = expectAnthropicAlike(
      "{\n  \"model\": \"m\",\n  \"max_tokens\": 5,\n  \"messages\": [\n    {\"role\": \"user\", "
      "\"content\": \"hi\"}\n  ]\n}\n",
      "pretty");
  EXPECT_TRUE(pretty.read && pretty.openai_text);
}

TEST(TextRequest, GoldenAnthropicRequestsReadAlike) {
  int requests = 0, read = 0;
  for (const fs::path& file : goldenChatRequests({"openai", "gemini"}, "anthropic")) {
    read += expectAnthropicAlike(readFile(file), file.string()).read;
    ++requests;
  }
  EXPECT_GE(requests, 10);
  EXPECT_GE(read, 1);
}

TEST(TextRequest, AnthropicVariantsReadAlike) {
  const std::string turn = R"("messages":[{"role":"user","content":"x"}])";
  const std::string head = R"({"model":"m","max_tokens":9,)";
  const std::vector<std::string> bodies = {
      // Text and its escapes: those appendJsonString writes are copied, others are not.
      head + R"("messages":[{"role":"user","content":"a \"q\" \\ \n\t\r\b\f \u0001 \u001f é 😀"}]})",
      head + R"("messages":[{"role":"user","content":"\u00e9"}]})",
      head + R"("messages":[{"role":"user","content":"a\/b"}]})",
      head + R"("messages":[{"role":"user","content":"\u000a"}]})",
      head + R"("system":"\u000a",)" + turn + "}",
      head + R"("system":"s \"x\"\n",)" + turn + "}",
      // Roles, merging, empty texts and the system prompt's places.
      head +
          R"("messages":[{"role":"system","content":"s1"},{"role":"user","content":"u1"},{"role":"user","content":"u2"},{"role":"assistant","content":""},{"role":"user","content":"u3"},{"role":"assistant","content":"a1"},{"role":"assistant","content":"a2"},{"role":"system","content":""}]})",
      head + turn + R"(,"system":"after the messages"})",
      head + R"("system":"",)" + turn + "}",
      head + R"("system":null,)" + turn + "}",
      head + R"("system":[{"type":"text","text":"blocks"}],)" + turn + "}",
      head + R"("system":5,)" + turn + "}",
      head + R"("messages":[{"role":"system","content":"only system"}]})",
      head + R"("messages":[{"role":"user","content":""}]})",
      head + R"("messages":[]})",
      head + R"("messages":[{"role":"user","content":null}]})",
      head + R"("messages":[{"role":"user"}]})",
      head + R"("messages":[{"content":"no role"}]})",
      head + R"("messages":[{"role":null,"content":"x"}]})",
      head + R"("messages":[{"role":"robot","content":"x"}]})",
      head + R"("messages":[{"role":"developer","content":"x"}]})",
      head + R"("messages":[{"role":"us\u0065r","content":"x"}]})",
      head + R"("messages":[{"role":"user","content":[{"type":"text","text":"blocks"}]}]})",
      head + R"("messages":[{"role":"user","content":5}]})",
      head + R"("messages":[{"role":"user","content":"a","content":"b"}]})",
      head +
          R"("messages":[{"role":"user","content":"x","name":"n","extra":{"a":[1,{"b":null}]}}]})",
      head + R"("messages":[{"role":"user","content":"x","con\u0074ent":"y"}]})",
      head + R"("messages":["text",null]})",
      head + R"("messages":null})",
      head + R"("messages":{}})",
      R"({"model":"m","max_tokens":9})",
      // Members other than the messages.
      head + turn +
          R"(,"temperature":0.5,"top_p":0.25,"top_k":40,"stop_sequences":["a","\n"],"stream":false,"metadata":{"user_id":"u-1","other":[1]}})",
      head + turn + R"(,"temperature":1,"top_p":0,"top_k":0})",
      head + turn + R"(,"temperature":1.5})",
      head + turn + R"(,"temperature":-0.5})",
      head + turn + R"(,"temperature":1e-1})",
      head + turn + R"(,"temperature":"0.2"})",
      head + turn + R"(,"top_k":-1})",
      head + turn + R"(,"top_k":4.0})",
      head + turn + R"(,"stop_sequences":[]})",
      head + turn + R"(,"stop_sequences":"end"})",
      head + turn + R"(,"stop_sequences":[5]})",
      head + turn + R"(,"stream":true})",
      head + turn + R"(,"stream":"yes"})",
      head + turn + R"(,"stream":null,"temperature":null,"stop_sequences":null,"metadata":null})",
      head + turn + R"(,"metadata":{"user_id":null}})",
      head + turn + R"(,"metadata":{"user_id":7}})",
      head + turn + R"(,"metadata":{"user_id":"a","user_id":"b"}})",
      head + turn + R"(,"metadata":[]})",
      head + turn + R"(,"tools":[]})",
      head + turn + R"(,"tools":null,"tool_choice":null})",
      head + turn + R"(,"output_config":{"format":{"type":"json_schema","schema":{}}}})",
      head + turn + R"(,"output_format":null})",
      head + turn + R"(,"thinking":{"type":"enabled","budget_tokens":1024},"service_tier":"auto"})",
      head + turn + R"(,"stream_options":{"include_usage":true}})",
      head + turn + R"(,"user_preferences":{}})",
      R"({"model":"m",)" + turn + "}",
      R"({"model":"m","max_tokens":null,)" + turn + "}",
      R"({"model":"m","max_tokens":0,)" + turn + "}",
      R"({"model":"m","max_tokens":100.0,)" + turn + "}",
      R"({"model":"m","max_tokens":"9",)" + turn + "}",
      R"({"model":"m","max_tokens":1,"max_tokens":2,)" + turn + "}",
      R"({"max_tokens":9,)" + turn + "}",
      R"({"model":"m","model":"n","max_tokens":9,)" + turn + "}",
      R"({"model":"m\u0031","max_tokens":9,)" + turn + "}",
      R"({"model":5,"max_tokens":9,)" + turn + "}",
      // Nesting at and past the gateway's limit, in a member the text path skips.
      head + turn + R"(,"deep":)" + std::string(30, '[') + std::string(30, ']') + "}",
      head + turn + R"(,"deep":)" + std::string(31, '[') + std::string(31, ']') + "}",
      // Not a body.
      head + turn + "} ",
      head + turn + "}x",
      head + turn,
      head + turn + ",}",
  };
  int read = 0;
  for (const std::string& b : bodies) read += expectAnthropicAlike(b, "variant").read;
  EXPECT_GE(read, 20);
}

TEST(TextRequest, RandomlyEditedAnthropicBodiesReadAlike) {
  const std::vector<std::string> bases = {
      kAnthropicBench,
      R"({"model":"m","max_tokens":9,"messages":[{"role":"system","content":"s \"x\"\n"},{"role":"user","content":"u1 é"},{"role":"user","content":"u2"},{"role":"assistant","content":"a"}],"stop_sequences":["\n"],"top_p":0.5,"top_k":3,"metadata":{"user_id":"me"},"system":"sys"})",
  };
  std::mt19937 rng(4343);
  const std::string noise = "{}[]\",:\\ -+.eE019tfnulx\x01\x80\xc3\xa9";
  int read = 0;
  for (int run = 0; run < 20000; ++run) {
    std::string body = bases[rng() % bases.size()];
    if (rng() % 4 != 0) test_support::editRandomly(body, rng, noise, 1 + rng() % 2);
    read += expectAnthropicAlike(body, "random edit").read;
    if (HasFailure()) return;
  }
  EXPECT_GE(read, 5000);
}

}  // namespace
}  // namespace kh::model
