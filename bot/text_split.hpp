// Splitting a long reply into parts a platform accepts, at the most natural boundary.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bot {

// Splits text into parts of at most max_bytes bytes each (0 = no limit). Prefers, in order, a
// paragraph break, a line break, the end of a sentence (also CJK 。！？), a space; only then
// cuts mid-word, and never inside a UTF-8 character. Boundary whitespace is dropped; a part is
// never empty. Requires max_bytes >= 4 (one UTF-8 character) when non-zero.
std::vector<std::string> split_text(std::string_view text, std::size_t max_bytes);

// Number of characters (code points) in UTF-8 text.
std::size_t utf8_length(std::string_view text);

// Largest n <= limit such that text[0, n) ends on a UTF-8 character boundary.
std::size_t utf8_floor(std::string_view text, std::size_t limit);

}  // namespace bot
