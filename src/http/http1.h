#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kh::http::h1 {

// HTTP/1.x message heads and chunked bodies (RFC 9112), parsed in place: what the hot path
// needs, with no allocation once a connection's buffers have grown. Heads are parsed whole
// (they nearly always arrive in one read), so the parser keeps no state between calls.

struct Field {
  std::string_view name;
  std::string_view value;
};

// A parsed head; every view points into the text it was parsed from.
struct Head {
  // Requests.
  std::string_view method;
  std::string_view target;
  // Responses.
  int status = 0;
  int version_minor = 1;  // HTTP/1.<version_minor>
  std::vector<Field> fields;
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool close = false;  // the connection ends after this message
  bool expect_continue = false;
  std::size_t size = 0;  // bytes of the head, final blank line included

  // The first field named `name` (case-insensitive), or "".
  std::string_view field(std::string_view name) const;
};

enum class Parse {
  kDone,
  kNeedMore,  // no complete head yet
  kTooLarge,  // no complete head within the limit
  kBad,       // not HTTP/1.x; Head is left partly filled
};

// Whether `in` holds a blank line that ends a head, searching only past `scanned` (which it
// advances): a head that trickles in a byte at a time is still scanned once, not once per byte.
// Heads are parsed only once this says so. With `end`: where the blank line ends, when the search
// began at the start of `in` (npos otherwise), for the parser not to search again.
bool headComplete(std::string_view in, std::size_t& scanned, std::size_t* end = nullptr);

// `error` (when kBad) says what is wrong, for the 400 the server answers. `known_end`: the end
// headComplete found, if any.
Parse parseRequest(std::string_view in, std::size_t limit, Head& out, std::string_view* error,
                   std::size_t known_end = std::string_view::npos);
Parse parseResponse(std::string_view in, std::size_t limit, Head& out, std::string_view* error,
                    std::size_t known_end = std::string_view::npos);

// Moves every view of `head` from text at `from` to the same text copied to `to` (a head is
// parsed where it arrived, then kept in a buffer of its own while its body is read).
void rebase(Head& head, const char* from, const char* to);

// Decodes a chunked body piece by piece: feed it what arrived, it appends the data to `out` and
// says how much of the input it used. Chunk extensions and trailers are read and dropped.
class ChunkedDecoder {
 public:
  struct Step {
    std::size_t consumed = 0;
    bool done = false;   // the last chunk and the trailers are in
    bool error = false;  // not a chunked body
  };
  Step decode(std::string_view in, std::string& out);
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kSize, kExtension, kSizeLf, kData, kDataCr, kDataLf, kTrailer, kDone };
  State state_ = State::kSize;
  std::uint64_t remaining_ = 0;
  int digits_ = 0;
  std::size_t trailer_line_ = 0;  // bytes on the current trailer line
};

}  // namespace kh::http::h1
