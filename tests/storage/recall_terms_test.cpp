// The terms recall indexes and searches (storage/recall_terms.hpp): CJK runs as characters and
// overlapping pairs, so two-character words (猫咪, 北京) are found; other words lower-cased.
#include "storage/recall_terms.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace bot::storage;

namespace {

bool has(const std::vector<std::string>& terms, const std::string& term) {
    return std::find(terms.begin(), terms.end(), term) != terms.end();
}

}  // namespace

TEST_CASE("A CJK run is indexed as its characters and every overlapping pair", "[recall]") {
    const auto terms = index_terms("我家猫咪叫图灵");
    // 我 is a stop word; every pair stays (the index does not judge word boundaries).
    const std::vector<std::string> expected{"家",   "猫",   "咪",   "叫",   "图",   "灵",
                                            "我家", "家猫", "猫咪", "咪叫", "叫图", "图灵"};
    CHECK(terms == expected);
}

TEST_CASE("A two-character query word becomes its pair, which the index holds", "[recall]") {
    const auto query = query_terms("猫咪");
    CHECK(query == std::vector<std::string>{"猫咪"});
    CHECK(has(index_terms("我去过北京两次"), "北京"));
    CHECK(has(query_terms("你去过北京吗？"), "北京"));
    // A lone character (between punctuation or Latin text) is searched as itself.
    CHECK(query_terms("猫") == std::vector<std::string>{"猫"});
    CHECK(has(index_terms("一只猫。"), "猫"));
}

TEST_CASE("Query pairs across a particle and stop words are skipped", "[recall]") {
    const auto query = query_terms("我的猫咪叫什么名字？");
    CHECK(has(query, "猫咪"));
    CHECK(has(query, "名字"));
    CHECK_FALSE(has(query, "的猫"));  // crosses 的
    CHECK_FALSE(has(query, "什么"));  // a stop pair
    CHECK_FALSE(has(query, "我的"));
    CHECK_FALSE(has(query, "猫"));  // a longer run searches by its pairs only
}

TEST_CASE("Latin words are lower-cased, fullwidth forms read as ASCII, stop words dropped",
          "[recall]") {
    CHECK(index_terms("My cat is called Turing!") ==
          std::vector<std::string>{"cat", "called", "turing"});
    CHECK(index_terms("ＴＵＲＩＮＧ ２０２４") == std::vector<std::string>{"turing", "2024"});
    CHECK(index_terms("Ärger über Straße") == std::vector<std::string>{"ärger", "über", "straße"});
    CHECK(index_terms("my cat's toy") == std::vector<std::string>{"cat", "toy"});
    // Mixed scripts split where the script changes.
    CHECK(index_terms("iPhone15很好用") ==
          std::vector<std::string>{"iphone15", "好", "用", "很好", "好用"});
}

TEST_CASE("Query terms: no repeats, the more telling first, capped", "[recall]") {
    const auto query = query_terms("what is the name of my cat cat CAT, the cat called turing");
    CHECK(query == std::vector<std::string>{"called", "turing", "name", "cat"});
    std::string many;
    for (int i = 0; i < 40; ++i) many += "word" + std::to_string(i) + " ";
    CHECK(query_terms(many, 12).size() == 12);
    CHECK(index_terms(many, 10).size() == 10);
}

TEST_CASE("Invalid UTF-8, emoji and punctuation never make terms or crash", "[recall]") {
    CHECK(index_terms("\xff\xfe\xc3").empty());
    // Overlong forms and surrogates are no characters.
    CHECK(index_terms("\xc1\x81\xc1\x82 \xed\xa0\x80\xed\xa0\x81").empty());
    CHECK(index_terms("🐱🐱 ... !!! ——").empty());
    CHECK(index_terms("ab\xe7\x8c") == std::vector<std::string>{"ab"});
    CHECK(query_terms("").empty());
    // A word longer than 64 bytes is no term (a hash, a URL's junk).
    CHECK(index_terms(std::string(100, 'x')).empty());
}

TEST_CASE("Japanese and Korean runs are paired too", "[recall]") {
    CHECK(has(index_terms("東京タワーに行った"), "東京"));
    CHECK(has(query_terms("東京"), "東京"));
    CHECK(has(index_terms("서울에 갔어요"), "서울"));
}
