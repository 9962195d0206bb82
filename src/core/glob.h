#pragma once

#include <string_view>

namespace kh::core {

// Shell-style wildcard match of the whole of `text` (case-sensitive, byte-wise):
//   *        any run of characters, '/' and ':' included (model ids are not paths)
//   ?        any one character
//   [abc]    one of the listed characters; ranges [a-z]; negated with [!…] or [^…];
//            a ']' right after '[' (or '[!') is a member; '\' escapes inside too
//   \c       the character c itself
// A '[' without its closing ']' is an ordinary character. Linear memory, no regex, and no
// exponential backtracking: only the last '*' is ever revisited.
bool globMatch(std::string_view pattern, std::string_view text);

}  // namespace kh::core
