#include "onebot/onebot_codec.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace bot::adapters::onebot;
using bot::Outbound;
using bot::SendError;
using nlohmann::json;

namespace {

constexpr std::int64_t kSelf = 10001000;
const AddressRules kRules{.adapter_id = "qq", .command_prefix = "/"};

std::string fixture_text(const std::string& name) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/onebot/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

Frame parse(const std::string& name, std::int64_t connection_self_id = kSelf) {
    return parse_frame(fixture_text(name), connection_self_id, kRules);
}

}  // namespace

TEST_CASE("onebot: the spec's escaping vector, both ways", "[onebot]") {
    auto vectors = json::parse(fixture_text("vectors.json"));
    REQUIRE(vectors.size() == 1);
    for (const auto& vector : vectors) {
        std::string text = vector.at("inputs").at("text");
        std::string escaped = vector.at("expected").at("escaped");
        CHECK(cq_escape(text) == escaped);
        CHECK(cq_unescape(escaped) == text);
    }
    // Inside a CQ code's parameters also ',' (message/string.md lines 63-75).
    CHECK(cq_escape("震惊,小伙[1]&", true) == "震惊&#44;小伙&#91;1&#93;&amp;");
    CHECK(cq_unescape("&#44;&amp;#91;&unknown;") == ",&#91;&unknown;");  // decoded once
}

TEST_CASE("onebot: CQ strings become segments", "[onebot]") {
    auto segments = parse_cq_string(
        "[CQ:face,id=178]看看[CQ:share,title=震惊&#44;a=b,url=http://x/?a=1&amp;b=2]");
    REQUIRE(segments.size() == 3);
    CHECK(segments[0].type == "face");
    CHECK(segments[0].get("id") == "178");
    CHECK(segments[1].type == "text");
    CHECK(segments[1].get("text") == "看看");
    CHECK(segments[2].type == "share");
    CHECK(segments[2].get("title") == "震惊,a=b");  // the first '=' splits
    CHECK(segments[2].get("url") == "http://x/?a=1&b=2");

    auto unclosed = parse_cq_string("a &#91;b [CQ:at,qq=1");
    REQUIRE(unclosed.size() == 1);
    CHECK(unclosed[0].get("text") == "a [b [CQ:at,qq=1");
    CHECK(parse_cq_string("").empty());
    CHECK(parse_cq_string("[CQ:]").empty());
}

TEST_CASE("onebot: private messages are facts for the core", "[onebot]") {
    auto frame = parse("private_array.json");
    REQUIRE(frame.kind == Frame::Kind::message);
    const auto& inbound = frame.inbound;
    CHECK(frame.self_id == kSelf);
    CHECK(inbound.chat.adapter_id == "qq");
    CHECK(inbound.chat.chat_id == "10001000:20002000");  // per account
    CHECK_FALSE(inbound.chat.is_group);
    CHECK(inbound.sender_id == "20002000");
    CHECK(inbound.sender_name == "Alice");
    CHECK(inbound.message_id == "10001000:-2147483000");  // ids are per account
    CHECK(inbound.text == "你好 what is 2+2?");
    CHECK(inbound.unsupported.empty());
    CHECK(std::chrono::duration_cast<std::chrono::seconds>(inbound.at.time_since_epoch()).count() ==
          1700000000);
}

TEST_CASE("onebot: groups mark what addresses the bot", "[onebot]") {
    auto at = parse("group_at_array.json");
    REQUIRE(at.kind == Frame::Kind::message);
    CHECK(at.inbound.chat.chat_id == "10001000:30003000");
    CHECK(at.inbound.chat.is_group);
    CHECK(at.inbound.sender_id == "20002000");
    CHECK(at.inbound.sender_name == "Alice in group");  // the group card first
    CHECK(at.inbound.mentions_me);
    CHECK(at.inbound.text == "tell me a joke");  // the @ removed

    auto other = parse("group_at_other.json");
    REQUIRE(other.kind == Frame::Kind::message);
    CHECK_FALSE(other.inbound.mentions_me);
    CHECK(other.inbound.text == "@Bob lunch?");
    CHECK(other.inbound.sender_name == "Alice");  // an empty card: the nickname

    auto reply = parse("group_reply.json");
    REQUIRE(reply.kind == Frame::Kind::message);
    CHECK(reply.inbound.quotes_message_id == "10001000:777");  // the core decides
    CHECK_FALSE(reply.inbound.mentions_me);
    CHECK(reply.inbound.text == "and why is that?");

    auto command = parse("group_command.json");
    REQUIRE(command.kind == Frame::Kind::message);
    CHECK(command.inbound.mentions_me);
    CHECK(command.inbound.text == "/reset");
    AddressRules bang{.adapter_id = "qq", .command_prefix = "!"};
    CHECK_FALSE(parse_frame(fixture_text("group_command.json"), kSelf, bang).inbound.mentions_me);

    auto cq = parse("group_cq_string.json");
    REQUIRE(cq.kind == Frame::Kind::message);
    CHECK(cq.inbound.mentions_me);
    CHECK(cq.inbound.text == "- [x] 使用 `&data` 获取地址");

    // An @ of another account (a second bot in the group) is not one of ours.
    auto for_other = json::parse(fixture_text("group_at_array.json"));
    for_other["self_id"] = 99;
    CHECK_FALSE(parse_frame(for_other.dump(), 99, kRules).inbound.mentions_me);
}

TEST_CASE("onebot: media without text is unsupported, the rest is skipped", "[onebot]") {
    auto image = parse("private_image.json");
    REQUIRE(image.kind == Frame::Kind::message);
    CHECK(image.inbound.unsupported == "image");
    CHECK(image.inbound.text.empty());

    auto face = parse("group_face_at.json");
    REQUIRE(face.kind == Frame::Kind::message);
    CHECK(face.inbound.mentions_me);
    CHECK(face.inbound.unsupported == "sticker");

    CHECK(parse("notice.json").kind == Frame::Kind::ignored);
    auto own = json::parse(fixture_text("private_array.json"));
    own["user_id"] = kSelf;
    CHECK(parse_frame(own.dump(), kSelf, kRules).kind == Frame::Kind::ignored);
}

TEST_CASE("onebot: meta events and answers", "[onebot]") {
    auto heartbeat = parse("heartbeat.json");
    REQUIRE(heartbeat.kind == Frame::Kind::heartbeat);
    CHECK(heartbeat.interval == std::chrono::milliseconds(30000));
    CHECK(parse("lifecycle.json").kind == Frame::Kind::lifecycle);

    auto ok = parse("answer_ok.json");
    REQUIRE(ok.kind == Frame::Kind::answer);
    CHECK(ok.answer.echo == "cb1");
    auto sent = to_send_result(ok.answer, kSelf);
    REQUIRE(sent.has_value());
    CHECK(*sent == "10001000:888");

    auto failed = parse("answer_failed.json");
    REQUIRE(failed.kind == Frame::Kind::answer);
    auto refused = to_send_result(failed.answer, kSelf);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().kind == SendError::Kind::bad_request);
    CHECK(refused.error().detail == "retcode 1400: 群号不能为空");

    auto napcat = parse("answer_napcat_unauthorized.json");
    REQUIRE(napcat.kind == Frame::Kind::answer);
    CHECK(napcat.answer.echo.empty());
    CHECK(to_send_result(napcat.answer, kSelf).error().kind == SendError::Kind::unauthorized);
}

TEST_CASE("onebot: retcodes map in one place", "[onebot]") {
    auto kind = [](std::string status, std::int64_t retcode) {
        ActionAnswer answer{.echo = "e", .status = std::move(status), .retcode = retcode};
        auto result = to_send_result(answer, kSelf);
        return result ? std::string("ok") : std::to_string(static_cast<int>(result.error().kind));
    };
    auto code = [](SendError::Kind k) { return std::to_string(static_cast<int>(k)); };
    CHECK(kind("ok", 0) == "ok");
    CHECK(kind("async", 1) == "ok");  // queued by the implementation
    CHECK(kind("failed", 1400) == code(SendError::Kind::bad_request));
    CHECK(kind("failed", 1404) == code(SendError::Kind::bad_request));
    CHECK(kind("failed", 1401) == code(SendError::Kind::unauthorized));
    CHECK(kind("failed", 100) == code(SendError::Kind::transient));
    CHECK(kind("failed", 200) == code(SendError::Kind::transient));
}

TEST_CASE("onebot: malformed fields are skipped, never thrown", "[onebot]") {
    CHECK(parse("malformed_message_id.json").kind == Frame::Kind::ignored);
    CHECK(parse("malformed_message.json").kind == Frame::Kind::ignored);
    CHECK(parse("malformed_group_no_id.json").kind == Frame::Kind::ignored);
    auto segments = parse("malformed_segments.json");
    REQUIRE(segments.kind == Frame::Kind::message);
    CHECK(segments.inbound.text == "still here");
    CHECK(segments.inbound.sender_name.empty());
    for (std::string text : {"", "null", "[]", "42", "{", "{\"post_type\":7}",
                             "{\"post_type\":\"message\"}", "{\"echo\":{}}",
                             "{\"post_type\":\"meta_event\",\"meta_event_type\":\"heartbeat\","
                             "\"interval\":-5}"}) {
        auto frame = parse_frame(text, 0, kRules);
        CHECK(frame.kind != Frame::Kind::message);
        if (frame.kind == Frame::Kind::heartbeat) CHECK(frame.interval.count() == 0);
    }
}

TEST_CASE("onebot: replies are segment arrays that quote and @ in groups", "[onebot]") {
    Outbound group{.chat = {.adapter_id = "qq", .chat_id = "10001000:30003000", .is_group = true},
                   .user_id = "20002000",
                   .reply_to = "10001000:555",
                   .text = "[not a CQ code] & \"quoted\"",
                   .part = 1,
                   .parts = 2};
    auto first = json::parse(*send_action(group, "cb7"));
    CHECK(first.at("action") == "send_group_msg");
    CHECK(first.at("echo") == "cb7");
    CHECK(first.at("params").at("group_id") == 30003000);
    CHECK(first.at("params").at("message") ==
          json::array({{{"type", "reply"}, {"data", {{"id", "555"}}}},
                       {{"type", "at"}, {"data", {{"qq", "20002000"}}}},
                       {{"type", "text"}, {"data", {{"text", " [not a CQ code] & \"quoted\""}}}}}));

    group.part = 2;
    auto second = json::parse(*send_action(group, "cb8"));
    CHECK(second.at("params").at("message").size() == 1);

    Outbound direct{.chat = {.adapter_id = "qq", .chat_id = "10001000:20002000", .is_group = false},
                    .user_id = "20002000",
                    .reply_to = "10001000:1",
                    .text = "hi"};
    auto private_action = json::parse(*send_action(direct, "cb9"));
    CHECK(private_action.at("action") == "send_private_msg");
    CHECK(private_action.at("params").at("user_id") == 20002000);
    CHECK(private_action.at("params").at("message") ==
          json::array({{{"type", "text"}, {"data", {{"text", "hi"}}}}}));

    direct.chat.chat_id = "not a number";
    CHECK_FALSE(send_action(direct, "cb10"));
    direct.chat.chat_id = "20002000";  // no account
    CHECK_FALSE(send_action(direct, "cb11"));
}

TEST_CASE("onebot: stored ids and tokens", "[onebot]") {
    auto id = parse_stored_id("10001000:-5");
    REQUIRE(id);
    CHECK(id->self_id == 10001000);
    CHECK(id->message_id == "-5");
    CHECK_FALSE(parse_stored_id("10001000"));
    CHECK_FALSE(parse_stored_id("x:1"));
    CHECK_FALSE(parse_stored_id("1:"));
    CHECK_FALSE(parse_id("-1"));
    CHECK_FALSE(parse_id("12a"));
}
