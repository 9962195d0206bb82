#include "api/openai_body.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <array>
#include <optional>
#include <random>
#include <vector>

#include <simdjson.h>

#include "support/random_edits.h"
#include "support/readings.h"

namespace kh::api {
namespace {

using providers::Operation;

core::Result<OpenAIBodyInfo> inspect(std::string body, Operation op = Operation::kChat) {
  return inspectBody(body, op);
}

TEST(OpenAIBody, ReadsModelStreamAndOffsets) {
  std::string body =
      R"({"messages":[{"role":"user","content":"hi"}], "model" : "gpt-4o" , "stream":true})";
  auto info = inspectBody(body, Operation::kChat);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->model, "gpt-4o");
  EXPECT_TRUE(info->stream);
  EXPECT_FALSE(info->include_usage);
  EXPECT_EQ(body.substr(info->model_begin, info->model_end - info->model_begin), "\"gpt-4o\"");
}

TEST(OpenAIBody, EscapedModelNameIsUnescaped) {
  auto info = inspect(R"({"model":"a\/b\u0041","messages":[]})");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->model, "a/bA");
}

TEST(OpenAIBody, RejectsMalformedJsonWith400) {
  for (const char* bad : {"", "not json", "{", R"({"model":"x","messages":[1,2,}])",
                          R"({"model":"x","messages":[]} trailing)", R"({"model":"x",})"}) {
    auto info = inspect(bad);
    ASSERT_FALSE(info) << bad;
    EXPECT_EQ(info.error().http_status, 400) << bad;
    EXPECT_EQ(info.error().code, core::ErrorCode::kInvalidJson) << bad;
  }
}

TEST(OpenAIBody, NamesTheFieldAtFault) {
  struct Case {
    const char* body;
    Operation op;
    const char* param;
  } cases[] = {
      {R"([1,2])", Operation::kChat, ""},
      {R"({"messages":[]})", Operation::kChat, "model"},
      {R"({"model":7,"messages":[]})", Operation::kChat, "model"},
      {R"({"model":"m"})", Operation::kChat, "messages"},
      {R"({"model":"m","messages":"hi"})", Operation::kChat, "messages"},
      {R"({"model":"m","messages":[],"stream":"yes"})", Operation::kChat, "stream"},
      {R"({"model":"m","messages":[],"stream_options":true})", Operation::kChat, "stream_options"},
      {R"({"model":"m"})", Operation::kCompletion, "prompt"},
      {R"({"model":"m","prompt":5})", Operation::kCompletion, "prompt"},
      {R"({"model":"m"})", Operation::kEmbedding, "input"},
      {R"({"model":"m","input":{}})", Operation::kEmbedding, "input"},
  };
  for (const auto& c : cases) {
    auto info = inspect(c.body, c.op);
    ASSERT_FALSE(info) << c.body;
    EXPECT_EQ(info.error().http_status, 400) << c.body;
    EXPECT_EQ(info.error().param, c.param) << c.body;
  }
  EXPECT_TRUE(inspect(R"({"model":"m","prompt":["a","b"]})", Operation::kCompletion));
  EXPECT_TRUE(inspect(R"({"model":"m","input":"text"})", Operation::kEmbedding));
  EXPECT_TRUE(inspect(R"({"model":"m","messages":[],"stream":null})"));
}

// The scanning reading (bodies that go upstream as they are) and the document's reading
// (translated ones) give the same answer: the same fields, or the same error. Bodies are built
// from the members the gateway reads, in every type, repeated and escaped, then edited at random.
TEST(OpenAIBody, ScanAndDocumentReadTheSame) {
  std::mt19937 rng(20261201);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::vector<std::string> members = {
      R"("model":"gpt-4o")",
      R"("model":"a\/b\u00e9")",
      R"("model":7)",
      R"("model":"x\"y")",
      R"("messages":[{"role":"user","content":"hi \"there\" {[,"}])",
      R"("messages":"text")",
      R"("messages":[])",
      R"("prompt":"p")",
      R"("prompt":["a",{"b":[1,2.5]}])",
      R"("input":3)",
      R"("input":"t")",
      R"("stream":true)",
      R"("stream":false)",
      R"("stream":null)",
      R"("stream":"yes")",
      R"("stream_options":null)",
      R"("stream_options":{"include_usage":true})",
      R"("stream_options":{"include_usage":false,"x":1})",
      R"("stream_options":{"include_usage":1})",
      R"("stream_options":{"include_usage":true,"include_usage":false})",
      R"("stream_options":{"include_\u0075sage":true})",
      R"("stream_options":[1])",
      R"("user_preferences":{"max_cost":1})",
      R"("max_tokens":10)",
      R"("max_tokens":"10")",
      R"("max_tokens":1.5)",
      R"("temperature":0.7)",
      R"("mod\u0065l":"m")",
      R"("n":123456789012345678901)",
      "\"content\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
      R"("deep":[[[[{"a":[[[]]]}]]]])"};
  const std::string noise = "{}[]\",:\\ 0123456789tfnx\x01\x80\xff";
  int scanned = 0;
  for (int round = 0; round < 20000; ++round) {
    const auto op =
        std::array{Operation::kChat, Operation::kCompletion, Operation::kEmbedding}[pick(3)];
    const bool messages_api = pick(4) == 0;
    std::string body = pick(5) == 0 ? " { " : "{";
    // Half the bodies start with what a valid one needs.
    const bool valid_start = pick(2) == 1;
    if (valid_start) {
      body += op == Operation::kChat         ? R"("model":"m","messages":[])"
              : op == Operation::kCompletion ? R"("model":"m","prompt":"p")"
                                             : R"("model":"m","input":"i")";
      if (messages_api) body += R"(,"max_tokens":5)";
    }
    const std::size_t n = pick(5);
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0 || valid_start) body += pick(3) == 0 ? " , " : ",";
      body += members[pick(members.size())];
    }
    body += "}";
    if (round % 2) test_support::editRandomly(body, rng, noise, 1 + pick(2));
    const test_support::BodyInspection r =
        test_support::compareBodyInspections(op, messages_api, body);
    EXPECT_EQ(r.mismatch, "");
    scanned += r.scanned;
  }
  // The scan settled most valid bodies: the comparison is not between two document readings.
  EXPECT_GT(scanned, 3000);
}

// The usage read from an answer or chunk is simdjson's reading of it: the last "usage" member
// counts, integers only, members of other types at zero; "choices" is empty or not. Random answers
// and chunks, then random edits; every valid one must be read, and read alike.
TEST(OpenAIBody, UsageReadAsSimdjsonReadsIt) {
  struct Expected {
    UsageCounts usage;
    bool choices_empty = false;
  };
  auto reference = [](const std::string& text) -> std::optional<Expected> {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(text).get(root)) return std::nullopt;
    Expected e;
    if (!root.is_object()) return e;
    auto count = [](simdjson::dom::element v) {
      int64_t n = 0;
      return v.get_int64().get(n) ? 0LL : static_cast<long long>(n);
    };
    for (auto field : simdjson::dom::object(root)) {
      if (field.key == "usage") {
        e.usage = UsageCounts{};
        if (!field.value.is_object()) continue;
        e.usage.present = true;
        for (auto u : simdjson::dom::object(field.value)) {
          if (u.key == "prompt_tokens") e.usage.prompt_tokens = count(u.value);
          if (u.key == "completion_tokens") e.usage.completion_tokens = count(u.value);
          if (u.key == "prompt_tokens_details" && u.value.is_object())
            for (auto d : simdjson::dom::object(u.value))
              if (d.key == "cached_tokens") e.usage.cached_tokens = count(d.value);
        }
      } else if (field.key == "choices") {
        e.choices_empty = field.value.is_array() && simdjson::dom::array(field.value).size() == 0;
      }
    }
    return e;
  };
  std::mt19937 rng(20261202);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::vector<std::string> counts = {"0",
                                           "7",
                                           "-3",
                                           "231",
                                           "2.5",
                                           "1e3",
                                           "\"9\"",
                                           "null",
                                           "123456789012345678",
                                           "1234567890123456789",
                                           "99999999999999999999",
                                           "[1]",
                                           "{}"};
  auto usage = [&] {
    std::string u = "{";
    const std::size_t n = pick(6);
    const char* keys[] = {"prompt_tokens",         "completion_tokens",         "total_tokens",
                          "prompt_tokens_details", "completion_tokens_details", "cached_tokens"};
    for (std::size_t i = 0; i < n; ++i) {
      if (i) u += ',';
      const std::string key = keys[pick(6)];
      u += "\"" + key + "\":";
      if (key.ends_with("details"))
        u += pick(4) ? "{\"cached_tokens\":" + counts[pick(counts.size())] + "}" : "null";
      else
        u += counts[pick(counts.size())];
    }
    return u + "}";
  };
  const std::vector<std::string> others = {
      R"("id":"chatcmpl-1")",
      R"("object":"chat.completion.chunk")",
      R"("created":1735689600)",
      R"("choices":[])",
      R"("choices":[{"index":0,"delta":{"content":"{\"usage\":{}}"}}])",
      R"("choices":null)",
      R"("model":"m")",
      R"("usage":null)",
      R"("x":[{"usage":{"prompt_tokens":5}}])"};
  const std::string noise = "{}[]\",:\\ 0123456789tfnx\x80";
  int read = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text = "{";
    const std::size_t n = 1 + pick(5);
    for (std::size_t i = 0; i < n; ++i) {
      if (i) text += pick(4) == 0 ? " , " : ",";
      text += pick(2) ? "\"usage\":" + usage() : others[pick(others.size())];
    }
    text += "}";
    if (round % 3 == 2) test_support::editRandomly(text, rng, noise, 1 + pick(2));
    const auto expected = reference(text);
    if (!expected) continue;
    ++read;
    const auto got = extractUsage(text);
    ASSERT_TRUE(got) << "text: " << text;
    EXPECT_EQ(got->present, expected->usage.present) << "text: " << text;
    EXPECT_EQ(got->prompt_tokens, expected->usage.prompt_tokens) << "text: " << text;
    EXPECT_EQ(got->completion_tokens, expected->usage.completion_tokens) << "text: " << text;
    EXPECT_EQ(got->cached_tokens, expected->usage.cached_tokens) << "text: " << text;
    const ChunkInfo chunk = inspectChunk(text);
    EXPECT_EQ(chunk.usage_only, expected->usage.present && expected->choices_empty)
        << "text: " << text;
  }
  EXPECT_GT(read, 12000);
}

TEST(OpenAIBody, LeadingModelIsTheFirstMembersPlainString) {
  EXPECT_EQ(leadingModel(R"({"model":"gpt-4o","messages":[]})"), "gpt-4o");
  EXPECT_EQ(leadingModel(" {\n \"model\" :\t\"openai:gpt-4o/x\" ,\"messages\":[]}"),
            "openai:gpt-4o/x");
  EXPECT_EQ(leadingModel(R"({"model":"","messages":[]})"), "");
  for (const char* none : {R"({"messages":[],"model":"m"})", R"({"model":"a\"b"})",
                           R"({"model":7})", R"({"mod\u0065l":"m"})", R"({"model":"open)",
                           R"(["model","m"])", "", "{", R"({"model")", R"({"model":)"}) {
    EXPECT_EQ(leadingModel(none), "") << none;
  }
}

std::string rewrite(std::string body, std::string_view model) {
  auto info = inspectBody(body, Operation::kChat);
  EXPECT_TRUE(info);
  return rewriteBody(body, *info, model);
}

TEST(OpenAIBody, RewriteSplicesOnlyTheModel) {
  EXPECT_EQ(rewrite(R"({"model":"alias","messages":[],"temperature":1.0})", "gpt-4o"),
            R"({"model":"gpt-4o","messages":[],"temperature":1.0})");
  EXPECT_EQ(rewrite(R"({ "messages":[] ,"model":  "a"  })", "say \"hi\""),
            R"({ "messages":[] ,"model":  "say \"hi\""  })");
}

// The model's offsets are found by walking the top level: after nested values holding quotes,
// braces and escapes, with an escaped key, and for the last of duplicate keys.
TEST(OpenAIBody, ModelOffsetsSurviveNestingEscapesAndDuplicates) {
  EXPECT_EQ(rewrite(R"({"messages":[{"role":"user","content":"a \"}{[\\ b","x":{"y":[1,{}]}}],)"
                    R"( "n" : -1.5e3 , "model" : "m" })",
                    "target"),
            R"({"messages":[{"role":"user","content":"a \"}{[\\ b","x":{"y":[1,{}]}}],)"
            R"( "n" : -1.5e3 , "model" : "target" })");
  EXPECT_EQ(rewrite(R"({"messages":[],"mod\u0065l":"m"})", "t"),
            R"({"messages":[],"mod\u0065l":"t"})");
  // A string that ends in an escaped backslash, and one with an escaped quote after backslashes.
  EXPECT_EQ(
      rewrite(R"({"messages":[{"content":"ends \\"},{"content":"q \\\" }"}],"model":"m"})", "t"),
      R"({"messages":[{"content":"ends \\"},{"content":"q \\\" }"}],"model":"t"})");
  // Readers take the last of duplicate keys: that is the one the gateway routes on and rewrites.
  std::string dup = R"({"model":"first","messages":[],"model":"second"})";
  auto info = inspect(dup);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->model, "second");
  EXPECT_EQ(rewrite(dup, "t"), R"({"model":"first","messages":[],"model":"t"})");
}

// A body whose model token already names the target, and that needs no usage option, is sent as
// it is, uncopied.
TEST(OpenAIBody, RewriteNeededOnlyForAChange) {
  auto needs = [](std::string body, std::string_view model, bool force_usage = true) {
    auto info = inspectBody(body, Operation::kChat);
    EXPECT_TRUE(info) << body;
    return needsRewrite(*info, model, force_usage);
  };
  EXPECT_FALSE(needs(R"({"model":"gpt-4o","messages":[]})", "gpt-4o"));
  EXPECT_TRUE(needs(R"({"model":"alias","messages":[]})", "gpt-4o"));
  // The same name spelt with an escape is still rewritten to the plain token.
  EXPECT_TRUE(needs(R"({"model":"gpt\u002d4o","messages":[]})", "gpt-4o"));
  EXPECT_TRUE(needs(R"({"model":"say \"hi\"","messages":[]})", "say \"hi\""));
  // Streams need include_usage unless the client asked for it or the wire format has no such
  // option.
  EXPECT_TRUE(needs(R"({"model":"m","stream":true,"messages":[]})", "m"));
  EXPECT_FALSE(needs(R"({"model":"m","stream":true,"messages":[]})", "m", false));
  EXPECT_FALSE(needs(
      R"({"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]})", "m"));
}

TEST(OpenAIBody, StreamsAlwaysAskForUsage) {
  const std::string out = rewrite(R"({"model":"a","stream":true,"messages":[]})", "b");
  EXPECT_EQ(out,
            R"({"stream_options":{"include_usage":true},"model":"b","stream":true,"messages":[]})");
  EXPECT_TRUE(boost::json::parse(out).is_object());

  // Existing options are kept; include_usage is switched on.
  const std::string kept = rewrite(
      R"({"stream_options":{"continuous_usage_stats":true},"model":"a","stream":true,"messages":[]})",
      "b");
  const auto v = boost::json::parse(kept);
  EXPECT_EQ(v.at("model").as_string(), "b");
  EXPECT_EQ(v.at("stream_options").at("include_usage").as_bool(), true);
  EXPECT_EQ(v.at("stream_options").at("continuous_usage_stats").as_bool(), true);

  // A client that asked for usage already gets its body untouched but for the model.
  const std::string asked =
      R"({"model":"a","stream":true,"stream_options":{"include_usage":true},"messages":[]})";
  auto info = inspect(asked);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->include_usage);
  EXPECT_EQ(rewrite(asked, "b"),
            R"({"model":"b","stream":true,"stream_options":{"include_usage":true},"messages":[]})");

  // An explicit null is replaced, not shadowed by an earlier key.
  const std::string null_options =
      rewrite(R"({"model":"a","stream":true,"stream_options":null,"messages":[]})", "b");
  EXPECT_EQ(null_options,
            R"({"model":"b","stream":true,"stream_options":{"include_usage":true},"messages":[]})");

  // Non-stream requests are never given stream_options.
  EXPECT_EQ(rewrite(R"({"model":"a","messages":[]})", "b"), R"({"model":"b","messages":[]})");
}

TEST(OpenAIBody, UsageFromResponsesAndChunks) {
  auto u = extractUsage(
      R"({"id":"x","usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4}}})");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->present);
  EXPECT_EQ(u->prompt_tokens, 10);
  EXPECT_EQ(u->completion_tokens, 5);
  EXPECT_EQ(u->cached_tokens, 4);
  EXPECT_FALSE(extractUsage("<html>")) << "garbage is not JSON";
  EXPECT_FALSE(extractUsage(R"({"id":"x"})")->present);

  // The answer as it arrives in a string with room past its end: read in place.
  std::string in_place =
      R"({"choices":[{"message":{"content":"{\"usage\":1}"}}],"usage":{"completion_tokens":7}})";
  in_place.reserve(in_place.size() + 128);
  auto p = extractUsage(in_place, in_place.capacity());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->completion_tokens, 7) << "a key inside a string is not the usage member";
  EXPECT_EQ(p->prompt_tokens, 0);

  // Members of unexpected types are left at zero; usage that is not an object is absent.
  auto odd = extractUsage(
      R"({"usage":{"prompt_tokens":"10","completion_tokens":2.5,"prompt_tokens_details":null,"extra":[1,{"a":2}]}})");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->present);
  EXPECT_EQ(odd->prompt_tokens, 0);
  EXPECT_EQ(odd->completion_tokens, 0);
  EXPECT_FALSE(extractUsage(R"({"usage":null,"id":"x"})")->present);
  EXPECT_FALSE(extractUsage(R"({"usage":[1,2]})")->present);

  // JSON that is not an object carries no usage; text that is not JSON is refused.
  ASSERT_TRUE(extractUsage("[1,2]"));
  EXPECT_FALSE(extractUsage("[1,2]")->present);
  ASSERT_TRUE(extractUsage("\"text\""));
  for (const char* bad :
       {"", "{", R"({"id":"x")", R"({"id":"x",)", R"({"id":"x"} {})", R"({"id":"x"}])",
        R"({"choices":[{"a":1},"usage":{}})", R"({"usage":{"prompt_tokens":1})", "[1,2",
        R"({"id":"unterminated})", "{\"id\":\"\xff\"}"}) {
    EXPECT_FALSE(extractUsage(bad)) << bad;
  }

  const std::string_view usage_chunk =
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}})";
  EXPECT_TRUE(mayCarryUsage(usage_chunk));
  const ChunkInfo ci = inspectChunk(usage_chunk);
  EXPECT_TRUE(ci.usage_only);
  EXPECT_EQ(ci.usage.prompt_tokens, 3);

  const std::string_view content_chunk =
      R"({"id":"c","choices":[{"delta":{"content":"x"}}],"usage":null})";
  EXPECT_FALSE(mayCarryUsage(content_chunk));
  EXPECT_FALSE(mayCarryUsage(R"({"choices":[{"delta":{"content":"\"usage\": {"}}]})"));

  // Across a whole read of events: where the first usage object starts, null ones skipped; text
  // cut right after the key may still be one.
  const std::string events =
      "data: {\"usage\":null}\n\ndata: {\"usage\" : {\"prompt_tokens\":1}}\n\n";
  EXPECT_EQ(firstUsageObject(events), events.find("\"usage\" :"));
  EXPECT_EQ(firstUsageObject("data: {\"usage\":null}\n\n"), std::string_view::npos);
  EXPECT_EQ(firstUsageObject("data: {\"x\":1,\"usage\""), 13u);
  // Spaced out, with choices after usage; a chunk that is not JSON tells nothing.
  const ChunkInfo spaced =
      inspectChunk(R"({ "usage" : { "prompt_tokens" : 9 } , "choices" : [ ] })");
  EXPECT_TRUE(spaced.usage_only);
  EXPECT_EQ(spaced.usage.prompt_tokens, 9);
  const ChunkInfo broken = inspectChunk(R"({"choices":[],"usage":{"prompt_tokens":9})");
  EXPECT_FALSE(broken.usage.present);
  EXPECT_FALSE(broken.usage_only);
  // vLLM's continuous usage: usage on a chunk that also has choices is read but not dropped.
  const ChunkInfo both = inspectChunk(
      R"({"choices":[{"delta":{"content":"x"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}})");
  EXPECT_TRUE(both.usage.present);
  EXPECT_FALSE(both.usage_only);
}

}  // namespace
}  // namespace kh::api
