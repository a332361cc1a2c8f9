#include "base/text_split.hpp"
#include "bot/token_budget.hpp"

#include <catch2/catch.hpp>

using bot::split_text;

TEST_CASE("split_text keeps short text whole and trims", "[split]") {
    CHECK(split_text("  hello  ", 100) == std::vector<std::string>{"hello"});
    CHECK(split_text("anything", 0) == std::vector<std::string>{"anything"});
    CHECK(split_text("   ", 10).empty());
}

TEST_CASE("split_text prefers paragraphs, then lines, sentences, spaces", "[split]") {
    CHECK(split_text("First para.\n\nSecond para.", 20) ==
          std::vector<std::string>{"First para.", "Second para."});
    CHECK(split_text("line one\nline two is here", 20) ==
          std::vector<std::string>{"line one", "line two is here"});
    CHECK(split_text("One sentence. Two sentence. Three", 20) ==
          std::vector<std::string>{"One sentence.", "Two sentence. Three"});
    CHECK(split_text("alpha beta gamma delta epsilon", 12) ==
          std::vector<std::string>{"alpha beta", "gamma delta", "epsilon"});
}

TEST_CASE("split_text never cuts a UTF-8 character and respects the limit", "[split]") {
    std::string chinese = "你好世界。这是一个测试句子。再来一句话！最后一句";
    for (std::size_t limit : {4u, 7u, 10u, 16u, 31u}) {
        auto parts = split_text(chinese, limit);
        std::string joined;
        for (const auto& part : parts) {
            CHECK(part.size() <= limit);
            CHECK(!part.empty());
            joined += part;
        }
        CHECK(joined == chinese);  // no spaces to drop: nothing lost
    }
    auto parts = split_text(chinese, 24);
    CHECK(parts[0] == "你好世界。");  // cut after the CJK full stop
}

TEST_CASE("text_length counts UTF-16 units the way Telegram does", "[split]") {
    using Unit = bot::TextLimit::Unit;
    CHECK(bot::text_length("abc", Unit::utf16_units) == 3);
    CHECK(bot::text_length("你好", Unit::utf16_units) == 2);  // BMP: one unit each
    CHECK(bot::text_length("你好", Unit::utf8_bytes) == 6);
    CHECK(bot::text_length("😀", Unit::utf16_units) == 2);  // outside the BMP: a surrogate pair
    CHECK(bot::text_length("😀", Unit::code_points) == 1);
    CHECK(bot::text_length("é", Unit::utf16_units) == 1);
}

TEST_CASE("split_text at 4096 UTF-16 units: emoji and CJK stay whole", "[split]") {
    const bot::TextLimit telegram{.max = 4096, .unit = bot::TextLimit::Unit::utf16_units};
    // 3000 emoji = 6000 units (12000 bytes), no spaces: cut between emoji, never inside a pair.
    std::string emoji;
    for (int i = 0; i < 3000; ++i) emoji += "😀";
    auto parts = split_text(emoji, telegram);
    REQUIRE(parts.size() == 2);
    CHECK(bot::text_length(parts[0], telegram.unit) == 4096);
    CHECK(parts[0] + parts[1] == emoji);

    // 5000 CJK characters = 5000 units (15000 bytes): a byte-based split would make 4 parts.
    std::string cjk;
    for (int i = 0; i < 1000; ++i) cjk += "中文句子。";
    parts = split_text(cjk, telegram);
    REQUIRE(parts.size() == 2);
    CHECK(bot::text_length(parts[0], telegram.unit) <= 4096);
    CHECK(parts[0].ends_with("。"));  // at a sentence end
    CHECK(parts[0] + parts[1] == cjk);

    // Exactly at the limit: one part.
    std::string exact(4094, 'a');
    exact += "😀";
    CHECK(split_text(exact, telegram).size() == 1);
    CHECK(split_text(exact + "b", telegram).size() == 2);

    // A limit smaller than one character still makes progress.
    CHECK(split_text("😀😀", bot::TextLimit{.max = 1, .unit = bot::TextLimit::Unit::utf16_units}) ==
          std::vector<std::string>{"😀", "😀"});
}

TEST_CASE("token estimate is CJK-aware and budget keeps the newest turns", "[budget]") {
    CHECK(bot::estimate_tokens("") == 0);
    // Exact: 3 tenths per ASCII byte, 15 per CJK character, rounded up; ASCII is counted eight
    // bytes at a time, so the CJK character sits across and between words.
    CHECK(bot::estimate_tokens(std::string(17, 'a')) == 6);  // 51 tenths
    CHECK(bot::estimate_tokens(std::string(7, 'a') + "你" + std::string(9, 'b')) == 7);  // 63
    CHECK(bot::estimate_tokens(std::string(16, 'a') + "你好") == 8);                     // 78
    CHECK(bot::estimate_tokens("hello world, this is english") < 12);
    CHECK(bot::estimate_tokens("你好世界你好世界") >= 8);  // ~1.5 per character
    CHECK(bot::estimate_tokens("你好世界你好世界") > bot::estimate_tokens("hello wo"));

    std::vector<bot::storage::Turn> turns;
    for (int i = 0; i < 10; ++i) {
        turns.push_back({"user", std::string(40, 'q')});  // ~12 tokens + 4
        turns.push_back({"assistant", std::string(40, 'a')});
    }
    CHECK(bot::first_turn_within_budget(turns, 0, 100000) == 0);
    CHECK(bot::first_turn_within_budget(turns, 100000, 100) == turns.size());
    auto first = bot::first_turn_within_budget(turns, 20, 20 + 16 * 5);
    CHECK(first == 16);  // the newest four (five would start with an assistant turn)
    CHECK(turns[first].role == "user");
}
