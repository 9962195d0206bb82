#pragma once

#include <cstddef>
#include <string_view>

namespace kh::core {

// Where `needle` first occurs in `text` at or after `from`, or npos. For the hot paths that look
// for a key in streamed JSON: it tests two of the needle's bytes sixteen positions at a time and
// compares the whole needle only where both match, several times faster than memmem on text
// with many quotes. Needles of fewer than four bytes fall back to string_view::find.
std::size_t findText(std::string_view text, std::string_view needle, std::size_t from = 0);

}  // namespace kh::core
