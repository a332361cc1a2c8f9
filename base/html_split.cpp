#include "base/html_split.hpp"

#include "base/text_split.hpp"

#include <cstdint>
#include <cstdlib>

namespace bot {

namespace {

struct Token {
    enum class Kind { text, open, close };
    Kind kind = Kind::text;
    std::string_view html;  // as written
    std::string visible;    // text: what it shows (one character or one decoded entity)
    std::string_view name;  // open, close: the tag's name
};

// The entity at the start of text ("&amp;"), decoded into out; its length, or 0 if none.
std::size_t decode_entity(std::string_view text, std::string& out) {
    const std::size_t end = text.find(';');
    if (end == std::string_view::npos || end > 10) return 0;
    const std::string_view entity = text.substr(0, end + 1);
    static constexpr std::pair<std::string_view, char> kNamed[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    for (const auto& [name, c] : kNamed) {
        if (entity == name) {
            out += c;
            return entity.size();
        }
    }
    if (entity.size() > 3 && entity[1] == '#') {
        std::string digits(entity.substr(2, entity.size() - 3));
        const bool hex = digits[0] == 'x' || digits[0] == 'X';
        if (hex) digits.erase(0, 1);
        if (digits.empty()) return 0;
        char* stop = nullptr;
        const unsigned long cp = std::strtoul(digits.c_str(), &stop, hex ? 16 : 10);
        if (!stop || *stop != '\0') return 0;
        append_utf8(out, static_cast<std::uint32_t>(cp));
        return entity.size();
    }
    return 0;
}

std::size_t utf8_char_length(std::string_view text) {
    const auto lead = static_cast<unsigned char>(text[0]);
    std::size_t n = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    n = std::min(n, text.size());
    for (std::size_t i = 1; i < n; ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) return i;
    }
    return n;
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// A '<' that starts no well-formed tag, or a '&' that starts no entity, is one character of text.
std::vector<Token> tokenize(std::string_view html) {
    std::vector<Token> tokens;
    std::size_t at = 0;
    while (at < html.size()) {
        const std::string_view rest = html.substr(at);
        if (rest[0] == '<') {
            const bool closing = rest.size() > 1 && rest[1] == '/';
            std::size_t name_end = closing ? 2 : 1;
            while (name_end < rest.size() && is_name_char(rest[name_end])) ++name_end;
            const std::size_t end = rest.find('>');
            if (end != std::string_view::npos && name_end > (closing ? 2u : 1u) &&
                name_end <= end) {
                const std::size_t name_begin = closing ? 2 : 1;
                tokens.push_back({.kind = closing ? Token::Kind::close : Token::Kind::open,
                                  .html = rest.substr(0, end + 1),
                                  .name = rest.substr(name_begin, name_end - name_begin)});
                at += end + 1;
                continue;
            }
        }
        Token token{.kind = Token::Kind::text};
        std::size_t length = rest[0] == '&' ? decode_entity(rest, token.visible) : 0;
        if (length == 0) {
            length = utf8_char_length(rest);
            token.visible = rest.substr(0, length);
        }
        token.html = rest.substr(0, length);
        tokens.push_back(std::move(token));
        at += length;
    }
    return tokens;
}

struct OpenTag {
    std::string_view html;
    std::string_view name;
    bool emitted = false;  // written into the current part
};

}  // namespace

std::string html_to_text(std::string_view html) {
    std::string out;
    for (const Token& token : tokenize(html)) {
        if (token.kind == Token::Kind::text) out += token.visible;
    }
    return out;
}

std::vector<std::string> split_html(std::string_view html, TextLimit limit) {
    const std::vector<Token> tokens = tokenize(html);
    std::string visible;
    for (const Token& token : tokens) {
        if (token.kind == Token::Kind::text) visible += token.visible;
    }
    // The parts of the visible text, located: split_text only drops whitespace between them.
    struct Range {
        std::size_t begin, end;
    };
    std::vector<Range> ranges;
    std::size_t from = 0;
    for (const std::string& part : split_text(visible, limit)) {
        const std::size_t begin = visible.find(part, from);
        if (begin == std::string::npos) break;  // cannot happen: parts are pieces of the text
        ranges.push_back({begin, begin + part.size()});
        from = begin + part.size();
    }

    std::vector<std::string> parts;
    std::vector<OpenTag> stack;
    std::string current;
    bool in_part = false;
    std::size_t index = 0;   // the range being filled
    std::size_t offset = 0;  // in the visible text
    auto finish = [&] {
        for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
            if (it->emitted) current += "</" + std::string(it->name) + ">";
            it->emitted = false;
        }
        parts.push_back(std::move(current));
        current.clear();
        in_part = false;
    };
    for (const Token& token : tokens) {
        if (token.kind == Token::Kind::open) {
            stack.push_back({.html = token.html, .name = token.name});
            continue;  // written with the first character it encloses
        }
        if (token.kind == Token::Kind::close) {
            // Closes the innermost tag of that name (our renderer nests properly).
            for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
                if (it->name != token.name) continue;
                if (in_part && it->emitted) {
                    // Tags opened inside it are closed first, so the part stays well nested.
                    for (auto inner = stack.rbegin(); inner != it; ++inner) {
                        if (inner->emitted) current += "</" + std::string(inner->name) + ">";
                        inner->emitted = false;
                    }
                    current += token.html;
                }
                stack.erase(std::next(it).base(), stack.end());
                break;
            }
            continue;
        }
        const std::size_t at = offset;
        offset += token.visible.size();
        while (index < ranges.size() && at >= ranges[index].end) {
            if (in_part) finish();
            ++index;
        }
        if (index >= ranges.size() || at < ranges[index].begin)
            continue;  // whitespace between parts
        in_part = true;
        for (OpenTag& tag : stack) {
            if (!tag.emitted) current += tag.html, tag.emitted = true;
        }
        current += token.html;
    }
    if (in_part) finish();
    return parts;
}

}  // namespace bot
