#include "bot/text_split.hpp"
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

TEST_CASE("token estimate is CJK-aware and budget keeps the newest turns", "[budget]") {
    CHECK(bot::estimate_tokens("") == 0);
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
