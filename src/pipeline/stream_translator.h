#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/client_api.h"
#include "http/sse_parser.h"
#include "model/types.h"
#include "providers/provider.h"

namespace kh::pipeline {

// A stream between different wire formats: upstream events → canonical chunks → the client's
// events. Holds no I/O, so the golden tests drive exactly what the gateway runs. One per request.
class StreamTranslator {
 public:
  StreamTranslator(std::unique_ptr<providers::ChatStreamDecoder> decoder,
                   std::unique_ptr<api::ChatStreamEncoder> encoder);
  StreamTranslator(StreamTranslator&&) noexcept = default;
  StreamTranslator& operator=(StreamTranslator&&) noexcept = default;
  ~StreamTranslator();

  // Appends the client events for one upstream event. false: the upstream reported a failure; the
  // error event is written and the stream is over.
  bool onEvent(const http::SseEvent& event, std::string& out);
  // The upstream body ended normally: closing events.
  void onEnd(std::string& out);
  // The upstream connection failed half-way: an error event in the client's format.
  void onFail(const core::Error& error, std::string& out);

  // The latest usage the upstream reported, and the failure it reported, if any.
  const std::optional<model::Usage>& usage() const { return usage_; }
  const std::string& error() const { return error_; }

 private:
  void emit(std::string& out);

  std::unique_ptr<providers::ChatStreamDecoder> decoder_;
  std::unique_ptr<api::ChatStreamEncoder> encoder_;
  // Reused for every event, and kept per thread for later streams when this one ends: a stream's
  // chunks reuse the strings and vectors earlier streams grew instead of allocating them again.
  std::unique_ptr<model::ChunkBuffer> chunks_;
  std::optional<model::Usage> usage_;
  std::string error_;
};

}  // namespace kh::pipeline
