#include "bot/command_word.hpp"

namespace bot {

namespace {

// The length of the whitespace text starts with: ASCII, and the spaces messengers put after
// an @mention (WeChat: U+2005; also NBSP and the ideographic space U+3000).
std::size_t leading_space(std::string_view text) {
    std::size_t at = 0;
    for (;;) {
        if (at < text.size() &&
            (text[at] == ' ' || text[at] == '\t' || text[at] == '\r' || text[at] == '\n')) {
            ++at;
            continue;
        }
        std::string_view rest = text.substr(at);
        if (rest.starts_with("\u2005") || rest.starts_with("\u3000")) {
            at += 3;
        } else if (rest.starts_with("\u00a0")) {
            at += 2;
        } else {
            return at;
        }
    }
}

}  // namespace

std::optional<std::string_view> command_word(std::string_view text, std::string_view prefix) {
    if (prefix.empty()) return std::nullopt;
    text.remove_prefix(leading_space(text));
    // Mentions before the command; not when the prefix itself starts with '@'.
    while (text.starts_with('@') && !text.starts_with(prefix)) {
        std::size_t end = 1;
        while (end < text.size() && leading_space(text.substr(end)) == 0) ++end;
        if (end == text.size()) return std::nullopt;  // only mentions
        text.remove_prefix(end);
        text.remove_prefix(leading_space(text));
    }
    if (!text.starts_with(prefix) || text.size() == prefix.size()) return std::nullopt;
    std::string_view rest = text.substr(prefix.size());
    return rest.substr(0, rest.find_first_of(" \n\t\r@"));
}

}  // namespace bot
