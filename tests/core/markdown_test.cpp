#include "base/markdown.hpp"
#include "base/html_split.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using bot::TextFormat;
using bot::markdown::render;

namespace {

std::string plain(std::string_view text) {
    return render(text, TextFormat::plain);
}
std::string html(std::string_view text) {
    return render(text, TextFormat::telegram_html);
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

// The tags of html nest properly and every one is closed; only Telegram's tags appear.
bool balanced(std::string_view html) {
    std::vector<std::string> stack;
    std::size_t at = 0;
    while ((at = html.find('<', at)) != std::string_view::npos) {
        const std::size_t end = html.find('>', at);
        if (end == std::string_view::npos) return false;
        std::string tag(html.substr(at + 1, end - at - 1));
        at = end + 1;
        const bool closing = !tag.empty() && tag[0] == '/';
        std::string name = tag.substr(closing ? 1 : 0,
                                      tag.find_first_of(" >", closing ? 1 : 0) - (closing ? 1 : 0));
        static const std::vector<std::string> allowed{"b",   "i", "s",         "code",
                                                      "pre", "a", "blockquote"};
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) return false;
        if (!closing) {
            stack.push_back(name);
        } else {
            if (stack.empty() || stack.back() != name) return false;
            stack.pop_back();
        }
    }
    return stack.empty();
}

// No '&' in html starts anything but one of the entities the renderer writes.
bool entities_whole(std::string_view html) {
    for (std::size_t at = html.find('&'); at != std::string_view::npos;
         at = html.find('&', at + 1)) {
        const auto rest = html.substr(at);
        if (!(rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;") ||
              rest.starts_with("&quot;"))) {
            return false;
        }
    }
    return true;
}

}  // namespace

TEST_CASE("plain text drops the markup and keeps the structure", "[markdown]") {
    CHECK(plain("# Title\n\nSome **bold**, *it*, ~~gone~~ and `x<y>`.") ==
          "Title\n\nSome bold, it, gone and x<y>.");
    CHECK(plain("- one\n- two\n  - nested **b**\n\n1. first\n2. second") ==
          "• one\n• two\n  • nested b\n\n1. first\n2. second");
    CHECK(plain("3. three\n4. four") == "3. three\n4. four");
    CHECK(plain("0. zero\n1. one") == "0. zero\n1. one");
    CHECK(plain("```cpp\nint a<b>;\nreturn 0;\n```") == "    int a<b>;\n    return 0;");
    CHECK(plain("> quoted\n> more") == "> quoted\n> more");
    CHECK(plain("| a | b |\n|---|---|\n| 1 | 2 |") == "a | b\n1 | 2");
    CHECK(plain("---") == "──────────");
    CHECK(plain("- [ ] open\n- [x] done") == "• ☐ open\n• ☑ done");
}

TEST_CASE("plain text shows links as text (url), once", "[markdown]") {
    CHECK(plain("[site](https://example.com)") == "site (https://example.com)");
    CHECK(plain("see https://example.com/a?b=1") == "see https://example.com/a?b=1");
    CHECK(plain("<https://a.example>") == "https://a.example");
    CHECK(plain("mail me@example.com") == "mail me@example.com");
    CHECK(plain("![a cat](https://example.com/cat.png)") == "a cat (https://example.com/cat.png)");
    CHECK(plain("[x](javascript:alert(1))") == "x (javascript:alert(1))");
}

TEST_CASE("plain text leaves no stray markup symbols", "[markdown]") {
    const std::string out = plain(
        "## Heading\n\n**bold** __also__ *it* _it_ ***both*** `code`\n\n* star item\n+ plus "
        "item\n\n"
        "```\nfenced\n```\n");
    for (char symbol : {'*', '_', '#', '`'}) {
        INFO(out);
        CHECK(out.find(symbol) == std::string::npos);
    }
    // Underscores and stars inside words are text, not emphasis.
    CHECK(plain("snake_case_word and 2 * 3 * 4") == "snake_case_word and 2 * 3 * 4");
}

TEST_CASE("loose lists, paragraphs in items and code in items keep their indentation",
          "[markdown]") {
    CHECK(plain("- first\n\n  more of first\n\n- second") == "• first\n  more of first\n• second");
    CHECK(plain("1. step:\n\n   ```\n   make\n   ```\n2. done") == "1. step:\n      make\n2. done");
    CHECK(plain("- a\n  - b\n    - c") == "• a\n  • b\n    • c");
}

TEST_CASE("CJK text, entities and line breaks", "[markdown]") {
    CHECK(plain("中文**粗体**文字。") == "中文粗体文字。");
    CHECK(html("中文**粗体**文字。") == "中文<b>粗体</b>文字。");
    CHECK(plain("a &amp; b &copy; &#x4E2D; &unknown;") == "a & b © 中 &unknown;");
    CHECK(plain("line one\nline two") == "line one\nline two");
    // Bytes that are no UTF-8 become U+FFFD, so renderers and splitters agree on characters.
    CHECK(plain("a\xe5&#x4E2D;\xad\x97"
                "b \xed\xa0\x80 \xc0\xaf") == "a\uFFFD中\uFFFD\uFFFDb \uFFFD \uFFFD");
}

TEST_CASE("Telegram HTML uses only its tags and escapes the text", "[markdown]") {
    CHECK(html("# Title\n\n**b** *i* ~~s~~ `c<d>`") ==
          "<b>Title</b>\n\n<b>b</b> <i>i</i> <s>s</s> <code>c&lt;d&gt;</code>");
    CHECK(html("```html\n<script>alert(1)</script>\n```") ==
          "<pre>&lt;script&gt;alert(1)&lt;/script&gt;</pre>");
    CHECK(html("<b>raw</b> & <img src=x onerror=alert(1)>") ==
          "&lt;b&gt;raw&lt;/b&gt; &amp; &lt;img src=x onerror=alert(1)&gt;");
    CHECK(html("> a\n> b\n\nafter") == "<blockquote>a\nb</blockquote>\n\nafter");
    CHECK(html("***both*** and **bold *nested* bold**") ==
          "<b><i>both</i></b> and <b>bold <i>nested</i> bold</b>");
    CHECK(html("| h |\n|---|\n| v |") == "<b>h</b>\nv");
}

TEST_CASE("Telegram HTML links only http, https and tg urls", "[markdown]") {
    CHECK(html("[site](https://example.com/?a=1&b=\"2\")") ==
          "<a href=\"https://example.com/?a=1&amp;b=&quot;2&quot;\">site</a>");
    CHECK(html("[me](tg://user?id=1)") == "<a href=\"tg://user?id=1\">me</a>");
    for (std::string_view evil : {"[x](javascript:alert(1))", "[x](JavaScript:alert(1))",
                                  "[x](data:text/html,<script>1</script>)", "[x](vbscript:msgbox)",
                                  "![i](javascript:alert(1))", "<javascript:alert(1)>"}) {
        const std::string out = html(evil);
        INFO(evil << " -> " << out);
        CHECK_FALSE(contains(out, "<a"));
        CHECK(balanced(out));
        CHECK(entities_whole(out));
    }
    CHECK(html("[x](javascript:alert(1))") == "x (javascript:alert(1))");
}

TEST_CASE("malformed and hostile input renders without throwing, balanced", "[markdown]") {
    const std::vector<std::string> inputs{
        "",
        "**unclosed bold",
        "`unclosed code",
        "```\nunclosed fence",
        "[unclosed link(https://x",
        "<<<>>>&&&;;;",
        "&#0; &#xFFFFFFFF; &#55296; &#; &#x;",
        std::string("nul\0char", 8),
        "\xff\xfe broken utf-8 \xe4\xb8",
        "> > > deep\n> > quote",
        "- - - -\n* * *",
        "| a |\n|---|\n| b | extra | cells |",
        "*a **b* c** ~~d *e~~ f*",
        std::string(2000, '*') + std::string(2000, '_') + std::string(2000, '['),
        std::string(500, '>') + " x",
        std::string(300, ' ') + "- " + std::string(300, '-'),
    };
    for (const std::string& input : inputs) {
        INFO(input.substr(0, 60));
        std::string p, h;
        REQUIRE_NOTHROW(p = plain(input));
        REQUIRE_NOTHROW(h = html(input));
        CHECK(balanced(h));
        CHECK(entities_whole(h));
        CHECK(render(input, TextFormat::markdown) == input);
    }
}

TEST_CASE("very long input renders whole", "[markdown]") {
    std::string input;
    for (int i = 0; i < 5000; ++i) input += "- item **" + std::to_string(i) + "** with `code`\n";
    const std::string out = plain(input);
    CHECK(contains(out, "• item 4999 with code"));
    CHECK(balanced(html(input)));
}

TEST_CASE("split_html keeps every part valid and within the limit", "[markdown][split]") {
    std::string source;
    for (int i = 0; i < 60; ++i) {
        source += "Paragraph " + std::to_string(i) +
                  " has **bold text that runs on & on <and on>** and " +
                  "[a link](https://example.com/" + std::to_string(i) + ") plus `code & more`.\n\n";
        if (i % 10 == 0) source += "```\nline <1> & line 2\nline 3\n```\n\n> a quote **bold**\n\n";
    }
    source += "中文" + std::string(300, 'x') + "字";  // one word longer than the limit
    const std::string whole = html(source);
    REQUIRE(balanced(whole));
    for (bot::TextLimit limit :
         {bot::TextLimit{.max = 50, .unit = bot::TextLimit::Unit::utf16_units},
          bot::TextLimit{.max = 97, .unit = bot::TextLimit::Unit::utf8_bytes},
          bot::TextLimit{.max = 4096, .unit = bot::TextLimit::Unit::utf16_units}}) {
        const auto parts = bot::split_html(whole, limit);
        const auto expected = bot::split_text(bot::html_to_text(whole), limit);
        REQUIRE(parts.size() == expected.size());
        for (std::size_t i = 0; i < parts.size(); ++i) {
            INFO(limit.max << " part " << i << ": " << parts[i]);
            CHECK(balanced(parts[i]));
            CHECK(entities_whole(parts[i]));
            CHECK(bot::text_length(bot::html_to_text(parts[i]), limit.unit) <= limit.max);
            // The visible text of every part is the plain split's part: nothing lost or doubled.
            CHECK(bot::html_to_text(parts[i]) == expected[i]);
        }
    }
}

TEST_CASE("split_html closes tags at a cut and reopens them", "[markdown][split]") {
    CHECK(bot::split_html("<b>one <i>two three</i> four</b>", {.max = 9}) ==
          std::vector<std::string>{"<b>one <i>two</i></b>", "<b><i>three</i></b>", "<b>four</b>"});
    const auto linked =
        bot::split_html("<a href=\"https://x.y\">aaaa bbbb</a> &amp;&amp;", {.max = 5});
    CHECK(linked == std::vector<std::string>{"<a href=\"https://x.y\">aaaa</a>",
                                             "<a href=\"https://x.y\">bbbb</a>", "&amp;&amp;"});
    // A tag that would enclose only the whitespace at a cut is left out.
    CHECK(bot::split_html("aaaa<b> </b>bbbb", {.max = 4}) ==
          std::vector<std::string>{"aaaa", "bbbb"});
    CHECK(bot::split_html("", {.max = 4}).empty());
    CHECK(bot::html_to_text("<b>a&lt;b</b> &amp; &#x4E2D; &bogus; <") == "a<b & 中 &bogus; <");
}
