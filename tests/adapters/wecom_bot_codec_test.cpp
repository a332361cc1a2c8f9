#include "wecom_bot/wecom_bot_codec.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace bot::adapters::wecom_bot;
using nlohmann::json;

namespace {

BotCallback parse(const std::string& name) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/wecom_bot/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    auto callback = parse_callback(text.str());
    REQUIRE(callback);
    return *callback;
}

}  // namespace

TEST_CASE("wecom_bot codec: a single-chat text message", "[wecom_bot]") {
    auto c = parse("text_single.json");
    CHECK(c.kind == BotCallback::Kind::message);
    CHECK(c.msgid == "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=");
    CHECK_FALSE(c.is_group);
    CHECK(c.chatid.empty());
    CHECK(c.userid == "USERID");
    CHECK(c.text == "hello robot");
    CHECK(c.response_url.starts_with("https://qyapi.weixin.qq.com/cgi-bin/aibot/response"));
}

TEST_CASE("wecom_bot codec: a group message loses its leading @mention", "[wecom_bot]") {
    auto c = parse("text_group.json");
    CHECK(c.is_group);
    CHECK(c.chatid == "CHATID");
    CHECK(c.text == "hello robot");
    auto only_mention = parse_callback(
        R"({"msgid":"x","chattype":"group","chatid":"c","from":{"userid":"u"},"msgtype":"text","text":{"content":"@RobotA"}})");
    REQUIRE(only_mention);
    CHECK(only_mention->text.empty());
    // In a single chat a leading @ is part of the text.
    auto single = parse_callback(
        R"({"msgid":"x","chattype":"single","from":{"userid":"u"},"msgtype":"text","text":{"content":"@home tonight"}})");
    CHECK(single->text == "@home tonight");
}

TEST_CASE("wecom_bot codec: stream refreshes, events and other content", "[wecom_bot]") {
    auto refresh = parse("stream_refresh.json");
    CHECK(refresh.kind == BotCallback::Kind::stream_refresh);
    CHECK(refresh.stream_id == "STREAMID");
    auto event = parse("enter_chat.json");
    CHECK(event.kind == BotCallback::Kind::event);
    CHECK(event.event_type == "enter_chat");
    auto image = parse("image.json");
    CHECK(image.kind == BotCallback::Kind::message);
    CHECK(image.msgtype == "image");
    CHECK(image.text.empty());
}

TEST_CASE("wecom_bot codec: malformed callbacks are refused, odd types do not throw",
          "[wecom_bot]") {
    CHECK_FALSE(parse_callback("{"));
    CHECK_FALSE(parse_callback("[]"));
    CHECK_FALSE(parse_callback(R"({"msgid":"x"})"));
    auto odd = parse_callback(R"({"msgtype":"text","msgid":5,"from":"u","text":{"content":7}})");
    REQUIRE(odd);
    CHECK(odd->msgid.empty());
    CHECK(odd->userid.empty());
    CHECK(odd->text.empty());
}

TEST_CASE("wecom_bot codec: replies", "[wecom_bot]") {
    auto frame = json::parse(stream_frame("S1", "部分 answer", false));
    CHECK(frame == json{{"msgtype", "stream"},
                        {"stream", {{"id", "S1"}, {"finish", false}, {"content", "部分 answer"}}}});
    auto welcome = json::parse(welcome_text("hi"));
    CHECK(welcome == json{{"msgtype", "text"}, {"text", {{"content", "hi"}}}});
    auto wrapped = json::parse(envelope("ENC", "SIG", "1700000000", "N"));
    CHECK(wrapped["timestamp"].is_string());
    CHECK(wrapped["msgsignature"] == "SIG");
}
