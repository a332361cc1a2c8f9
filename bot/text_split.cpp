#include "bot/text_split.hpp"

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

std::vector<std::string> split_text(std::string_view text, std::size_t max_bytes) {
    std::vector<std::string> parts;
    std::string_view rest = trim(text);
    while (!rest.empty()) {
        if (max_bytes == 0 || rest.size() <= max_bytes) {
            parts.emplace_back(rest);
            break;
        }
        std::size_t cut = best_break(rest.substr(0, utf8_floor(rest, max_bytes)));
        if (cut == 0) cut = utf8_floor(rest, max_bytes);
        if (cut == 0) cut = 1;  // max_bytes smaller than one character: emit it anyway
        auto part = trim(rest.substr(0, cut));
        if (!part.empty()) parts.emplace_back(part);
        rest = trim(rest.substr(cut));
    }
    return parts;
}

}  // namespace bot
