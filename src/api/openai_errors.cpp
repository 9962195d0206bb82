#include "api/openai_errors.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_text.h"
#include "core/utf8.h"

namespace kh::api {

using namespace std::string_view_literals;

namespace {

std::string_view codeFor(const core::Error& e) {
  using core::ErrorCode;
  switch (e.code) {
    case ErrorCode::kInvalidJson:
      return "invalid_json";
    case ErrorCode::kInvalidRequest:
      return e.param.empty() ? "invalid_request" : "invalid_value";
    case ErrorCode::kUnauthorized:
      return "invalid_api_key";
    case ErrorCode::kForbidden:
      return "model_not_allowed";
    case ErrorCode::kModelNotFound:
      return "model_not_found";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kMethodNotAllowed:
      return "method_not_allowed";
    case ErrorCode::kBodyTooLarge:
      return "request_too_large";
    case ErrorCode::kHeadersTooLarge:
      return "headers_too_large";
    case ErrorCode::kRateLimited:
      return "rate_limit_exceeded";
    case ErrorCode::kUpstreamStatus:
      return "upstream_error";
    case ErrorCode::kBadGateway:
      return "bad_gateway";
    case ErrorCode::kUnavailable:
      return "service_unavailable";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kCancelled:
      return "client_closed_request";
    case ErrorCode::kNotImplemented:
      return "not_implemented";
    case ErrorCode::kInternal:
      return "internal_error";
  }
  return "internal_error";
}

boost::json::object errorObject(const core::Error& e) {
  boost::json::object err;
  err["message"] = core::validUtf8(e.message);
  err["type"] = openAIErrorType(e.http_status);
  if (e.param.empty())
    err["param"] = nullptr;
  else
    err["param"] = e.param;
  err["code"] = codeFor(e);
  return err;
}

// An upstream error body in OpenAI's shape, or null.
const boost::json::object* upstreamErrorObject(const boost::json::value& v) {
  if (!v.is_object()) return nullptr;
  const auto* err = v.as_object().if_contains("error");
  if (!err || !err->is_object() || !err->as_object().if_contains("message")) return nullptr;
  return &err->as_object();
}

}  // namespace

std::string_view openAIErrorType(int status) {
  switch (status) {
    case 400:
    case 404:
    case 409:
    case 413:
    case 422:
    case 431:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 429:
      return "rate_limit_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

std::string renderOpenAIError(const core::Error& error) {
  if (error.code == core::ErrorCode::kUpstreamStatus && !error.upstream_body.empty()) {
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(error.upstream_body, ec);
    if (!ec && upstreamErrorObject(v)) return error.upstream_body;
    core::Error wrapped = error;
    // Non-JSON upstream errors (an HTML page from a load balancer) become the message, bounded.
    const std::string text =
        core::textExcerpt(ec ? error.upstream_body : boost::json::serialize(v), 2000);
    wrapped.message = "Upstream answered HTTP " + std::to_string(error.http_status) + ": " + text;
    boost::json::object root;
    root["error"] = errorObject(wrapped);
    return boost::json::serialize(root);
  }
  boost::json::object root;
  root["error"] = errorObject(error);
  return boost::json::serialize(root);
}

std::string renderOpenAIStreamError(const core::Error& error) {
  std::string body;
  if (error.code == core::ErrorCode::kUpstreamStatus) {
    body = renderOpenAIError(error);
  } else {
    // Once a stream has started its status is 200 for good; the event names the failure.
    boost::json::object err = errorObject(error);
    err["type"] = "api_error";
    err["code"] = "upstream_error";
    boost::json::object root;
    root["error"] = std::move(err);
    body = boost::json::serialize(root);
  }
  std::string out;
  out.reserve(body.size() + 10);
  out.append("data: "sv);
  core::appendJsonOnOneLine(out, body);
  out.append("\n\n"sv);
  return out;
}

}  // namespace kh::api
