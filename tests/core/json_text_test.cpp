// append_json_string against nlohmann::json's serializer, whose output it promises to match.
#include "base/json_text.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

namespace {

std::string written(std::string_view text) {
    std::string out = "prefix:";
    bot::append_json_string(out, text);
    return out;
}

std::string hex(std::string_view text) {
    std::string out;
    for (unsigned char c : text) {
        out += "0123456789abcdef"[c >> 4];
        out += "0123456789abcdef"[c & 0xF];
    }
    return out;
}

std::string by_nlohmann(std::string_view text) {
    using json = nlohmann::json;
    return "prefix:" + json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

TEST_CASE("JSON strings are written as nlohmann writes them", "[json]") {
    std::string every_control;
    for (char c = 0; c < 0x20; ++c) every_control += c;
    const std::string cases[] = {
        "",
        "plain ascii, with punctuation: {}[],:~",
        "quote \" backslash \\ slash / delete \x7F",
        every_control,
        "你好世界。这是一个测试",                   // CJK: copied, not escaped
        "emoji \xF0\x9F\x98\x80 and \xE2\x82\xAC",  // 4- and 3-byte sequences
        "\xC3\xA9t\xC3\xA9",
        // Invalid UTF-8: a lone continuation byte, a truncated sequence at the end and in the
        // middle, an overlong form, a surrogate, above U+10FFFF, and 0xFF.
        "a\x80z",
        "end \xE4\xBD",
        "mid \xE4\xBD z",
        "\xC0\xAF",
        "\xED\xA0\x80",
        "\xF4\x90\x80\x80",
        "\xFF",
        "\xF5\x80\x80\x80",
        "ok \xE2\x82\xAC then bad \xC3",
    };
    for (const std::string& text : cases) {
        INFO("case: " << hex(text));
        CHECK(written(text) == by_nlohmann(text));
    }
}

TEST_CASE("JSON strings are written alike wherever a special byte falls in eight", "[json]") {
    // Plain text is tested eight bytes at a time: each kind of byte that is not simply copied,
    // at every offset of a text long enough for two words and a tail.
    const std::string specials[] = {
        "\"",      "\\",       "\n",           std::string(1, '\0'), "\x1F",
        "\x7F",    "\xC3\xA9", "\xE4\xBD\xA0", "\xF0\x9F\x98\x80",   "\x80",
        "\xE4\xBD"};
    for (const std::string& special : specials) {
        for (std::size_t at = 0; at <= 20; ++at) {
            std::string text(20, 'a');
            text.insert(at, special);
            INFO("case: " << hex(text));
            CHECK(written(text) == by_nlohmann(text));
        }
    }
}

TEST_CASE("A written JSON string reads back as the text", "[json]") {
    const std::string text = "line\nbreak \"quoted\" \\ tab\t \x01 你好 \xF0\x9F\x98\x80";
    std::string out;
    bot::append_json_string(out, text);
    CHECK(nlohmann::json::parse(out).get<std::string>() == text);
}
