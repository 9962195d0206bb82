#include "pipeline/stream_translator.h"

namespace kh::pipeline {

StreamTranslator::StreamTranslator(std::unique_ptr<providers::ChatStreamDecoder> decoder,
                                   std::unique_ptr<api::ChatStreamEncoder> encoder)
    : decoder_(std::move(decoder)), encoder_(std::move(encoder)) {}

bool StreamTranslator::onEvent(const http::SseEvent& event, std::string& out) {
  chunks_.clear();
  core::Status s = decoder_->feed(event, chunks_);
  emit(out);
  if (s) return true;
  error_ = s.error().message;
  encoder_->fail(s.error(), out);
  return false;
}

void StreamTranslator::onEnd(std::string& out) {
  chunks_.clear();
  decoder_->finish(chunks_);
  emit(out);
  encoder_->finish(out);
}

void StreamTranslator::onFail(const core::Error& error, std::string& out) {
  encoder_->fail(error, out);
}

void StreamTranslator::emit(std::string& out) {
  for (const auto& chunk : chunks_) {
    if (chunk.usage) usage_ = chunk.usage;
    encoder_->encode(chunk, out);
  }
}

}  // namespace kh::pipeline
