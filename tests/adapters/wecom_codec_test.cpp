// The wecom adapter's pure parts: callback XML (fixtures in testdata/wecom/), base64 query
// values, message/send errcodes, and the per-member rate limiter.
#include "wecom/wecom_codec.hpp"
#include "wechat_common/wx_crypt.hpp"
#include "wecom/wecom_api.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace bot::adapters::wecom;
using namespace std::chrono_literals;

namespace {

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/wecom/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

WecomMessage parse(const std::string& name) {
    auto message = parse_message(fixture(name));
    REQUIRE(message);
    return *message;
}

}  // namespace

TEST_CASE("wecom codec: a text message", "[wecom]") {
    auto m = parse("text.xml");
    CHECK(m.to_user == "wx5823bf96d3bd56c7");
    CHECK(m.from_user == "zhangsan");
    CHECK(m.create_time == 1348831860);
    CHECK(m.msg_type == "text");
    CHECK(m.msg_id == "7234567890123456789");  // 64-bit ids stay exact strings
    CHECK(m.agent_id == "1000002");
    CHECK_FALSE(is_event(m));
    auto content = content_of(m);
    CHECK(content.text == "你好，this is a test");
    CHECK(content.unsupported.empty());
    CHECK(dedupe_id(m) == "7234567890123456789");
}

TEST_CASE("wecom codec: events are not messages", "[wecom]") {
    auto enter = parse("enter_agent.xml");
    CHECK(is_event(enter));
    CHECK(enter.event == "enter_agent");
    CHECK(enter.msg_id.empty());
    CHECK(enter.agent_id == "1000002");
    auto subscribe = parse("subscribe.xml");
    CHECK(is_event(subscribe));
    CHECK(subscribe.event == "subscribe");
    // Without a MsgId, redeliveries are recognised by sender and time.
    CHECK(dedupe_id(subscribe) == "lisi:1348831860");
}

TEST_CASE("wecom codec: images and voice are named, not read", "[wecom]") {
    auto image = content_of(parse("image.xml"));
    CHECK(image.text.empty());
    CHECK(image.unsupported == "image");
    auto voice = content_of(parse("voice.xml"));
    CHECK(voice.text.empty());
    CHECK(voice.unsupported == "voice");
}

TEST_CASE("wecom codec: malformed callbacks are refused, never a crash", "[wecom]") {
    CHECK_FALSE(parse_message(fixture("malformed.xml")));
    CHECK_FALSE(parse_message(fixture("no_sender.xml")));
    CHECK_FALSE(parse_message(""));
    CHECK_FALSE(parse_message("{\"json\": true}"));
    CHECK_FALSE(parse_envelope(fixture("malformed.xml")));
    CHECK_FALSE(parse_envelope("<xml><Encrypt>"));
    auto empty = parse_envelope("<xml></xml>");
    REQUIRE(empty);
    CHECK(empty->encrypt.empty());
}

TEST_CASE("wecom codec: the envelope opens to the message (official sample)", "[wecom]") {
    auto envelope = parse_envelope(fixture("envelope.xml"));
    REQUIRE(envelope);
    CHECK(envelope->to_user == "wx5823bf96d3bd56c7");
    CHECK(envelope->agent_id == "218");
    CHECK(envelope->encrypt.ends_with("E7Q=="));
    bot::adapters::wechat::MessageCrypt crypt("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
                                              "wx5823bf96d3bd56c7");
    auto plain = crypt.decrypt(envelope->encrypt);
    REQUIRE(plain);
    auto m = parse_message(*plain);
    REQUIRE(m);
    CHECK(m->from_user == "mycreate");
    CHECK(content_of(*m).text == "hello");
    CHECK(m->msg_id == "4561255354251345929");
}

TEST_CASE("wecom: base64 query values keep '+' and decode %2B %2F %3D", "[wecom]") {
    // What the adapter relies on: Request::query_param(name, false).
    bot::http::Request request;
    request.query = "msg_signature=abc&echostr=P9nAzC%2Bb%2Fq%3D%3D&raw=a+b/c==&empty=";
    CHECK(request.query_param("echostr", false) == "P9nAzC+b/q==");
    CHECK(request.query_param("raw", false) == "a+b/c==");  // an unescaped '+' is no space
    CHECK(request.query_param("msg_signature", false) == "abc");
    CHECK(request.query_param("empty", false) == "");
    CHECK_FALSE(request.query_param("nonce", false));
}

TEST_CASE("wecom api: message/send errcodes map to SendError in one place", "[wecom]") {
    using Kind = bot::SendError::Kind;
    CHECK_FALSE(send_error_for(0, "ok", ""));
    auto kind = [](long errcode, std::string_view invalid = "") {
        auto error = send_error_for(errcode, "msg", invalid);
        REQUIRE(error);
        return error->kind;
    };
    CHECK(kind(0, "zhangsan") == Kind::bad_request);  // "ok", but nobody received it
    CHECK(kind(81013) == Kind::bad_request);
    CHECK(kind(40003) == Kind::bad_request);
    CHECK(kind(45002) == Kind::bad_request);
    CHECK(kind(60020) == Kind::unauthorized);
    CHECK(kind(-1) == Kind::transient);
    CHECK(kind(42001) == Kind::transient);  // still refused after the refetch
    CHECK(kind(40014) == Kind::transient);
    CHECK(kind(40001) == Kind::transient);
    CHECK(kind(12345) == Kind::bad_request);
    auto limited = send_error_for(45009, "api freq out of limit", "");
    REQUIRE(limited);
    CHECK(limited->kind == Kind::rate_limited);
    CHECK(limited->retry_after >= 10s);
    CHECK(limited->detail.find("45009") != std::string::npos);
    CHECK(kind(45033) == Kind::rate_limited);
}

TEST_CASE("wecom api: the per-member limiter waits for a free slot", "[wecom]") {
    UserRateLimiter limiter(3, 60s);
    auto t0 = UserRateLimiter::Clock::time_point{} + 1000s;
    CHECK(limiter.reserve("alice", t0) == t0);
    CHECK(limiter.reserve("alice", t0 + 1s) == t0 + 1s);
    CHECK(limiter.reserve("alice", t0 + 2s) == t0 + 2s);
    // The window is full: the 4th waits until the 1st has left it, the 5th for the 2nd.
    CHECK(limiter.reserve("alice", t0 + 3s) == t0 + 60s);
    CHECK(limiter.reserve("alice", t0 + 3s) == t0 + 61s);
    // Other members are not held up.
    CHECK(limiter.reserve("bob", t0 + 3s) == t0 + 3s);
    // Long after, alice is free again.
    CHECK(limiter.reserve("alice", t0 + 200s) == t0 + 200s);
    // Any 60 s span holds at most 3 of alice's messages however they are asked for.
    UserRateLimiter burst(3, 60s);
    std::vector<UserRateLimiter::Clock::time_point> slots;
    for (int i = 0; i < 10; ++i) slots.push_back(burst.reserve("carol", t0));
    for (std::size_t i = 3; i < slots.size(); ++i) CHECK(slots[i] - slots[i - 3] >= 60s);
}

TEST_CASE("wecom api: the limiter forgets idle members", "[wecom]") {
    UserRateLimiter limiter(30, 60s);
    auto t0 = UserRateLimiter::Clock::time_point{} + 1000s;
    for (int i = 0; i < 1023; ++i) limiter.reserve("user" + std::to_string(i), t0);
    CHECK(limiter.tracked_users() == 1023);
    // The map is swept once it reaches 1024 members: everyone but "late" is idle by now.
    limiter.reserve("late", t0 + 120s);
    CHECK(limiter.tracked_users() == 1);
}
