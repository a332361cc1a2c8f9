#include "telegram/telegram_codec.hpp"
#include "telegram/sent_message_id.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <optional>
#include <sstream>

using namespace bot::adapters::telegram;
using nlohmann::json;
namespace bj = boost::json;

namespace {

const BotIdentity kMe{.id = 123456, .username = "contact_test_bot"};

std::string fixture_text(const std::string& name) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/telegram/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

bj::value fixture(const std::string& name) {
    return bj::parse(fixture_text(name));
}

ParsedUpdate parse(const std::string& name) {
    return parse_update(fixture(name), kMe, "tg");
}

}  // namespace

TEST_CASE("telegram: private text messages are facts for the core", "[telegram]") {
    auto start = parse("private_text.json");
    REQUIRE(start.kind == ParsedUpdate::Kind::message);
    CHECK(start.update_id == 10000);
    CHECK(start.inbound.chat.adapter_id == "tg");
    CHECK(start.inbound.chat.chat_id == "1111111");
    CHECK_FALSE(start.inbound.chat.is_group);
    CHECK(start.inbound.sender_id == "1111111");
    CHECK(start.inbound.sender_name == "Test Lastname");
    CHECK(start.inbound.message_id == "1111111:1365");
    CHECK(start.inbound.text == "/start");
    CHECK(start.inbound.mentions_me);  // a command
    CHECK(start.inbound.unsupported.empty());

    auto plain = parse("private_plain.json");
    REQUIRE(plain.kind == ParsedUpdate::Kind::message);
    CHECK(plain.inbound.text == "你好 😀 what is 2+2?");
    CHECK_FALSE(plain.inbound.mentions_me);  // not needed in private chats
    CHECK(std::chrono::duration_cast<std::chrono::seconds>(plain.inbound.at.time_since_epoch())
              .count() == 1441645540);
}

TEST_CASE("telegram: groups mark what addresses the bot", "[telegram]") {
    // @mention after an emoji: entity offsets count UTF-16 units; the mention is removed.
    auto mention = parse("group_mention.json");
    REQUIRE(mention.kind == ParsedUpdate::Kind::message);
    CHECK(mention.inbound.chat.is_group);
    CHECK(mention.inbound.chat.chat_id == "-1001234567890");
    CHECK(mention.inbound.sender_id == "42");
    CHECK(mention.inbound.mentions_me);
    CHECK(mention.inbound.text == "😀 what is the capital of France?");

    auto other = parse("group_other_mention.json");
    REQUIRE(other.kind == ParsedUpdate::Kind::message);
    CHECK_FALSE(other.inbound.mentions_me);
    CHECK(other.inbound.text == "@ann_here see you at 8");

    auto text_mention = parse("group_text_mention.json");
    CHECK(text_mention.inbound.mentions_me);

    auto reply = parse("group_reply_to_bot.json");
    CHECK(reply.inbound.mentions_me);
    CHECK(reply.inbound.text == "and Germany?");
    // The quoted message's number, as send() returned it: the core's own check of the same.
    CHECK(reply.inbound.quotes_message_id == "76");
    CHECK(mention.inbound.quotes_message_id.empty());
    // A command for another bot in a reply to this bot stays another bot's: the core must not
    // take the quote as addressing this one (it would run /forget for the wrong bot).
    auto for_other = parse_update(
        bj::parse(R"({"update_id": 20009, "message": {"message_id": 81, "date": 1700000003,
          "chat": {"id": -1001234567890, "type": "supergroup", "title": "Friends"},
          "from": {"id": 42, "is_bot": false, "first_name": "Ann"},
          "text": "/forget@other_bot",
          "entities": [{"type": "bot_command", "offset": 0, "length": 17}],
          "reply_to_message": {"message_id": 76, "date": 1700000000,
            "chat": {"id": -1001234567890, "type": "supergroup", "title": "Friends"},
            "from": {"id": 123456, "is_bot": true, "first_name": "Helper"},
            "text": "Paris."}}})"),
        kMe, "tg");
    REQUIRE(for_other.kind == ParsedUpdate::Kind::message);
    CHECK_FALSE(for_other.inbound.mentions_me);
    CHECK(for_other.inbound.quotes_message_id.empty());

    auto command = parse("group_command_at_bot.json");
    CHECK(command.inbound.mentions_me);
    CHECK(command.inbound.text == "/reset@contact_test_bot");  // the core reads "/reset"

    auto foreign = parse("group_command_other_bot.json");
    REQUIRE(foreign.kind == ParsedUpdate::Kind::message);
    CHECK_FALSE(foreign.inbound.mentions_me);

    auto chatter = parse("group_plain.json");
    REQUIRE(chatter.kind == ParsedUpdate::Kind::message);
    CHECK_FALSE(chatter.inbound.mentions_me);  // the core ignores it

    auto topic = parse("topic_mention.json");
    CHECK(topic.inbound.chat.chat_id == "-1001234567890/5");  // a topic is its own conversation
    CHECK(topic.inbound.message_id == "-1001234567890:84");
    CHECK(topic.inbound.text == "hi");
}

// Telegram sends what clients send: a repeated or overlapping entity once threw out_of_range
// from the mention removal, and in poll mode that update then blocked every later one.
TEST_CASE("telegram: repeated, overlapping and out-of-range mentions are read", "[telegram]") {
    auto twice = parse("group_mention_twice.json");
    REQUIRE(twice.kind == ParsedUpdate::Kind::message);
    CHECK(twice.inbound.mentions_me);
    CHECK(twice.inbound.text == "hi");

    auto overlapping = parse("group_mentions_overlapping.json");
    REQUIRE(overlapping.kind == ParsedUpdate::Kind::message);
    CHECK(overlapping.inbound.mentions_me);
    CHECK(overlapping.inbound.text == "so what");
}

TEST_CASE("telegram: media, edits, service messages, channels and bots", "[telegram]") {
    auto photo = parse("photo.json");
    REQUIRE(photo.kind == ParsedUpdate::Kind::message);
    CHECK(photo.inbound.unsupported == "photo");
    CHECK(photo.inbound.text.empty());

    auto sticker = parse("sticker.json");
    CHECK(sticker.inbound.unsupported == "sticker");

    for (const char* name :
         {"edited_message.json", "new_member.json", "channel_post.json", "from_bot.json"}) {
        INFO(name);
        auto parsed = parse(name);
        CHECK(parsed.kind == ParsedUpdate::Kind::ignored);
        CHECK_FALSE(parsed.reason.empty());
    }
    CHECK(parse("edited_message.json").update_id == 10002);
    CHECK(parse_update(bj::array(), kMe, "tg").kind == ParsedUpdate::Kind::ignored);
    CHECK(parse_update(bj::value{{"update_id", 1}, {"message", "x"}}, kMe, "tg").kind ==
          ParsedUpdate::Kind::ignored);
    // Fields of the wrong type read as absent instead of throwing.
    auto odd = fixture("private_text.json");
    odd.at("message").at("from").as_object()["is_bot"] = "yes";
    odd.at("message").as_object()["entities"] = "none";
    CHECK(parse_update(odd, kMe, "tg").kind == ParsedUpdate::Kind::message);
    odd.at("message").at("chat").as_object()["id"] = "12";
    CHECK(parse_update(odd, kMe, "tg").reason == "missing ids");
}

TEST_CASE("telegram: a webhook body is read as one Update object", "[telegram]") {
    const auto body = fixture_text("group_mention.json");
    auto from_body = parse_update(std::string_view(body), kMe, "tg");
    REQUIRE(from_body);
    auto from_tree = parse("group_mention.json");
    CHECK(from_body->kind == ParsedUpdate::Kind::message);
    CHECK(from_body->update_id == from_tree.update_id);
    CHECK(from_body->inbound.text == from_tree.inbound.text);
    CHECK(from_body->inbound.mentions_me);
    CHECK(from_body->inbound.message_id == from_tree.inbound.message_id);
    // Larger than the stack buffer: the parse continues on the heap.
    std::string long_text(20000, 'x');
    auto big = parse_update(
        std::string_view(
            R"({"update_id":5,"message":{"message_id":1,"date":1,"chat":{"id":7,"type":"private"},"from":{"id":7,"first_name":"A"},"text":")" +
            long_text + R"("}})"),
        kMe, "tg");
    REQUIRE(big);
    CHECK(big->inbound.text == long_text);
    CHECK_FALSE(parse_update(std::string_view("not json"), kMe, "tg"));
    CHECK_FALSE(parse_update(std::string_view("[1, 2]"), kMe, "tg"));
    CHECK_FALSE(parse_update(std::string_view(R"({"update_id": 1)"), kMe, "tg"));
}

// Found by tests/fuzz (fuzz_telegram_update): a date past 2262 overflowed the conversion to
// the clock's nanoseconds (undefined behaviour; UBSan aborts on it).
TEST_CASE("telegram: a date beyond the clock's range is ignored", "[telegram]") {
    const auto before = std::chrono::system_clock::now();
    auto update = parse_update(
        std::string_view(
            R"({"update_id":5,"message":{"message_id":1,"date":11700000006,"chat":{"id":7,"type":"private"},"from":{"id":7},"text":"hi"}})"),
        kMe, "tg");
    REQUIRE(update);
    REQUIRE(update->kind == ParsedUpdate::Kind::message);
    // Arrival time instead, as for a message without a date.
    CHECK(update->inbound.at >= before);
    CHECK(update->inbound.at <= std::chrono::system_clock::now());
}

TEST_CASE("telegram: ids, chats and offsets", "[telegram]") {
    CHECK(bot_id_from_token("123456:ABC-def") == 123456);
    CHECK_FALSE(bot_id_from_token("nonsense").has_value());
    CHECK_FALSE(bot_id_from_token("abc:def").has_value());
    CHECK_FALSE(bot_id_from_token("123:").has_value());

    CHECK(format_chat({.chat_id = -100123, .thread_id = 0}) == "-100123");
    CHECK(format_chat({.chat_id = -100123, .thread_id = 45}) == "-100123/45");
    auto chat = parse_chat("-100123/45");
    REQUIRE(chat);
    CHECK(chat->chat_id == -100123);
    CHECK(chat->thread_id == 45);
    CHECK_FALSE(parse_chat("x").has_value());
    CHECK_FALSE(parse_chat("1/").has_value());

    CHECK(message_number("-100123:84") == 84);
    CHECK_FALSE(message_number("84").has_value());
}

TEST_CASE("telegram: a sendMessage body addresses the chat and topic, and quotes in groups",
          "[telegram]") {
    const std::string text = "line \"one\"\n😀 你好 \\ end";
    auto plain = json::parse(send_message_body({.chat_id = 500, .thread_id = 0}, text));
    CHECK(plain == json{{"chat_id", 500}, {"text", text}});

    auto quoted =
        json::parse(send_message_body({.chat_id = -100123, .thread_id = 45}, text, "-100123:84"));
    CHECK(quoted ==
          json{{"chat_id", -100123},
               {"message_thread_id", 45},
               {"text", text},
               {"reply_parameters", {{"message_id", 84}, {"allow_sending_without_reply", true}}}});
    // Not a stored Telegram message id: nothing to quote.
    CHECK_FALSE(json::parse(send_message_body({.chat_id = 1, .thread_id = 0}, "x", "auto-12"))
                    .contains("reply_parameters"));
    // A part rendered in Telegram's HTML names its parse mode.
    CHECK(json::parse(send_message_body({.chat_id = 1, .thread_id = 0}, "<b>x</b>", "", "HTML")) ==
          json{{"chat_id", 1}, {"text", "<b>x</b>"}, {"parse_mode", "HTML"}});
}

TEST_CASE("telegram: a refused markup is told apart from other bad requests", "[telegram]") {
    CHECK(cant_parse_entities(parse_api_answer(
        400,
        R"({"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"})",
        "")));
    CHECK_FALSE(cant_parse_entities(parse_api_answer(
        400, R"({"ok":false,"error_code":400,"description":"Bad Request: chat not found"})", "")));
    CHECK_FALSE(
        cant_parse_entities(parse_api_answer(200, R"({"ok":true,"result":{"message_id":5}})", "")));
}

TEST_CASE("telegram: API answers and their retry class", "[telegram]") {
    auto ok = parse_api_answer(200, R"({"ok":true,"result":{"message_id":5}})", "");
    CHECK(ok.ok);
    CHECK(ok.message_id == 5);
    // Results that are not a Message keep their tree: getMe, getUpdates, setWebhook.
    auto me =
        parse_api_answer(200, R"({"ok":true,"result":{"id":7,"username":"contact_bot"}})", "");
    CHECK(me.result.at("username") == "contact_bot");
    CHECK(me.message_id == 0);
    auto updates = parse_api_answer(200, R"({"ok":true,"result":[{"update_id":9}]})", "");
    REQUIRE(updates.result.is_array());
    CHECK(updates.result.at(0).at("update_id") == 9);
    auto done = parse_api_answer(200, R"({"ok":true,"result":true})", "");
    CHECK(done.ok);
    CHECK(done.result == true);
    CHECK_FALSE(parse_api_answer(200, R"({"ok":"yes"})", "").ok);

    // The 429 answer of the Bot API server (Query.cpp).
    auto limited = parse_api_answer(
        429,
        R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}})",
        "7");
    CHECK_FALSE(limited.ok);
    auto error = to_send_error(limited);
    CHECK(error.kind == bot::SendError::Kind::rate_limited);
    CHECK(error.retry_after == std::chrono::seconds(7));

    auto header_only = parse_api_answer(429, "<html>busy</html>", "3");
    CHECK(to_send_error(header_only).retry_after == std::chrono::seconds(3));

    // A wait the outbox's clock arithmetic can hold: a day at most, never negative.
    CHECK(parse_api_answer(
              429,
              R"({"ok":false,"error_code":429,"parameters":{"retry_after":10000000000000000}})", "")
              .retry_after == std::chrono::hours(24));
    CHECK(parse_api_answer(429, "busy", "99999999999999999").retry_after == std::chrono::hours(24));
    CHECK(parse_api_answer(429, R"({"ok":false,"error_code":429,"parameters":{"retry_after":-5}})",
                           "")
              .retry_after == std::chrono::seconds(0));

    auto blocked = parse_api_answer(
        403,
        R"({"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"})",
        "");
    CHECK(to_send_error(blocked).kind == bot::SendError::Kind::unauthorized);
    CHECK(to_send_error(blocked).detail.find("blocked") != std::string::npos);

    auto migrated = parse_api_answer(
        400,
        R"({"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001}})",
        "");
    CHECK(migrated.migrate_to_chat_id == -1001);
    CHECK(to_send_error(migrated).kind == bot::SendError::Kind::bad_request);

    CHECK(to_send_error(parse_api_answer(502, "Bad Gateway", "")).kind ==
          bot::SendError::Kind::transient);
    CHECK(to_send_error(parse_api_answer(0, "", "")).kind == bot::SendError::Kind::transient);
}

// What sent_message_id must agree with: the same answer read as a Boost.JSON tree.
static std::optional<std::int64_t> message_id_from_tree(std::string_view body) {
    boost::system::error_code ec;
    const bj::value answer = bj::parse(body, ec);
    const bj::object* top = ec ? nullptr : answer.if_object();
    if (!top || !top->contains("ok") || !top->at("ok").is_bool() || !top->at("ok").get_bool())
        return std::nullopt;
    const bj::value* result = top->if_contains("result");
    if (!result || !result->is_object() || !result->get_object().contains("message_id"))
        return std::nullopt;
    const bj::value& id = result->get_object().at("message_id");
    if (id.is_int64()) return id.get_int64();
    if (id.is_uint64() && id.get_uint64() <= INT64_MAX) return id.get_uint64();
    return 0;
}

TEST_CASE("telegram: a sent message's id is read without a tree, as the tree reads it",
          "[telegram]") {
    const std::string sent =
        R"({"ok":true,"result":{"chat":{"id":-100,"type":"group"},"date":1,"from":{"id":7,)"
        R"("is_bot":true,"first_name":"Bot","username":"b"},"message_id":42,"text":"a \"quoted\" )"
        R"(text, \u4f60\u597d, {\"message_id\":1}","entities":[{"type":"bold","offset":0,"length":1}]}})";
    CHECK(sent_message_id(sent) == std::optional<std::int64_t>(42));
    // A key with an escape arrives in parts, and the handler puts it together itself.
    CHECK(sent_message_id(R"({"ok":true,"result":{"message\u005fid":9}})") ==
          std::optional<std::int64_t>(9));
    const std::string bodies[] = {
        sent,
        R"({"ok":true,"result":{"message_id":5}})",
        R"({"result":{"message_id":5},"ok":true})",                 // order does not matter
        R"({"ok":true,"result":{"message_id":5,"message_id":6}})",  // the last stands
        R"({"ok":true,"result":{"message_id":5},"result":true})",
        R"({"ok":true,"result":true,"result":{"message_id":8}})",
        R"({"ok":false,"ok":true,"result":{"message_id":5}})",
        R"({"ok":true,"ok":1,"result":{"message_id":5}})",
        R"({"ok":true,"result":{"reply_to_message":{"message_id":3}}})",  // not its own id
        R"({"ok":true,"result":{"reply_to_message":{"message_id":3},"message_id":4}})",
        R"({"ok":true,"result":{"message_id":"5"}})",  // the wrong type reads as 0
        R"({"ok":true,"result":{"message_id":5.5}})",
        R"({"ok":true,"result":{"message_id":{"id":5}}})",
        R"({"ok":true,"result":{"message_id":18446744073709551615}})",
        R"({"ok":true,"result":{"message_id":-3}})",
        R"({"ok":true,"result":{"message\u005fid":9}})",  // an escaped key is the same key
        R"({"ok":true,"parameters":{"message_id":5},"result":{"id":1}})",
        R"({"ok":true,"result":{"id":1},"parameters":{"message_id":5}})",
        R"({"ok":true,"result":[{"message_id":5}]})",
        R"({"ok":true,"result":{"message_id":5}} trailing)",
        R"({"ok":true,"result":{"message_id":5})",
        R"([{"ok":true,"result":{"message_id":5}}])",
        R"({"ok":"true","result":{"message_id":5}})",
        R"({"ok":true})",
        "",
        "null",
    };
    for (const std::string& body : bodies) {
        INFO(body);
        // Where the handler answers, it answers as the tree; where it leaves the answer to the
        // tree, parse_api_answer still reads the tree's message id.
        const auto tree = message_id_from_tree(body);
        if (const auto fast = sent_message_id(body)) CHECK(fast == tree);
        const ApiResult read = parse_api_answer(200, body, "");
        CHECK(read.message_id == tree.value_or(0));
        if (tree) CHECK(read.ok);
    }
}
