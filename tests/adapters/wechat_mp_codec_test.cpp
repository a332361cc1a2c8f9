#include "wechat_mp/wechat_mp_codec.hpp"
#include "wechat_common/wx_xml.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace bot::adapters::wechat_mp;

namespace {

MpMessage parse(const std::string& name) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/wechat_mp/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    auto message = parse_message(text.str());
    REQUIRE(message);
    return *message;
}

}  // namespace

TEST_CASE("wechat_mp codec: a text message", "[wechat_mp]") {
    auto m = parse("text.xml");
    CHECK(m.to_user == "gh_7f083739789a");
    CHECK(m.from_user == "oia2TjjewbmiOUlr6X-1crbLOvLw");
    CHECK(m.create_time == 1348831860);
    CHECK(m.msg_id == "1234567890123456");  // 64-bit ids stay exact strings
    CHECK_FALSE(is_event(m));
    auto content = content_of(m);
    CHECK(content.text == "你好，this is a test");
    CHECK(content.unsupported.empty());
}

TEST_CASE("wechat_mp codec: events are not messages", "[wechat_mp]") {
    auto subscribe = parse("subscribe.xml");
    CHECK(is_event(subscribe));
    CHECK(subscribe.event == "subscribe");
    CHECK(subscribe.msg_id.empty());
    auto click = parse("menu_click.xml");
    CHECK(is_event(click));
    CHECK(click.event == "CLICK");
}

TEST_CASE("wechat_mp codec: voice is read through WeChat's recognition", "[wechat_mp]") {
    auto recognised = content_of(parse("voice_recognition.xml"));
    CHECK(recognised.text == "腾讯微信团队");
    CHECK(recognised.unsupported.empty());
    auto plain = content_of(parse("voice_plain.xml"));
    CHECK(plain.text.empty());
    CHECK(plain.unsupported == "voice");
}

TEST_CASE("wechat_mp codec: content the bot cannot read is named", "[wechat_mp]") {
    CHECK(content_of(parse("image.xml")).unsupported == "image");
    CHECK(content_of(parse("location.xml")).unsupported == "location");
}

TEST_CASE("wechat_mp codec: malformed pushes are refused", "[wechat_mp]") {
    CHECK_FALSE(parse_message("<xml><FromUserName>x</FromUserName>"));
    CHECK_FALSE(parse_message("<xml><MsgType>text</MsgType></xml>"));  // no sender
    CHECK_FALSE(parse_message(""));
    CHECK_FALSE(parse_message("{\"json\": true}"));
}

TEST_CASE("wechat_mp codec: the passive reply goes back to the sender", "[wechat_mp]") {
    auto m = parse("text.xml");
    auto xml = text_reply_xml(m, "答案 <b> & ]]> done", 1700000000);
    auto fields = bot::adapters::wechat::parse_xml_fields(xml);
    REQUIRE(fields);
    using bot::adapters::wechat::field;
    CHECK(field(*fields, "ToUserName") == m.from_user);
    CHECK(field(*fields, "FromUserName") == m.to_user);
    CHECK(field(*fields, "CreateTime") == "1700000000");
    CHECK(field(*fields, "MsgType") == "text");
    CHECK(field(*fields, "Content") == "答案 <b> & ]]> done");
    CHECK(xml.starts_with("<xml><ToUserName><![CDATA["));
}
