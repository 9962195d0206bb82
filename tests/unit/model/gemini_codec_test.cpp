#include "model/gemini_codec.h"

#include <gtest/gtest.h>

#include <memory>

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "model/openai_codec.h"
#include "model/token_estimate.h"
#include "providers/provider.h"

namespace kh::model {
namespace {

namespace json = boost::json;

// Requests are written in OpenAI's wire format and parsed with the OpenAI codec, which is how
// they reach the Gemini codec in the gateway.
ChatRequest chat(std::string_view text) {
  auto r = parseOpenAIChatRequest(json::parse(text));
  EXPECT_TRUE(r) << (r ? "" : r.error().param + ": " + r.error().message);
  return r ? std::move(*r) : ChatRequest{};
}

json::object gemini(std::string_view openai_text) {
  auto r = toGeminiRequest(chat(openai_text));
  EXPECT_TRUE(r) << (r ? "" : r.error().param + ": " + r.error().message);
  return r ? std::move(*r) : json::object{};
}

json::value j(std::string_view text) {
  return json::parse(text);
}

ChatResponse response(std::string_view text) {
  auto r = parseGeminiResponse(json::parse(text), "chatcmpl-x", "gemini-2.0-flash", 1700);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? std::move(*r) : ChatResponse{};
}

// ---- requests ---------------------------------------------------------------------------------

TEST(GeminiCodec, SystemAndDeveloperMessagesBecomeSystemInstruction) {
  const json::object g = gemini(R"({"model":"m","messages":[
      {"role":"system","content":"Be brief."},
      {"role":"developer","content":[{"type":"text","text":"Answer in French."}]},
      {"role":"user","content":"Hi"}]})");
  EXPECT_EQ(g.at("systemInstruction"),
            j(R"({"parts":[{"text":"Be brief."},{"text":"Answer in French."}]})"));
  EXPECT_EQ(g.at("contents"), j(R"([{"role":"user","parts":[{"text":"Hi"}]}])"));
  EXPECT_FALSE(g.contains("tools"));
  EXPECT_FALSE(g.contains("toolConfig"));
  EXPECT_FALSE(g.contains("generationConfig"));
}

TEST(GeminiCodec, RolesMapAndConsecutiveTurnsMerge) {
  const json::object g = gemini(R"({"model":"m","messages":[
      {"role":"user","content":"one"},
      {"role":"user","content":[{"type":"text","text":"two"},{"type":"text","text":""}]},
      {"role":"assistant","content":"three"},
      {"role":"assistant","content":""},
      {"role":"assistant","content":"four"},
      {"role":"system","content":"late system"},
      {"role":"user","content":"five"}]})");
  EXPECT_EQ(g.at("contents"), j(R"([
      {"role":"user","parts":[{"text":"one"},{"text":"two"}]},
      {"role":"model","parts":[{"text":"three"},{"text":"four"}]},
      {"role":"user","parts":[{"text":"five"}]}])"));
  EXPECT_EQ(g.at("systemInstruction"), j(R"({"parts":[{"text":"late system"}]})"));
}

TEST(GeminiCodec, SystemOnlyPromptIsSentAsTheUserTurn) {
  const json::object g =
      gemini(R"({"model":"m","messages":[{"role":"system","content":"Say hi"}]})");
  EXPECT_EQ(g.at("contents"), j(R"([{"role":"user","parts":[{"text":"Say hi"}]}])"));
  EXPECT_FALSE(g.contains("systemInstruction"));

  auto empty = toGeminiRequest(chat(R"({"model":"m","messages":[]})"));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().http_status, 400);
  EXPECT_EQ(empty.error().param, "messages");
}

TEST(GeminiCodec, InlineImagesUseInlineData) {
  const json::object g = gemini(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"text","text":"What is this?"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}}]}]})");
  EXPECT_EQ(g.at("contents").at(0).at("parts"), j(R"([{"text":"What is this?"},
      {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}])"));
}

TEST(GeminiCodec, ImageUrlsBecomeFileDataWithAGuessedMimeType) {
  const json::object g = gemini(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image_url","image_url":{"url":"https://example.com/a/cat.PNG"}},
      {"type":"image_url","image_url":{"url":"https://example.com/dog.webp?size=large#x"}},
      {"type":"image_url","image_url":{"url":"http://example.com/anim.gif"}},
      {"type":"image_url","image_url":{"url":"https://example.com/photo.jpg"}},
      {"type":"image_url","image_url":{"url":"https://example.com/v1.2/render"}}]}]})");
  EXPECT_EQ(g.at("contents").at(0).at("parts"), j(R"([
      {"fileData":{"mimeType":"image/png","fileUri":"https://example.com/a/cat.PNG"}},
      {"fileData":{"mimeType":"image/webp","fileUri":"https://example.com/dog.webp?size=large#x"}},
      {"fileData":{"mimeType":"image/gif","fileUri":"http://example.com/anim.gif"}},
      {"fileData":{"mimeType":"image/jpeg","fileUri":"https://example.com/photo.jpg"}},
      {"fileData":{"mimeType":"image/jpeg","fileUri":"https://example.com/v1.2/render"}}])"));
}

TEST(GeminiCodec, ToolsGetReducedSchemas) {
  const json::object g = gemini(R"({"model":"m","messages":[{"role":"user","content":"hi"}],
    "tools":[{"type":"function","function":{"name":"search","description":"Search the web",
      "strict":true,
      "parameters":{
        "$schema":"http://json-schema.org/draft-07/schema#",
        "title":"SearchArgs",
        "type":"object",
        "additionalProperties":false,
        "properties":{
          "query":{"type":"string","description":"What to look for","minLength":1,
                   "default":"cats","format":"uri"},
          "limit":{"type":["integer","null"],"minimum":1,"maximum":50,"format":"int32"},
          "when":{"type":"string","format":"date-time"},
          "tags":{"type":"array","minItems":1,"maxItems":5,
                  "items":{"type":"object","additionalProperties":true,"title":"Tag",
                           "properties":{"name":{"type":"string"},
                                         "weight":{"type":"number","exclusiveMinimum":0}},
                           "required":["name","ghost"]}},
          "mode":{"enum":["fast","slow",null]},
          "anything":{}
        },
        "required":["query","anything"]}}}]})");
  EXPECT_EQ(g.at("tools"), j(R"([{"functionDeclarations":[{"name":"search",
      "description":"Search the web",
      "parameters":{"type":"OBJECT",
        "properties":{
          "query":{"type":"STRING","description":"What to look for"},
          "limit":{"type":"INTEGER","format":"int32","nullable":true,"minimum":1,"maximum":50},
          "when":{"type":"STRING","format":"date-time"},
          "tags":{"type":"ARRAY","minItems":1,"maxItems":5,
                  "items":{"type":"OBJECT",
                           "properties":{"name":{"type":"STRING"},"weight":{"type":"NUMBER"}},
                           "required":["name"]}},
          "mode":{"type":"STRING","nullable":true,"enum":["fast","slow"]}},
        "required":["query"]}}]}])"));
}

TEST(GeminiCodec, SchemaRefsAnyOfAndTypeUnions) {
  ChatRequest r = chat(R"({"model":"m","messages":[{"role":"user","content":"hi"}],
    "response_format":{"type":"json_schema","json_schema":{"name":"out","strict":true,"schema":{
      "type":"object",
      "$defs":{"Address":{"type":"object","properties":{"city":{"type":"string"}}},
               "Node":{"type":"object","properties":{"next":{"$ref":"#/$defs/Node"}}}},
      "definitions":{"Color":{"type":"string","enum":["red","green"]}},
      "properties":{
        "home":{"$ref":"#/$defs/Address","description":"Where they live"},
        "work":{"allOf":[{"$ref":"#/$defs/Address"}],"description":"Office"},
        "color":{"$ref":"#/definitions/Color"},
        "nick":{"anyOf":[{"type":"string"},{"type":"null"}],"description":"Optional nickname"},
        "id":{"oneOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]},
        "value":{"type":["string","number"]},
        "list":{"type":"array","items":{"$ref":"#/$defs/Node"}},
        "remote":{"$ref":"https://example.com/schema.json"}
      }}}}})");
  auto g = toGeminiRequest(r);
  ASSERT_TRUE(g);
  const json::value& schema = g->at("generationConfig").at("responseSchema");
  const json::value& props = schema.at("properties");
  EXPECT_EQ(props.at("home"), j(R"({"type":"OBJECT","properties":{"city":{"type":"STRING"}},
                                    "description":"Where they live"})"));
  EXPECT_EQ(props.at("work").at("description"), "Office");
  EXPECT_EQ(props.at("color"), j(R"({"type":"STRING","enum":["red","green"]})"));
  EXPECT_EQ(props.at("nick"),
            j(R"({"type":"STRING","nullable":true,"description":"Optional nickname"})"));
  EXPECT_EQ(props.at("id"), j(R"({"anyOf":[{"type":"STRING","nullable":true},
                                           {"type":"INTEGER","nullable":true}]})"));
  EXPECT_EQ(props.at("value"), j(R"({"anyOf":[{"type":"STRING"},{"type":"NUMBER"}]})"));
  // A self-referencing $ref is cut off at a fixed depth instead of recursing forever.
  EXPECT_EQ(props.at("list").at("items").at("type"), "OBJECT");
  EXPECT_EQ(props.at("list").at("items").at("properties").at("next").at("type"), "OBJECT");
  EXPECT_FALSE(props.as_object().contains("remote"));
  EXPECT_FALSE(schema.as_object().contains("$defs"));
  EXPECT_FALSE(schema.as_object().contains("definitions"));
  EXPECT_EQ(g->at("generationConfig").at("responseMimeType"), "application/json");
}

TEST(GeminiCodec, ToolsWithoutArgumentsOmitParameters) {
  const json::object g = gemini(R"({"model":"m","messages":[{"role":"user","content":"hi"}],
    "tools":[{"type":"function","function":{"name":"now"}},
             {"type":"function","function":{"name":"ping","parameters":{"type":"object","properties":{}}}},
             {"type":"function","function":{"name":"noop","parameters":{"type":"object","additionalProperties":false}}}]})");
  EXPECT_EQ(g.at("tools"), j(R"([{"functionDeclarations":[{"name":"now"},{"name":"ping"},
                                                          {"name":"noop"}]}])"));
}

TEST(GeminiCodec, ToolChoiceModes) {
  const std::string base =
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],
          "tools":[{"type":"function","function":{"name":"f"}}])";
  EXPECT_FALSE(gemini(base + "}").contains("toolConfig"));
  EXPECT_EQ(gemini(base + R"(,"tool_choice":"auto"})").at("toolConfig"),
            j(R"({"functionCallingConfig":{"mode":"AUTO"}})"));
  EXPECT_EQ(gemini(base + R"(,"tool_choice":"none"})").at("toolConfig"),
            j(R"({"functionCallingConfig":{"mode":"NONE"}})"));
  EXPECT_EQ(gemini(base + R"(,"tool_choice":"required"})").at("toolConfig"),
            j(R"({"functionCallingConfig":{"mode":"ANY"}})"));
  EXPECT_EQ(gemini(base + R"(,"tool_choice":{"type":"function","function":{"name":"f"}}})")
                .at("toolConfig"),
            j(R"({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}})"));
}

TEST(GeminiCodec, ToolCallsAndResultsBecomeFunctionCallsAndResponses) {
  const json::object g = gemini(R"({"model":"m","messages":[
      {"role":"user","content":"Weather in Paris and Rome?"},
      {"role":"assistant","content":"Checking.","tool_calls":[
        {"id":"call_a","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
        {"id":"call_b","type":"function","function":{"name":"forecast","arguments":"not json"}}]},
      {"role":"tool","tool_call_id":"call_a","content":"{\"temp\":21,\"sky\":\"clear\"}"},
      {"role":"tool","tool_call_id":"call_b","content":"rain later"},
      {"role":"user","content":"Thanks"}]})");
  EXPECT_EQ(g.at("contents"), j(R"([
      {"role":"user","parts":[{"text":"Weather in Paris and Rome?"}]},
      {"role":"model","parts":[{"text":"Checking."},
        {"functionCall":{"name":"weather","args":{"city":"Paris"}}},
        {"functionCall":{"name":"forecast","args":{}}}]},
      {"role":"user","parts":[
        {"functionResponse":{"name":"weather","response":{"temp":21,"sky":"clear"}}},
        {"functionResponse":{"name":"forecast","response":{"content":"rain later"}}},
        {"text":"Thanks"}]}])"));
}

TEST(GeminiCodec, ToolResultForAnUnknownCallIsRefused) {
  auto r = toGeminiRequest(chat(R"({"model":"m","messages":[
      {"role":"user","content":"hi"},
      {"role":"assistant","tool_calls":[{"id":"call_a","type":"function","function":{"name":"f","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"call_zzz","content":"x"}]})"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().http_status, 400);
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidRequest);
  EXPECT_EQ(r.error().param, "messages[2].tool_call_id");
  EXPECT_NE(r.error().message.find("call_zzz"), std::string::npos);
}

TEST(GeminiCodec, LegacyFunctionMessagesUseTheirName) {
  const json::object g = gemini(R"({"model":"m","messages":[
      {"role":"user","content":"hi"},
      {"role":"assistant","function_call":{"name":"lookup","arguments":"{\"q\":1}"}},
      {"role":"function","name":"lookup","content":"[1,2]"}]})");
  EXPECT_EQ(g.at("contents").at(2),
            j(R"({"role":"user","parts":[{"functionResponse":{"name":"lookup",
                  "response":{"content":"[1,2]"}}}]})"));
}

TEST(GeminiCodec, ThoughtSignaturesRideInTheCallId) {
  const ChatResponse resp = response(R"({"candidates":[{"content":{"role":"model","parts":[
      {"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"c2lnbmF0dXJl"}]},
      "finishReason":"STOP"}]})");
  ASSERT_EQ(resp.choices.at(0).message.tool_calls.size(), 1u);
  const std::string id = resp.choices[0].message.tool_calls[0].id;
  EXPECT_EQ(id, "call_0__thought__c2lnbmF0dXJl");

  ChatRequest next = chat(R"({"model":"m","messages":[{"role":"user","content":"go"}]})");
  Message assistant;
  assistant.role = Role::kAssistant;
  assistant.tool_calls = resp.choices[0].message.tool_calls;
  next.messages.push_back(assistant);
  Message tool;
  tool.role = Role::kTool;
  tool.tool_call_id = id;
  tool.content.push_back(ContentPart::textPart("ok"));
  next.messages.push_back(tool);
  auto g = toGeminiRequest(next);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->at("contents").at(1).at("parts").at(0),
            j(R"({"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"c2lnbmF0dXJl"})"));
  EXPECT_EQ(g->at("contents").at(2).at("parts").at(0).at("functionResponse").at("name"), "f");
}

TEST(GeminiCodec, GenerationConfigCarriesTheSamplingFields) {
  ChatRequest r = chat(R"({"model":"m","messages":[{"role":"user","content":"hi"}],
      "temperature":0.3,"top_p":0.9,"top_k":40,"max_tokens":256,"stop":["END","STOP"],"n":2,
      "seed":42,"presence_penalty":0.5,"frequency_penalty":-0.25,"user":"u1",
      "parallel_tool_calls":false,"logit_bias":{"1":2},"response_format":{"type":"json_object"}})");
  auto g = toGeminiRequest(r);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->at("generationConfig"), j(R"({"temperature":0.3,"topP":0.9,"topK":40,
      "maxOutputTokens":256,"stopSequences":["END","STOP"],"candidateCount":2,"seed":42,
      "presencePenalty":0.5,"frequencyPenalty":-0.25,"responseMimeType":"application/json"})"));
  // What Gemini cannot express is dropped, not refused.
  EXPECT_FALSE(g->contains("user"));
  EXPECT_FALSE(g->contains("logit_bias"));

  const json::object text = gemini(R"({"model":"m","messages":[{"role":"user","content":"hi"}],
      "response_format":{"type":"text"}})");
  EXPECT_FALSE(text.contains("generationConfig"));
}

TEST(GeminiCodec, JsonSchemaResponseFormatSetsResponseSchema) {
  const json::object g = gemini(R"({"model":"m","messages":[{"role":"user","content":"hi"}],
      "response_format":{"type":"json_schema","json_schema":{"name":"person","strict":true,
        "schema":{"type":"object","additionalProperties":false,"properties":{
          "name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"],
          "propertyOrdering":["name","age"]}}}})");
  EXPECT_EQ(g.at("generationConfig"), j(R"({"responseMimeType":"application/json",
      "responseSchema":{"type":"OBJECT","required":["name","age"],"propertyOrdering":["name","age"],
        "properties":{"name":{"type":"STRING"},"age":{"type":"INTEGER"}}}})"));
}

// Gemini generates a responseSchema's properties alphabetically unless told otherwise; OpenAI
// follows the declaration order, so the reduced schema spells that order out at every level.
// Function parameters are left alone: the arguments' key order does not matter to a caller.
TEST(GeminiCodec, ResponseSchemaKeepsTheDeclaredPropertyOrder) {
  const json::object g = gemini(R"({"model":"m","messages":[{"role":"user","content":"hi"}],
      "response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{
        "type":"object","properties":{
          "reasoning":{"type":"string"},
          "answer":{"type":"object","properties":{"value":{"type":"number"},"unit":{"type":"string"}}},
          "confidence":{"type":"number"}}}}},
      "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object",
        "properties":{"b":{"type":"string"},"a":{"type":"string"}}}}}]})");
  EXPECT_EQ(g.at("generationConfig").at("responseSchema"), j(R"({"type":"OBJECT",
      "propertyOrdering":["reasoning","answer","confidence"],
      "properties":{"reasoning":{"type":"STRING"},
        "answer":{"type":"OBJECT","propertyOrdering":["value","unit"],
          "properties":{"value":{"type":"NUMBER"},"unit":{"type":"STRING"}}},
        "confidence":{"type":"NUMBER"}}})"));
  EXPECT_FALSE(g.at("tools")
                   .at(0)
                   .at("functionDeclarations")
                   .at(0)
                   .at("parameters")
                   .as_object()
                   .contains("propertyOrdering"));
}

// ---- responses --------------------------------------------------------------------------------

TEST(GeminiCodec, ParsesTextUsageAndSkipsThoughts) {
  const ChatResponse r = response(R"({
    "candidates":[{"content":{"role":"model","parts":[
        {"text":"Let me think about it","thought":true},
        {"text":"Hello, "},{"text":"world."}]},
      "finishReason":"STOP","index":0,"safetyRatings":[]}],
    "usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":5,"totalTokenCount":57,
      "cachedContentTokenCount":8,"thoughtsTokenCount":40},
    "modelVersion":"gemini-2.5-flash-001","responseId":"abc123"})");
  EXPECT_EQ(r.id, "abc123");
  EXPECT_EQ(r.model, "gemini-2.5-flash-001");
  EXPECT_EQ(r.created, 1700);
  ASSERT_EQ(r.choices.size(), 1u);
  EXPECT_EQ(r.choices[0].message.role, Role::kAssistant);
  EXPECT_EQ(r.choices[0].message.text(), "Hello, world.");
  EXPECT_TRUE(r.choices[0].message.tool_calls.empty());
  EXPECT_EQ(r.choices[0].finish_reason, FinishReason::kStop);
  ASSERT_TRUE(r.usage);
  EXPECT_EQ(r.usage->prompt_tokens, 12);
  EXPECT_EQ(r.usage->completion_tokens, 45);
  EXPECT_EQ(r.usage->cached_tokens, 8);
  EXPECT_EQ(r.usage->reasoning_tokens, 40);
  EXPECT_EQ(r.usage->total(), 57);

  const json::object oa = toOpenAIJson(r);
  EXPECT_EQ(oa.at("choices").at(0).at("message").at("content"), "Hello, world.");
  EXPECT_EQ(oa.at("usage").at("prompt_tokens_details").at("cached_tokens"), 8);
}

TEST(GeminiCodec, FallsBackToThePassedIdAndModel) {
  const ChatResponse r =
      response(R"({"candidates":[{"content":{"parts":[{"text":"ok"}]},"finishReason":"STOP"}]})");
  EXPECT_EQ(r.id, "chatcmpl-x");
  EXPECT_EQ(r.model, "gemini-2.0-flash");
  EXPECT_FALSE(r.usage);
}

TEST(GeminiCodec, FunctionCallsBecomeToolCalls) {
  const ChatResponse r = response(R"({"candidates":[{"content":{"role":"model","parts":[
      {"text":"Calling."},
      {"functionCall":{"name":"weather","args":{"city":"Paris","days":[1,2]}}},
      {"functionCall":{"id":"gem-7","name":"time"}},
      {"functionCall":{"name":"weather","args":{"city":"Rome"}}}]},
    "finishReason":"STOP"}]})");
  const Choice& c = r.choices.at(0);
  EXPECT_EQ(c.finish_reason, FinishReason::kToolCalls);
  EXPECT_EQ(c.message.text(), "Calling.");
  ASSERT_EQ(c.message.tool_calls.size(), 3u);
  EXPECT_EQ(c.message.tool_calls[0].id, "call_0");
  EXPECT_EQ(c.message.tool_calls[0].name, "weather");
  EXPECT_EQ(j(c.message.tool_calls[0].arguments), j(R"({"city":"Paris","days":[1,2]})"));
  EXPECT_EQ(c.message.tool_calls[1].id, "gem-7");
  EXPECT_EQ(c.message.tool_calls[1].arguments, "{}");
  EXPECT_EQ(c.message.tool_calls[2].id, "call_2");

  // Tool-call-only answers render content null, as OpenAI does.
  const json::object oa = toOpenAIJson(response(R"({"candidates":[{"content":{"parts":[
      {"functionCall":{"name":"f","args":{}}}]},"finishReason":"STOP"}]})"));
  EXPECT_TRUE(oa.at("choices").at(0).at("message").at("content").is_null());
  EXPECT_EQ(oa.at("choices").at(0).at("finish_reason"), "tool_calls");
}

TEST(GeminiCodec, EveryFinishReasonMaps) {
  const std::pair<const char*, FinishReason> cases[] = {
      {"STOP", FinishReason::kStop},
      {"MAX_TOKENS", FinishReason::kLength},
      {"SAFETY", FinishReason::kContentFilter},
      {"RECITATION", FinishReason::kContentFilter},
      {"BLOCKLIST", FinishReason::kContentFilter},
      {"PROHIBITED_CONTENT", FinishReason::kContentFilter},
      {"SPII", FinishReason::kContentFilter},
      {"IMAGE_SAFETY", FinishReason::kContentFilter},
      {"LANGUAGE", FinishReason::kStop},
      {"OTHER", FinishReason::kStop},
      {"MALFORMED_FUNCTION_CALL", FinishReason::kStop},
      {"FINISH_REASON_UNSPECIFIED", FinishReason::kStop},
      {"SOMETHING_NEW", FinishReason::kStop},
  };
  for (const auto& [wire, expected] : cases) {
    const ChatResponse r = response(fmt::format(
        R"({{"candidates":[{{"content":{{"parts":[{{"text":"x"}}]}},"finishReason":"{}"}}]}})",
        wire));
    ASSERT_EQ(r.choices.size(), 1u) << wire;
    EXPECT_EQ(r.choices[0].finish_reason, expected) << wire;
  }
  // MAX_TOKENS stays length even when a call was cut off mid-way.
  EXPECT_EQ(response(R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"f"}}]},
                        "finishReason":"MAX_TOKENS"}]})")
                .choices[0]
                .finish_reason,
            FinishReason::kLength);
  // A safety stop without content still yields a choice with empty content.
  const ChatResponse blocked = response(R"({"candidates":[{"finishReason":"SAFETY","index":0}]})");
  EXPECT_EQ(blocked.choices.at(0).message.text(), "");
  EXPECT_EQ(blocked.choices[0].finish_reason, FinishReason::kContentFilter);
}

TEST(GeminiCodec, SeveralCandidatesBecomeSeveralChoices) {
  const ChatResponse r = response(R"({"candidates":[
      {"content":{"parts":[{"text":"A"}]},"finishReason":"STOP","index":0},
      {"content":{"parts":[{"text":"B"}]},"finishReason":"MAX_TOKENS","index":1},
      {"content":{"parts":[{"text":"C"}]},"finishReason":"STOP"}]})");
  ASSERT_EQ(r.choices.size(), 3u);
  EXPECT_EQ(r.choices[1].index, 1);
  EXPECT_EQ(r.choices[1].message.text(), "B");
  EXPECT_EQ(r.choices[1].finish_reason, FinishReason::kLength);
  EXPECT_EQ(r.choices[2].index, 2);
}

TEST(GeminiCodec, BlockedPromptIsAFilteredChoice) {
  const ChatResponse r = response(R"({"promptFeedback":{"blockReason":"SAFETY",
      "safetyRatings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH"}]},
      "usageMetadata":{"promptTokenCount":9,"totalTokenCount":9}})");
  ASSERT_EQ(r.choices.size(), 1u);
  EXPECT_EQ(r.choices[0].index, 0);
  EXPECT_EQ(r.choices[0].finish_reason, FinishReason::kContentFilter);
  EXPECT_EQ(r.choices[0].message.text(), "");
  EXPECT_EQ(r.usage->prompt_tokens, 9);
  EXPECT_EQ(r.usage->completion_tokens, 0);
}

TEST(GeminiCodec, MalformedResponsesAreBadGateway) {
  auto none = parseGeminiResponse(j(R"({"usageMetadata":{}})"), "i", "m", 0);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().http_status, 502);
  EXPECT_EQ(none.error().code, core::ErrorCode::kBadGateway);
  EXPECT_EQ(parseGeminiResponse(j("42"), "i", "m", 0).error().http_status, 502);

  // An error object where an answer was expected is that error.
  auto err = parseGeminiResponse(
      j(R"({"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}})"), "i",
      "m", 0);
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().http_status, 429);
  EXPECT_TRUE(err.error().retryable);
}

// ---- errors -----------------------------------------------------------------------------------

TEST(GeminiCodec, ErrorsKeepTheStatusAndMessage) {
  const core::Error e = parseGeminiError(400, R"({"error":{"code":400,
      "message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",
      "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}})");
  EXPECT_EQ(e.code, core::ErrorCode::kUpstreamStatus);
  EXPECT_EQ(e.http_status, 400);
  EXPECT_FALSE(e.retryable);
  EXPECT_EQ(e.message, "API key not valid. Please pass a valid API key.");
  EXPECT_TRUE(e.upstream_body.empty());

  const core::Error busy =
      parseGeminiError(503, R"({"error":{"code":503,"message":"The model is overloaded.",
                                         "status":"UNAVAILABLE"}})");
  EXPECT_EQ(busy.http_status, 503);
  EXPECT_TRUE(busy.retryable);
}

TEST(GeminiCodec, ErrorStatusNamesMapWhenTheHttpStatusCannotTell) {
  const std::tuple<const char*, int, bool> cases[] = {
      {"RESOURCE_EXHAUSTED", 429, true}, {"UNAVAILABLE", 503, true},
      {"INTERNAL", 500, true},           {"DEADLINE_EXCEEDED", 504, true},
      {"INVALID_ARGUMENT", 400, false},  {"FAILED_PRECONDITION", 400, false},
      {"PERMISSION_DENIED", 403, false}, {"UNAUTHENTICATED", 401, false},
      {"NOT_FOUND", 404, false},
  };
  for (const auto& [name, status, retryable] : cases) {
    const core::Error e =
        parseGeminiError(200, fmt::format(R"({{"error":{{"message":"m","status":"{}"}}}})", name));
    EXPECT_EQ(e.http_status, status) << name;
    EXPECT_EQ(e.retryable, retryable) << name;
    EXPECT_EQ(e.code, core::ErrorCode::kUpstreamStatus) << name;
  }
  // Unknown name: the numeric code decides.
  EXPECT_EQ(parseGeminiError(0, R"({"error":{"code":409,"message":"m"}})").http_status, 409);
}

TEST(GeminiCodec, ArrayWrappedAndNonJsonErrors) {
  const core::Error wrapped = parseGeminiError(
      429, R"([{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).",
                         "status":"RESOURCE_EXHAUSTED"}}])");
  EXPECT_EQ(wrapped.http_status, 429);
  EXPECT_TRUE(wrapped.retryable);
  EXPECT_EQ(wrapped.message, "Resource has been exhausted (e.g. check quota).");

  const core::Error html = parseGeminiError(502, "<html><body>Bad Gateway</body></html>");
  EXPECT_EQ(html.http_status, 502);
  EXPECT_EQ(html.message, "<html><body>Bad Gateway</body></html>");
  EXPECT_TRUE(html.upstream_body.empty());

  const core::Error huge = parseGeminiError(500, std::string(10000, 'x'));
  EXPECT_LT(huge.message.size(), 600u);
  EXPECT_GT(huge.message.size(), 100u);

  EXPECT_EQ(parseGeminiError(404, "").message, "Gemini answered HTTP 404");
}

// ---- streams ----------------------------------------------------------------------------------

TEST(GeminiCodec, StreamDecodesTextToolCallsFinishAndUsage) {
  GeminiStreamDecoder d("chatcmpl-s", "gemini-2.5-flash", 1234);
  ChunkBuffer out;
  const char* events[] = {
      R"({"candidates":[{"content":{"parts":[{"text":"Planning…","thought":true}],"role":"model"},"index":0}],
          "usageMetadata":{"promptTokenCount":10,"totalTokenCount":10},"modelVersion":"gemini-2.5-flash"})",
      R"({"candidates":[{"content":{"parts":[{"text":"The weather"}],"role":"model"},"index":0}],
          "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":2,"totalTokenCount":12}})",
      R"({"candidates":[{"content":{"parts":[{"text":" is nice."}],"role":"model"},"index":0}]})",
      R"({"candidates":[{"content":{"parts":[
          {"functionCall":{"name":"weather","args":{"city":"Paris"}}},
          {"functionCall":{"name":"time","args":{}}}],"role":"model"},"index":0}]})",
      R"({"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"STOP","index":0}],
          "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":20,"totalTokenCount":35,
                           "thoughtsTokenCount":5,"cachedContentTokenCount":4}})",
      R"({"candidates":[{"content":{"parts":[{"text":""}]},"finishReason":"STOP","index":0}]})",
  };
  for (const char* e : events) ASSERT_TRUE(d.feed(e, out));
  d.finish(out);
  d.finish(out);  // a second finish adds nothing

  ASSERT_EQ(out.size(), 5u);
  for (const auto& c : out) {
    EXPECT_EQ(c.id, "chatcmpl-s");
    EXPECT_EQ(c.model, "gemini-2.5-flash");
    EXPECT_EQ(c.created, 1234);
  }
  ASSERT_EQ(out[0].choices.size(), 1u);
  EXPECT_EQ(out[0].choices[0].role, Role::kAssistant);
  EXPECT_EQ(out[0].choices[0].content, "The weather");
  EXPECT_FALSE(out[1].choices[0].role);
  EXPECT_EQ(out[1].choices[0].content, " is nice.");

  const auto& calls = out[2].choices[0].tool_calls;
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_FALSE(out[2].choices[0].content);
  EXPECT_EQ(calls[0].index, 0);
  EXPECT_EQ(calls[0].id, "call_0");
  EXPECT_EQ(calls[0].name, "weather");
  EXPECT_EQ(calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(calls[1].index, 1);
  EXPECT_EQ(calls[1].id, "call_1");
  EXPECT_EQ(calls[1].arguments, "{}");

  EXPECT_EQ(out[3].choices.at(0).finish_reason, FinishReason::kToolCalls);
  EXPECT_FALSE(out[3].choices[0].content);
  EXPECT_FALSE(out[3].usage);

  EXPECT_TRUE(out[4].choices.empty());
  ASSERT_TRUE(out[4].usage);
  EXPECT_EQ(out[4].usage->prompt_tokens, 10);
  EXPECT_EQ(out[4].usage->completion_tokens, 25);
  EXPECT_EQ(out[4].usage->reasoning_tokens, 5);
  EXPECT_EQ(out[4].usage->cached_tokens, 4);

  // Rendered the OpenAI way: the tool-call delta carries id, type and name.
  std::string text;
  appendOpenAIChunkJson(out[2], true, text);
  const json::value first_call = json::parse(text);
  EXPECT_EQ(first_call.at("choices").at(0).at("delta").at("tool_calls").at(1).at("id"), "call_1");
}

TEST(GeminiCodec, StreamFinishReasonsAndNoUsage) {
  GeminiStreamDecoder d("i", "m", 1);
  ChunkBuffer out;
  ASSERT_TRUE(d.feed(R"({"candidates":[{"content":{"parts":[{"text":"Long answ"}]},
                         "finishReason":"MAX_TOKENS"}]})",
                     out));
  d.finish(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].choices[0].content, "Long answ");
  EXPECT_EQ(out[0].choices[0].finish_reason, FinishReason::kNone);
  EXPECT_FALSE(out[1].choices[0].role);
  EXPECT_EQ(out[1].choices[0].finish_reason, FinishReason::kLength);

  // A safety stop with no content still carries the role on its one chunk.
  GeminiStreamDecoder s("i", "m", 1);
  out.clear();
  ASSERT_TRUE(s.feed(R"({"candidates":[{"finishReason":"SAFETY","index":0}]})", out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].choices[0].role, Role::kAssistant);
  EXPECT_EQ(out[0].choices[0].finish_reason, FinishReason::kContentFilter);

  // A blocked prompt streams as promptFeedback only.
  GeminiStreamDecoder b("i", "m", 1);
  out.clear();
  ASSERT_TRUE(b.feed(R"({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},
                         "usageMetadata":{"promptTokenCount":7,"totalTokenCount":7}})",
                     out));
  b.finish(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].choices[0].finish_reason, FinishReason::kContentFilter);
  EXPECT_EQ(out[1].usage->prompt_tokens, 7);
}

TEST(GeminiCodec, StreamWithSeveralCandidatesKeepsThemApart) {
  GeminiStreamDecoder d("i", "m", 1);
  ChunkBuffer out;
  ASSERT_TRUE(d.feed(R"({"candidates":[{"content":{"parts":[{"text":"A"}]},"index":0},
                                       {"content":{"parts":[{"functionCall":{"name":"f"}}]},"index":1}]})",
                     out));
  ASSERT_TRUE(
      d.feed(R"({"candidates":[{"content":{"parts":[{"text":"B"}]},"finishReason":"STOP","index":0},
                                       {"finishReason":"STOP","index":1}]})",
             out));
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].choices[0].index, 0);
  EXPECT_EQ(out[0].choices[0].role, Role::kAssistant);
  EXPECT_EQ(out[1].choices[0].index, 1);
  EXPECT_EQ(out[1].choices[0].role, Role::kAssistant);
  EXPECT_EQ(out[1].choices[0].tool_calls.at(0).index, 0);
  EXPECT_EQ(out[2].choices[0].content, "B");
  EXPECT_EQ(out[3].choices[0].finish_reason, FinishReason::kStop);
  EXPECT_EQ(out[4].choices[0].index, 1);
  EXPECT_EQ(out[4].choices[0].finish_reason, FinishReason::kToolCalls);
}

TEST(GeminiCodec, StreamErrorsEndTheStream) {
  GeminiStreamDecoder d("i", "m", 1);
  ChunkBuffer out;
  ASSERT_TRUE(d.feed(R"({"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]})", out));
  auto err =
      d.feed(R"({"error":{"code":503,"message":"The model is overloaded. Please try again later.",
                               "status":"UNAVAILABLE"}})",
             out);
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().code, core::ErrorCode::kUpstreamStatus);
  EXPECT_EQ(err.error().http_status, 503);
  EXPECT_TRUE(err.error().retryable);
  EXPECT_EQ(err.error().message, "The model is overloaded. Please try again later.");
  EXPECT_EQ(out.size(), 1u);

  auto wrapped =
      d.feed(R"([{"error":{"code":500,"message":"Internal error","status":"INTERNAL"}}])", out);
  ASSERT_FALSE(wrapped);
  EXPECT_EQ(wrapped.error().http_status, 500);

  auto garbage = d.feed("{\"candidates\": [", out);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, core::ErrorCode::kBadGateway);
  EXPECT_EQ(garbage.error().http_status, 502);
}

// ---- embeddings and models --------------------------------------------------------------------

TEST(GeminiCodec, EmbedRequest) {
  EmbeddingRequest r;
  r.model = "text-embedding-004";
  r.input = {"hello", "world"};
  r.dimensions = 256;
  EXPECT_EQ(toGeminiEmbedRequest(r, "text-embedding-004"), j(R"({"requests":[
      {"model":"models/text-embedding-004","content":{"parts":[{"text":"hello"}]},"outputDimensionality":256},
      {"model":"models/text-embedding-004","content":{"parts":[{"text":"world"}]},"outputDimensionality":256}]})"));
  r.dimensions.reset();
  EXPECT_FALSE(toGeminiEmbedRequest(r, "e")
                   .at("requests")
                   .at(0)
                   .as_object()
                   .contains("outputDimensionality"));
}

TEST(GeminiCodec, EmbedResponsesBothShapes) {
  auto batch = parseGeminiEmbedResponse(
      j(R"({"embeddings":[{"values":[0.5,-1,2.25]},{"values":[0,1,0]}]})"), "text-embedding-004");
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->model, "text-embedding-004");
  ASSERT_EQ(batch->embeddings.size(), 2u);
  EXPECT_EQ(batch->embeddings[0], (std::vector<float>{0.5f, -1.0f, 2.25f}));
  EXPECT_EQ(batch->embeddings[1], (std::vector<float>{0.0f, 1.0f, 0.0f}));
  EXPECT_EQ(batch->usage.prompt_tokens, 0);

  auto single = parseGeminiEmbedResponse(j(R"({"embedding":{"values":[0.125,0.25]}})"), "e");
  ASSERT_TRUE(single);
  ASSERT_EQ(single->embeddings.size(), 1u);
  EXPECT_EQ(single->embeddings[0], (std::vector<float>{0.125f, 0.25f}));

  EXPECT_EQ(
      parseGeminiEmbedResponse(j(R"({"embeddings":[{"values":["x"]}]})"), "e").error().http_status,
      502);
  EXPECT_EQ(parseGeminiEmbedResponse(j(R"({"foo":1})"), "e").error().http_status, 502);
  EXPECT_EQ(parseGeminiEmbedResponse(
                j(R"({"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}})"), "e")
                .error()
                .http_status,
            400);
}

std::unique_ptr<providers::Provider> geminiProvider() {
  config::ProviderConfig c;
  c.name = "g";
  c.type = "gemini";
  c.base_url = "http://upstream.test/v1beta";
  c.api_key = "k";
  return providers::makeProvider(c, nullptr);
}

// Gemini sends no token counts for embeddings; the provider estimates them from the input so
// that clients and accounting never see 0 prompt tokens. A count Gemini does send wins.
TEST(GeminiCodec, EmbeddingUsageIsEstimatedWhenGeminiSendsNone) {
  const auto provider = geminiProvider();
  ASSERT_NE(provider, nullptr);
  EmbeddingRequest r;
  r.model = "text-embedding-004";
  r.input = {"The quick brown fox jumps over the lazy dog.", "apple"};
  const long long expected = estimateTokens(r.input[0]) + estimateTokens(r.input[1]);
  ASSERT_GT(expected, 0);

  auto estimated =
      provider->parseEmbedding(R"({"embeddings":[{"values":[0.5]},{"values":[1]}]})", r);
  ASSERT_TRUE(estimated);
  EXPECT_EQ(estimated->usage.prompt_tokens, expected);

  auto reported = provider->parseEmbedding(
      R"({"embeddings":[{"values":[0.5]},{"values":[1]}],"usageMetadata":{"promptTokenCount":7}})",
      r);
  ASSERT_TRUE(reported);
  EXPECT_EQ(reported->usage.prompt_tokens, 7);
}

// Numbers a float cannot hold make the answer malformed (502), not an undefined conversion; a
// retry delay past a day, or not a number, gives no Retry-After rather than one.
TEST(GeminiCodec, OutOfRangeNumbersFromGeminiAreRefused) {
  EXPECT_EQ(parseGeminiEmbedResponse(j(R"({"embeddings":[{"values":[0.5,1e300]}]})"), "e")
                .error()
                .http_status,
            502);
  EXPECT_EQ(
      parseGeminiEmbedResponse(j(R"({"embedding":{"values":[-3.5e38]}})"), "e").error().http_status,
      502);
  EXPECT_TRUE(parseGeminiEmbedResponse(j(R"({"embedding":{"values":[3.4e38,-1e-300]}})"), "e"));

  const auto provider = geminiProvider();
  ASSERT_NE(provider, nullptr);
  auto retryAfter = [&](std::string_view delay) {
    const std::string body =
        R"({"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED","details":[)"
        R"({"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":")" +
        std::string(delay) + R"("}]}})";
    return provider->parseError(429, body).retry_after;
  };
  EXPECT_EQ(retryAfter("17s"), "17");
  EXPECT_EQ(retryAfter("0.5s"), "1");
  EXPECT_EQ(retryAfter("86400s"), "86400");
  EXPECT_EQ(retryAfter("1e300s"), "");
  EXPECT_EQ(retryAfter("infs"), "");
  EXPECT_EQ(retryAfter("nans"), "");
  EXPECT_EQ(retryAfter("-1s"), "");
}

TEST(GeminiCodec, ModelListKeepsGenerationAndEmbeddingModels) {
  const auto ids = parseGeminiModelList(R"({"models":[
      {"name":"models/gemini-2.0-flash","supportedGenerationMethods":["generateContent","countTokens"]},
      {"name":"models/text-embedding-004","supportedGenerationMethods":["embedContent"]},
      {"name":"models/gemini-embedding-001","supportedGenerationMethods":["batchEmbedContents"]},
      {"name":"models/aqa","supportedGenerationMethods":["generateAnswer"]},
      {"name":"models/imagen-3.0-generate-002","supportedGenerationMethods":["predict"]},
      {"name":"models/no-methods"},
      {"name":"tunedModels/my-model","supportedGenerationMethods":["streamGenerateContent"]}],
    "nextPageToken":"abc"})");
  EXPECT_EQ(ids, (std::vector<std::string>{"gemini-2.0-flash", "text-embedding-004",
                                           "gemini-embedding-001", "tunedModels/my-model"}));
  EXPECT_TRUE(parseGeminiModelList("not json").empty());
  EXPECT_TRUE(parseGeminiModelList("[]").empty());
  EXPECT_TRUE(parseGeminiModelList(R"({"models":{}})").empty());
}

}  // namespace
}  // namespace kh::model
