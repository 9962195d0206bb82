#include "model/openai_codec.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace kh::model {
namespace {

namespace json = boost::json;

ChatRequest parseOk(std::string_view text) {
  auto r = parseOpenAIChatRequest(json::parse(text));
  EXPECT_TRUE(r) << (r ? "" : r.error().param + ": " + r.error().message);
  return r ? std::move(*r) : ChatRequest{};
}

TEST(OpenAICodec, ParsesAFullChatRequest) {
  const ChatRequest r = parseOk(R"({
    "model": "gpt-4o",
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"cat\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "a cat"}
    ],
    "tools": [{"type": "function", "function": {"name": "lookup", "description": "Look up",
               "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}],
    "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    "temperature": 0.5, "top_p": 1, "max_completion_tokens": 100, "n": 2, "stop": "END",
    "seed": 7, "stream": true, "stream_options": {"include_usage": true},
    "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": true}},
    "user": "u-1", "logit_bias": {"50256": -100}
  })");
  EXPECT_EQ(r.model, "gpt-4o");
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].role, Role::kSystem);
  EXPECT_EQ(r.messages[0].text(), "Be brief.");
  ASSERT_EQ(r.messages[1].content.size(), 3u);
  EXPECT_EQ(r.messages[1].content[1].kind, ContentPart::Kind::kImage);
  EXPECT_EQ(r.messages[1].content[1].image.media_type, "image/png");
  EXPECT_EQ(r.messages[1].content[1].image.data, "iVBORw0KGgo=");
  EXPECT_EQ(r.messages[1].content[1].image.detail, "low");
  EXPECT_EQ(r.messages[1].content[2].image.url, "https://example.com/cat.jpg");
  ASSERT_EQ(r.messages[2].tool_calls.size(), 1u);
  EXPECT_EQ(r.messages[2].tool_calls[0].arguments, R"({"q":"cat"})");
  EXPECT_EQ(r.messages[3].tool_call_id, "call_1");
  ASSERT_EQ(r.tools.size(), 1u);
  EXPECT_EQ(r.tools[0].parameters.at("type").as_string(), "object");
  EXPECT_EQ(r.tool_choice.mode, ToolChoice::Mode::kNamed);
  EXPECT_EQ(r.tool_choice.name, "lookup");
  EXPECT_DOUBLE_EQ(*r.temperature, 0.5);
  EXPECT_EQ(*r.max_tokens, 100);
  EXPECT_EQ(*r.n, 2);
  EXPECT_EQ(r.stop, std::vector<std::string>{"END"});
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.response_format.kind, ResponseFormat::Kind::kJsonSchema);
  EXPECT_TRUE(r.response_format.strict);
  EXPECT_EQ(r.user, "u-1");
  EXPECT_TRUE(r.extra.contains("logit_bias"));
}

TEST(OpenAICodec, RoundTripsThroughOpenAIJson) {
  const ChatRequest a = parseOk(R"({"model":"m","messages":[
      {"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,AAA="}}]},
      {"role":"assistant","content":"ok","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}],
      "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
      "tool_choice":"required","stop":["a","b"],"max_tokens":5,"response_format":{"type":"json_object"},"x_custom":1})");
  const json::object out = toOpenAIJson(a);
  const ChatRequest b = parseOk(json::serialize(out));
  EXPECT_EQ(json::serialize(toOpenAIJson(b)), json::serialize(out));
  EXPECT_EQ(out.at("messages").at(0).at("content").at(1).at("image_url").at("url").as_string(),
            "data:image/jpeg;base64,AAA=");
  EXPECT_EQ(out.at("tool_choice").as_string(), "required");
  EXPECT_EQ(out.at("max_completion_tokens").as_int64(), 5);
  EXPECT_EQ(out.at("x_custom").as_int64(), 1);
}

TEST(OpenAICodec, ValidationNamesTheField) {
  struct Case {
    const char* body;
    const char* param;
  } cases[] = {
      {R"({"messages":[]})", "model"},
      {R"({"model":"m"})", "messages"},
      {R"({"model":"m","messages":[{"content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"wizard","content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"user","content":5}]})", "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"audio"}]}]})",
       "messages[0].content[0].type"},
      {R"({"model":"m","messages":[{"role":"tool","content":"x"}]})", "messages[0].tool_call_id"},
      {R"({"model":"m","messages":[],"temperature":"hot"})", "temperature"},
      {R"({"model":"m","messages":[],"temperature":3})", "temperature"},
      {R"({"model":"m","messages":[],"max_tokens":0})", "max_tokens"},
      {R"({"model":"m","messages":[],"stop":[1]})", "stop"},
      {R"({"model":"m","messages":[],"tool_choice":"sometimes"})", "tool_choice"},
      {R"({"model":"m","messages":[],"tools":[{"type":"function"}]})", "tools[0].function"},
      {R"({"model":"m","messages":[],"response_format":{"type":"yaml"}})", "response_format.type"},
  };
  for (const auto& c : cases) {
    auto r = parseOpenAIChatRequest(json::parse(c.body));
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().param, c.param) << c.body;
    EXPECT_EQ(r.error().http_status, 400);
  }
}

TEST(OpenAICodec, ResponsesAndChunks) {
  auto resp = parseOpenAIChatResponse(json::parse(R"({"id":"chatcmpl-1","object":"chat.completion",
    "created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":null,
    "tool_calls":[{"id":"call_9","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
    "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,
    "prompt_tokens_details":{"cached_tokens":2}}})"));
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->choices[0].finish_reason, FinishReason::kToolCalls);
  EXPECT_EQ(resp->choices[0].message.tool_calls[0].id, "call_9");
  EXPECT_EQ(resp->usage->cached_tokens, 2);
  const json::object back = toOpenAIJson(*resp);
  EXPECT_EQ(back.at("object").as_string(), "chat.completion");
  EXPECT_EQ(back.at("usage").at("total_tokens").as_int64(), 12);
  EXPECT_EQ(back.at("choices").at(0).at("finish_reason").as_string(), "tool_calls");

  ChatChunk chunk;
  ASSERT_TRUE(parseOpenAIChatChunk(R"({"id":"c","object":"chat.completion.chunk",
    "created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1",
    "type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}]})",
                                   chunk));
  EXPECT_EQ(chunk.choices[0].tool_calls[0].name, "f");
  std::string text;
  appendOpenAIChunkJson(chunk, true, text);
  const json::object cj = json::parse(text).as_object();
  EXPECT_EQ(cj.at("choices").at(0).at("delta").at("tool_calls").at(0).at("id").as_string(),
            "call_1");
  EXPECT_TRUE(cj.at("choices").at(0).at("finish_reason").is_null());
  EXPECT_FALSE(cj.contains("usage"));

  EXPECT_FALSE(parseOpenAIChatResponse(json::parse(R"({"id":"x"})")));
  EXPECT_EQ(parseOpenAIChatResponse(json::parse("[]")).error().http_status, 502);
}

// The chunk writers skip the JSON document; their text must still be byte for byte what
// Boost.JSON serializes for the same value (key order included), escapes and all.
TEST(OpenAICodec, ChunkWritersMatchBoostJsonText) {
  ChatChunk c;
  c.id = "chatcmpl-\"q\"";
  c.model = "gpt-4o";
  c.created = 1741570283;
  const std::string content("tab\t nl\n bs\\ \b\f \x01 日本語 </script>");
  c.choices.resize(2);
  c.choices[0].role = Role::kAssistant;
  c.choices[0].content = content;
  c.choices[0].tool_calls.push_back(
      ToolCallDelta{0, "call_1", "get_weather", R"({"city":"Paris"})"});
  c.choices[0].tool_calls.push_back(ToolCallDelta{1, "", "", "{}"});
  c.choices[1].index = 1;
  c.choices[1].finish_reason = FinishReason::kToolCalls;
  c.usage = Usage{.prompt_tokens = 9, .completion_tokens = 2, .cached_tokens = 3};
  auto same = [](const std::string& text) {
    EXPECT_EQ(json::serialize(json::parse(text)), text);
    return json::parse(text);
  };

  std::string text;
  appendOpenAIChunkJson(c, true, text);
  const json::value v = same(text);
  EXPECT_EQ(v.at("object"), "chat.completion.chunk");
  EXPECT_EQ(v.at("choices").at(0).at("delta").at("content").as_string(), content);
  EXPECT_EQ(v.at("choices").at(0).at("delta").at("tool_calls").at(0).at("type"), "function");
  EXPECT_FALSE(v.at("choices").at(0).at("delta").at("tool_calls").at(1).as_object().contains("id"));
  EXPECT_TRUE(v.at("choices").at(0).at("finish_reason").is_null());
  EXPECT_EQ(v.at("choices").at(1).at("delta").as_object().size(), 0u);
  EXPECT_EQ(v.at("usage").at("total_tokens").as_int64(), 11);

  text.clear();
  appendOpenAIChunkJson(c, false, text);
  EXPECT_FALSE(same(text).as_object().contains("usage"));

  text.clear();
  appendOpenAICompletionChunkJson(c, true, text);
  const json::value cv = same(text);
  EXPECT_EQ(cv.at("object"), "text_completion");
  EXPECT_EQ(cv.at("choices").at(1).at("text"), "");
  EXPECT_EQ(cv.at("choices").at(1).at("finish_reason"), "tool_calls");

  ChatChunk empty;
  text.clear();
  appendOpenAIChunkJson(empty, true, text);
  EXPECT_EQ(same(text), json::parse(R"({"id":"","object":"chat.completion.chunk","created":0,)"
                                    R"("model":"","choices":[]})"));
}

// The answer writers too: Boost.JSON's text for the same value, with every optional field.
TEST(OpenAICodec, AnswerWritersMatchBoostJsonText) {
  ChatResponse r;
  r.id = "chatcmpl-\"q\"";
  r.model = "gpt-4o";
  r.created = 1741570283;
  r.system_fingerprint = "fp_1";
  r.usage = Usage{.prompt_tokens = 9, .completion_tokens = 2, .cached_tokens = 3};
  Choice& a = r.choices.emplace_back();
  a.message.role = Role::kAssistant;
  a.message.content.push_back(ContentPart::textPart("tab\t nl\n \b\f \x01 日本語"));
  a.message.content.push_back(ContentPart::textPart(" and more"));
  a.message.name = "bot";
  a.message.tool_calls.push_back(ToolCall{"call_1", "get_weather", R"({"city":"Paris"})"});
  a.finish_reason = FinishReason::kToolCalls;
  Choice& b = r.choices.emplace_back();
  b.index = 1;
  b.message.role = Role::kAssistant;
  b.message.refusal = "no";
  ContentPart img;
  img.kind = ContentPart::Kind::kImage;
  img.image.media_type = "image/png";
  img.image.data = "AAAA";
  img.image.detail = "low";
  b.message.content.push_back(ContentPart::textPart("see"));
  b.message.content.push_back(img);
  auto same = [](const std::string& text) {
    EXPECT_EQ(json::serialize(json::parse(text)), text);
    return json::parse(text);
  };

  std::string text;
  appendOpenAIChatResponseJson(r, text);
  const json::value v = same(text);
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"),
            "tab\t nl\n \b\f \x01 日本語 and more");
  EXPECT_TRUE(v.at("choices").at(0).at("message").at("refusal").is_null());
  EXPECT_EQ(v.at("choices").at(1).at("message").at("content").at(1).at("image_url").at("url"),
            "data:image/png;base64,AAAA");
  EXPECT_EQ(v.at("choices").at(1).at("message").at("refusal"), "no");
  EXPECT_TRUE(v.at("choices").at(1).at("finish_reason").is_null());
  EXPECT_EQ(v.at("system_fingerprint"), "fp_1");

  text.clear();
  appendOpenAICompletionJson(r, text);
  const json::value cv = same(text);
  EXPECT_EQ(cv.at("object"), "text_completion");
  EXPECT_EQ(cv.at("choices").at(1).at("text"), "see");
  EXPECT_EQ(cv.at("usage").at("total_tokens").as_int64(), 11);

  // What is written reads back the same.
  auto back = parseOpenAIChatResponse(std::string_view(json::serialize(v)));
  ASSERT_TRUE(back);
  text.clear();
  appendOpenAIChatResponseJson(*back, text);
  EXPECT_EQ(text, json::serialize(v));
}

// Answers are read with simdjson; the shapes servers send besides OpenAI's own.
TEST(OpenAICodec, ReadsAnswerVariants) {
  auto legacy = parseOpenAIChatResponse(std::string_view(
      R"({"choices":[{"message":{"role":"assistant","content":[{"type":"text","text":"a"}],
      "function_call":{"name":"f","arguments":{"x":1.50}}},"finish_reason":"function_call"}]})"));
  ASSERT_TRUE(legacy);
  EXPECT_EQ(legacy->choices[0].message.text(), "a");
  EXPECT_EQ(legacy->choices[0].message.tool_calls[0].name, "f");
  EXPECT_EQ(legacy->choices[0].message.tool_calls[0].arguments, R"({"x":1.5E0})");
  EXPECT_FALSE(legacy->usage);

  auto bad = parseOpenAIChatResponse(std::string_view(
      R"({"choices":[{"message":{"role":"assistant","tool_calls":[{"function":{}}]}}]})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().http_status, 502);
  EXPECT_NE(bad.error().message.find("tool calls need a function name"), std::string::npos);
  EXPECT_EQ(parseOpenAIChatResponse(std::string_view("{\"choices\":")).error().http_status, 502);
}

TEST(OpenAICodec, Embeddings) {
  auto r = parseOpenAIEmbeddingRequest(
      json::parse(R"({"model":"e","input":["a","b"],"encoding_format":"float","dimensions":8})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->input.size(), 2u);
  EXPECT_EQ(*r->dimensions, 8);
  EXPECT_EQ(
      parseOpenAIEmbeddingRequest(json::parse(R"({"model":"e","input":[1,2]})")).error().param,
      "input");
  EXPECT_EQ(parseOpenAIEmbeddingRequest(
                json::parse(R"({"model":"e","input":"x","encoding_format":"hex"})"))
                .error()
                .param,
            "encoding_format");
  EmbeddingResponse resp{"e", {{0.5f, -1.0f}}, Usage{3, 0, 0, 0, 0}};
  const json::object o = toOpenAIJson(resp);
  EXPECT_EQ(o.at("data").at(0).at("embedding").at(1).as_double(), -1.0);
  EXPECT_EQ(o.at("usage").at("prompt_tokens").as_int64(), 3);
}

}  // namespace
}  // namespace kh::model
