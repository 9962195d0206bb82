#include "pipeline/stream_translator.h"

namespace kh::pipeline {

namespace {

// Kept per thread at most: enough for the streams a worker runs at once; a buffer that grew
// large (a long tool call's arguments) is let go instead.
constexpr std::size_t kKeptBuffers = 64;
constexpr std::size_t kKeptBufferBytes = 16 * 1024;

std::vector<std::unique_ptr<model::ChunkBuffer>>& spareBuffers() {
  thread_local std::vector<std::unique_ptr<model::ChunkBuffer>> spares;
  return spares;
}

std::unique_ptr<model::ChunkBuffer> takeBuffer() {
  auto& spares = spareBuffers();
  if (spares.empty()) return std::make_unique<model::ChunkBuffer>();
  std::unique_ptr<model::ChunkBuffer> b = std::move(spares.back());
  spares.pop_back();
  return b;
}

void giveBack(std::unique_ptr<model::ChunkBuffer> b) {
  auto& spares = spareBuffers();
  if (!b || spares.size() >= kKeptBuffers || b->heldBytes() > kKeptBufferBytes) return;
  b->clear();
  spares.push_back(std::move(b));
}

}  // namespace

StreamTranslator::StreamTranslator(std::unique_ptr<providers::ChatStreamDecoder> decoder,
                                   std::unique_ptr<api::ChatStreamEncoder> encoder)
    : decoder_(std::move(decoder)), encoder_(std::move(encoder)), chunks_(takeBuffer()) {}

StreamTranslator::~StreamTranslator() {
  giveBack(std::move(chunks_));
}

bool StreamTranslator::onEvent(const http::SseEvent& event, std::string& out) {
  // Nearly every event of a stream is a token: its text goes from the upstream's event into the
  // client's as it stands, without a canonical chunk between them.
  if (model::TextDelta delta; decoder_->textDelta(event, delta)) {
    if (!encoder_->encodeText(delta, out)) {
      chunks_->clear();
      chunks_->add(delta);
      emit(out);
    }
    return true;
  }
  chunks_->clear();
  core::Status s = decoder_->feed(event, *chunks_);
  emit(out);
  if (s) return true;
  error_ = s.error().message;
  encoder_->fail(s.error(), out);
  return false;
}

void StreamTranslator::onEnd(std::string& out) {
  chunks_->clear();
  decoder_->finish(*chunks_);
  emit(out);
  encoder_->finish(out);
}

void StreamTranslator::onFail(const core::Error& error, std::string& out) {
  encoder_->fail(error, out);
}

void StreamTranslator::emit(std::string& out) {
  for (const auto& chunk : *chunks_) {
    if (chunk.usage) usage_ = chunk.usage;
    encoder_->encode(chunk, out);
  }
}

}  // namespace kh::pipeline
