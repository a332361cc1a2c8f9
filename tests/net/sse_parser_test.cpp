#include "bot/net/sse_parser.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using bot::SseEvent;
using bot::SseParser;

namespace {

std::vector<SseEvent> parse_in_pieces(std::string_view stream, std::vector<std::size_t> cuts) {
    SseParser parser;
    std::vector<SseEvent> events;
    std::size_t begin = 0;
    cuts.push_back(stream.size());
    for (std::size_t cut : cuts) {
        for (auto& event : parser.feed(stream.substr(begin, cut - begin))) {
            events.push_back(std::move(event));
        }
        begin = cut;
    }
    return events;
}

void require_same(const std::vector<SseEvent>& actual, const std::vector<SseEvent>& expected) {
    REQUIRE(actual.size() == expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i) {
        CHECK(actual[i].event == expected[i].event);
        CHECK(actual[i].data == expected[i].data);
        CHECK(actual[i].id == expected[i].id);
    }
}

}  // namespace

TEST_CASE("SSE parser reads events, fields and comments") {
    SseParser parser;
    auto events = parser.feed(
        ": keep-alive comment\n"
        "data: first\n\n"
        "event: update\nid: 7\ndata: second\n\n"
        "data:no-space\n\n");
    REQUIRE(events.size() == 3);
    CHECK(events[0].event.empty());
    CHECK(events[0].data == "first");
    CHECK(events[0].id.empty());
    CHECK(events[1].event == "update");
    CHECK(events[1].data == "second");
    CHECK(events[1].id == "7");
    CHECK(events[2].data == "no-space");
    CHECK(events[2].event.empty());  // the event name does not carry over
    CHECK(events[2].id == "7");      // the last event id does
}

TEST_CASE("SSE parser joins multi-line data with newlines and keeps extra spaces") {
    SseParser parser;
    auto events = parser.feed("data: line one\ndata:  two\ndata\ndata: [DONE]\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "line one\n two\n\n[DONE]");
}

TEST_CASE("SSE parser accepts CRLF, CR and LF line endings") {
    SseParser parser;
    auto events = parser.feed("data: a\r\n\r\ndata: b\r\rdata: c\n\n");
    REQUIRE(events.size() == 3);
    CHECK(events[0].data == "a");
    CHECK(events[1].data == "b");
    CHECK(events[2].data == "c");
}

TEST_CASE("SSE parser ignores events without data and unfinished events") {
    SseParser parser;
    CHECK(parser.feed("event: ping\n\n: only a comment\n\nretry: 100\n\n").empty());
    CHECK(parser.feed("data: waiting for the blank line\n").empty());
    auto events = parser.feed("\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "waiting for the blank line");
}

TEST_CASE("SSE parser gives the same events however the stream is cut") {
    const std::string stream =
        "\xEF\xBB\xBF: comment\r\n"
        "event: delta\r\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n"
        "\r\n"
        "id: 42\rdata: two\rdata: lines\r\r"
        "data: [DONE]\n\n";
    const std::vector<SseEvent> expected = {
        {"delta", "{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}", ""},
        {"", "two\nlines", "42"},
        {"", "[DONE]", "42"},
    };
    require_same(parse_in_pieces(stream, {}), expected);
    for (std::size_t cut = 1; cut < stream.size(); ++cut) {
        INFO("cut at " << cut);
        require_same(parse_in_pieces(stream, {cut}), expected);
    }
    std::vector<std::size_t> every_byte;
    for (std::size_t cut = 1; cut < stream.size(); ++cut) every_byte.push_back(cut);
    require_same(parse_in_pieces(stream, every_byte), expected);
}

TEST_CASE("SSE parser refuses to buffer an endless event") {
    SseParser parser(64);
    CHECK_NOTHROW(parser.feed("data: short\n"));
    CHECK_THROWS_AS(parser.feed("data: " + std::string(100, 'x')), std::length_error);
}

TEST_CASE("format_sse writes one data line per text line") {
    CHECK(bot::format_sse("", "hello") == "data: hello\n\n");
    CHECK(bot::format_sse("delta", "a\nb\r\nc") == "event: delta\ndata: a\ndata: b\ndata: c\n\n");
    CHECK(bot::format_sse("bad\nname", "") == "event: badname\ndata: \n\n");
}

TEST_CASE("format_sse output parses back to the same event") {
    for (std::string data : {"", "one", "two\nlines", "trailing\n", "\n\nblank first", "cr\rlf"}) {
        SseParser parser;
        auto events = parser.feed(bot::format_sse("kind", data));
        REQUIRE(events.size() == 1);
        CHECK(events[0].event == "kind");
        std::string expected = data;
        for (auto& c : expected) {
            if (c == '\r') c = '\n';
        }
        CHECK(events[0].data == expected);
    }
}
