#include "http/sse_parser.h"

#include <cstring>

#include "core/text_search.h"

namespace kh::http {

void SseParser::noteLineEnds() {
  lf_only_ = scan_pos_ >= text_.size() ||
             std::memchr(text_.data() + scan_pos_, '\r', text_.size() - scan_pos_) == nullptr;
}

std::size_t SseParser::findLineEnd(std::size_t from) const {
  // Without a '\r' a line ends at the next '\n', which the C library finds faster than the
  // search for either byte (with vectors as wide as the machine has, not sixteen bytes).
  if (lf_only_) {
    if (from >= text_.size()) return text_.size();
    const void* lf = std::memchr(text_.data() + from, '\n', text_.size() - from);
    return lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - text_.data())
              : text_.size();
  }
  const std::size_t end = core::findEither(text_, '\n', '\r', from);
  return end == std::string_view::npos ? text_.size() : end;
}

std::size_t SseParser::pastLineEnd(std::size_t at) const {
  if (at >= text_.size()) return 0;
  if (text_[at] == '\n') return at + 1;
  if (text_[at] == '\r' && at + 1 < text_.size() && text_[at + 1] == '\n') return at + 2;
  return 0;
}

std::size_t SseParser::wholeEvent(std::size_t at) {
  constexpr std::string_view kEvent = "event: ";
  constexpr std::string_view kData = "data: ";
  std::size_t p = at;
  Span event;
  if (text_.substr(p).starts_with(kEvent)) {
    const std::size_t end = findLineEnd(p + kEvent.size());
    event = {p + kEvent.size(), end - p - kEvent.size()};
    p = pastLineEnd(end);
    if (p == 0) return 0;
  }
  if (!text_.substr(p).starts_with(kData)) return 0;
  const std::size_t end = findLineEnd(p + kData.size());
  const Span data{p + kData.size(), end - p - kData.size()};
  p = pastLineEnd(end);
  if (p == 0) return 0;
  const std::size_t next = pastLineEnd(p);  // the blank line that dispatches it
  if (next == 0) return 0;
  event_ = event;
  data_ = data;
  data_lines_ = 1;
  pending_ = true;
  return next;
}

void SseParser::dataLine(Span value) {
  if (data_lines_ == 0) {
    data_ = value;
  } else {
    if (data_lines_ == 1) joined_.assign(view(data_));
    joined_.push_back('\n');
    joined_.append(view(value));
  }
  ++data_lines_;
}

void SseParser::fieldLine(std::size_t begin, std::size_t end) {
  pending_ = true;
  std::string_view line = text_.substr(begin, end - begin);
  if (line.front() == ':') return;  // comment
  // The two fields streams are made of, as servers spell them: no search for the colon.
  if (line.starts_with("data: ")) return dataLine({begin + 6, line.size() - 6});
  if (line.starts_with("event: ")) {
    event_ = {begin + 7, line.size() - 7};
    return;
  }
  std::size_t colon = line.find(':');
  std::string_view name = line.substr(0, colon);
  std::size_t value_begin = colon == std::string_view::npos ? line.size() : colon + 1;
  if (value_begin < line.size() && line[value_begin] == ' ') ++value_begin;
  const Span value{begin + value_begin, line.size() - value_begin};
  if (name == "data") {
    dataLine(value);
  } else if (name == "event") {
    event_ = value;
  } else if (name == "id") {
    id_ = value;
  }
  // "retry" and unknown fields are ignored, as the spec says.
}

}  // namespace kh::http
