#include "bot/token_budget.hpp"

#include <cstdint>
#include <cstring>

namespace bot {

namespace {

// Decodes one UTF-8 code point at text[i]; advances i. Invalid bytes count as one each.
char32_t next_code_point(std::string_view text, std::size_t& i) {
    auto byte = static_cast<unsigned char>(text[i]);
    int length = byte < 0x80           ? 1
                 : (byte >> 5) == 0x6  ? 2
                 : (byte >> 4) == 0xE  ? 3
                 : (byte >> 3) == 0x1E ? 4
                                       : 1;
    if (i + length > text.size()) length = 1;
    char32_t cp = length == 1 ? byte : byte & (0x7F >> length);
    for (int k = 1; k < length; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    i += length;
    return cp;
}

bool is_cjk(char32_t cp) {
    return (cp >= 0x2E80 && cp <= 0x9FFF) ||  // radicals, kana, CJK unified ideographs
           (cp >= 0xAC00 && cp <= 0xD7AF) ||  // Hangul syllables
           (cp >= 0xF900 && cp <= 0xFAFF) ||  // compatibility ideographs
           (cp >= 0xFF00 && cp <= 0xFFEF) ||  // full-width forms
           (cp >= 0x20000 && cp <= 0x3FFFF);  // extension planes
}

}  // namespace

int estimate_tokens(std::string_view text) {
    // Count in tenths of a token to avoid floating point.
    long long tenths = 0;
    for (std::size_t i = 0; i < text.size();) {
        // Eight ASCII bytes at once where ASCII starts (as in append_json_string): half the time
        // on English prose (bench/micro.cpp), and the whole history is estimated per message.
        if (static_cast<unsigned char>(text[i]) < 0x80 &&
            text.size() - i >= sizeof(std::uint64_t)) {
            std::uint64_t word;
            std::memcpy(&word, text.data() + i, sizeof word);
            if ((word & 0x8080808080808080) == 0) {
                tenths += 3 * sizeof word;
                i += sizeof word;
                continue;
            }
        }
        char32_t cp = next_code_point(text, i);
        if (cp < 0x80) {
            tenths += 3;  // ~3.3 ASCII bytes per token
        } else if (is_cjk(cp)) {
            tenths += 15;
        } else if (cp >= 0x1F000) {
            tenths += 20;  // emoji and symbols split into several byte tokens
        } else {
            tenths += 7;  // Cyrillic, Greek, accented Latin, ...
        }
    }
    return static_cast<int>((tenths + 9) / 10);
}

int estimate_message_tokens(std::string_view content) {
    return estimate_tokens(content) + kTokensPerMessage;
}

TurnsWithinBudget turns_within_budget(const std::vector<storage::Turn>& turns, int fixed_tokens,
                                      int budget) {
    TurnsWithinBudget fit{.first = turns.size(), .tokens = 0};
    while (fit.first > 0) {
        const int cost = estimate_message_tokens(turns[fit.first - 1].content);
        if (fixed_tokens + fit.tokens + cost > budget) break;
        fit.tokens += cost;
        --fit.first;
    }
    while (fit.first < turns.size() && turns[fit.first].role == "assistant") {
        fit.tokens -= estimate_message_tokens(turns[fit.first].content);
        ++fit.first;
    }
    return fit;
}

}  // namespace bot
