#include "model/token_estimate.h"

#include <boost/json/serialize.hpp>

#include "core/utf8.h"

namespace kh::model {

namespace {

// Tokens per message for role and separators, and per image (a ~1 megapixel picture at Anthropic's
// width×height/750 and OpenAI's high-detail tiling both land near this).
constexpr long long kPerMessage = 4;
constexpr long long kPerImage = 1500;

bool isWideScript(char32_t cp) {
  return (cp >= 0x3040 && cp <= 0x30FF) ||  // Hiragana, Katakana
         (cp >= 0x3400 && cp <= 0x9FFF) ||  // CJK ideographs
         (cp >= 0xAC00 && cp <= 0xD7AF) ||  // Hangul syllables
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFF00 && cp <= 0xFFEF) ||
         (cp >= 0x20000 && cp <= 0x2FFFF);
}

}  // namespace

long long estimateTokens(std::string_view text) {
  long long narrow = 0;  // characters of scripts that pack several per token
  long long wide = 0;
  for (std::size_t i = 0; i < text.size();) {
    const char32_t cp = core::nextCodePoint(text, i);
    if (isWideScript(cp))
      ++wide;
    else if (cp >= 0x80)
      narrow += 2;  // accented Latin, Cyrillic, Greek…: tokenizers split these more finely
    else
      ++narrow;
  }
  return wide + (narrow + 3) / 4;
}

long long estimateTokens(const ChatRequest& request) {
  long long total = 3;  // the priming of the answer
  for (const auto& m : request.messages) {
    total += kPerMessage;
    for (const auto& part : m.content)
      total += part.kind == ContentPart::Kind::kImage ? kPerImage : estimateTokens(part.text);
    for (const auto& call : m.tool_calls)
      total += estimateTokens(call.name) + estimateTokens(call.arguments) + 3;
  }
  for (const auto& tool : request.tools) {
    total += estimateTokens(tool.name) + estimateTokens(tool.description) + 8;
    if (!tool.parameters.is_null())
      total += estimateTokens(boost::json::serialize(tool.parameters));
  }
  return total;
}

}  // namespace kh::model
