// base/text_spans: removing the bot's mentions by position, whatever the client sent.
#include "base/text_spans.hpp"

#include <catch2/catch.hpp>

#include <limits>

using bot::byte_offset;
using bot::TextSpan;
using bot::without_spans;
using Unit = bot::TextLimit::Unit;

TEST_CASE("byte_offset converts positions in every unit, never splitting a character", "[spans]") {
    const std::string text = "😀a你b";  // 4 + 1 + 3 + 1 bytes; 2 + 1 + 1 + 1 UTF-16 units
    CHECK(byte_offset(text, 0, Unit::utf16_units) == 0);
    CHECK(byte_offset(text, 1, Unit::utf16_units) == 0);  // half a surrogate pair
    CHECK(byte_offset(text, 2, Unit::utf16_units) == 4);
    CHECK(byte_offset(text, 3, Unit::utf16_units) == 5);
    CHECK(byte_offset(text, 4, Unit::utf16_units) == 8);
    CHECK(byte_offset(text, 99, Unit::utf16_units) == text.size());
    CHECK(byte_offset(text, 1, Unit::code_points) == 4);
    CHECK(byte_offset(text, 3, Unit::code_points) == 8);
    CHECK(byte_offset(text, 6, Unit::utf8_bytes) == 5);  // inside 你
    CHECK(byte_offset(text, 8, Unit::utf8_bytes) == 8);
    CHECK(byte_offset(text, 99, Unit::utf8_bytes) == text.size());
}

TEST_CASE("without_spans removes mentions with the separator and space after them", "[spans]") {
    CHECK(without_spans("@bot, hi", {{0, 4}}, Unit::utf8_bytes) == "hi");
    CHECK(without_spans("so @bot: what", {{3, 4}}, Unit::utf8_bytes) == "so what");
    CHECK(without_spans("hi @bot", {{3, 4}}, Unit::utf8_bytes) == "hi");
    CHECK(without_spans("@bot", {{0, 4}}, Unit::utf8_bytes).empty());
    CHECK(without_spans("@a @b hi", {{3, 2}, {0, 2}}, Unit::utf8_bytes) == "hi");  // any order
    CHECK(without_spans("hi", {}, Unit::utf8_bytes) == "hi");
    CHECK(without_spans("  hi  ", {}, Unit::utf8_bytes) == "hi");
}

TEST_CASE("without_spans counts in UTF-16 units for CJK and emoji", "[spans]") {
    // "😀 @机器人：你好": the emoji is 2 units, so the mention starts at unit 3.
    CHECK(without_spans("😀 @机器人：你好", {{3, 4}}, Unit::utf16_units) == "😀 你好");
    CHECK(without_spans("😀 @机器人：你好", {{2, 4}}, Unit::code_points) == "😀 你好");
    CHECK(without_spans("@机器人\u3000你好", {{0, 4}}, Unit::utf16_units) == "你好");
    CHECK(without_spans("@机器人，你好", {{0, 10}}, Unit::utf8_bytes) == "你好");
    // A span ending inside a surrogate pair stops before it, never splits it.
    CHECK(without_spans("@b😀", {{0, 3}}, Unit::utf16_units) == "😀");
}

TEST_CASE("without_spans takes repeated and overlapping spans once, skips out-of-range ones",
          "[spans]") {
    CHECK(without_spans("@bot hi", {{0, 4}, {0, 4}}, Unit::utf16_units) == "hi");
    // Overlapping spans, in either order, remove their union.
    CHECK(without_spans("so @bot: what", {{3, 4}, {5, 2}}, Unit::utf16_units) == "so what");
    CHECK(without_spans("so @bot: what", {{3, 2}, {3, 4}}, Unit::utf16_units) == "so what");
    CHECK(without_spans("so @bot: what", {{3, 4}, {3, 2}}, Unit::utf16_units) == "so what");
    CHECK(without_spans("so @b @bot what", {{3, 4}, {6, 4}}, Unit::utf16_units) == "so what");
    CHECK(without_spans("a @b, c", {{2, 2}, {3, 2}}, Unit::utf16_units) == "a c");
    CHECK(without_spans("hi", {{1, 0}}, Unit::utf16_units) == "hi");
    CHECK(without_spans("hi", {{5, 3}}, Unit::utf16_units) == "hi");
    CHECK(without_spans("hi @bot", {{3, 99}}, Unit::utf16_units) == "hi");  // cut at the end
    const auto huge = std::numeric_limits<std::size_t>::max();
    CHECK(without_spans("hi @bot", {{3, huge}}, Unit::utf16_units) == "hi");
    CHECK(without_spans("hi @bot", {{huge, huge}}, Unit::utf8_bytes) == "hi @bot");
}
