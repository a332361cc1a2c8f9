// The dingtalk adapter's pure parts: Stream frames and their ACKs, robot messages (fixtures in
// testdata/dingtalk/), the HTTP-mode signature (testdata/dingtalk/vectors.json), reply bodies,
// markdown detection and the mapping of DingTalk's answers to SendError.
#include "dingtalk/dingtalk_codec.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace bot::adapters::dingtalk;
using bot::SendError;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/dingtalk/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

RobotMessage message(const std::string& name) {
    auto parsed = parse_robot_message(fixture(name));
    INFO(parsed.reason);
    REQUIRE(parsed.message);
    return *parsed.message;
}

}  // namespace

TEST_CASE("dingtalk: a 1:1 text message", "[dingtalk]") {
    auto m = message("private_text.json");
    CHECK(m.msg_id == "msgA1b2C3d4==");
    CHECK_FALSE(m.group);
    CHECK(m.sender_id == "manager4500");  // the staff id, which batchSend addresses
    CHECK(m.has_staff_id);
    CHECK(m.sender_nick == "张三");
    CHECK(m.text == "你好，帮我查一下天气");  // trimmed
    CHECK(m.session_webhook == "https://oapi.dingtalk.com/robot/sendBySession?session=abc123");
    CHECK(m.webhook_expires_ms == 1700003600000);
    auto inbound = to_inbound(m, "dt");
    CHECK(inbound.chat.adapter_id == "dt");
    CHECK(inbound.chat.chat_id == "manager4500");
    CHECK_FALSE(inbound.chat.is_group);
    CHECK_FALSE(inbound.mentions_me);
    CHECK(inbound.sender_name == "张三");
    CHECK(inbound.message_id == "msgA1b2C3d4==");
    CHECK(inbound.unsupported.empty());
}

TEST_CASE("dingtalk: a group message addresses the bot, chat = conversation", "[dingtalk]") {
    auto m = message("group_text.json");
    CHECK(m.group);
    CHECK(m.text == "测试数据");  // the @name is removed by DingTalk, the space by us
    auto inbound = to_inbound(m, "dt");
    CHECK(inbound.chat.chat_id == "cidGroup42==");
    CHECK(inbound.chat.is_group);
    CHECK(inbound.mentions_me);
    CHECK(inbound.sender_id == "user0042");
}

TEST_CASE("dingtalk: a sender without staff id, numbers written as strings", "[dingtalk]") {
    auto m = message("no_staff_id.json");
    CHECK_FALSE(m.has_staff_id);
    CHECK(m.sender_id == "$:LWCP_v1:$external7");
    CHECK(m.webhook_expires_ms == 1700003600000);
    CHECK(to_inbound(m, "dt").chat.chat_id == "$:LWCP_v1:$external7");
}

TEST_CASE("dingtalk: content the bot cannot read is reported, rich text flattened", "[dingtalk]") {
    auto picture = to_inbound(message("picture.json"), "dt");
    CHECK(picture.text.empty());
    CHECK(picture.unsupported == "picture");
    auto rich = to_inbound(message("rich_text.json"), "dt");
    CHECK(rich.text == "看这张图\n是什么？");
    CHECK(rich.unsupported.empty());
    auto only_picture = to_inbound(message("rich_picture_only.json"), "dt");
    CHECK(only_picture.text.empty());
    CHECK(only_picture.unsupported == "picture");
}

TEST_CASE("dingtalk: malformed and hostile messages are refused or defused, never thrown",
          "[dingtalk]") {
    CHECK_FALSE(parse_robot_message(fixture("wrong_types.json")).message);
    CHECK_FALSE(parse_robot_message(fixture("no_msgid.json")).message);
    CHECK(parse_robot_message(fixture("no_msgid.json")).reason == "no msgId");
    CHECK_FALSE(parse_robot_message("").message);
    CHECK_FALSE(parse_robot_message("[1,2]").message);
    CHECK_FALSE(parse_robot_message(R"({"msgId":"a","conversationType":"3"})").message);
    // A webhook that is not http(s) is never used; text of the wrong type is "empty text".
    auto hostile = message("hostile_webhook.json");
    CHECK(hostile.session_webhook.empty());
    CHECK(hostile.text.empty());
    CHECK(to_inbound(hostile, "dt").unsupported == "empty text");
}

TEST_CASE("dingtalk: a createAt far in the future reads as now (found by fuzz_dingtalk)",
          "[dingtalk]") {
    // 17000000000000 ms overflowed the clock's nanoseconds (undefined behaviour).
    auto before = std::chrono::system_clock::now();
    auto inbound = to_inbound(message("created_far_future.json"), "dt");
    CHECK(inbound.at >= before);
    CHECK(inbound.at <= std::chrono::system_clock::now());
    auto past = to_inbound(message("private_text.json"), "dt");
    CHECK(past.at ==
          std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000000)));
}

TEST_CASE("dingtalk: Stream frames", "[dingtalk]") {
    auto callback = parse_frame(fixture("frame_callback.json"));
    REQUIRE(callback);
    CHECK(callback->type == StreamFrame::Type::callback);
    CHECK(callback->topic == kBotMessageTopic);
    CHECK(callback->message_id == "cb-0001");
    REQUIRE(parse_robot_message(callback->data).message);
    CHECK(parse_robot_message(callback->data).message->text == "hi");

    auto ping = parse_frame(fixture("frame_ping.json"));
    REQUIRE(ping);
    CHECK(ping->type == StreamFrame::Type::system);
    CHECK(ping->topic == "ping");
    CHECK(json::parse(ping->data) == json{{"opaque", "3d7c6f3a-8a1b-4d9e"}});

    auto disconnect = parse_frame(fixture("frame_disconnect.json"));
    REQUIRE(disconnect);
    CHECK(disconnect->topic == "disconnect");
    auto event = parse_frame(fixture("frame_event.json"));
    REQUIRE(event);
    CHECK(event->type == StreamFrame::Type::event);
    auto unknown = parse_frame(fixture("frame_unknown.json"));
    REQUIRE(unknown);
    CHECK(unknown->type == StreamFrame::Type::unknown);
    CHECK(unknown->message_id == "mx-1");
    CHECK(unknown->data.empty());  // data of the wrong type reads as absent
    // The published ping sample has trailing commas (protocols.md pitfalls): not JSON.
    CHECK_FALSE(parse_frame(fixture("frame_ping_doc.txt")));
    CHECK_FALSE(parse_frame("not json"));
    CHECK_FALSE(parse_frame("[]"));
}

TEST_CASE("dingtalk: ACKs echo the messageId, pings their data", "[dingtalk]") {
    auto ack = json::parse(callback_ack("cb-0001"));
    CHECK(ack == json::parse(R"({"code":200,"headers":{"messageId":"cb-0001",
        "contentType":"application/json"},"message":"OK","data":"{\"response\":null}"})"));
    auto ping = parse_frame(fixture("frame_ping.json"));
    auto echo = json::parse(ack_frame(ping->message_id, ping->data));
    CHECK(echo["headers"]["messageId"] == "ping-0001");
    CHECK(echo["data"] == ping->data);
    auto event = json::parse(event_ack("ev-0001"));
    CHECK(json::parse(event["data"].get<std::string>())["status"] == "SUCCESS");
    // Hostile ids stay inside their string.
    auto odd = json::parse(callback_ack("a\"b\\c\n"));
    CHECK(odd["headers"]["messageId"] == "a\"b\\c\n");
}

TEST_CASE("dingtalk: HTTP-mode signature (vectors, window, forgeries)", "[dingtalk]") {
    for (const auto& vector : json::parse(fixture("vectors.json"))) {
        std::string timestamp = vector["timestamp"], secret = vector["secret"],
                    sign = vector["sign"];
        CHECK(http_sign(timestamp, secret) == sign);
        std::int64_t at = std::stoll(timestamp);
        CHECK(check_http_sign(timestamp, sign, secret, at) == SignCheck::ok);
        CHECK(check_http_sign(timestamp, sign, secret, at + 3'599'000) == SignCheck::ok);
        CHECK(check_http_sign(timestamp, sign, secret, at + 3'601'000) == SignCheck::stale);
        CHECK(check_http_sign(timestamp, sign, secret, at - 3'601'000) == SignCheck::stale);
        CHECK(check_http_sign(timestamp, sign, secret + "x", at) == SignCheck::forged);
        auto flipped = sign;
        flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
        CHECK(check_http_sign(timestamp, flipped, secret, at) == SignCheck::forged);
        CHECK(check_http_sign(timestamp, "", secret, at) == SignCheck::missing);
        CHECK(check_http_sign("", sign, secret, at) == SignCheck::missing);
        CHECK(check_http_sign("17e11", sign, secret, at) == SignCheck::forged);
    }
}

TEST_CASE("dingtalk: markdown detection and titles", "[dingtalk]") {
    CHECK_FALSE(looks_like_markdown("Hello there. How are you?"));
    CHECK_FALSE(looks_like_markdown("3.5 is more than 3"));
    CHECK_FALSE(looks_like_markdown("a * b = c"));
    CHECK(looks_like_markdown("# Weather\nSunny"));
    CHECK(looks_like_markdown("Steps:\n1. open\n2. close"));
    CHECK(looks_like_markdown("- one\n- two"));
    CHECK(looks_like_markdown("this is **bold**"));
    CHECK(looks_like_markdown("see [docs](https://example.com)"));
    CHECK(looks_like_markdown("```\ncode\n```"));
    CHECK(markdown_title("## **今日天气**\n晴") == "今日天气");
    CHECK(markdown_title("\n\n- first item\n- second") == "first item");
    CHECK(markdown_title("```") == "reply");
    std::string long_heading(102, 'x');
    long_heading.replace(0, 2, "# ");
    auto long_title = markdown_title(long_heading);
    CHECK(long_title == std::string(30, 'x') + "…");
}

TEST_CASE("dingtalk: session webhook bodies @ the sender in groups", "[dingtalk]") {
    auto plain = json::parse(webhook_body("hello", ""));
    CHECK(plain == json{{"msgtype", "text"}, {"text", {{"content", "hello"}}}});
    auto group = json::parse(webhook_body("hello", "user0042"));
    CHECK(group["text"]["content"] == "@user0042 hello");
    CHECK(group["at"]["atUserIds"] == json::array({"user0042"}));
    auto markdown = json::parse(webhook_body("# Title\nbody", "user0042"));
    CHECK(markdown["msgtype"] == "markdown");
    CHECK(markdown["markdown"]["title"] == "Title");
    CHECK(markdown["markdown"]["text"] == "# Title\nbody\n\n@user0042");
    // Invalid UTF-8 from the model is replaced, never an invalid body.
    CHECK_NOTHROW(json::parse(webhook_body("bad \xff byte", "")));
}

TEST_CASE("dingtalk: robot OpenAPI bodies", "[dingtalk]") {
    auto one = json::parse(batch_send_body("robot1", "manager4500", "hi"));
    CHECK(one["robotCode"] == "robot1");
    CHECK(one["userIds"] == json::array({"manager4500"}));
    CHECK(one["msgKey"] == "sampleText");
    CHECK(json::parse(one["msgParam"].get<std::string>()) == json{{"content", "hi"}});
    auto group = json::parse(group_send_body("robot1", "cidGroup42==", "**hi**"));
    CHECK(group["openConversationId"] == "cidGroup42==");
    CHECK(group["msgKey"] == "sampleMarkdown");
    CHECK(json::parse(group["msgParam"].get<std::string>()) ==
          json{{"title", "hi"}, {"text", "**hi**"}});
}

TEST_CASE("dingtalk: registration and tokens", "[dingtalk]") {
    auto body = json::parse(register_body("key", "secret", "contactbot/1"));
    CHECK(body["clientId"] == "key");
    CHECK(body["subscriptions"] ==
          json::parse(R"([{"type":"CALLBACK","topic":"/v1.0/im/bot/messages/get"}])"));
    auto registration = parse_registration(
        R"({"endpoint":"wss://wss-open-connection.dingtalk.com:443/connect","ticket":"a+b=c"})");
    REQUIRE(registration);
    CHECK(connect_url(*registration) ==
          "wss://wss-open-connection.dingtalk.com:443/connect?ticket=a%2Bb%3Dc");
    CHECK_FALSE(parse_registration(R"({"endpoint":"https://x","ticket":"t"})"));
    CHECK_FALSE(parse_registration(R"({"endpoint":"wss://x"})"));
    CHECK_FALSE(parse_registration("<xml/>"));
    auto token = parse_token(R"({"accessToken":"abc","expireIn":7200})");
    REQUIRE(token);
    CHECK(token->token == "abc");
    CHECK(token->expires_in == 7200s);
    CHECK_FALSE(parse_token(R"({"code":"invalidClientIdOrSecret"})"));
}

TEST_CASE("dingtalk: session webhook answers", "[dingtalk]") {
    using Kind = SendOutcome::Kind;
    CHECK(classify_webhook(200, R"({"errcode":0,"errmsg":"ok"})", "").kind == Kind::delivered);
    auto gone = classify_webhook(200, R"({"errcode":300001,"errmsg":"session 不存在"})", "");
    CHECK(gone.kind == Kind::session_gone);
    CHECK(classify_webhook(404, "", "").kind == Kind::session_gone);
    auto busy = classify_webhook(503, "", "");
    CHECK(busy.kind == Kind::failed);
    CHECK(busy.error.kind == SendError::Kind::transient);
    auto limited = classify_webhook(429, "", "7");
    CHECK(limited.error.kind == SendError::Kind::rate_limited);
    CHECK(limited.error.retry_after == 7s);
    auto fast = classify_webhook(200, R"({"errcode":130101,"errmsg":"send too fast"})", "");
    CHECK(fast.error.kind == SendError::Kind::rate_limited);
    CHECK(fast.error.retry_after == 1s);
}

TEST_CASE("dingtalk: robot OpenAPI answers map to SendError in one place", "[dingtalk]") {
    using Kind = SendOutcome::Kind;
    auto ok = classify_api(200, R"({"processQueryKey":"pqk-1","invalidStaffIdList":[],
                                    "flowControlledStaffIdList":[]})",
                           "", "u1");
    CHECK(ok.kind == Kind::delivered);
    CHECK(ok.message_id == "pqk-1");
    auto invalid =
        classify_api(200, R"({"processQueryKey":"p","invalidStaffIdList":["u1"]})", "", "u1");
    CHECK(invalid.error.kind == SendError::Kind::bad_request);
    auto flow = classify_api(200, R"({"processQueryKey":"p","flowControlledStaffIdList":["u1"]})",
                             "", "u1");
    CHECK(flow.error.kind == SendError::Kind::rate_limited);
    CHECK(flow.error.retry_after == 1s);
    CHECK(classify_api(401, R"({"code":"InvalidAuthentication","message":"x"})", "").kind ==
          Kind::token_refused);
    CHECK(classify_api(400, R"({"code":"InvalidAuthentication"})", "").kind == Kind::token_refused);
    auto limited = classify_api(429, R"({"code":"Throttling.Api"})", "");
    CHECK(limited.error.kind == SendError::Kind::rate_limited);
    CHECK(limited.error.retry_after == 1s);
    CHECK(classify_api(429, "", "30").error.retry_after == 30s);
    auto denied = classify_api(403, R"({"code":"Forbidden.AccessDenied.AccessTokenPermissionDenied",
                                        "message":"没有调用该接口的权限"})",
                               "");
    CHECK(denied.error.kind == SendError::Kind::unauthorized);
    CHECK(denied.needs_operator);
    CHECK(classify_api(500, "", "").error.kind == SendError::Kind::transient);
    CHECK(classify_api(400, R"({"code":"invalidParameter"})", "").error.kind ==
          SendError::Kind::bad_request);
    CHECK(classify_api(200, "garbage", "").kind == Kind::delivered);
}
