#pragma once

// What each fuzz target checks of one input, shared by the libFuzzer build (tests/fuzz) and the
// unit test that replays the kept corpus (tests/unit/fuzz_corpus_test.cpp). Each returns "" when
// every property held, else what broke. The first byte of an input picks the variant (operation,
// wire format, split points); the rest is the text under test.

#include <span>
#include <string>
#include <string_view>

namespace kh::test_support {

// A client body: api::inspectBody's scan and document agree, and a body rewritten for upstream
// reads back with the new model (and usage asked for, on streams). Usage readers do not fault.
std::string fuzzRequestBody(std::string_view input);
// HTTP/1 heads parse the same with and without a known end, with every view inside the input;
// chunked bodies and SSE decode the same whole and split.
std::string fuzzHttpWire(std::string_view input);
// An upstream answer (OpenAI, Anthropic or Gemini) scanned and read by simdjson alike.
std::string fuzzUpstreamResponse(std::string_view input);
// A client chat (OpenAI or Anthropic) read as text and by the general path alike.
std::string fuzzClientChat(std::string_view input);
// Stream events ("name\ndata" separated by blank lines) decoded both ways alike.
std::string fuzzStreamEvents(std::string_view input);

// Any answer an upstream sends (model list, error, chat, embedding, stream) for an OpenAI-wire,
// Anthropic or Gemini provider: what reaches the client from it, in either client's format, is
// valid JSON (every SSE event's data too), and an error keeps an error status and a message.
std::string fuzzProviderAnswer(std::string_view input);

struct FuzzTarget {
  std::string_view name;  // also the corpus file: tests/fuzz/corpus/<name>.pack
  std::string (*check)(std::string_view);
};
std::span<const FuzzTarget> fuzzTargets();

}  // namespace kh::test_support
