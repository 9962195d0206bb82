#include "api/client_api.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json/serialize.hpp>

namespace kh::api {
namespace {

namespace json = boost::json;
using providers::Operation;

bool defaultStorage(const json::value& v) {
  return v.storage().get() == json::storage_ptr().get();
}

// The client's body is parsed by a per-thread parser that the next request reuses; the JSON the
// canonical request keeps must not point into its document. Requests are parsed one after
// another on the same thread, so a value left there would read the second body's bytes.
// The translated path reads the document inspectBody built; once another body was parsed on the
// thread it parses its own body again, with the same result either way.
TEST(ClientApi, ReadsTheInspectedDocumentWhileTheThreadHoldsIt) {
  std::string body =
      R"({"model":"m","messages":[{"role":"user","content":"first"}],"temperature":0.5})";
  std::string other = R"({"model":"o","messages":[{"role":"user","content":"second"}]})";
  auto info = inspectBody(body, Operation::kChat, false, BodyReading::kDocument);
  ASSERT_TRUE(info);
  EXPECT_TRUE(inspectedDocument(*info));
  auto fresh = parseChatRequest(ClientApi::kOpenAI, Operation::kChat, body, &*info);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->messages[0].text(), "first");

  auto other_info = inspectBody(other, Operation::kChat, false, BodyReading::kDocument);
  ASSERT_TRUE(other_info);
  EXPECT_FALSE(inspectedDocument(*info));
  auto stale = parseChatRequest(ClientApi::kOpenAI, Operation::kChat, body, &*info);
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->model, "m");
  EXPECT_EQ(stale->messages[0].text(), "first");
  EXPECT_DOUBLE_EQ(*stale->temperature, 0.5);
  // Parsing `body` again replaced the document `other_info` named.
  EXPECT_FALSE(inspectedDocument(*other_info));

  // A scanned body has no document; its request is read from a fresh one.
  auto scanned = inspectBody(body, Operation::kChat);
  ASSERT_TRUE(scanned);
  EXPECT_FALSE(inspectedDocument(*scanned));
  auto read = parseChatRequest(ClientApi::kOpenAI, Operation::kChat, body, &*scanned);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->messages[0].text(), "first");
}

// A text chat read in one pass sets the body's facts as inspecting it does: the route, the log
// and a later attempt that passes the body on (rewriting its model or stream_options) use them.
void expectFactsAsInspected(ClientApi api, const std::string& text) {
  std::string body = text;
  body.reserve(body.size() + kJsonPadding);
  OpenAIBodyInfo read;
  model::ChatRequest head;
  std::vector<model::TextMessage> messages;
  ASSERT_TRUE(readChatAsText(api, Operation::kChat, body, read, head, messages)) << body;
  const bool anthropic = api == ClientApi::kAnthropic;
  auto inspected = inspectBody(body, Operation::kChat, anthropic);
  ASSERT_TRUE(inspected) << body;
  EXPECT_EQ(read.model, inspected->model) << body;
  EXPECT_EQ(read.model_begin, inspected->model_begin) << body;
  EXPECT_EQ(read.model_end, inspected->model_end) << body;
  EXPECT_EQ(read.stream, inspected->stream) << body;
  EXPECT_EQ(read.has_stream_options, inspected->has_stream_options) << body;
  EXPECT_EQ(read.include_usage, inspected->include_usage) << body;
  EXPECT_EQ(read.stream_options_member, inspected->stream_options_member) << body;
  EXPECT_EQ(read.object_begin, inspected->object_begin) << body;
  EXPECT_EQ(read.has_user_preferences, inspected->has_user_preferences) << body;
  // So the body passed on to a same-format upstream is the same either way.
  for (const bool force_usage : {false, !anthropic})
    EXPECT_EQ(rewriteBody(body, read, "up", force_usage),
              rewriteBody(body, *inspected, "up", force_usage))
        << body;
}

bool readsAsText(ClientApi api, Operation op, const std::string& text) {
  std::string body = text;
  body.reserve(body.size() + kJsonPadding);
  OpenAIBodyInfo read;
  model::ChatRequest head;
  std::vector<model::TextMessage> messages;
  return readChatAsText(api, op, body, read, head, messages);
}

TEST(ClientApi, TextChatSetsTheBodysFactsAsInspectingIt) {
  for (
      const std::string body : {
          R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
          R"( {"messages":[{"role":"user","content":"hi"}],"model":"m\u0031\"x","stream":true})",
          R"({"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a"}]})",
          R"({"model":"m","temperature":0.5,"stream_options":null,"stream":false,"messages":[{"role":"system","content":"s"},{"role":"user","content":"a"}]})",
          "{\n  \"model\" : \"m\",\n  \"stream_options\" : {\"include_usage\" : false, \"x\" : "
          "1},\n  \"messages\" : [{\"role\" : \"user\", \"content\" : \"a\"}]\n}",
      })
    expectFactsAsInspected(ClientApi::kOpenAI, body);
  for (
      const std::string body : {
          R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})",
          R"( {"messages":[{"role":"user","content":"hi"}],"system":"s","model":"m\u0031\"x","stream":true,"max_tokens":5})",
          R"({"model":"m","max_tokens":5,"stream":false,"metadata":{"user_id":"u"},"messages":[{"role":"user","content":"a"}],"thinking":{"type":"enabled"}})",
          "{\n  \"model\" : \"m\",\n  \"max_tokens\" : 5,\n  \"messages\" : [{\"role\" : "
          "\"user\", \"content\" : \"a\"}]\n}",
      })
    expectFactsAsInspected(ClientApi::kAnthropic, body);

  // Bodies that name tools, Messages bodies inspecting refuses, and other operations are not
  // read as text.
  for (const ClientApi api : {ClientApi::kOpenAI, ClientApi::kAnthropic}) {
    EXPECT_FALSE(readsAsText(
        api, Operation::kChat,
        R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"}],"tools":[]})"));
    EXPECT_FALSE(readsAsText(
        api, Operation::kChat,
        R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"the \"tools\" we use"}]})"));
  }
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"a"}]})";
  EXPECT_FALSE(readsAsText(ClientApi::kAnthropic, Operation::kChat, body));
  EXPECT_FALSE(readsAsText(ClientApi::kOpenAI, Operation::kCompletion, body));
  EXPECT_FALSE(readsAsText(
      ClientApi::kAnthropic, Operation::kChat,
      R"({"model":"m","max_tokens":5,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a"}]})"));
}

// The canonical request reads a body as a Boost.JSON document did: the last of duplicate keys
// counts, and unmodelled keys keep the place of their first occurrence.
TEST(ClientApi, DuplicateKeysReadAsBoostJsonReadsThem) {
  auto r = parseChatRequest(ClientApi::kOpenAI, Operation::kChat,
                            R"({"model":"a","x":1,"messages":[{"role":"user","content":"c",
                                "content":"d"}],"y":true,"x":{"b":2,"b":3},"model":"b",
                                "temperature":1,"temperature":null})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->model, "b");
  EXPECT_EQ(r->messages[0].text(), "d");
  EXPECT_FALSE(r->temperature);
  EXPECT_EQ(json::serialize(r->extra), R"({"x":{"b":3},"y":true})");
}

// Boost.JSON refused documents nested more than 32 deep; the translated path still does.
TEST(ClientApi, RefusesDocumentsNestedTooDeep) {
  auto nested = [](int depth) {
    return R"({"model":"m","messages":[],"x":)" + std::string(depth - 1, '[') +
           std::string(depth - 1, ']') + "}";
  };
  EXPECT_TRUE(parseChatRequest(ClientApi::kOpenAI, Operation::kChat, nested(32)));
  auto deep = parseChatRequest(ClientApi::kOpenAI, Operation::kChat, nested(33));
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().http_status, 400);
  EXPECT_EQ(deep.error().message, "The request body is not valid JSON: too deep");
}

// Bodies that reach the parse without inspectBody (count_tokens) keep the messages they had.
TEST(ClientApi, MalformedBodiesKeepTheirMessages) {
  auto r = parseChatRequest(ClientApi::kAnthropic, Operation::kChat, R"({"model":)");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().http_status, 400);
  EXPECT_EQ(r.error().message, "The request body is not valid JSON: incomplete JSON");
}

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
  // Overwrite the document with another body before looking.
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
