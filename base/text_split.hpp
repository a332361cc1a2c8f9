// Splitting a long reply into parts a platform accepts, at the most natural boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bot {

// How a platform measures the length of a text, and how long one message may be.
struct TextLimit {
    enum class Unit {
        utf8_bytes,   // WeChat, WeCom: bytes of UTF-8
        utf16_units,  // Telegram: UTF-16 code units (an emoji outside the BMP counts 2)
        code_points,  // Unicode characters
    };
    std::size_t max = 0;  // 0 = no limit
    Unit unit = Unit::utf8_bytes;
};

// Splits text into parts of at most limit.max units each. Prefers, in order, a paragraph
// break, a line break, the end of a sentence (also CJK 。！？), a space; only then cuts
// mid-word, and never inside a UTF-8 character. Boundary whitespace is dropped; a part is
// never empty. A limit below one character still emits one character per part.
std::vector<std::string> split_text(std::string_view text, TextLimit limit);
inline std::vector<std::string> split_text(std::string_view text, std::size_t max_bytes) {
    return split_text(text, TextLimit{.max = max_bytes, .unit = TextLimit::Unit::utf8_bytes});
}

// Length of UTF-8 text in the limit's unit.
std::size_t text_length(std::string_view text, TextLimit::Unit unit);

// The longest prefix of text (in bytes, ending on a character boundary) within limit.max
// units; for example the byte offset of a position Telegram counts in UTF-16 units.
std::size_t prefix_within(std::string_view text, TextLimit limit);

// Number of characters (code points) in UTF-8 text.
std::size_t utf8_length(std::string_view text);

// Largest n <= limit such that text[0, n) ends on a UTF-8 character boundary.
std::size_t utf8_floor(std::string_view text, std::size_t limit);

// Appends code point cp as UTF-8; NUL, surrogates and values past U+10FFFF as U+FFFD.
void append_utf8(std::string& out, std::uint32_t cp);

}  // namespace bot
