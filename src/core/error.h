#pragma once

#include <string>
#include <string_view>

namespace kh::core {

// Stable machine-readable error kinds. The HTTP status and the OpenAI error "type"/"code" that
// clients see are derived from these in api/, so one place decides the wire shape.
enum class ErrorCode {
  kInvalidJson,
  kInvalidRequest,  // missing or wrongly typed field; `param` names it
  kUnauthorized,
  kForbidden,
  kModelNotFound,
  kNotFound,  // unknown route
  kMethodNotAllowed,
  kBodyTooLarge,
  kHeadersTooLarge,
  kRateLimited,
  kUpstreamStatus,  // the upstream answered with an HTTP error; http_status carries it
  kBadGateway,      // upstream unreachable, or answered something that is not valid
  kUnavailable,     // no target available, queue full, shutting down
  kTimeout,         // upstream did not answer in time
  kCancelled,       // the client went away
  kNotImplemented,
  kInternal,
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  int http_status = 500;
  std::string message;
  std::string param;  // the request field at fault, if any
  // Failover reads this: upstream 429/5xx, timeouts and connection errors may succeed elsewhere.
  bool retryable = false;
  // When the upstream sent an error body, it is kept verbatim so it can be passed through.
  std::string upstream_body;
  // Seconds the client should wait before trying again (the Retry-After header), or "".
  std::string retry_after;

  static Error invalidJson(std::string message);
  static Error invalidField(std::string param, std::string message);
  static Error modelNotFound(std::string_view model);
  static Error bodyTooLarge(size_t limit);
  static Error badGateway(std::string message);
  static Error timeout(std::string message);
  static Error unavailable(std::string message);
  static Error cancelled();
  static Error internal(std::string message);
  static Error upstreamStatus(int status, std::string body);
};

// Upstream statuses that a different attempt could plausibly turn into a success.
bool isRetryableStatus(int status);

}  // namespace kh::core
