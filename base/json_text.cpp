#include "base/json_text.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>

namespace bot {

namespace {

// Length of the well-formed UTF-8 sequence starting at text[i] (Unicode table 3-7: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t at) -> unsigned {
        return at < text.size() ? static_cast<unsigned char>(text[at]) : 0u;
    };
    const auto continuation = [](unsigned c) { return c >= 0x80 && c <= 0xBF; };
    const unsigned lead = byte(i);
    const unsigned second = byte(i + 1);
    if (lead >= 0xC2 && lead <= 0xDF) return continuation(second) ? 2 : 0;
    if (lead >= 0xE0 && lead <= 0xEF) {
        const unsigned low = lead == 0xE0 ? 0xA0 : 0x80;
        const unsigned high = lead == 0xED ? 0x9F : 0xBF;
        return second >= low && second <= high && continuation(byte(i + 2)) ? 3 : 0;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        const unsigned low = lead == 0xF0 ? 0x90 : 0x80;
        const unsigned high = lead == 0xF4 ? 0x8F : 0xBF;
        return second >= low && second <= high && continuation(byte(i + 2)) &&
                       continuation(byte(i + 3))
                   ? 4
                   : 0;
    }
    return 0;
}

// True when none of eight bytes needs more than copying: all in 0x20..0x7F, none '"' or '\\'.
// Most of a text is such runs, and the LLM request's history is written again with every
// message: testing eight bytes at once took ~25 % off English prose (bench/micro.cpp).
bool plain_word(std::uint64_t word) {
    constexpr std::uint64_t ones = 0x0101010101010101, highs = 0x8080808080808080;
    // Nonzero when some byte is below n (n <= 0x80), or zero (n = 1): exact for "some byte".
    const auto some_below = [](std::uint64_t x, std::uint64_t n) {
        return (x - ones * n) & ~x & highs;
    };
    return ((word & highs) | some_below(word, 0x20) | some_below(word ^ (ones * '"'), 1) |
            some_below(word ^ (ones * '\\'), 1)) == 0;
}

// The rare text with invalid UTF-8 goes through nlohmann itself, so the replacement is the
// same whichever path a text takes.
void append_replacing(std::string& out, std::string_view text) {
    using json = nlohmann::json;
    nlohmann::detail::serializer<json> writer(nlohmann::detail::output_adapter<char>(out), ' ',
                                              json::error_handler_t::replace);
    writer.dump(json(text), false, false, 0);
}

}  // namespace

std::string dump_json(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void append_json_string(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    const std::size_t start = out.size();
    out.reserve(start + text.size() + 2);
    out += '"';
    std::size_t copied = 0;  // text before this index is already in out
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        // Tried where ASCII starts only: in CJK text, a failing test per character cost more
        // than it saved.
        if (c < 0x80 && text.size() - i >= sizeof(std::uint64_t)) {
            std::uint64_t word;
            std::memcpy(&word, text.data() + i, sizeof word);
            if (plain_word(word)) {
                i += sizeof word;
                continue;
            }
        }
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            ++i;
            continue;
        }
        if (c >= 0x80) {
            const std::size_t length = utf8_sequence(text, i);
            if (length == 0) {
                out.resize(start);
                append_replacing(out, text);
                return;
            }
            i += length;
            continue;
        }
        out.append(text.data() + copied, i - copied);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xF];
        }
        copied = ++i;
    }
    out.append(text.data() + copied, text.size() - copied);
    out += '"';
}

}  // namespace bot
