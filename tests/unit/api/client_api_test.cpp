#include "api/client_api.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace kh::api {
namespace {

namespace json = boost::json;
using providers::Operation;

bool defaultStorage(const json::value& v) {
  return v.storage().get() == json::storage_ptr().get();
}

// The client's body is parsed into a per-thread arena that the next request reuses; the JSON the
// canonical request keeps must not point into it. Requests are parsed one after another on the
// same thread, so a value left in the arena would read the second body's bytes.
TEST(ClientApi, CanonicalRequestKeepsNoArenaMemory) {
  auto openai = parseChatRequest(ClientApi::kOpenAI, Operation::kChat, R"({
    "model":"m","messages":[{"role":"user","content":"hi"}],
    "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object",
      "properties":{"q":{"type":"string","description":"the query, long enough to allocate"}}}}}],
    "response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object",
      "properties":{"a":{"type":"array","items":{"type":"string"}}}}}},
    "logit_bias":{"50256":-100},"metadata":{"k":"a value long enough to allocate"}})");
  ASSERT_TRUE(openai);
  auto anthropic = parseChatRequest(ClientApi::kAnthropic, Operation::kChat, R"({
    "model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],
    "tools":[{"name":"g","input_schema":{"type":"object","properties":{"x":{"type":"number"}}}}],
    "output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{}}}}})");
  ASSERT_TRUE(anthropic);
  auto completion = parseChatRequest(ClientApi::kOpenAI, Operation::kCompletion,
                                     R"({"model":"m","prompt":"p","logit_bias":{"1":2},
                                        "metadata":{"k":"a value long enough to allocate"}})");
  ASSERT_TRUE(completion);
  // Overwrite the arena with another body before looking.
  ASSERT_TRUE(parseChatRequest(ClientApi::kOpenAI, Operation::kChat,
                               R"({"model":"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz","messages":[
                               {"role":"user","content":"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"}],
                               "zzzzzzzzzzzzzzzzzzzzzz":"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"})"));

  EXPECT_TRUE(defaultStorage(openai->tools[0].parameters));
  EXPECT_TRUE(defaultStorage(openai->response_format.schema));
  EXPECT_EQ(openai->extra.storage().get(), json::storage_ptr().get());
  EXPECT_EQ(json::serialize(openai->tools[0].parameters),
            R"({"type":"object","properties":{"q":{"type":"string",)"
            R"("description":"the query, long enough to allocate"}}})");
  EXPECT_EQ(json::serialize(openai->response_format.schema),
            R"({"type":"object","properties":{"a":{"type":"array","items":{"type":"string"}}}})");
  EXPECT_EQ(json::serialize(openai->extra),
            R"({"logit_bias":{"50256":-100},"metadata":{"k":"a value long enough to allocate"}})");
  EXPECT_TRUE(defaultStorage(anthropic->tools[0].parameters));
  EXPECT_TRUE(defaultStorage(anthropic->response_format.schema));
  EXPECT_EQ(json::serialize(anthropic->tools[0].parameters),
            R"({"type":"object","properties":{"x":{"type":"number"}}})");
  EXPECT_EQ(completion->extra.storage().get(), json::storage_ptr().get());
  EXPECT_EQ(completion->messages[0].text(), "p");
}

}  // namespace
}  // namespace kh::api
