#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace kh::api {

// OpenAI's error "type" for an HTTP status.
std::string_view openAIErrorType(int status);

// {"error":{"message","type","param","code"}} for an Error. An upstream error body that already
// has OpenAI's shape is returned as it is; any other upstream body becomes the message.
std::string renderOpenAIError(const core::Error& error);

// The same error as one SSE event, for failures after a stream has started.
std::string renderOpenAIStreamError(const core::Error& error);

}  // namespace kh::api
