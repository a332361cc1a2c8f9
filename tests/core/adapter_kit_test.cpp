// The pure parts of the adapter kit's core side: reply parts under a part cap, delivery keys,
// command recognition.
#include "bot/command_word.hpp"
#include "bot/outbox.hpp"

#include <catch2/catch.hpp>

#include <set>

using bot::Capabilities;
using bot::TextLimit;

TEST_CASE("reply_parts cuts at max_parts and ends the last part with an ellipsis that fits",
          "[kit]") {
    const std::string text = "First paragraph here.\n\nSecond one.\n\nThird one here.";
    // No cap, or a cap not reached: split_text's parts.
    CHECK(bot::reply_parts(text, {.max_text = {.max = 24}}).size() == 3);
    CHECK(bot::reply_parts(text, {.max_text = {.max = 24}, .max_parts = 3}).size() == 3);
    CHECK(bot::reply_parts("", {}) == std::vector<std::string>{"…"});

    // Room left for the mark: appended.
    CHECK(bot::reply_parts(text, {.max_text = {.max = 24}, .max_parts = 2}) ==
          std::vector<std::string>{"First paragraph here.", "Second one.…"});
    // A full last part is shortened by the mark's length in the platform's unit: 3 UTF-8
    // bytes, 1 UTF-16 unit or code point.
    const std::string full = "aaaaaaaaaa bbbbbbbbbb cccccccccc";
    auto bytes = bot::reply_parts(full, {.max_text = {.max = 10}, .max_parts = 1});
    CHECK(bytes == std::vector<std::string>{"aaaaaaa…"});
    CHECK(bytes[0].size() == 10);
    auto units = bot::reply_parts(
        full, {.max_text = {.max = 10, .unit = TextLimit::Unit::utf16_units}, .max_parts = 1});
    CHECK(units == std::vector<std::string>{"aaaaaaaaa…"});
    // Wide characters: "😀" is 2 UTF-16 units; the cut never splits one.
    auto emoji = bot::reply_parts(
        "😀😀😀😀😀😀😀😀", {.max_text = {.max = 6, .unit = TextLimit::Unit::utf16_units}, .max_parts = 1});
    CHECK(emoji == std::vector<std::string>{"😀😀…"});
    // No size limit, only a part cap (one part): the text whole plus the mark is not needed.
    CHECK(bot::reply_parts(text, {.max_parts = 1}) == std::vector<std::string>{text});
    // A limit below the mark's own length still yields the mark.
    CHECK(bot::reply_parts(full, {.max_text = {.max = 2}, .max_parts = 1}) ==
          std::vector<std::string>{"…"});
}

TEST_CASE("reply_parts renders the markdown in the adapter's text format before splitting",
          "[kit][markdown]") {
    const std::string reply = "**Bold** and `code`\n\n- item";
    CHECK(bot::reply_parts(reply, {}) == std::vector<std::string>{reply});
    CHECK(bot::reply_parts(reply, {.text_format = bot::TextFormat::plain}) ==
          std::vector<std::string>{"Bold and code\n\n• item"});
    CHECK(bot::reply_parts(reply, {.text_format = bot::TextFormat::telegram_html}) ==
          std::vector<std::string>{"<b>Bold</b> and <code>code</code>\n\n• item"});
    // Split in the rendered form: the limit counts visible text, tags are reopened.
    const Capabilities html{.max_text = {.max = 12, .unit = TextLimit::Unit::utf16_units},
                            .text_format = bot::TextFormat::telegram_html};
    CHECK(bot::reply_parts("**one two three four**", html) ==
          std::vector<std::string>{"<b>one two</b>", "<b>three four</b>"});
    // Cut at max_parts: the ellipsis follows the closed tags and the part still fits.
    auto cut = bot::reply_parts("**aaaaaaaaaaaa bbbb**",
                                {.max_text = {.max = 12, .unit = TextLimit::Unit::utf16_units},
                                 .max_parts = 1,
                                 .text_format = bot::TextFormat::telegram_html});
    CHECK(cut == std::vector<std::string>{"<b>aaaaaaaaaaa</b>…"});
    // Nothing visible: the user still gets the mark.
    CHECK(bot::reply_parts("```\n```", html) == std::vector<std::string>{"…"});
}

TEST_CASE("delivery_key is a stable version 5 UUID per adapter, row and part", "[kit]") {
    auto key = bot::delivery_key("tg", 42, 1);
    REQUIRE(key.size() == 36);
    CHECK(key[8] == '-');
    CHECK(key[13] == '-');
    CHECK(key[14] == '5');
    CHECK(std::string("89ab").find(key[19]) != std::string::npos);
    CHECK(key.find_first_not_of("0123456789abcdef-") == std::string::npos);
    CHECK(bot::delivery_key("tg", 42, 1) == key);
    // Pinned (Python: uuid.uuid5(UUID("6f2c4e1a-8d3b-4b7e-9a55-3c1d2e7f9b10"), "2:tg:42:1")):
    // a key that changed between versions would make a platform take a retried part for new.
    CHECK(key == "782b60fb-184b-5eb0-9905-2cb2420303f5");
    std::set<std::string> keys{key,
                               bot::delivery_key("tg", 42, 2),
                               bot::delivery_key("tg", 43, 1),
                               bot::delivery_key("tg2", 42, 1),
                               bot::delivery_key("t", 42, 1),
                               bot::delivery_key("tg:4", 2, 1)};
    CHECK(keys.size() == 6);
}

TEST_CASE("command_word finds a command after whitespace and mentions", "[kit]") {
    using bot::command_word;
    CHECK(command_word("/help", "/") == "help");
    CHECK(command_word("/reset@contact_bot", "/") == "reset");
    CHECK(command_word("/forget now", "/") == "forget");
    CHECK(command_word("  \n\t/help", "/") == "help");
    CHECK(command_word("@contact_bot /forget", "/") == "forget");
    CHECK(command_word("@小助手\u2005/help", "/") == "help");  // WeChat's space after a mention
    CHECK(command_word("@a @b\n/help", "/") == "help");
    CHECK(command_word("!help", "!") == "help");
    CHECK(command_word("@bot !help", "!") == "help");

    CHECK_FALSE(command_word("hello /help", "/"));
    CHECK_FALSE(command_word("@bot what is /help", "/"));
    CHECK_FALSE(command_word("@bot", "/"));
    CHECK_FALSE(command_word("@bot ", "/"));
    CHECK_FALSE(command_word("/", "/"));
    CHECK_FALSE(command_word("", "/"));
    CHECK_FALSE(command_word("/help", ""));
}
