#include "model/anthropic_codec.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace kh::model {
namespace {

namespace json = boost::json;

ChatRequest parseOk(std::string_view text) {
  auto r = parseAnthropicRequest(json::parse(text));
  EXPECT_TRUE(r) << (r ? "" : r.error().param + ": " + r.error().message);
  return r ? std::move(*r) : ChatRequest{};
}

core::Error parseFails(std::string_view text) {
  auto r = parseAnthropicRequest(json::parse(text));
  EXPECT_FALSE(r) << text;
  return r ? core::Error{} : r.error();
}

json::object render(const ChatRequest& r, AnthropicRequestOptions options = {}) {
  auto o = toAnthropicRequest(r, options);
  EXPECT_TRUE(o) << (o ? "" : o.error().param + ": " + o.error().message);
  return o ? std::move(*o) : json::object{};
}

Message msg(Role role, std::string text) {
  Message m;
  m.role = role;
  if (!text.empty()) m.content.push_back(ContentPart::textPart(std::move(text)));
  return m;
}

Message toolMsg(std::string id, std::string text) {
  Message m = msg(Role::kTool, std::move(text));
  m.tool_call_id = std::move(id);
  return m;
}

Message assistantCalls(std::string text, std::vector<ToolCall> calls) {
  Message m = msg(Role::kAssistant, std::move(text));
  m.tool_calls = std::move(calls);
  return m;
}

ChatRequest request(std::vector<Message> messages) {
  ChatRequest r;
  r.model = "claude-sonnet-4-5";
  r.messages = std::move(messages);
  return r;
}

Tool tool(std::string name, json::value params = nullptr) {
  Tool t;
  t.name = std::move(name);
  t.parameters = std::move(params);
  return t;
}

std::string s(const json::value& v) {
  return json::serialize(v);
}

struct Event {
  std::string name;
  json::object data;
};

// Splits SSE text into events, checking the framing is exactly "event: X\ndata: {…}\n\n".
std::vector<Event> parseSse(std::string_view text) {
  std::vector<Event> out;
  while (!text.empty()) {
    const size_t end = text.find("\n\n");
    EXPECT_NE(end, std::string_view::npos) << "unterminated event: " << text;
    if (end == std::string_view::npos) break;
    const std::string_view ev = text.substr(0, end);
    text.remove_prefix(end + 2);
    EXPECT_TRUE(ev.starts_with("event: ")) << ev;
    const size_t nl = ev.find('\n');
    Event e;
    e.name = std::string(ev.substr(7, nl - 7));
    const std::string_view data = ev.substr(nl + 1);
    EXPECT_TRUE(data.starts_with("data: ")) << ev;
    e.data = json::parse(data.substr(6)).as_object();
    // Written directly as text: byte for byte what Boost.JSON would serialize.
    EXPECT_EQ(json::serialize(e.data), data.substr(6));
    EXPECT_EQ(e.data.at("type").as_string(), e.name) << "event name and data type differ";
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<std::string> names(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.name);
  return out;
}

// ---- toAnthropicRequest ----

TEST(AnthropicCodec, SystemAndDeveloperMessagesBecomeTopLevelSystem) {
  ChatRequest r = request({msg(Role::kSystem, "Be brief."), msg(Role::kUser, "hi"),
                           msg(Role::kDeveloper, "Use metric units.")});
  const json::object o = render(r);
  EXPECT_EQ(o.at("system").as_string(), "Be brief.\n\nUse metric units.");
  ASSERT_EQ(o.at("messages").as_array().size(), 1u);
  EXPECT_EQ(s(o.at("messages")), R"([{"role":"user","content":[{"type":"text","text":"hi"}]}])");
  EXPECT_EQ(o.at("model").as_string(), "claude-sonnet-4-5");
}

TEST(AnthropicCodec, MergesConsecutiveSameRoleTurnsAndToolResultsIntoUserTurns) {
  ChatRequest r = request({
      msg(Role::kUser, "one"),
      msg(Role::kUser, "two"),
      assistantCalls("Let me look.",
                     {{"call_a", "lookup", R"({"q":"a"})"}, {"call_b", "lookup", R"({"q":"b"})"}}),
      toolMsg("call_a", "A"),
      toolMsg("call_b", "B"),
      msg(Role::kUser, "thanks"),
      msg(Role::kAssistant, "welcome"),
      msg(Role::kAssistant, "again"),
  });
  const json::object o = render(r);
  const auto& m = o.at("messages").as_array();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(
      s(m[0]),
      R"({"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]})");
  EXPECT_EQ(s(m[1]), R"({"role":"assistant","content":[{"type":"text","text":"Let me look."},)"
                     R"({"type":"tool_use","id":"call_a","name":"lookup","input":{"q":"a"}},)"
                     R"({"type":"tool_use","id":"call_b","name":"lookup","input":{"q":"b"}}]})");
  EXPECT_EQ(s(m[2]), R"({"role":"user","content":[)"
                     R"({"type":"tool_result","tool_use_id":"call_a","content":"A"},)"
                     R"({"type":"tool_result","tool_use_id":"call_b","content":"B"},)"
                     R"({"type":"text","text":"thanks"}]})");
  EXPECT_EQ(
      s(m[3]),
      R"({"role":"assistant","content":[{"type":"text","text":"welcome"},{"type":"text","text":"again"}]})");
}

TEST(AnthropicCodec, ToolResultsGoBeforeUserTextInTheSameTurn) {
  // Anthropic refuses text between a tool_use and its tool_result.
  ChatRequest r = request({msg(Role::kUser, "q"), assistantCalls("", {{"c1", "f", "{}"}}),
                           msg(Role::kUser, "also this"), toolMsg("c1", "done")});
  const json::object o = render(r);
  const auto& m = o.at("messages").as_array();
  ASSERT_EQ(m.size(), 3u);
  const auto& content = m[2].at("content").as_array();
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0].at("type").as_string(), "tool_result");
  EXPECT_EQ(content[1].at("text").as_string(), "also this");
  // An assistant turn with tool calls only has no text block.
  EXPECT_EQ(m[1].at("content").as_array().size(), 1u);
}

TEST(AnthropicCodec, RendersImagesAsBase64OrUrlSources) {
  Message m = msg(Role::kUser, "What is this?");
  ContentPart inline_img;
  inline_img.kind = ContentPart::Kind::kImage;
  inline_img.image.media_type = "image/png";
  inline_img.image.data = "iVBORw0KGgo=";
  inline_img.image.detail = "low";
  ContentPart url_img;
  url_img.kind = ContentPart::Kind::kImage;
  url_img.image.url = "https://example.com/cat.jpg";
  m.content.push_back(inline_img);
  m.content.push_back(url_img);
  const json::object o = render(request({m}));
  EXPECT_EQ(
      s(o.at("messages").at(0).at("content")),
      R"([{"type":"text","text":"What is this?"},)"
      R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},)"
      R"({"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}])");

  // Images inside tool results travel as blocks too.
  Message t = toolMsg("c1", "see");
  t.content.push_back(url_img);
  const json::object o2 =
      render(request({msg(Role::kUser, "x"), assistantCalls("", {{"c1", "f", "{}"}}), t}));
  EXPECT_EQ(s(o2.at("messages").at(2).at("content").at(0).at("content")),
            R"([{"type":"text","text":"see"},)"
            R"({"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}])");
}

TEST(AnthropicCodec, RefusesImagesAnthropicCannotFetch) {
  Message m = msg(Role::kUser, "");
  ContentPart p;
  p.kind = ContentPart::Kind::kImage;
  p.image.url = "ftp://example.com/cat.jpg";
  m.content.push_back(p);
  auto o = toAnthropicRequest(request({m}), {});
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().http_status, 400);
  EXPECT_EQ(o.error().param, "messages[0].content[0]");

  // A system prompt with an image cannot be expressed either.
  Message sys = msg(Role::kSystem, "x");
  sys.content.push_back(p);
  auto o2 = toAnthropicRequest(request({sys, msg(Role::kUser, "hi")}), {});
  ASSERT_FALSE(o2);
  EXPECT_EQ(o2.error().param, "messages[0].content[1]");
}

TEST(AnthropicCodec, RendersToolsWithADefaultSchemaForParameterlessTools) {
  ChatRequest r = request({msg(Role::kUser, "hi")});
  Tool weather =
      tool("weather", json::parse(R"({"type":"object","properties":{"city":{"type":"string"}}})"));
  weather.description = "Current weather";
  weather.strict = true;
  r.tools = {weather, tool("now")};
  const json::object o = render(r);
  EXPECT_EQ(s(o.at("tools")),
            R"([{"name":"weather","description":"Current weather","input_schema":)"
            R"({"type":"object","properties":{"city":{"type":"string"}}},"strict":true},)"
            R"({"name":"now","input_schema":{"type":"object","properties":{}}}])");
  EXPECT_FALSE(o.contains("tool_choice"));
}

TEST(AnthropicCodec, MapsEveryToolChoiceMode) {
  auto choiceFor = [](ToolChoice::Mode mode, std::string name = "") {
    ChatRequest r = request({msg(Role::kUser, "hi")});
    r.tools = {tool("f")};
    r.tool_choice.mode = mode;
    r.tool_choice.name = std::move(name);
    const json::object o = render(r);
    return o.contains("tool_choice") ? s(o.at("tool_choice")) : std::string("absent");
  };
  EXPECT_EQ(choiceFor(ToolChoice::Mode::kUnset), "absent");
  EXPECT_EQ(choiceFor(ToolChoice::Mode::kAuto), R"({"type":"auto"})");
  EXPECT_EQ(choiceFor(ToolChoice::Mode::kRequired), R"({"type":"any"})");
  EXPECT_EQ(choiceFor(ToolChoice::Mode::kNone), R"({"type":"none"})");
  EXPECT_EQ(choiceFor(ToolChoice::Mode::kNamed, "f"), R"({"type":"tool","name":"f"})");

  // Without tools a choice means nothing to Anthropic (it refuses one), except a named tool,
  // which cannot be satisfied.
  ChatRequest bare = request({msg(Role::kUser, "hi")});
  bare.tool_choice.mode = ToolChoice::Mode::kAuto;
  EXPECT_FALSE(render(bare).contains("tool_choice"));
  bare.tool_choice = {ToolChoice::Mode::kNamed, "f"};
  auto o = toAnthropicRequest(bare, {});
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().param, "tool_choice");
}

TEST(AnthropicCodec, ParallelToolCallsFalseDisablesParallelToolUse) {
  ChatRequest r = request({msg(Role::kUser, "hi")});
  r.tools = {tool("f")};
  r.parallel_tool_calls = false;
  EXPECT_EQ(s(render(r).at("tool_choice")), R"({"type":"auto","disable_parallel_tool_use":true})");
  r.tool_choice.mode = ToolChoice::Mode::kRequired;
  EXPECT_EQ(s(render(r).at("tool_choice")), R"({"type":"any","disable_parallel_tool_use":true})");
  r.tool_choice = {ToolChoice::Mode::kNamed, "f"};
  EXPECT_EQ(s(render(r).at("tool_choice")),
            R"({"type":"tool","name":"f","disable_parallel_tool_use":true})");
  r.parallel_tool_calls = true;
  EXPECT_EQ(s(render(r).at("tool_choice")), R"({"type":"tool","name":"f"})");
}

TEST(AnthropicCodec, ToolCallArgumentsBecomeInputObjects) {
  ChatRequest r = request({msg(Role::kUser, "hi"),
                           assistantCalls("", {{"call_1", "a", R"({"x":[1,2]})"},
                                               {"call_2", "b", ""},
                                               {"call_3", "c", "{not json"},
                                               {"call_4", "d", "[1]"}}),
                           toolMsg("call_1", "r1")});
  const json::object o = render(r);
  const auto& blocks = o.at("messages").at(1).at("content").as_array();
  ASSERT_EQ(blocks.size(), 4u);
  EXPECT_EQ(s(blocks[0].at("input")), R"({"x":[1,2]})");
  EXPECT_EQ(s(blocks[1].at("input")), "{}");
  EXPECT_EQ(s(blocks[2].at("input")), "{}");
  EXPECT_EQ(s(blocks[3].at("input")), "{}");
}

TEST(AnthropicCodec, ToolIdsAreMadeValidTheSameWayOnBothSides) {
  ChatRequest r = request({msg(Role::kUser, "hi"), assistantCalls("", {{"fc:1/a", "f", "{}"}}),
                           toolMsg("fc:1/a", "ok")});
  const json::object o = render(r);
  EXPECT_EQ(o.at("messages").at(1).at("content").at(0).at("id").as_string(), "fc_1_a");
  EXPECT_EQ(o.at("messages").at(2).at("content").at(0).at("tool_use_id").as_string(), "fc_1_a");

  // A tool result that names no call cannot be paired with one.
  auto bad = toAnthropicRequest(request({msg(Role::kUser, "hi"), toolMsg("", "x")}), {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().param, "messages[1].tool_call_id");
}

TEST(AnthropicCodec, RendersSamplingFieldsAndDropsWhatAnthropicLacks) {
  ChatRequest r = request({msg(Role::kUser, "hi")});
  r.stop = {"END", "STOP"};
  r.temperature = 1.5;  // OpenAI's range goes to 2; Anthropic's to 1
  r.top_p = 0.9;
  r.top_k = 40;
  r.max_tokens = 256;
  r.user = "u-42";
  r.stream = true;
  r.n = 1;
  r.seed = 7;
  r.presence_penalty = 0.5;
  r.frequency_penalty = 0.5;
  r.extra["logit_bias"] = json::object{{"1", 2}};
  const json::object o = render(r);
  EXPECT_EQ(s(o.at("stop_sequences")), R"(["END","STOP"])");
  EXPECT_DOUBLE_EQ(o.at("temperature").as_double(), 1.0);
  EXPECT_DOUBLE_EQ(o.at("top_p").as_double(), 0.9);
  EXPECT_EQ(o.at("top_k").as_int64(), 40);
  EXPECT_EQ(o.at("max_tokens").as_int64(), 256);
  EXPECT_EQ(s(o.at("metadata")), R"({"user_id":"u-42"})");
  EXPECT_EQ(o.at("stream"), json::value(true));
  for (const char* gone : {"n", "seed", "presence_penalty", "frequency_penalty", "logit_bias",
                           "stop", "user", "stream_options", "response_format"})
    EXPECT_FALSE(o.contains(gone)) << gone;

  ChatRequest d = request({msg(Role::kUser, "hi")});
  EXPECT_EQ(render(d, {.default_max_tokens = 1234}).at("max_tokens").as_int64(), 1234);
  EXPECT_FALSE(render(d).contains("stream"));
  EXPECT_FALSE(render(d).contains("system"));
}

TEST(AnthropicCodec, MoreThanOneChoiceIsRefused) {
  ChatRequest r = request({msg(Role::kUser, "hi")});
  r.n = 3;
  auto o = toAnthropicRequest(r, {});
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().http_status, 400);
  EXPECT_EQ(o.error().code, core::ErrorCode::kInvalidRequest);
  EXPECT_EQ(o.error().param, "n");
}

TEST(AnthropicCodec, ResponseFormatUsesOutputConfigOrAnInstruction) {
  ChatRequest r = request({msg(Role::kSystem, "Extract."), msg(Role::kUser, "Ann is 3")});
  r.response_format.kind = ResponseFormat::Kind::kJsonSchema;
  r.response_format.name = "person";
  r.response_format.schema =
      json::parse(R"({"type":"object","properties":{"name":{"type":"string"}}})");
  const json::object o = render(r);
  EXPECT_EQ(
      s(o.at("output_config")),
      R"({"format":{"type":"json_schema","schema":{"type":"object","properties":{"name":{"type":"string"}}}}})");
  EXPECT_EQ(o.at("system").as_string(), "Extract.");
  EXPECT_FALSE(o.contains("tools"));

  r.response_format.kind = ResponseFormat::Kind::kJsonObject;
  const json::object j = render(r);
  EXPECT_FALSE(j.contains("output_config"));
  const std::string system(j.at("system").as_string());
  EXPECT_TRUE(system.starts_with("Extract.\n\n")) << system;
  EXPECT_NE(system.find("JSON object"), std::string::npos) << system;

  r.response_format.kind = ResponseFormat::Kind::kJsonSchema;
  r.response_format.schema = nullptr;
  auto bad = toAnthropicRequest(r, {});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().param, "response_format.json_schema.schema");

  r.response_format.kind = ResponseFormat::Kind::kText;
  EXPECT_FALSE(render(r).contains("output_config"));
}

TEST(AnthropicCodec, RequestWithOnlySystemMessagesIsRefused) {
  auto o = toAnthropicRequest(request({msg(Role::kSystem, "x")}), {});
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().param, "messages");
}

// ---- parseAnthropicResponse ----

TEST(AnthropicCodec, ParsesAMessageWithTextToolUseThinkingAndCacheUsage) {
  auto r = parseAnthropicResponse(json::parse(R"({
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
      {"type": "thinking", "thinking": "Let me think", "signature": "sig"},
      {"type": "text", "text": "The weather "},
      {"type": "text", "text": "is sunny."},
      {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"location": "Paris", "unit": "c"}},
      {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}}
    ],
    "stop_reason": "tool_use", "stop_sequence": null,
    "usage": {"input_tokens": 100, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 300, "output_tokens": 50}
  })"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, "msg_01XFDUDYJgAACzvnptvVoYEL");
  EXPECT_EQ(r->model, "claude-sonnet-4-5-20250929");
  EXPECT_GT(r->created, 1700000000);
  ASSERT_EQ(r->choices.size(), 1u);
  const Message& m = r->choices[0].message;
  EXPECT_EQ(m.role, Role::kAssistant);
  ASSERT_EQ(m.content.size(), 1u);
  EXPECT_EQ(m.text(), "The weather is sunny.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].id, "toolu_01A");
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"location":"Paris","unit":"c"})");
  EXPECT_EQ(m.tool_calls[1].arguments, "{}");
  EXPECT_EQ(r->choices[0].finish_reason, FinishReason::kToolCalls);
  ASSERT_TRUE(r->usage);
  EXPECT_EQ(r->usage->prompt_tokens, 420);
  EXPECT_EQ(r->usage->cached_tokens, 300);
  EXPECT_EQ(r->usage->cache_creation_tokens, 20);
  EXPECT_EQ(r->usage->completion_tokens, 50);
  EXPECT_EQ(r->usage->total(), 470);
}

TEST(AnthropicCodec, MapsEveryStopReason) {
  auto finishOf = [](std::string_view reason) {
    auto r = parseAnthropicResponse(json::parse(fmt::format(
        R"({{"id":"msg_1","model":"m","content":[{{"type":"text","text":"x"}}],"stop_reason":"{}"}})",
        reason)));
    EXPECT_TRUE(r);
    return r ? r->choices[0].finish_reason : FinishReason::kNone;
  };
  EXPECT_EQ(finishOf("end_turn"), FinishReason::kStop);
  EXPECT_EQ(finishOf("stop_sequence"), FinishReason::kStop);
  EXPECT_EQ(finishOf("pause_turn"), FinishReason::kStop);
  EXPECT_EQ(finishOf("max_tokens"), FinishReason::kLength);
  EXPECT_EQ(finishOf("model_context_window_exceeded"), FinishReason::kLength);
  EXPECT_EQ(finishOf("tool_use"), FinishReason::kToolCalls);
  EXPECT_EQ(finishOf("refusal"), FinishReason::kContentFilter);
}

TEST(AnthropicCodec, MalformedResponsesAreBadGateway) {
  auto a = parseAnthropicResponse(json::parse(R"([1])"));
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().http_status, 502);
  auto b = parseAnthropicResponse(json::parse(R"({"id":"msg_1","content":"oops"})"));
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().http_status, 502);
  // An error object with a 200 status is still an error.
  auto c = parseAnthropicResponse(json::parse(
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().http_status, 503);
  EXPECT_TRUE(c.error().retryable);
}

// ---- toAnthropicResponse ----

TEST(AnthropicCodec, RendersAMessageObjectAsAnthropicDoes) {
  ChatResponse r;
  r.id = "chatcmpl-abc";
  r.model = "gpt-4o";
  Choice c;
  c.message = assistantCalls("Checking.", {{"call_9", "lookup", R"({"q":"cat"})"}});
  c.finish_reason = FinishReason::kToolCalls;
  r.choices.push_back(c);
  r.usage = Usage{.prompt_tokens = 420,
                  .completion_tokens = 50,
                  .cached_tokens = 300,
                  .cache_creation_tokens = 20};
  EXPECT_EQ(
      s(toAnthropicResponse(r)),
      R"({"id":"msg_chatcmpl-abc","type":"message","role":"assistant","model":"gpt-4o",)"
      R"("content":[{"type":"text","text":"Checking."},)"
      R"({"type":"tool_use","id":"call_9","name":"lookup","input":{"q":"cat"}}],)"
      R"("stop_reason":"tool_use","stop_sequence":null,)"
      R"("usage":{"input_tokens":100,"cache_creation_input_tokens":20,"cache_read_input_tokens":300,"output_tokens":50}})");

  ChatResponse plain;
  plain.id = "msg_keep";
  Choice pc;
  pc.message = msg(Role::kAssistant, "hi");
  pc.finish_reason = FinishReason::kLength;
  plain.choices.push_back(pc);
  const json::object o = toAnthropicResponse(plain);
  EXPECT_EQ(o.at("id").as_string(), "msg_keep");
  EXPECT_EQ(o.at("stop_reason").as_string(), "max_tokens");
  EXPECT_EQ(
      s(o.at("usage")),
      R"({"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0})");

  plain.choices[0].finish_reason = FinishReason::kContentFilter;
  EXPECT_EQ(toAnthropicResponse(plain).at("stop_reason").as_string(), "refusal");
  plain.choices[0].finish_reason = FinishReason::kStop;
  EXPECT_EQ(toAnthropicResponse(plain).at("stop_reason").as_string(), "end_turn");
  // OpenAI says "stop" for a call forced by a named tool_choice; Anthropic clients expect tool_use
  // whenever the message calls a tool.
  ChatResponse forced = plain;
  forced.choices[0].message = assistantCalls("", {{"call_1", "get_time", "{}"}});
  EXPECT_EQ(toAnthropicResponse(forced).at("stop_reason").as_string(), "tool_use");
  forced.choices[0].finish_reason = FinishReason::kLength;
  EXPECT_EQ(toAnthropicResponse(forced).at("stop_reason").as_string(), "max_tokens");
  plain.id.clear();
  EXPECT_TRUE(std::string(toAnthropicResponse(plain).at("id").as_string()).starts_with("msg_"));
}

TEST(AnthropicCodec, ResponseRoundTripsThroughTheMessageObject) {
  auto parsed = parseAnthropicResponse(json::parse(R"({
    "id":"msg_1","type":"message","role":"assistant","model":"claude-x",
    "content":[{"type":"text","text":"a"},{"type":"tool_use","id":"toolu_1","name":"f","input":{"k":1}}],
    "stop_reason":"tool_use","stop_sequence":null,
    "usage":{"input_tokens":5,"cache_creation_input_tokens":7,"cache_read_input_tokens":8,"output_tokens":6}})"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(
      s(toAnthropicResponse(*parsed)),
      R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-x",)"
      R"("content":[{"type":"text","text":"a"},{"type":"tool_use","id":"toolu_1","name":"f","input":{"k":1}}],)"
      R"("stop_reason":"tool_use","stop_sequence":null,)"
      R"("usage":{"input_tokens":5,"cache_creation_input_tokens":7,"cache_read_input_tokens":8,"output_tokens":6}})");
}

// The writer skips the document; its text is still Boost.JSON's, escapes and odd arguments too.
TEST(AnthropicCodec, ResponseWriterMatchesBoostJsonText) {
  ChatResponse r;
  r.id = "x\"y";
  r.model = "m\n";
  Choice c;
  c.message = assistantCalls("tab\t \x01 日本語",
                             {{"call_1", "f", "[1]"}, {"call_2", "g", R"( {"a" : 1.0} )"}});
  r.choices.push_back(c);
  std::string text;
  appendAnthropicResponseJson(r, text);
  EXPECT_EQ(s(json::parse(text)), text);
  const json::value v = json::parse(text);
  EXPECT_EQ(s(v.at("content").at(1).at("input")), "{}");
  EXPECT_EQ(s(v.at("content").at(2).at("input")), R"({"a":1E0})");
  EXPECT_EQ(v.at("stop_reason"), "tool_use");

  auto err = parseAnthropicResponse(
      std::string_view(R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})"));
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().http_status, 503);
  EXPECT_EQ(err.error().message, "busy");
  EXPECT_EQ(parseAnthropicResponse(std::string_view("not json")).error().http_status, 502);
}

// ---- errors ----

TEST(AnthropicCodec, ParsesErrorBodiesIntoClientStatuses) {
  struct Case {
    int status;
    const char* type;
    int want;
    bool retryable;
  };
  const Case cases[] = {{400, "invalid_request_error", 400, false},
                        {401, "authentication_error", 401, false},
                        {403, "permission_error", 403, false},
                        {404, "not_found_error", 404, false},
                        {413, "request_too_large", 413, false},
                        {429, "rate_limit_error", 429, true},
                        {500, "api_error", 500, true},
                        {529, "overloaded_error", 503, true}};
  for (const auto& c : cases) {
    const core::Error e = parseAnthropicError(
        c.status,
        fmt::format(
            R"({{"type":"error","error":{{"type":"{}","message":"msg {}"}},"request_id":"req_1"}})",
            c.type, c.status));
    EXPECT_EQ(e.http_status, c.want) << c.type;
    EXPECT_EQ(e.retryable, c.retryable) << c.type;
    EXPECT_EQ(e.code, core::ErrorCode::kUpstreamStatus) << c.type;
    EXPECT_EQ(e.message, fmt::format("msg {}", c.status));
    EXPECT_TRUE(e.upstream_body.empty());
  }
}

TEST(AnthropicCodec, NonJsonErrorBodiesBecomeBoundedMessages) {
  const core::Error e = parseAnthropicError(502, "  <html>Bad Gateway</html>\n");
  EXPECT_EQ(e.http_status, 502);
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(e.message, "<html>Bad Gateway</html>");
  EXPECT_TRUE(e.upstream_body.empty());

  const core::Error big = parseAnthropicError(400, std::string(5000, 'x'));
  EXPECT_EQ(big.http_status, 400);
  EXPECT_FALSE(big.retryable);
  EXPECT_LT(big.message.size(), 1100u);
  EXPECT_TRUE(big.message.starts_with("xxxx"));

  const core::Error empty = parseAnthropicError(529, "");
  EXPECT_EQ(empty.http_status, 503);
  EXPECT_TRUE(empty.retryable);
  EXPECT_EQ(empty.message, "Upstream answered HTTP 529");
}

TEST(AnthropicCodec, RendersErrorsInAnthropicsShape) {
  struct Case {
    int status;
    const char* type;
  };
  const Case cases[] = {{400, "invalid_request_error"},
                        {401, "authentication_error"},
                        {402, "billing_error"},
                        {403, "permission_error"},
                        {404, "not_found_error"},
                        {409, "invalid_request_error"},
                        {413, "request_too_large"},
                        {429, "rate_limit_error"},
                        {500, "api_error"},
                        {502, "api_error"},
                        {503, "overloaded_error"},
                        {504, "timeout_error"},
                        {529, "overloaded_error"}};
  for (const auto& c : cases) EXPECT_EQ(anthropicErrorType(c.status), c.type) << c.status;

  core::Error e = core::Error::modelNotFound("nope");
  EXPECT_EQ(
      renderAnthropicError(e),
      R"({"type":"error","error":{"type":"not_found_error","message":"The model 'nope' does not exist or is not served by any provider"}})");

  // Anthropic's shape has no param; the field path leads the message as in Anthropic's own.
  core::Error field = core::Error::invalidField("messages[1].content", "'content' is required");
  EXPECT_EQ(
      renderAnthropicError(field),
      R"({"type":"error","error":{"type":"invalid_request_error","message":"messages[1].content: 'content' is required"}})");

  EXPECT_EQ(renderAnthropicStreamError(core::Error::unavailable("busy")),
            "event: error\ndata: "
            R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})"
            "\n\n");
}

// An Anthropic error passed on as it is, pretty-printed, still makes one data line.
TEST(AnthropicCodec, StreamErrorsCarryUpstreamBodiesOnOneLine) {
  const std::string body =
      "{\n  \"type\": \"error\",\n  \"error\": {\"type\": \"overloaded_error\", \"message\": "
      "\"Overloaded\"}\n}";
  EXPECT_EQ(renderAnthropicStreamError(core::Error::upstreamStatus(529, body)),
            "event: error\ndata: {   \"type\": \"error\",   \"error\": {\"type\": "
            "\"overloaded_error\", \"message\": \"Overloaded\"} }\n\n");
}

TEST(AnthropicCodec, RendersUpstreamBodiesFromOtherProviders) {
  // Anthropic's own error body passes through untouched.
  const std::string anthropic =
      R"({"type":"error","error":{"type":"invalid_request_error","message":"bad"}})";
  EXPECT_EQ(renderAnthropicError(core::Error::upstreamStatus(400, anthropic)), anthropic);
  // OpenAI's shape gives its message.
  const std::string openai =
      R"({"error":{"message":"Invalid model","type":"invalid_request_error"}})";
  EXPECT_EQ(renderAnthropicError(core::Error::upstreamStatus(404, openai)),
            R"({"type":"error","error":{"type":"not_found_error","message":"Invalid model"}})");
  // Plain text becomes the message.
  EXPECT_EQ(
      renderAnthropicError(core::Error::upstreamStatus(503, "try later")),
      R"({"type":"error","error":{"type":"overloaded_error","message":"Upstream answered HTTP 503: try later"}})");
}

// ---- parseAnthropicRequest ----

TEST(AnthropicCodec, ParsesAFullMessagesRequest) {
  const ChatRequest r = parseOk(R"({
    "model": "claude-sonnet-4-5", "max_tokens": 1024,
    "system": [{"type": "text", "text": "You are Claude Code."},
               {"type": "text", "text": "Be careful.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
      {"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]},
      {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "abc"},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_01", "name": "lookup", "input": {"q": "cat"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01", "content": "a cat"}]}
    ],
    "stop_sequences": ["\n\nHuman:"], "temperature": 0.7, "top_p": 0.9, "top_k": 5,
    "tools": [{"name": "lookup", "description": "Look up", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}},
              {"type": "custom", "name": "noop", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "auto"},
    "metadata": {"user_id": "user-7"},
    "stream": true,
    "thinking": {"type": "enabled", "budget_tokens": 2000}
  })");
  EXPECT_EQ(r.model, "claude-sonnet-4-5");
  EXPECT_EQ(*r.max_tokens, 1024);
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].role, Role::kSystem);
  EXPECT_EQ(r.messages[0].text(), "You are Claude Code.\n\nBe careful.");
  EXPECT_EQ(r.messages[1].role, Role::kUser);
  ASSERT_EQ(r.messages[1].content.size(), 3u);
  EXPECT_EQ(r.messages[1].content[1].kind, ContentPart::Kind::kImage);
  EXPECT_EQ(r.messages[1].content[1].image.media_type, "image/jpeg");
  EXPECT_EQ(r.messages[1].content[1].image.data, "/9j/4AAQ");
  EXPECT_EQ(r.messages[1].content[2].image.url, "https://example.com/a.png");
  EXPECT_EQ(r.messages[2].role, Role::kAssistant);
  EXPECT_EQ(r.messages[2].text(), "Let me check.");
  ASSERT_EQ(r.messages[2].tool_calls.size(), 1u);
  EXPECT_EQ(r.messages[2].tool_calls[0].id, "toolu_01");
  EXPECT_EQ(r.messages[2].tool_calls[0].name, "lookup");
  EXPECT_EQ(r.messages[2].tool_calls[0].arguments, R"({"q":"cat"})");
  EXPECT_EQ(r.messages[3].role, Role::kTool);
  EXPECT_EQ(r.messages[3].tool_call_id, "toolu_01");
  EXPECT_EQ(r.messages[3].text(), "a cat");
  EXPECT_EQ(r.stop, std::vector<std::string>{"\n\nHuman:"});
  EXPECT_DOUBLE_EQ(*r.temperature, 0.7);
  EXPECT_DOUBLE_EQ(*r.top_p, 0.9);
  EXPECT_EQ(*r.top_k, 5);
  ASSERT_EQ(r.tools.size(), 2u);
  EXPECT_EQ(r.tools[0].description, "Look up");
  EXPECT_EQ(r.tools[0].parameters.at("properties").at("q").at("type").as_string(), "string");
  EXPECT_EQ(r.tools[1].name, "noop");
  EXPECT_EQ(r.tool_choice.mode, ToolChoice::Mode::kAuto);
  EXPECT_FALSE(r.parallel_tool_calls);
  EXPECT_EQ(r.user, "user-7");
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.extra.empty());
}

TEST(AnthropicCodec, SplitsToolResultsIntoToolMessagesInBlockOrder) {
  const ChatRequest r = parseOk(R"({"model":"m","messages":[
    {"role":"user","content":"go"},
    {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}},
                                    {"type":"tool_use","id":"t2","name":"g"}]},
    {"role":"user","content":[
      {"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"one"},{"type":"text","text":" more"}]},
      {"type":"tool_result","tool_use_id":"t2","content":"boom","is_error":true},
      {"type":"text","text":"and then?"}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"t3","is_error":true}]}]})");
  ASSERT_EQ(r.messages.size(), 6u);
  EXPECT_EQ(r.messages[1].tool_calls[1].arguments, "{}");
  EXPECT_EQ(r.messages[2].role, Role::kTool);
  EXPECT_EQ(r.messages[2].tool_call_id, "t1");
  EXPECT_EQ(r.messages[2].text(), "one more");
  EXPECT_EQ(r.messages[3].role, Role::kTool);
  EXPECT_EQ(r.messages[3].tool_call_id, "t2");
  EXPECT_EQ(r.messages[3].text(), "Error: boom");
  EXPECT_EQ(r.messages[4].role, Role::kUser);
  EXPECT_EQ(r.messages[4].text(), "and then?");
  EXPECT_EQ(r.messages[5].role, Role::kTool);
  EXPECT_EQ(r.messages[5].text(), "Error");
  EXPECT_FALSE(r.max_tokens);  // absent is accepted
}

TEST(AnthropicCodec, SystemTurnsInsideMessagesBecomeSystemMessages) {
  const ChatRequest r = parseOk(R"({"model":"m","system":"top","messages":[
    {"role":"system","content":[{"type":"text","text":"inner"}]},
    {"role":"user","content":"hi"},
    {"role":"system","content":"late"}]})");
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].role, Role::kSystem);
  EXPECT_EQ(r.messages[0].text(), "top");
  EXPECT_EQ(r.messages[1].role, Role::kSystem);
  EXPECT_EQ(r.messages[1].text(), "inner");
  EXPECT_EQ(r.messages[3].role, Role::kSystem);
  EXPECT_EQ(r.messages[3].text(), "late");
}

TEST(AnthropicCodec, ParsesEveryToolChoiceAndOutputFormat) {
  auto choice = [](std::string_view tc) {
    return parseOk(fmt::format(
        R"({{"model":"m","messages":[{{"role":"user","content":"x"}}],"tools":[{{"name":"f","input_schema":{{"type":"object"}}}}],"tool_choice":{}}})",
        tc));
  };
  EXPECT_EQ(choice(R"({"type":"any"})").tool_choice.mode, ToolChoice::Mode::kRequired);
  EXPECT_EQ(choice(R"({"type":"none"})").tool_choice.mode, ToolChoice::Mode::kNone);
  const ChatRequest named =
      choice(R"({"type":"tool","name":"f","disable_parallel_tool_use":true})");
  EXPECT_EQ(named.tool_choice.mode, ToolChoice::Mode::kNamed);
  EXPECT_EQ(named.tool_choice.name, "f");
  ASSERT_TRUE(named.parallel_tool_calls);
  EXPECT_FALSE(*named.parallel_tool_calls);
  EXPECT_FALSE(choice(R"({"type":"auto","disable_parallel_tool_use":false})").parallel_tool_calls);

  const ChatRequest fmt_ga = parseOk(R"({"model":"m","messages":[{"role":"user","content":"x"}],
    "output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}}})");
  EXPECT_EQ(fmt_ga.response_format.kind, ResponseFormat::Kind::kJsonSchema);
  EXPECT_EQ(s(fmt_ga.response_format.schema), R"({"type":"object"})");
  const ChatRequest fmt_beta = parseOk(R"({"model":"m","messages":[{"role":"user","content":"x"}],
    "output_format":{"type":"json_schema","schema":{"type":"object"}}})");
  EXPECT_EQ(fmt_beta.response_format.kind, ResponseFormat::Kind::kJsonSchema);
}

TEST(AnthropicCodec, RefusesServerToolsAndDocuments) {
  const core::Error tool = parseFails(R"({"model":"m","messages":[{"role":"user","content":"x"}],
    "tools":[{"name":"f","input_schema":{"type":"object"}},
             {"type":"web_search_20250305","name":"web_search","max_uses":5}]})");
  EXPECT_EQ(tool.http_status, 400);
  EXPECT_EQ(tool.param, "tools[1].type");
  EXPECT_NE(tool.message.find("web_search_20250305"), std::string::npos) << tool.message;

  const core::Error doc = parseFails(R"({"model":"m","messages":[{"role":"user","content":[
    {"type":"text","text":"summarise"},
    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBER"}}]}]})");
  EXPECT_EQ(doc.param, "messages[0].content[1].type");
  EXPECT_NE(doc.message.find("document"), std::string::npos);
}

TEST(AnthropicCodec, WrongTypesNameTheFieldPath) {
  struct Case {
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {R"({"messages":[]})", "model"},
      {R"({"model":5,"messages":[]})", "model"},
      {R"({"model":"m"})", "messages"},
      {R"({"model":"m","messages":{}})", "messages"},
      {R"({"model":"m","max_tokens":"10","messages":[]})", "max_tokens"},
      {R"({"model":"m","max_tokens":0,"messages":[]})", "max_tokens"},
      {R"({"model":"m","system":7,"messages":[]})", "system"},
      {R"({"model":"m","system":[{"type":"image"}],"messages":[]})", "system[0].type"},
      {R"({"model":"m","messages":["hi"]})", "messages[0]"},
      {R"({"model":"m","messages":[{"role":"bot","content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"user"}]})", "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"user","content":5}]})", "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":[{"text":"x"}]}]})",
       "messages[1].content[0].type"},
      {R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"image","source":"x"}]}]})",
       "messages[1].content[0].source"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"x"}}]}]})",
       "messages[0].content[0].source.media_type"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]})",
       "messages[0].content[0].source.type"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":3}]}]})",
       "messages[0].content[0].text"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]})",
       "messages[0].content[0].tool_use_id"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":1}]}]}]})",
       "messages[0].content[0].content[0].text"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","is_error":"yes"}]}]})",
       "messages[0].content[0].is_error"},
      {R"({"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":"{}"}]}]})",
       "messages[0].content[0].input"},
      {R"({"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f"}]}]})",
       "messages[0].content[0].id"},
      {R"({"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"t"}]}]})",
       "messages[0].content[0].type"},
      {R"({"model":"m","messages":[],"stop_sequences":"END"})", "stop_sequences"},
      {R"({"model":"m","messages":[],"temperature":"hot"})", "temperature"},
      {R"({"model":"m","messages":[],"temperature":1.5})", "temperature"},
      {R"({"model":"m","messages":[],"top_k":-1})", "top_k"},
      {R"({"model":"m","messages":[],"tools":{}})", "tools"},
      {R"({"model":"m","messages":[],"tools":[{"input_schema":{}}]})", "tools[0].name"},
      {R"({"model":"m","messages":[],"tools":[{"name":"f","input_schema":"x"}]})",
       "tools[0].input_schema"},
      {R"({"model":"m","messages":[],"tool_choice":"auto"})", "tool_choice"},
      {R"({"model":"m","messages":[],"tool_choice":{"type":"tool"}})", "tool_choice.name"},
      {R"({"model":"m","messages":[],"tool_choice":{"type":"maybe"}})", "tool_choice.type"},
      {R"({"model":"m","messages":[],"metadata":{"user_id":5}})", "metadata.user_id"},
      {R"({"model":"m","messages":[],"stream":"yes"})", "stream"},
      {R"({"model":"m","messages":[],"output_config":{"format":{"type":"json_schema"}}})",
       "output_config.format.schema"},
  };
  for (const auto& c : cases) {
    const core::Error e = parseFails(c.body);
    EXPECT_EQ(e.param, c.param) << c.body << " → " << e.message;
    EXPECT_EQ(e.http_status, 400) << c.body;
    EXPECT_EQ(e.code, core::ErrorCode::kInvalidRequest) << c.body;
  }
  EXPECT_EQ(parseFails("[]").http_status, 400);
}

TEST(AnthropicCodec, InboundRequestRoundTripsToAnAnthropicBody) {
  const std::string body =
      R"({"model":"claude-x","system":"sys",)"
      R"("messages":[{"role":"user","content":[{"type":"text","text":"hi"},)"
      R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAA="}}]},)"
      R"({"role":"assistant","content":[{"type":"text","text":"calling"},)"
      R"({"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"r"},)"
      R"({"type":"text","text":"next"}]}],)"
      R"("max_tokens":99,)"
      R"("tools":[{"name":"f","description":"d","input_schema":{"type":"object"}}],)"
      R"("tool_choice":{"type":"any","disable_parallel_tool_use":true},)"
      R"("stop_sequences":["X"],"temperature":0.5,"top_k":3,"metadata":{"user_id":"u"},"stream":true})";
  const ChatRequest r = parseOk(body);
  // Compared as values: Boost.JSON writes 0.5 as 5E-1.
  EXPECT_EQ(json::value(render(r)), json::parse(body));
}

// ---- AnthropicStreamDecoder ----

struct Sse {
  const char* event;
  const char* data;
};

// A recorded-shape Anthropic stream: thinking, text, two tool_use blocks with their input split
// mid-token, pings, and cache usage.
const Sse kStream[] = {
    {"message_start",
     R"({"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":10,"cache_read_input_tokens":2000,"output_tokens":2}}})"},
    {"content_block_start",
     R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}})"},
    {"ping", R"({"type": "ping"})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user wants weather."}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}})"},
    {"content_block_stop", R"({"type":"content_block_stop","index":0})"},
    {"content_block_start",
     R"({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Okay, let's"}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" check."}})"},
    {"content_block_stop", R"({"type":"content_block_stop","index":1})"},
    {"content_block_start",
     R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"locat"}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ion\": \"San Fra"}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ncisco\"}"}})"},
    {"content_block_stop", R"({"type":"content_block_stop","index":2})"},
    {"ping", R"({"type": "ping"})"},
    {"content_block_start",
     R"({"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_02","name":"get_time","input":{}}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"tz\":"}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":" \"PST\"}"}})"},
    {"content_block_stop", R"({"type":"content_block_stop","index":3})"},
    {"message_delta",
     R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}})"},
    {"message_stop", R"({"type":"message_stop"})"},
};

TEST(AnthropicCodec, DecodesAFullStreamWithTextAndTwoToolCalls) {
  AnthropicStreamDecoder d;
  ChunkBuffer chunks;
  for (const auto& e : kStream) {
    auto st = d.feed(e.event, e.data, chunks);
    ASSERT_TRUE(st) << e.data << ": " << st.error().message;
    if (std::string_view(e.event) != "message_stop") {
      EXPECT_FALSE(d.finished());
    }
  }
  EXPECT_TRUE(d.finished());
  for (const auto& c : chunks) {
    EXPECT_EQ(c.id, "msg_014p7gG3wDgGV9EUtLvnow3U");
    EXPECT_EQ(c.model, "claude-sonnet-4-5-20250929");
    EXPECT_GT(c.created, 1700000000);
  }
  // role, 2 text, tool 1 start + 3 pieces, tool 2 start + 2 pieces, finish, usage.
  ASSERT_EQ(chunks.size(), 12u);
  ASSERT_EQ(chunks[0].choices.size(), 1u);
  EXPECT_EQ(chunks[0].choices[0].role, Role::kAssistant);
  EXPECT_EQ(chunks[0].choices[0].content, "");
  EXPECT_EQ(chunks[1].choices[0].content, "Okay, let's");
  EXPECT_FALSE(chunks[1].choices[0].role);
  EXPECT_EQ(chunks[2].choices[0].content, " check.");

  ASSERT_EQ(chunks[3].choices[0].tool_calls.size(), 1u);
  const ToolCallDelta& first = chunks[3].choices[0].tool_calls[0];
  EXPECT_EQ(first.index, 0);
  EXPECT_EQ(first.id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  EXPECT_EQ(first.name, "get_weather");
  EXPECT_EQ(first.arguments, "");
  std::string args0;
  for (size_t i = 4; i <= 6; ++i) {
    const ToolCallDelta& td = chunks[i].choices[0].tool_calls.at(0);
    EXPECT_EQ(td.index, 0);
    EXPECT_TRUE(td.id.empty());
    EXPECT_TRUE(td.name.empty());
    args0 += td.arguments;
  }
  EXPECT_EQ(args0, R"({"location": "San Francisco"})");

  const ToolCallDelta& second = chunks[7].choices[0].tool_calls.at(0);
  EXPECT_EQ(second.index, 1);
  EXPECT_EQ(second.id, "toolu_02");
  EXPECT_EQ(second.name, "get_time");
  EXPECT_EQ(chunks[8].choices[0].tool_calls.at(0).arguments +
                chunks[9].choices[0].tool_calls.at(0).arguments,
            R"({"tz": "PST"})");
  EXPECT_EQ(chunks[9].choices[0].tool_calls.at(0).index, 1);

  EXPECT_EQ(chunks[10].choices.at(0).finish_reason, FinishReason::kToolCalls);
  EXPECT_FALSE(chunks[10].usage);
  EXPECT_TRUE(chunks[11].choices.empty());
  ASSERT_TRUE(chunks[11].usage);
  EXPECT_EQ(chunks[11].usage->prompt_tokens, 2482);
  EXPECT_EQ(chunks[11].usage->cached_tokens, 2000);
  EXPECT_EQ(chunks[11].usage->cache_creation_tokens, 10);
  EXPECT_EQ(chunks[11].usage->completion_tokens, 89);
}

TEST(AnthropicCodec, DecoderReturnsStreamErrorEvents) {
  AnthropicStreamDecoder d;
  ChunkBuffer chunks;
  ASSERT_TRUE(d.feed("message_start", kStream[0].data, chunks));
  ASSERT_TRUE(d.feed("ping", "", chunks));
  auto st = d.feed("error",
                   R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
                   chunks);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().http_status, 503);
  EXPECT_TRUE(st.error().retryable);
  EXPECT_EQ(st.error().message, "Overloaded");
  EXPECT_EQ(st.error().code, core::ErrorCode::kUpstreamStatus);
  EXPECT_EQ(chunks.size(), 1u);
  EXPECT_FALSE(d.finished());  // only message_stop ends a stream normally

  AnthropicStreamDecoder d2;
  auto st2 = d2.feed(
      "", R"({"type":"error","error":{"type":"invalid_request_error","message":"bad"}})", chunks);
  ASSERT_FALSE(st2);
  EXPECT_EQ(st2.error().http_status, 400);
  EXPECT_FALSE(st2.error().retryable);
}

TEST(AnthropicCodec, DecoderRefusesMalformedDataAndIgnoresUnknownEvents) {
  AnthropicStreamDecoder d;
  ChunkBuffer chunks;
  auto bad = d.feed("content_block_delta", R"({"type":"content_block_delta","index":0,)", chunks);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().http_status, 502);
  EXPECT_EQ(bad.error().code, core::ErrorCode::kBadGateway);

  ASSERT_TRUE(d.feed("", kStream[0].data, chunks));  // the data's type decides
  ASSERT_TRUE(d.feed("future_event", R"({"type":"future_event","x":1})", chunks));
  ASSERT_TRUE(d.feed(
      "content_block_start",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
      chunks));
  ASSERT_TRUE(d.feed(
      "content_block_delta",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}})",
      chunks));
  ASSERT_TRUE(d.feed(
      "content_block_delta",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}})",
      chunks));
  // No message_delta: message_stop still closes with a finish reason and usage.
  ASSERT_TRUE(d.feed("message_stop", "", chunks));
  EXPECT_TRUE(d.finished());
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[1].choices[0].content, "hi");
  EXPECT_EQ(chunks[2].choices[0].finish_reason, FinishReason::kStop);
  ASSERT_TRUE(chunks[3].usage);
  EXPECT_EQ(chunks[3].usage->prompt_tokens, 2482);
  EXPECT_EQ(chunks[3].usage->completion_tokens, 2);
}

TEST(AnthropicCodec, DecoderMapsMessageDeltaStopReasonsAndUsage) {
  AnthropicStreamDecoder d;
  ChunkBuffer chunks;
  ASSERT_TRUE(d.feed(
      "message_start",
      R"({"type":"message_start","message":{"id":"msg_2","model":"m","usage":{"input_tokens":10,"output_tokens":1}}})",
      chunks));
  // Newer streams repeat input and cache counts in message_delta.
  ASSERT_TRUE(d.feed(
      "message_delta",
      R"({"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"input_tokens":12,"cache_read_input_tokens":3,"output_tokens":40}})",
      chunks));
  ASSERT_TRUE(d.feed("message_stop", R"({"type":"message_stop"})", chunks));
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[1].choices[0].finish_reason, FinishReason::kLength);
  EXPECT_EQ(chunks[2].usage->prompt_tokens, 15);
  EXPECT_EQ(chunks[2].usage->cached_tokens, 3);
  EXPECT_EQ(chunks[2].usage->completion_tokens, 40);
}

// ---- AnthropicStreamEncoder ----

ChatChunk textChunk(std::string text) {
  ChatChunk c;
  ChunkChoice ch;
  ch.content = std::move(text);
  c.choices.push_back(ch);
  return c;
}

ChatChunk toolChunk(int index, std::string id, std::string name, std::string args) {
  ChatChunk c;
  ChunkChoice ch;
  ch.tool_calls.push_back(ToolCallDelta{index, std::move(id), std::move(name), std::move(args)});
  c.choices.push_back(ch);
  return c;
}

TEST(AnthropicCodec, EncodesTheExactAnthropicEventSequence) {
  AnthropicStreamEncoder enc("chatcmpl-1", "gpt-4o");
  std::string out;
  ChatChunk role;
  role.choices.emplace_back();
  role.choices[0].role = Role::kAssistant;
  role.choices[0].content = "";
  enc.encode(role, out);
  enc.encode(textChunk("Hello"), out);
  enc.encode(textChunk(" there"), out);
  enc.encode(toolChunk(0, "call_a", "lookup", ""), out);
  enc.encode(toolChunk(0, "", "", R"({"q":)"), out);
  enc.encode(toolChunk(0, "", "", R"("x"})"), out);
  enc.encode(toolChunk(1, "call_b", "time", "{}"), out);
  ChatChunk fin;
  fin.choices.emplace_back();
  fin.choices[0].finish_reason = FinishReason::kToolCalls;
  enc.encode(fin, out);
  ChatChunk usage;
  usage.usage = Usage{.prompt_tokens = 120,
                      .completion_tokens = 33,
                      .cached_tokens = 100,
                      .cache_creation_tokens = 0};
  enc.encode(usage, out);
  enc.finish(out);
  enc.finish(out);  // idempotent

  const std::vector<Event> ev = parseSse(out);
  EXPECT_EQ(names(ev), (std::vector<std::string>{
                           "message_start", "ping", "content_block_start", "content_block_delta",
                           "content_block_delta", "content_block_stop", "content_block_start",
                           "content_block_delta", "content_block_delta", "content_block_stop",
                           "content_block_start", "content_block_delta", "content_block_stop",
                           "message_delta", "message_stop"}));
  EXPECT_EQ(
      s(ev[0].data),
      R"({"type":"message_start","message":{"id":"msg_chatcmpl-1","type":"message","role":"assistant",)"
      R"("model":"gpt-4o","content":[],"stop_reason":null,"stop_sequence":null,)"
      R"("usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}})");
  EXPECT_EQ(
      s(ev[2].data),
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
  EXPECT_EQ(
      s(ev[3].data),
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})");
  EXPECT_EQ(ev[4].data.at("delta").at("text").as_string(), " there");
  EXPECT_EQ(s(ev[5].data), R"({"type":"content_block_stop","index":0})");
  EXPECT_EQ(
      s(ev[6].data),
      R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_a","name":"lookup","input":{}}})");
  EXPECT_EQ(
      s(ev[7].data),
      R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"q\":"}})");
  EXPECT_EQ(ev[8].data.at("delta").at("partial_json").as_string(), R"("x"})");
  EXPECT_EQ(ev[9].data.at("index").as_int64(), 1);
  EXPECT_EQ(ev[10].data.at("index").as_int64(), 2);
  EXPECT_EQ(ev[10].data.at("content_block").at("id").as_string(), "call_b");
  EXPECT_EQ(ev[11].data.at("delta").at("partial_json").as_string(), "{}");
  EXPECT_EQ(
      s(ev[13].data),
      R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},)"
      R"("usage":{"input_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":33}})");
  EXPECT_EQ(s(ev[14].data), R"({"type":"message_stop"})");

  std::string after;
  enc.encode(textChunk("late"), after);
  EXPECT_TRUE(after.empty());
}

TEST(AnthropicCodec, EncoderOpensNewBlocksForTextAfterToolsAndMapsFinishReasons) {
  struct Case {
    FinishReason reason;
    const char* stop;
  };
  for (const Case c :
       // A stream that called a tool ends with tool_use even when the upstream said "stop".
       {Case{FinishReason::kStop, "tool_use"}, Case{FinishReason::kLength, "max_tokens"},
        Case{FinishReason::kContentFilter, "refusal"},
        Case{FinishReason::kToolCalls, "tool_use"}}) {
    AnthropicStreamEncoder enc("msg_x", "m");
    std::string out;
    enc.encode(toolChunk(0, "t", "f", "{}"), out);
    enc.encode(textChunk("after"), out);
    ChatChunk fin = textChunk("");
    fin.choices[0].finish_reason = c.reason;
    enc.encode(fin, out);
    enc.finish(out);
    const std::vector<Event> ev = parseSse(out);
    ASSERT_EQ(ev.size(), 10u);
    EXPECT_EQ(ev[0].data.at("message").at("id").as_string(), "msg_x");
    EXPECT_EQ(ev[2].data.at("content_block").at("type").as_string(), "tool_use");
    EXPECT_EQ(ev[5].name, "content_block_start");
    EXPECT_EQ(ev[5].data.at("index").as_int64(), 1);
    EXPECT_EQ(ev[5].data.at("content_block").at("type").as_string(), "text");
    EXPECT_EQ(ev[6].data.at("delta").at("text").as_string(), "after");
    EXPECT_EQ(ev[8].data.at("delta").at("stop_reason").as_string(), c.stop);
  }
}

TEST(AnthropicCodec, EncoderNamesTheModelTheUpstreamReports) {
  // message_start names the model the first chunk reports, as the whole answer does.
  AnthropicStreamEncoder enc("msg_m", "gpt-4o");
  std::string out;
  ChatChunk first = textChunk("Hi");
  first.model = "gpt-4o-2024-08-06";
  enc.encode(first, out);
  ChatChunk later = textChunk("!");
  later.model = "other";
  enc.encode(later, out);
  enc.finish(out);
  EXPECT_EQ(parseSse(out)[0].data.at("message").at("model").as_string(), "gpt-4o-2024-08-06");

  AnthropicStreamEncoder unnamed("msg_m", "gpt-4o");
  std::string out2;
  unnamed.encode(textChunk("Hi"), out2);
  EXPECT_EQ(parseSse(out2)[0].data.at("message").at("model").as_string(), "gpt-4o");
}

TEST(AnthropicCodec, EncoderFinishWithoutChunksIsStillAValidStream) {
  AnthropicStreamEncoder enc("", "m");
  std::string out;
  enc.finish(out);
  const std::vector<Event> ev = parseSse(out);
  EXPECT_EQ(names(ev),
            (std::vector<std::string>{"message_start", "ping", "message_delta", "message_stop"}));
  EXPECT_TRUE(std::string(ev[0].data.at("message").at("id").as_string()).starts_with("msg_"));
  EXPECT_EQ(ev[2].data.at("delta").at("stop_reason").as_string(), "end_turn");
  EXPECT_EQ(ev[2].data.at("usage").at("output_tokens").as_int64(), 0);
}

TEST(AnthropicCodec, EncoderOutputDecodesBackToTheSameChunks) {
  // Canonical → Anthropic SSE → canonical keeps text, tool calls, finish reason and usage.
  AnthropicStreamEncoder enc("msg_rt", "m");
  std::string out;
  ChatChunk first = textChunk("Hi");
  first.usage = Usage{
      .prompt_tokens = 50, .completion_tokens = 0, .cached_tokens = 5, .cache_creation_tokens = 7};
  enc.encode(first, out);
  enc.encode(toolChunk(0, "toolu_a", "f", R"({"a":)"), out);
  enc.encode(toolChunk(0, "", "", "1}"), out);
  ChatChunk fin;
  fin.choices.emplace_back();
  fin.choices[0].finish_reason = FinishReason::kToolCalls;
  fin.usage = Usage{
      .prompt_tokens = 50, .completion_tokens = 9, .cached_tokens = 5, .cache_creation_tokens = 7};
  enc.encode(fin, out);
  enc.finish(out);

  AnthropicStreamDecoder dec;
  ChunkBuffer chunks;
  for (const Event& e : parseSse(out)) ASSERT_TRUE(dec.feed(e.name, s(e.data), chunks));
  EXPECT_TRUE(dec.finished());
  std::string text, args;
  FinishReason finish = FinishReason::kNone;
  for (const auto& c : chunks) {
    EXPECT_EQ(c.id, "msg_rt");
    for (const auto& ch : c.choices) {
      if (ch.content) text += *ch.content;
      for (const auto& td : ch.tool_calls) args += td.arguments;
      if (ch.finish_reason != FinishReason::kNone) finish = ch.finish_reason;
    }
  }
  EXPECT_EQ(text, "Hi");
  EXPECT_EQ(args, R"({"a":1})");
  EXPECT_EQ(finish, FinishReason::kToolCalls);
  ASSERT_TRUE(chunks.back().usage);
  EXPECT_EQ(chunks.back().usage->prompt_tokens, 50);
  EXPECT_EQ(chunks.back().usage->cached_tokens, 5);
  EXPECT_EQ(chunks.back().usage->cache_creation_tokens, 7);
  EXPECT_EQ(chunks.back().usage->completion_tokens, 9);
}

}  // namespace
}  // namespace kh::model
