#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kh::http {

// One Server-Sent Event. Views are valid only during the callback that receives it.
struct SseEvent {
  std::string_view event;  // "event:" field, empty when absent
  std::string_view data;   // "data:" lines joined with '\n'
  std::string_view id;
  std::string_view raw;  // the exact bytes of the event, including its terminating blank line
  bool has_data = false;
};

// Incremental parser for text/event-stream (WHATWG HTML §9.2). Bytes may arrive split anywhere,
// including between '\r' and '\n'. Only the incomplete tail is kept between feeds and each byte is
// scanned once, so a long stream costs O(bytes). Whole events in bytes fed with nothing kept from
// before are read where they lie, not copied. Not thread-safe; one per stream.
class SseParser {
 public:
  template <class OnEvent>
  void feed(std::string_view bytes, OnEvent&& on_event) {
    if (!buf_.empty()) {
      buf_.append(bytes);
      text_ = buf_;
      scan(false, on_event);
      return;
    }
    text_ = bytes;
    scan(false, on_event);
    // What is left (an event still coming) is kept for the next feed.
    buf_.assign(text_);
    text_ = buf_;
  }

  // End of stream: an event that was not terminated by a blank line is still delivered (servers
  // that omit the final blank line are common), then the parser is reset.
  template <class OnEvent>
  void finish(OnEvent&& on_event) {
    text_ = buf_;
    scan(true, on_event);
    buf_.clear();
    text_ = buf_;
    resetEvent();
    scan_pos_ = 0;
  }

  std::size_t buffered() const { return buf_.size(); }

 private:
  struct Span {
    std::size_t begin = 0, len = 0;
  };

  // Parses text_ (buf_, or bytes fed with nothing kept) and drops the events delivered from its
  // front, so that text_ is left holding the incomplete tail.
  template <class OnEvent>
  void scan(bool at_eof, OnEvent& on_event) {
    std::size_t consumed = 0;  // bytes of text_ belonging to already delivered events
    noteLineEnds();
    for (;;) {
      if (!pending_) {
        // Between events nothing is pending, and the event starts where the last one ended.
        if (const std::size_t next = wholeEvent(scan_pos_); next != 0) {
          deliver(consumed, next, on_event);
          consumed = scan_pos_ = next;
          continue;
        }
      }
      const std::size_t line_end = findLineEnd(scan_pos_);
      std::size_t next;
      if (line_end == text_.size()) {
        if (!at_eof) break;
        if (line_end == scan_pos_) {  // nothing pending on this line
          if (pending_) deliver(consumed, line_end, on_event);
          consumed = line_end;
          break;
        }
        next = line_end;  // last line without terminator
      } else if (text_[line_end] == '\r') {
        if (line_end + 1 == text_.size() && !at_eof) break;  // a '\n' may follow in the next feed
        next = (line_end + 1 < text_.size() && text_[line_end + 1] == '\n') ? line_end + 2
                                                                            : line_end + 1;
      } else {
        next = line_end + 1;
      }
      if (line_end == scan_pos_) {  // blank line: dispatch
        if (pending_) deliver(consumed, next, on_event);
        consumed = next;
        // Blank lines between events belong to no event; fold them into the next one's raw span
        // by not advancing `consumed` past them is unnecessary: they were consumed above.
      } else {
        fieldLine(scan_pos_, line_end);
      }
      scan_pos_ = next;
      if (next == text_.size() && line_end == text_.size()) {  // unterminated last line at EOF
        if (pending_) deliver(consumed, next, on_event);
        consumed = next;
        break;
      }
    }
    if (consumed > 0) {
      if (text_.data() == buf_.data()) {
        buf_.erase(0, consumed);
        text_ = buf_;
      } else {
        text_.remove_prefix(consumed);
      }
      scan_pos_ -= consumed;
      shift(consumed);
    }
  }

  // The usual event as servers write it, whole at `at`: an optional `event: ` line, one `data: `
  // line and a blank line, each line ended by '\n' or "\r\n". Read in one step (two line-end
  // searches instead of three, and no field parsing): its fields are set and the offset past its
  // blank line returned. 0 for anything else, read line by line then, including an event not
  // complete yet.
  std::size_t wholeEvent(std::size_t at);
  // Past the line end at `at` when it is '\n' or "\r\n"; 0 when it is a '\r' alone, one whose
  // '\n' may still come, or no line end.
  std::size_t pastLineEnd(std::size_t at) const;
  void fieldLine(std::size_t begin, std::size_t end);
  void dataLine(Span value);
  // Whether the text not parsed yet holds a '\r': most servers end lines with '\n' alone.
  void noteLineEnds();
  // Offset of the first '\r' or '\n' at or after `from`, or text_.size() (a line is an event's
  // field: tens to hundreds of bytes).
  std::size_t findLineEnd(std::size_t from) const;

  template <class OnEvent>
  void deliver(std::size_t start, std::size_t end, OnEvent& on_event) {
    SseEvent ev;
    ev.raw = text_.substr(start, end - start);
    ev.event = view(event_);
    ev.id = view(id_);
    ev.has_data = data_lines_ > 0;
    if (data_lines_ == 1) {
      ev.data = view(data_);
    } else if (data_lines_ > 1) {
      ev.data = joined_;
    }
    on_event(static_cast<const SseEvent&>(ev));
    resetEvent();
  }

  std::string_view view(Span s) const { return text_.substr(s.begin, s.len); }
  void shift(std::size_t n) {
    event_.begin = event_.begin >= n ? event_.begin - n : 0;
    id_.begin = id_.begin >= n ? id_.begin - n : 0;
    data_.begin = data_.begin >= n ? data_.begin - n : 0;
  }
  void resetEvent() {
    event_ = id_ = data_ = {};
    data_lines_ = 0;
    joined_.clear();
    pending_ = false;
  }

  std::string buf_;           // the incomplete tail kept between feeds
  std::string_view text_;     // what is being parsed: buf_, or bytes fed with nothing kept
  std::size_t scan_pos_ = 0;  // start of the first line not yet parsed
  Span event_, id_, data_;    // offsets into text_ for the event being assembled
  int data_lines_ = 0;
  std::string joined_;    // only used when an event has several data lines
  bool pending_ = false;  // the current event has at least one line (field or comment)
  bool lf_only_ = false;  // no '\r' from scan_pos_ to the end of text_
};

}  // namespace kh::http
