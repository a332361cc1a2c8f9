#include "base/markdown.hpp"

#include <catch2/catch.hpp>

namespace {

using bot::TextFormat;
using bot::markdown::render;

std::string feishu(std::string_view text) {
    return render(text, TextFormat::feishu_markdown);
}
std::string slack(std::string_view text) {
    return render(text, TextFormat::slack_mrkdwn);
}
std::string discord(std::string_view text) {
    return render(text, TextFormat::discord_markdown);
}

}  // namespace

TEST_CASE("feishu markdown keeps what its md element shows", "[markdown][dialect]") {
    CHECK(feishu("**bold** and *it* and ~~gone~~ and `x*y`") ==
          "**bold** and *it* and ~~gone~~ and `x*y`");
    CHECK(feishu("# Title\n\ntext") == "**Title**\n\ntext");
    CHECK(feishu("- one\n- two\n  1. inner") == "- one\n- two\n  1. inner");
    CHECK(feishu("see [docs](<https://example.com/a b>) now") ==
          "see [docs](https://example.com/a%20b) now");
    CHECK(feishu("```python\nprint(1)\n```") == "```\nprint(1)\n```");
    CHECK(feishu("> quoted **b**") == "> quoted **b**");
    // A literal backtick (escaped in the source) never opens code on the platform.
    CHECK(feishu("\\`\\`\\`not code") == "ˋˋˋnot code");
    CHECK(feishu("| a | b |\n|---|---|\n| 1 | 2 |") == "**a** | **b**\n1 | 2");
}

TEST_CASE("dialects never link what is not http(s)", "[markdown][dialect]") {
    for (auto format :
         {TextFormat::feishu_markdown, TextFormat::slack_mrkdwn, TextFormat::discord_markdown}) {
        const std::string out = render("[click](javascript:alert(1)) ![img](data:x)", format);
        INFO(out);
        CHECK(out.find("](javascript") == std::string::npos);
        CHECK(out.find("<javascript") == std::string::npos);
        CHECK(out.find("javascript:alert(1)") != std::string::npos);  // shown as text
        CHECK(out.find("](data") == std::string::npos);
    }
    // An image is a link to it, never shown inline.
    CHECK(feishu("![a cat](https://x.test/cat.png)") == "[a cat](https://x.test/cat.png)");
    CHECK(discord("see https://x.test/a_b_c") == "see https://x.test/a_b_c");
}

TEST_CASE("markers never touch inner whitespace", "[markdown][dialect]") {
    CHECK(feishu("a **b c** d") == "a **b c** d");
    CHECK(feishu("***both*** x") == "***both*** x");
    CHECK(slack("**bold *and it* more**") == "*bold _and it_ more*");
}

TEST_CASE("slack mrkdwn", "[markdown][dialect]") {
    CHECK(slack("**b** *i* ~~s~~ `c`") == "*b* _i_ ~s~ `c`");
    CHECK(slack("a < b & c > d") == "a &lt; b &amp; c &gt; d");
    CHECK(slack("[the docs](https://example.com/x|y)") == "<https://example.com/x%7Cy|the docs>");
    CHECK(slack("<https://example.com>") == "<https://example.com>");
    CHECK(slack("## Head\n\n- a\n- b\n\n1. x") == "*Head*\n\n• a\n• b\n\n1. x");
    CHECK(slack("```\nif (a < b) {}\n```") == "```\nif (a &lt; b) {}\n```");
}

TEST_CASE("discord markdown", "[markdown][dialect]") {
    CHECK(discord("# Big\n\n#### small") == "# Big\n\n**small**");
    CHECK(discord("2 \\* 3 and a\\_b") == "2 \\* 3 and a\\_b");
    CHECK(discord("**b** [l](https://x.test)") == "**b** [l](https://x.test)");
    // A fence inside code cannot end the block early.
    CHECK(discord("````\n```\n````") == "```\n'''\n```");
}

TEST_CASE("split_markdown closes and reopens a code block cut between parts", "[markdown][split]") {
    std::string text = "Intro paragraph.\n\n```cpp\n";
    for (int i = 0; i < 80; ++i)
        text += "int value_" + std::to_string(i) + " = " + std::to_string(i) + ";\n";
    text += "```\n\nAfter the code.";
    const bot::TextLimit limit{.max = 300, .unit = bot::TextLimit::Unit::code_points};
    const auto parts = bot::markdown::split_markdown(text, limit);
    REQUIRE(parts.size() > 3);
    std::string joined;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto& part = parts[i];
        INFO(part);
        CHECK(bot::text_length(part, limit.unit) <= limit.max);
        std::size_t fences = 0;
        for (auto at = part.find("```"); at != std::string::npos; at = part.find("```", at + 3)) {
            ++fences;
        }
        CHECK(fences % 2 == 0);
        if (i > 0 && i + 1 < parts.size()) CHECK(part.starts_with("```cpp\n"));
    }
    CHECK(parts.front().starts_with("Intro paragraph."));
    CHECK(parts.back().ends_with("After the code."));
    // Text without fences splits as split_text does.
    CHECK(bot::markdown::split_markdown("a b c", {.max = 1000}) == bot::split_text("a b c", 1000));
}
