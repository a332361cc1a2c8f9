// Removing marked spans from a message's text: the bot's own @mentions, which platforms mark
// by position (Telegram entities in UTF-16 units, others in bytes or code points) and which
// say nothing to the model. Positions come from the sender's client: repeated, overlapping
// and out-of-range spans are expected and handled, never trusted.
#pragma once

#include "base/text_split.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bot {

// [offset, offset + length) in some unit of the text.
struct TextSpan {
    std::size_t offset = 0;
    std::size_t length = 0;
};

// Byte offset in UTF-8 text of a position counted in unit, clamped to the text's end and
// moved back to the start of a character it would split (half of a surrogate pair, say).
std::size_t byte_offset(std::string_view text, std::size_t position, TextLimit::Unit unit);

// The text without the spans, each with the punctuation (, : ， ：) and spaces that follow it,
// then trimmed: "@bot, hi" -> "hi", "so @bot: what" -> "so what". Overlapping spans remove
// their union; a span that is empty or past the end of the text is skipped, one reaching past
// the end is cut there.
std::string without_spans(std::string_view text, const std::vector<TextSpan>& spans,
                          TextLimit::Unit unit);

}  // namespace bot
