#pragma once

#include <string_view>

#include "model/types.h"

namespace kh::model {

// A tokenizer-free estimate of how many prompt tokens a request costs, for count_tokens, size
// rules and budgets before the upstream reports the real number. It counts by script: about four
// characters of Latin text per token, one token per CJK character, and a fixed cost per image
// and per message, which is how the major tokenizers behave on average.
long long estimateTokens(std::string_view text);
long long estimateTokens(const ChatRequest& request);

}  // namespace kh::model
