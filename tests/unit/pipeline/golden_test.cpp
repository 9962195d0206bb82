// Golden-file tests of every translation between a client's wire format and a provider's.
//
// Each case is a folder tests/golden/<provider>/<case>/ holding:
//   case.json              {"description", "client": "openai"|"anthropic",
//                           "operation": "chat"|"completion"|"embedding",
//                           "upstream_status": 200, "stream_ends": "normally"|"with_drop"}
//   request.json           what the client sends
//   upstream_request.json  {"method", "path", "body"}: what the gateway must send upstream
//   upstream_response.json | upstream_response.sse   what the upstream answers
//   expected.json          {"status", "body"} the client gets (whole answers and errors), or
//   expected.sse           the client's stream
// A request the gateway must refuse before calling upstream has no upstream files and an
// expected.json with the error. Streams are also replayed with the upstream bytes split at every
// possible boundary; the client must see the same events whatever the split.
// UPDATE_GOLDEN=1 rewrites upstream_request.json and expected.* from what the code does now.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/client_api.h"
#include "http/sse_parser.h"
#include "pipeline/stream_translator.h"
#include "providers/provider.h"
#include "read_file.h"

namespace kh::pipeline {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const fs::path kGoldenDir = fs::path(KH_TEST_DATA_DIR) / "golden";

bool updating() {
  const char* v = std::getenv("UPDATE_GOLDEN");
  return v && std::string_view(v) == "1";
}

using ::kh::test_support::readFile;

void writeFile(const fs::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

json::value parseOrDie(std::string_view text, const fs::path& where) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << where << ": " << ec.message();
  return v;
}

// Indented JSON, so golden files are readable and diffs are small.
void pretty(std::string& out, const json::value& v, int indent) {
  const std::string pad(indent * 2, ' ');
  const std::string inner((indent + 1) * 2, ' ');
  if (v.is_object() && !v.as_object().empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& [k, x] : v.as_object()) {
      if (!first) out += ",\n";
      first = false;
      out += inner + json::serialize(json::string(k)) + ": ";
      pretty(out, x, indent + 1);
    }
    out += "\n" + pad + "}";
  } else if (v.is_array() && !v.as_array().empty()) {
    out += "[\n";
    bool first = true;
    for (const auto& x : v.as_array()) {
      if (!first) out += ",\n";
      first = false;
      out += inner;
      pretty(out, x, indent + 1);
    }
    out += "\n" + pad + "]";
  } else {
    out += json::serialize(v);
  }
}

std::string pretty(const json::value& v) {
  std::string out;
  pretty(out, v, 0);
  out += "\n";
  return out;
}

// Generated ids and timestamps differ on every run; everything else must match exactly. Message
// and completion ids are normalized; tool-call ids are part of the contract and are not.
void normalize(json::value& v) {
  if (v.is_object()) {
    for (auto& [k, x] : v.as_object()) {
      if (k == "created" && x.is_number()) {
        x = 0;
      } else if (k == "id" && x.is_string() &&
                 (x.as_string().starts_with("chatcmpl-") || x.as_string().starts_with("msg_") ||
                  x.as_string().starts_with("cmpl-"))) {
        x = "<id>";
      } else {
        normalize(x);
      }
    }
  } else if (v.is_array()) {
    for (auto& x : v.as_array()) normalize(x);
  }
}

// An SSE stream as comparable text: one event per block, data normalized when it is JSON.
std::string normalizeSse(std::string_view text) {
  std::string out;
  http::SseParser parser;
  auto onEvent = [&](const http::SseEvent& ev) {
    if (!ev.event.empty()) out.append("event: ").append(ev.event).append("\n");
    if (ev.has_data) {
      boost::system::error_code ec;
      json::value v = json::parse(ev.data, ec);
      out.append("data: ");
      if (ec) {
        out.append(ev.data);
      } else {
        normalize(v);
        out.append(json::serialize(v));
      }
      out.append("\n");
    }
    out.append("\n");
  };
  parser.feed(text, onEvent);
  parser.finish(onEvent);
  return out;
}

struct Case {
  std::string provider;
  std::string name;
  fs::path dir;
};

// Test output names the case instead of dumping the struct's bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.provider << '/' << c.name;
}

std::vector<Case> discoverCases() {
  std::vector<Case> cases;
  if (!fs::exists(kGoldenDir)) return cases;
  for (const auto& p : fs::directory_iterator(kGoldenDir)) {
    if (!p.is_directory()) continue;
    for (const auto& c : fs::directory_iterator(p.path()))
      if (c.is_directory() && fs::exists(c.path() / "case.json"))
        cases.push_back({p.path().filename().string(), c.path().filename().string(), c.path()});
  }
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.dir < b.dir; });
  return cases;
}

// The provider a folder's cases run against, as a user would configure it.
std::unique_ptr<providers::Provider> providerFor(const std::string& name) {
  static const std::map<std::string, std::pair<std::string, std::string>> kProviders = {
      {"anthropic", {"anthropic", "http://upstream.test"}},
      {"gemini", {"gemini", "http://upstream.test/v1beta"}},
      {"openai", {"openai", "http://upstream.test/v1"}},
  };
  auto it = kProviders.find(name);
  if (it == kProviders.end()) return nullptr;
  config::ProviderConfig c;
  c.name = name;
  c.type = it->second.first;
  c.base_url = it->second.second;
  c.api_key = "sk-golden-key";
  c.max_tokens_default = 4096;
  std::string why;
  return providers::makeProvider(c, &why);
}

std::string pathOf(const http::UpstreamRequest& req) {
  return req.target->endpoint.path + req.path_suffix;
}

std::string headerOf(const http::UpstreamRequest& req, std::string_view name) {
  if (req.fixed_headers)
    for (const auto& [k, v] : *req.fixed_headers)
      if (k == name) return v;
  return {};
}

// Compares `actual` with the golden file (or rewrites it when updating).
void expectJsonFile(const fs::path& file, json::value actual) {
  normalize(actual);
  if (updating()) {
    writeFile(file, pretty(actual));
    return;
  }
  ASSERT_TRUE(fs::exists(file)) << file << " is missing (run with UPDATE_GOLDEN=1 to create it)";
  json::value expected = parseOrDie(readFile(file), file);
  normalize(expected);
  EXPECT_EQ(expected, actual) << file << "\nexpected:\n"
                              << pretty(expected) << "actual:\n"
                              << pretty(actual);
}

void expectSseFile(const fs::path& file, std::string_view actual_raw) {
  const std::string actual = normalizeSse(actual_raw);
  if (updating()) {
    writeFile(file, actual);
    return;
  }
  ASSERT_TRUE(fs::exists(file)) << file << " is missing (run with UPDATE_GOLDEN=1 to create it)";
  EXPECT_EQ(normalizeSse(readFile(file)), actual) << file;
}

json::value errorAnswer(api::ClientApi client, const core::Error& e) {
  const std::string body = api::renderError(client, e);
  return json::object{{"status", e.http_status}, {"body", json::parse(body)}};
}

class Golden : public ::testing::TestWithParam<Case> {};

TEST_P(Golden, Translates) {
  const Case& c = GetParam();
  const json::value meta = parseOrDie(readFile(c.dir / "case.json"), c.dir / "case.json");
  ASSERT_TRUE(meta.is_object());
  const auto& m = meta.as_object();
  auto text = [&](std::string_view key, std::string_view fallback) {
    const auto* v = m.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string(fallback);
  };
  const api::ClientApi client = text("client", "openai") == "anthropic" ? api::ClientApi::kAnthropic
                                                                        : api::ClientApi::kOpenAI;
  const std::string op_name = text("operation", "chat");
  const providers::Operation op = op_name == "completion"  ? providers::Operation::kCompletion
                                  : op_name == "embedding" ? providers::Operation::kEmbedding
                                                           : providers::Operation::kChat;
  const int upstream_status = m.if_contains("upstream_status")
                                  ? static_cast<int>(m.at("upstream_status").to_number<int>())
                                  : 200;
  const bool drop = text("stream_ends", "normally") == "with_drop";

  auto provider = providerFor(c.provider);
  ASSERT_NE(provider, nullptr) << "no provider for folder " << c.provider;
  ASSERT_NE(provider->wire(), api::wireOf(client)) << "golden cases are for translated paths";

  const std::string request = readFile(c.dir / "request.json");
  const fs::path expected_json = c.dir / "expected.json";
  const fs::path expected_sse = c.dir / "expected.sse";

  // The client's request → the upstream request.
  core::Result<http::UpstreamRequest> built = core::Error::internal("unset");
  model::ChatRequest chat;
  model::EmbeddingRequest embedding;
  if (op == providers::Operation::kEmbedding) {
    auto parsed = api::parseEmbeddingRequest(request);
    if (!parsed) return expectJsonFile(expected_json, errorAnswer(client, parsed.error()));
    embedding = std::move(*parsed);
    built = provider->buildEmbedding(embedding);
  } else {
    auto parsed = api::parseChatRequest(client, op, request);
    if (!parsed) return expectJsonFile(expected_json, errorAnswer(client, parsed.error()));
    chat = std::move(*parsed);
    built = provider->buildChat(chat);
  }
  if (!built) return expectJsonFile(expected_json, errorAnswer(client, built.error()));
  const http::UpstreamRequest& req = *built;
  EXPECT_EQ(req.accept, chat.stream ? "text/event-stream" : "application/json");
  EXPECT_NE(
      headerOf(req, provider->wire() == providers::WireFormat::kGemini      ? "x-goog-api-key"
                    : provider->wire() == providers::WireFormat::kAnthropic ? "x-api-key"
                                                                            : "Authorization"),
      "");
  json::value sent{{"method", req.method}, {"path", pathOf(req)}, {"body", json::parse(req.body)}};
  expectJsonFile(c.dir / "upstream_request.json", std::move(sent));

  // The upstream's answer → what the client gets.
  const bool sse = fs::exists(c.dir / "upstream_response.sse");
  const std::string upstream =
      readFile(c.dir / (sse ? "upstream_response.sse" : "upstream_response.json"));
  if (upstream_status < 200 || upstream_status >= 300)
    return expectJsonFile(expected_json,
                          errorAnswer(client, provider->parseError(upstream_status, upstream)));
  if (!sse) {
    if (op == providers::Operation::kEmbedding) {
      auto r = provider->parseEmbedding(upstream, embedding);
      if (!r) return expectJsonFile(expected_json, errorAnswer(client, r.error()));
      return expectJsonFile(
          expected_json,
          json::object{{"status", 200},
                       {"body", json::parse(api::renderEmbeddingResponse(embedding, *r))}});
    }
    auto r = provider->parseChat(upstream, chat);
    if (!r) return expectJsonFile(expected_json, errorAnswer(client, r.error()));
    return expectJsonFile(
        expected_json,
        json::object{{"status", 200},
                     {"body", json::parse(api::renderChatResponse(client, op, *r))}});
  }

  // A stream, fed whole and then split in two at every byte.
  auto replay = [&](std::size_t split) {
    StreamTranslator t(provider->chatStreamDecoder(chat),
                       api::chatStreamEncoder(client, op, chat, "req_golden"));
    http::SseParser parser;
    std::string out;
    bool open = true;
    auto onEvent = [&](const http::SseEvent& ev) {
      if (open) open = t.onEvent(ev, out);
    };
    const std::string_view bytes(upstream);
    parser.feed(bytes.substr(0, split), onEvent);
    parser.feed(bytes.substr(split), onEvent);
    parser.finish(onEvent);
    if (open) {
      if (drop)
        t.onFail(core::Error::badGateway("The upstream stream failed: connection reset"), out);
      else
        t.onEnd(out);
    }
    return out;
  };
  const std::string whole = replay(upstream.size());
  expectSseFile(expected_sse, whole);
  const std::string normalized = normalizeSse(whole);
  for (std::size_t split = 0; split < upstream.size(); ++split) {
    ASSERT_EQ(normalizeSse(replay(split)), normalized) << "split at byte " << split;
  }
}

std::string caseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.provider + "_" + info.param.name;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden, ::testing::ValuesIn(discoverCases()), caseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Golden);

// The translation contract asks for broad coverage per provider and direction.
TEST(GoldenCoverage, AtLeastFifteenCasesPerProvider) {
  std::map<std::string, int> count;
  for (const auto& c : discoverCases()) ++count[c.provider];
  for (const char* provider : {"anthropic", "gemini", "openai"})
    EXPECT_GE(count[provider], 15) << "tests/golden/" << provider;
}

}  // namespace
}  // namespace kh::pipeline
