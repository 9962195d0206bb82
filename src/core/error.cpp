#include "core/error.h"

#include <fmt/format.h>

namespace kh::core {

Error Error::invalidJson(std::string message) {
  return {ErrorCode::kInvalidJson, 400, std::move(message), {}, false, {}, {}};
}

Error Error::invalidField(std::string param, std::string message) {
  return {ErrorCode::kInvalidRequest, 400, std::move(message), std::move(param), false, {}, {}};
}

Error Error::modelNotFound(std::string_view model) {
  return {ErrorCode::kModelNotFound,
          404,
          fmt::format("The model '{}' does not exist or is not served by any provider", model),
          "model",
          false,
          {},
          {}};
}

Error Error::bodyTooLarge(size_t limit) {
  return {ErrorCode::kBodyTooLarge,
          413,
          fmt::format("Request body exceeds the limit of {} bytes", limit),
          {},
          false,
          {},
          {}};
}

Error Error::badGateway(std::string message) {
  return {ErrorCode::kBadGateway, 502, std::move(message), {}, true, {}, {}};
}

Error Error::timeout(std::string message) {
  return {ErrorCode::kTimeout, 504, std::move(message), {}, true, {}, {}};
}

Error Error::unavailable(std::string message) {
  return {ErrorCode::kUnavailable, 503, std::move(message), {}, true, {}, {}};
}

Error Error::cancelled() {
  // 499 is what proxies conventionally log for "client closed request"; nobody receives it.
  return {ErrorCode::kCancelled, 499, "The client closed the connection", {}, false, {}, {}};
}

Error Error::internal(std::string message) {
  return {ErrorCode::kInternal, 500, std::move(message), {}, false, {}, {}};
}

Error Error::upstreamStatus(int status, std::string body) {
  Error e{ErrorCode::kUpstreamStatus,
          status,
          fmt::format("Upstream answered HTTP {}", status),
          {},
          isRetryableStatus(status),
          std::move(body),
          {}};
  return e;
}

bool isRetryableStatus(int status) {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

}  // namespace kh::core
