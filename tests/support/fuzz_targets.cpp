#include "support/fuzz_targets.h"

#include <array>
#include <memory>
#include <vector>

#include <simdjson.h>

#include "api/client_api.h"
#include "api/openai_body.h"
#include "http/http1.h"
#include "http/sse_parser.h"
#include "providers/provider.h"
#include "support/readings.h"

namespace kh::test_support {

namespace {

bool within(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

std::string failed(std::string_view what, std::string_view input) {
  return std::string(what) + "\ninput: " + std::string(input);
}

std::string checkHead(bool request, std::string_view text) {
  using http::h1::Parse;
  http::h1::Head known, searched;
  std::string_view why;
  std::size_t scanned = 0, end = 0;
  const bool complete = http::h1::headComplete(text, scanned, &end);
  const std::size_t known_end = complete ? end : std::string_view::npos;
  const Parse a = request ? http::h1::parseRequest(text, 65536, known, &why, known_end)
                          : http::h1::parseResponse(text, 65536, known, &why, known_end);
  const Parse b = request ? http::h1::parseRequest(text, 65536, searched, &why)
                          : http::h1::parseResponse(text, 65536, searched, &why);
  if (a != b) return failed("a head parses differently with its end known", text);
  if (a != Parse::kDone) return {};
  if (known.size > text.size() || known.size != searched.size)
    return failed("a head's size is outside its text", text);
  if (!within(known.method, text) || !within(known.target, text))
    return failed("a request line points outside its text", text);
  for (const http::h1::Field& f : known.fields)
    if (!within(f.name, text) || !within(f.value, text))
      return failed("a header field points outside its text", text);
  return {};
}

std::string checkChunked(std::string_view text, std::size_t step) {
  http::h1::ChunkedDecoder whole, split;
  std::string whole_out, split_out;
  const auto w = whole.decode(text, whole_out);
  if (w.consumed > text.size()) return failed("the chunked decoder used more than it got", text);
  std::size_t at = 0;
  bool error = false, done = false;
  while (at < text.size() && !error && !done) {
    const std::string_view piece = text.substr(at, step);
    const auto s = split.decode(piece, split_out);
    if (s.consumed > piece.size()) return failed("the chunked decoder used more than it got", text);
    if (s.consumed == 0 && !s.done && !s.error) break;
    at += s.consumed;
    error = s.error;
    done = s.done;
  }
  if (w.error || error) return {};
  if (w.done != done) return failed("a chunked body ends differently when split", text);
  if (done && (whole_out != split_out || w.consumed != at))
    return failed("a chunked body decodes differently when split", text);
  return {};
}

struct Event {
  std::string event, data, id, raw;
  bool has_data = false;
  bool operator==(const Event&) const = default;
};

std::vector<Event> sseEvents(std::string_view text, std::size_t first, std::size_t step) {
  http::SseParser parser;
  std::vector<Event> out;
  auto on = [&](const http::SseEvent& e) {
    out.push_back({std::string(e.event), std::string(e.data), std::string(e.id), std::string(e.raw),
                   e.has_data});
  };
  std::size_t at = 0;
  if (step > 0)
    for (std::size_t cut = first; cut < text.size(); cut += step) {
      parser.feed(text.substr(at, cut - at), on);
      at = cut;
    }
  parser.feed(text.substr(at), on);
  parser.finish(on);
  return out;
}

// Whether `text` is one JSON value, as a client's parser would read it.
bool validJson(std::string_view text) {
  static thread_local simdjson::dom::parser parser;
  simdjson::dom::element ignored;
  return !parser.parse(simdjson::padded_string(text)).get(ignored);
}

// Every "data:" line of an SSE text holds valid JSON (or OpenAI's "[DONE]").
std::string checkEventData(std::string_view sse, std::string_view input) {
  for (std::size_t at = 0; at < sse.size();) {
    std::size_t end = sse.find('\n', at);
    if (end == std::string_view::npos) end = sse.size();
    std::string_view line = sse.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with("data:")) continue;
    line.remove_prefix(5);
    if (line.starts_with(' ')) line.remove_prefix(1);
    if (line != "[DONE]" && !validJson(line))
      return failed("a stream event the client gets is not JSON: " + std::string(line), input);
  }
  return {};
}

const providers::Provider& providerFor(unsigned which) {
  static const auto kProviders = [] {
    std::array<std::unique_ptr<providers::Provider>, 3> out;
    const char* types[] = {"openai-compatible", "anthropic", "gemini"};
    for (std::size_t i = 0; i < out.size(); ++i) {
      config::ProviderConfig c;
      c.name = types[i];
      c.type = types[i];
      c.base_url = "http://upstream.test/v1";
      c.api_key = "k";
      out[i] = providers::makeProvider(c, nullptr);
    }
    return out;
  }();
  return *kProviders[which % kProviders.size()];
}

}  // namespace

std::string fuzzProviderAnswer(std::string_view input) {
  if (input.size() < 3) return {};
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(input[i]); };
  const providers::Provider& provider = providerFor(byte(0));
  const std::string body(input.substr(3));
  model::ChatRequest request;
  request.model = "upstream-model";
  request.stream = byte(1) % 5 == 4;
  for (const api::ClientApi client : {api::ClientApi::kOpenAI, api::ClientApi::kAnthropic}) {
    switch (byte(1) % 5) {
      case 0:
        (void)provider.parseModelList(body);
        break;
      case 1: {
        const core::Error e = provider.parseError(400 + byte(2) % 200, body);
        if (e.http_status < 400 || e.http_status > 599 || e.message.empty())
          return failed("an upstream error lost its status or message", body);
        if (!validJson(api::renderError(client, e)))
          return failed("an error body the client gets is not JSON", body);
        if (std::string m = checkEventData(api::renderStreamError(client, e), body); !m.empty())
          return m;
        break;
      }
      case 2: {
        model::EmbeddingRequest r;
        r.model = "upstream-model";
        r.input = {"a", "b"};
        const auto answer = provider.parseEmbedding(body, r);
        if (answer && !validJson(api::renderEmbeddingResponse(r, *answer)))
          return failed("an embedding answer the client gets is not JSON", body);
        break;
      }
      case 3: {
        const auto answer = provider.parseChat(body, request);
        if (!answer) break;
        for (const auto op : {providers::Operation::kChat, providers::Operation::kCompletion})
          if (!validJson(api::renderChatResponse(client, op, *answer)))
            return failed("a chat answer the client gets is not JSON", body);
        break;
      }
      default: {
        auto decoder = provider.chatStreamDecoder(request);
        auto encoder =
            api::chatStreamEncoder(client, providers::Operation::kChat, request, "req-1");
        std::string out;
        model::ChunkBuffer chunks;
        core::Status status = core::Ok{};
        http::SseParser parser;
        auto on_event = [&](const http::SseEvent& e) {
          if (!status) return;
          chunks.clear();
          status = decoder->feed(e, chunks);
          for (std::size_t i = 0; i < chunks.size(); ++i) encoder->encode(chunks[i], out);
        };
        parser.feed(body, on_event);
        parser.finish(on_event);
        if (status) {
          chunks.clear();
          decoder->finish(chunks);
          for (std::size_t i = 0; i < chunks.size(); ++i) encoder->encode(chunks[i], out);
          encoder->finish(out);
        } else {
          encoder->fail(status.error(), out);
        }
        if (std::string m = checkEventData(out, body); !m.empty()) return m;
      }
    }
  }
  return {};
}

std::string fuzzRequestBody(std::string_view input) {
  if (input.empty()) return {};
  const auto op = static_cast<providers::Operation>(static_cast<unsigned char>(input[0]) % 3);
  const bool messages_api = (static_cast<unsigned char>(input[0]) / 3) & 1;
  const std::string body(input.substr(1));
  const BodyInspection inspection = compareBodyInspections(op, messages_api, body);
  if (!inspection.mismatch.empty()) return inspection.mismatch;
  std::string copy = body;
  const auto info = api::inspectBody(copy, op, messages_api);
  if (info) {
    for (const bool force_usage : {true, false}) {
      std::string out = api::rewriteBody(body, *info, "upstream/model:x", force_usage);
      const auto again = api::inspectBody(out, op, messages_api, api::BodyReading::kDocument);
      if (!again) return failed("a rewritten body does not read back", body);
      if (again->model != "upstream/model:x")
        return failed("a rewritten body lost its new model", body);
      if (force_usage && info->stream && !again->include_usage)
        return failed("a rewritten stream does not ask for usage", body);
    }
  }
  (void)api::extractUsage(body);
  (void)api::inspectChunk(body);
  (void)api::firstUsageObject(body);
  (void)api::mayCarryUsage(body);
  (void)api::leadingModel(body);
  return {};
}

std::string fuzzHttpWire(std::string_view input) {
  if (input.size() < 2) return {};
  const unsigned variant = static_cast<unsigned char>(input[0]) % 4;
  const std::size_t seed = static_cast<unsigned char>(input[1]);
  // A copy, so that a read past the end is a fault the sanitizer sees.
  const std::string text(input.substr(2));
  switch (variant) {
    case 0:
    case 1:
      return checkHead(variant == 0, text);
    case 2:
      return checkChunked(text, 1 + seed % 7);
    default:
      break;
  }
  if (sseEvents(text, 0, 0) != sseEvents(text, 1 + seed % 5, 1 + seed % 11))
    return failed("an event stream parses differently when split", text);
  return {};
}

std::string fuzzUpstreamResponse(std::string_view input) {
  if (input.empty()) return {};
  static constexpr std::array kWires{Wire::kOpenAI, Wire::kAnthropic, Wire::kGemini};
  return compareResponseReadings(kWires[static_cast<unsigned char>(input[0]) % 3],
                                 std::string(input.substr(1)))
      .mismatch;
}

std::string fuzzClientChat(std::string_view input) {
  if (input.empty()) return {};
  const Wire client = (input[0] & 1) ? Wire::kAnthropic : Wire::kOpenAI;
  return compareTextRequestReadings(client, std::string(input.substr(1))).mismatch;
}

std::string fuzzStreamEvents(std::string_view input) {
  if (input.empty()) return {};
  static constexpr std::array kWires{Wire::kOpenAI, Wire::kAnthropic, Wire::kGemini};
  const Wire wire = kWires[static_cast<unsigned char>(input[0]) % 3];
  const std::string_view text = input.substr(1);
  std::vector<StreamEvent> events;
  for (std::size_t at = 0; at <= text.size();) {
    std::size_t end = text.find("\n\n", at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view event = text.substr(at, end - at);
    const std::size_t line = event.find('\n');
    if (line == std::string_view::npos)
      events.push_back({"", std::string(event)});
    else
      events.push_back({std::string(event.substr(0, line)), std::string(event.substr(line + 1))});
    at = end + 2;
  }
  return compareStreamReadings(wire, events);
}

std::span<const FuzzTarget> fuzzTargets() {
  static constexpr FuzzTarget kTargets[] = {
      {"request_body", fuzzRequestBody},           {"http_wire", fuzzHttpWire},
      {"upstream_response", fuzzUpstreamResponse}, {"client_chat", fuzzClientChat},
      {"stream_events", fuzzStreamEvents},         {"provider_answer", fuzzProviderAnswer},
  };
  return kTargets;
}

}  // namespace kh::test_support
