// The line adapter's pure parts: x-line-signature (the official vector, vectors.json
// line/signature), webhook bodies (fixtures in testdata/line/, the SDK's among them), the
// reply / push / loading bodies and the mapping of API answers to SendError.
#include "line/line_codec.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace bot::adapters::line;
using bot::SendError;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/line/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

TEST_CASE("line: the official signature vector", "[line]") {
    // line/line-bot-sdk-python tests/test_signature.py (vectors.json line/signature).
    CHECK(sign("channel_secret", "bodybodybodybody") ==
          "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k=");
    CHECK(signature_valid("channel_secret",
                          "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k=", "bodybodybodybody"));
    // Another body, another secret, a cut or garbled header, none at all: refused.
    CHECK_FALSE(signature_valid(
        "channel_secret", "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k=", "bodybodybodybodx"));
    CHECK_FALSE(signature_valid(
        "channel_secreT", "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k=", "bodybodybodybody"));
    CHECK_FALSE(signature_valid("channel_secret", "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7",
                                "bodybodybodybody"));
    CHECK_FALSE(signature_valid("channel_secret", "not base64 at all!", "bodybodybodybody"));
    CHECK_FALSE(signature_valid("channel_secret", "", "bodybodybodybody"));
    CHECK_FALSE(signature_valid("", sign("", "x"), "x"));
}

TEST_CASE("line: the SDK's webhook events", "[line]") {
    auto body = parse_webhook(fixture("sdk_webhook.json"), "ln");
    REQUIRE(body.readable);
    REQUIRE(body.events.size() == 10);
    using Kind = LineEvent::Kind;

    const auto& dm = body.events[0];
    REQUIRE(dm.kind == Kind::message);
    CHECK(dm.event_id == "testwebhookeventid");
    CHECK(dm.reply_token == "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA");
    CHECK(dm.one_to_one);
    CHECK_FALSE(dm.redelivery);
    CHECK(dm.inbound.message_id == "testwebhookeventid");
    CHECK(dm.inbound.chat.adapter_id == "ln");
    CHECK(dm.inbound.chat.chat_id == "U206d25c2ea6bd87c17655609a1c37cb8");
    CHECK_FALSE(dm.inbound.chat.is_group);
    CHECK(dm.inbound.sender_id == "U206d25c2ea6bd87c17655609a1c37cb8");
    CHECK(dm.inbound.text == "Hello, world");
    CHECK(dm.inbound.unsupported.empty());
    CHECK(dm.inbound.at == std::chrono::system_clock::time_point(1462629479859ms));

    // An image in a room from a member without a shared profile: unsupported, anonymous.
    const auto& image = body.events[1];
    REQUIRE(image.kind == Kind::message);
    CHECK(image.inbound.unsupported == "image");
    CHECK(image.inbound.text.empty());
    CHECK(image.inbound.chat.is_group);
    CHECK(image.inbound.chat.chat_id == "Ra8dbf4673c4c812cd491258042226c99");
    CHECK(image.inbound.sender_id == "anonymous:Ra8dbf4673c4c812cd491258042226c99");
    CHECK_FALSE(image.one_to_one);

    // A sticker's keyword text is not the user's words.
    CHECK(body.events[2].inbound.unsupported == "sticker");
    CHECK(body.events[2].inbound.text.empty());

    CHECK(body.events[3].kind == Kind::ignored);  // follow
    CHECK(body.events[4].kind == Kind::ignored);  // unfollow
    CHECK(body.events[5].kind == Kind::ignored);  // join

    const auto& group = body.events[6];
    REQUIRE(group.kind == Kind::message);
    CHECK(group.inbound.chat.chat_id == "Ca56f94637cc4347f90a25382909b24b9");
    CHECK(group.inbound.chat.is_group);
    CHECK(group.inbound.sender_id == "U206d25c2ea6bd87c17655609a1c37cb8");
    CHECK_FALSE(group.inbound.mentions_me);  // no mention: the core decides (ignored)

    const auto& room = body.events[7];
    REQUIRE(room.kind == Kind::message);
    CHECK(room.inbound.chat.chat_id == "Ra8dbf4673c4c812cd491258042226c99");
    CHECK(room.inbound.chat.is_group);

    // A redelivery keeps its id (the core sees the duplicate) and its token is not used.
    const auto& again = body.events[8];
    REQUIRE(again.kind == Kind::message);
    CHECK(again.redelivery);
    CHECK(again.reply_token.empty());
    CHECK(again.inbound.message_id == "testwebhookeventid");

    CHECK(body.events[9].kind == Kind::ignored);  // an event type from the future
}

TEST_CASE("line: the bot's mention is removed by UTF-16 position, others kept", "[line]") {
    auto body = parse_webhook(fixture("group_mention.json"), "ln");
    REQUIRE(body.events.size() == 2);
    const auto& mentioned = body.events[0];
    REQUIRE(mentioned.kind == LineEvent::Kind::message);
    CHECK(mentioned.inbound.mentions_me);
    CHECK(mentioned.inbound.text == "\xF0\x9F\x98\x80 good morning @Alice");
    CHECK(mentioned.inbound.quotes_message_id == "468789532432007169");
    CHECK(mentioned.reply_token == "757913772c4646b784d4b7ce46d12671");
    // @All is not the bot.
    CHECK_FALSE(body.events[1].inbound.mentions_me);
    CHECK(body.events[1].inbound.text == "@All hello");
}

TEST_CASE("line: hostile webhook bodies are skipped, never thrown", "[line]") {
    using Kind = LineEvent::Kind;
    auto body = parse_webhook(fixture("hostile.json"), "ln");
    REQUIRE(body.readable);
    REQUIRE(body.events.size() == 8);
    CHECK(body.events[0].kind == Kind::unreadable);  // not an object
    CHECK(body.events[1].kind == Kind::unreadable);  // no webhookEventId
    CHECK(body.events[2].kind == Kind::unreadable);  // source not an object
    CHECK(body.events[3].kind == Kind::unreadable);  // no userId in a 1:1 chat
    CHECK(body.events[4].kind == Kind::unreadable);  // unknown source type
    // Spans past the end, negative or mistyped: the valid one is cut at the end.
    REQUIRE(body.events[5].kind == Kind::message);
    CHECK(body.events[5].inbound.mentions_me);
    CHECK(body.events[5].inbound.text == "hi");
    // Mistyped fields read as absent.
    REQUIRE(body.events[6].kind == Kind::message);
    CHECK(body.events[6].inbound.text.empty());
    CHECK_FALSE(body.events[6].redelivery);
    CHECK(body.events[6].reply_token.empty());
    CHECK(body.events[7].kind == Kind::ignored);  // standby

    for (std::string bad :
         {"", "[]", "{}", "{\"events\":{}}", "not json", "{\"events\":[1,2]", "\xff\xfe"}) {
        auto parsed = parse_webhook(bad, "ln");
        CHECK_FALSE(parsed.readable);
    }
    // The connectivity check of the console: an empty list.
    auto empty = parse_webhook(R"({"destination":"U1","events":[]})", "ln");
    CHECK(empty.readable);
    CHECK(empty.events.empty());
}

TEST_CASE("line: reply, push and loading bodies", "[line]") {
    auto reply = json::parse(reply_body("tok", {"a", "b"}));
    CHECK(reply == json{{"replyToken", "tok"},
                        {"messages",
                         {{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}}}});
    auto push = json::parse(push_body("C1", {"x"}));
    CHECK(push == json{{"to", "C1"}, {"messages", {{{"type", "text"}, {"text", "x"}}}}});
    auto loading = json::parse(loading_body("U1", 20));
    CHECK(loading == json{{"chatId", "U1"}, {"loadingSeconds", 20}});
    // Invalid UTF-8 from a split never makes an unparsable body.
    CHECK_NOTHROW(json::parse(push_body("C1", {"\xff ok"})));
}

TEST_CASE("line: API answers mapped in one place", "[line]") {
    using Kind = SendError::Kind;
    auto ok = classify(200, R"({"sentMessages":[{"id":"1"},{"id":"2","quoteToken":"q"}]})", "");
    CHECK(ok.ok);
    CHECK(ok.last_sent_id == "2");
    CHECK(classify(200, "{}", "").ok);

    auto stale = classify(400, R"({"message":"Invalid reply token"})", "");
    CHECK_FALSE(stale.ok);
    CHECK(stale.invalid_reply_token);
    CHECK(stale.failure.kind == Kind::bad_request);
    auto bad = classify(400, R"x({"message":"The request body has 1 error(s)"})x", "");
    CHECK(bad.failure.kind == Kind::bad_request);
    CHECK_FALSE(bad.invalid_reply_token);

    auto accepted = classify(409, R"({"message":"The retry key is already accepted"})", "");
    CHECK(accepted.already_accepted);

    auto unauthorized = classify(401, R"({"message":"Authentication failed."})", "");
    CHECK(unauthorized.failure.kind == Kind::unauthorized);
    CHECK_FALSE(unauthorized.operator_fix.empty());
    CHECK(classify(403, "{}", "").failure.kind == Kind::unauthorized);

    auto limited = classify(429, R"({"message":"The API rate limit has been exceeded."})", "7");
    CHECK(limited.failure.kind == Kind::rate_limited);
    CHECK(limited.failure.retry_after == 7s);
    CHECK(classify(429, "", "").failure.retry_after == 1s);
    CHECK(classify(429, "", "soon").failure.retry_after == 1s);
    auto quota = classify(429, R"({"message":"You have reached your monthly limit."})", "");
    CHECK(quota.failure.kind == Kind::quota_exhausted);
    CHECK_FALSE(quota.operator_fix.empty());

    CHECK(classify(500, "<html>", "").failure.kind == Kind::transient);
    CHECK(classify(503, "", "").failure.kind == Kind::transient);
    auto dropped = classify(0, "", "", "connection reset");
    CHECK(dropped.failure.kind == Kind::transient);
    CHECK(dropped.failure.detail == "connection reset");
}
