#pragma once

// Comparisons of the gateway's two readings of the same text: the scanning fast paths against
// simdjson's general reading. The unit tests run them over chosen and randomly edited inputs,
// the fuzz targets (tests/fuzz) over generated ones. Each returns "" when the readings agree,
// else what differs.

#include <string>
#include <vector>

#include "core/result.h"
#include "model/types.h"
#include "providers/provider.h"

namespace kh::test_support {

// The same JSON object for the general (simdjson) reading: a leading member `_` whose key is
// spelled with an escape, which every scanning reader refuses and every general reading ignores.
// Anything but an object comes back as it is.
std::string forGeneralReading(const std::string& data);

// Every member of an answer, or the error; `created` is left out where the reader stamps the
// clock (two readings may fall either side of a second's turn).
std::string dumpResponse(const core::Result<model::ChatResponse>& r, bool with_created = true);
// Every member of a request but its messages.
std::string dumpRequestHead(const model::ChatRequest& r);
// Chunks as the OpenAI wire writes them, then the error if any.
std::string renderChunks(const core::Status& s, const model::ChunkBuffer& chunks);

enum class Wire { kOpenAI, kAnthropic, kGemini };

// A whole upstream answer read as sent (scanned when it has the usual shape) and for the general
// reading.
struct ResponseReading {
  bool scanned = false;  // the scanning pass read it as sent
  std::string mismatch;
};
ResponseReading compareResponseReadings(Wire wire, const std::string& body);

// A client's chat body (OpenAI or Anthropic) read as text and by the general path, and the
// upstream bodies each path writes for every provider's wire format.
struct TextRequestReading {
  bool read = false;            // the text path read the body
  bool openai_text = false;     // ... and wrote OpenAI's body from it
  bool anthropic_text = false;  // ... and Anthropic's
  bool gemini_text = false;     // ... and Gemini's
  std::string mismatch;
};
TextRequestReading compareTextRequestReadings(Wire client, const std::string& raw);

// Stream events fed to two fresh decoders of `wire`, as sent and for the general reading.
struct StreamEvent {
  std::string name;
  std::string data;
};
std::string compareStreamReadings(Wire wire, const std::vector<StreamEvent>& events);

// A client's body inspected by the scan and by the document (api::inspectBody's two readings).
struct BodyInspection {
  bool scanned = false;  // the scan settled it
  std::string mismatch;
};
BodyInspection compareBodyInspections(providers::Operation op, bool messages_api,
                                      const std::string& body);

}  // namespace kh::test_support
