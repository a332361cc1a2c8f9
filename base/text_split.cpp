#include "base/text_split.hpp"

#include <algorithm>

namespace bot {

namespace {

bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// The end of the best break in window = text[0, limit): the position right after the boundary
// marker, or 0 if the window has none of the wanted kind past its first half.
std::size_t best_break(std::string_view window) {
    std::size_t floor = window.size() / 3;  // never make a tiny part when a cut is possible
    auto last_after = [&](std::string_view marker) -> std::size_t {
        auto pos = window.rfind(marker);
        if (pos == std::string_view::npos || pos + marker.size() <= floor) return 0;
        return pos + marker.size();
    };
    if (auto p = last_after("\n\n")) return p;
    if (auto p = last_after("\n")) return p;
    std::size_t sentence = 0;
    for (std::string_view marker : {". ", "! ", "? ", "。", "！", "？", "; ", "；"}) {
        sentence = std::max(sentence, last_after(marker));
    }
    if (sentence) return sentence;
    if (auto p = last_after(" ")) return p;
    for (std::string_view marker : {"，", "、", ", "}) {
        sentence = std::max(sentence, last_after(marker));
    }
    return sentence;
}

}  // namespace

std::size_t utf8_length(std::string_view text) {
    return static_cast<std::size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return !is_continuation(c); }));
}

std::size_t utf8_floor(std::string_view text, std::size_t limit) {
    if (limit >= text.size()) return text.size();
    while (limit > 0 && is_continuation(text[limit])) --limit;
    return limit;
}

std::size_t text_length(std::string_view text, TextLimit::Unit unit) {
    switch (unit) {
        case TextLimit::Unit::utf8_bytes:
            return text.size();
        case TextLimit::Unit::code_points:
            return utf8_length(text);
        case TextLimit::Unit::utf16_units:
            break;
    }
    std::size_t units = 0;
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if ((byte & 0xC0) != 0x80) units += byte >= 0xF0 ? 2 : 1;  // 4-byte = surrogate pair
    }
    return units;
}

std::size_t prefix_within(std::string_view text, TextLimit limit) {
    if (limit.unit == TextLimit::Unit::utf8_bytes) return utf8_floor(text, limit.max);
    std::size_t units = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        auto byte = static_cast<unsigned char>(text[i]);
        std::size_t width = byte < 0x80 ? 1 : byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2;
        std::size_t cost = limit.unit == TextLimit::Unit::utf16_units && width == 4 ? 2 : 1;
        if (units + cost > limit.max) break;
        units += cost;
        i = std::min(text.size(), i + width);
    }
    return i;
}

std::vector<std::string> split_text(std::string_view text, TextLimit limit) {
    std::vector<std::string> parts;
    std::string_view rest = trim(text);
    while (!rest.empty()) {
        if (limit.max == 0 || text_length(rest, limit.unit) <= limit.max) {
            parts.emplace_back(rest);
            break;
        }
        std::size_t window = prefix_within(rest, limit);
        std::size_t cut = best_break(rest.substr(0, window));
        if (cut == 0) cut = window;
        if (cut == 0) {  // the limit is smaller than the first character: emit it anyway
            cut = 1;
            while (cut < rest.size() && is_continuation(rest[cut])) ++cut;
        }
        auto part = trim(rest.substr(0, cut));
        if (!part.empty()) parts.emplace_back(part);
        rest = trim(rest.substr(cut));
    }
    return parts;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

}  // namespace bot
