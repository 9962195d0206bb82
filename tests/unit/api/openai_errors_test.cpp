#include "api/openai_errors.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace kh::api {
namespace {

boost::json::value errorOf(const core::Error& e) {
  return boost::json::parse(renderOpenAIError(e)).at("error");
}

TEST(OpenAIErrors, ShapeTypeParamAndCode) {
  auto v = errorOf(core::Error::invalidField("model", "'model' is required"));
  EXPECT_EQ(v.at("message").as_string(), "'model' is required");
  EXPECT_EQ(v.at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(v.at("param").as_string(), "model");
  EXPECT_EQ(v.at("code").as_string(), "invalid_value");

  v = errorOf(core::Error::invalidJson("bad"));
  EXPECT_TRUE(v.at("param").is_null());
  EXPECT_EQ(v.at("code").as_string(), "invalid_json");

  v = errorOf(core::Error::modelNotFound("x"));
  EXPECT_EQ(v.at("code").as_string(), "model_not_found");
  EXPECT_EQ(v.at("param").as_string(), "model");

  EXPECT_EQ(errorOf(core::Error::bodyTooLarge(10)).at("code").as_string(), "request_too_large");
  EXPECT_EQ(errorOf(core::Error::badGateway("x")).at("type").as_string(), "api_error");
  EXPECT_EQ(errorOf(core::Error::badGateway("x")).at("code").as_string(), "bad_gateway");
  EXPECT_EQ(errorOf(core::Error::timeout("x")).at("code").as_string(), "timeout");
  EXPECT_EQ(errorOf(core::Error::unavailable("x")).at("code").as_string(), "service_unavailable");
}

TEST(OpenAIErrors, StatusToType) {
  EXPECT_EQ(openAIErrorType(400), "invalid_request_error");
  EXPECT_EQ(openAIErrorType(401), "authentication_error");
  EXPECT_EQ(openAIErrorType(403), "permission_error");
  EXPECT_EQ(openAIErrorType(404), "invalid_request_error");
  EXPECT_EQ(openAIErrorType(429), "rate_limit_error");
  EXPECT_EQ(openAIErrorType(500), "api_error");
  EXPECT_EQ(openAIErrorType(503), "api_error");
}

TEST(OpenAIErrors, UpstreamOpenAIErrorsPassThroughVerbatim) {
  const std::string body =
      R"({"error":{"message":"Invalid 'temperature'","type":"invalid_request_error","param":"temperature","code":"invalid_value"}})";
  EXPECT_EQ(renderOpenAIError(core::Error::upstreamStatus(400, body)), body);
}

TEST(OpenAIErrors, OtherUpstreamBodiesAreWrapped) {
  auto v = errorOf(core::Error::upstreamStatus(503, "<html>Service Unavailable</html>"));
  EXPECT_EQ(v.at("type").as_string(), "api_error");
  EXPECT_NE(std::string(v.at("message").as_string()).find("Service Unavailable"),
            std::string::npos);
  v = errorOf(core::Error::upstreamStatus(429, R"({"detail":"slow down"})"));
  EXPECT_EQ(v.at("type").as_string(), "rate_limit_error");
  EXPECT_NE(std::string(v.at("message").as_string()).find("slow down"), std::string::npos);
  // Huge bodies are cut.
  EXPECT_LT(renderOpenAIError(core::Error::upstreamStatus(500, std::string(100000, 'x'))).size(),
            3000u);
}

TEST(OpenAIErrors, StreamErrorIsOneSseEvent) {
  const std::string ev = renderOpenAIStreamError(core::Error::badGateway("dropped"));
  ASSERT_EQ(ev.rfind("data: ", 0), 0u);
  ASSERT_EQ(ev.substr(ev.size() - 2), "\n\n");
  auto v = boost::json::parse(ev.substr(6)).at("error");
  EXPECT_EQ(v.at("code").as_string(), "upstream_error");
  EXPECT_EQ(v.at("type").as_string(), "api_error");
}

// OpenAI's own error bodies are pretty-printed; passed on in a stream's last event, each line
// break would end the data line early and leave the client "{" to parse.
TEST(OpenAIErrors, StreamErrorsCarryUpstreamBodiesOnOneLine) {
  const std::string body =
      "{\n  \"error\": {\n    \"message\": \"The server had an error\",\n    \"type\": "
      "\"server_error\",\n    \"param\": null,\n    \"code\": null\n  }\n}\n";
  const std::string ev = renderOpenAIStreamError(core::Error::upstreamStatus(500, body));
  ASSERT_EQ(ev.rfind("data: ", 0), 0u);
  ASSERT_EQ(ev.substr(ev.size() - 2), "\n\n");
  const std::string data = ev.substr(6, ev.size() - 8);
  EXPECT_EQ(data.find_first_of("\r\n"), std::string::npos) << ev;
  EXPECT_EQ(boost::json::parse(data).at("error").at("message").as_string(),
            "The server had an error");
}

// A body that is not JSON reaches the client as valid UTF-8 text, whatever bytes it held.
TEST(OpenAIErrors, WrappedUpstreamTextIsValidUtf8) {
  const std::string bytes = "bad \xBC\x03 gateway \xC3";
  auto v = errorOf(core::Error::upstreamStatus(502, bytes));
  EXPECT_EQ(v.at("message").as_string(),
            "Upstream answered HTTP 502: bad \xEF\xBF\xBD\x03 gateway \xEF\xBF\xBD");
  // A message of the gateway's own that quotes upstream bytes (a stream event's name) too.
  v = errorOf(
      core::Error::badGateway("Anthropic sent a malformed 'message_sta\xEBrt' stream event"));
  EXPECT_EQ(v.at("message").as_string(),
            "Anthropic sent a malformed 'message_sta\xEF\xBF\xBDrt' stream event");
  // A long body is cut at a character's end, not inside one.
  std::string accents = "x";
  for (int i = 0; i < 1500; ++i) accents += "\xC3\xA9";
  v = errorOf(core::Error::upstreamStatus(500, accents));
  const std::string message(v.at("message").as_string());
  EXPECT_TRUE(message.ends_with("\xC3\xA9\xE2\x80\xA6")) << message.substr(message.size() - 8);
}

TEST(OpenAIErrors, RetryableStatuses) {
  for (int s : {408, 409, 429, 500, 502, 503, 504, 529})
    EXPECT_TRUE(core::isRetryableStatus(s)) << s;
  for (int s : {400, 401, 403, 404, 413, 422}) EXPECT_FALSE(core::isRetryableStatus(s)) << s;
}

}  // namespace
}  // namespace kh::api
