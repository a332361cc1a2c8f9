// The wechat_ilink adapter through the real server against FakeIlink (ilink.md §9) and FakeLlm:
// replies with the right context_token and headers, dedupe on uint64 ids, cursor resume after
// a restart, -14, the 10-send cap, the reply window, typing, and what is not text.
#include "integration/ilink_support.hpp"

#include <catch2/catch.hpp>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string sent_text(const json& msg) {
    return msg.at("item_list").at(0).at("text_item").at("text").get<std::string>();
}

}  // namespace

TEST_CASE_METHOD(IlinkChat,
                 "ilink: a message is answered with its context_token and every protocol header",
                 "[wechat_ilink]") {
    start();

    say("hello there");
    REQUIRE(fake.wait_for_sends(1));
    auto msg = fake.sent_messages().at(0);
    CHECK(msg.at("to_user_id") == kOwner);
    CHECK(msg.at("from_user_id") == "");
    CHECK(msg.at("context_token") == fake.context_token(account.token, kOwner));
    CHECK(sent_text(msg) == "echo: hello there");
    CHECK(!msg.at("client_id").get<std::string>().empty());

    REQUIRE(fake.wait_for("sendmessage", 1));  // (recorded once answered)
    auto calls = fake.calls();
    REQUIRE(calls.size() >= 3);  // notifystart, getupdates…, sendmessage
    CHECK(calls.front().endpoint == "msg/notifystart");
    std::set<std::string> uins;
    for (const auto& call : calls) {
        if (call.endpoint.starts_with("get_")) continue;
        CHECK(call.http_status == 200);  // the fake answers 400 to any broken header or body
        CHECK(call.header("Authorization") == "Bearer " + account.token);
        CHECK(call.header("AuthorizationType") == "ilink_bot_token");
        CHECK(call.header("iLink-App-Id") == "bot");
        CHECK(call.header("iLink-App-ClientVersion") == "132105");
        CHECK(call.body.at("base_info").at("channel_version") == "2.4.9");
        CHECK(call.body.at("base_info")
                  .at("bot_agent")
                  .get<std::string>()
                  .starts_with("contactbot/"));
        uins.insert(call.header("X-WECHAT-UIN"));
    }
    CHECK(uins.size() == calls.size());  // a fresh X-WECHAT-UIN per request
    // The conversation is remembered per user.
    say("and again");
    REQUIRE(fake.wait_for_sends(2));
    auto second = llm.requests().back().at("messages");
    CHECK(second.size() >= 4);  // persona, hello there, its reply, and again
}

TEST_CASE_METHOD(IlinkChat,
                 "ilink: redelivered message ids are answered once; ids above 2^53 stay distinct",
                 "[wechat_ilink]") {
    start();

    fake.set_next_message_id(9007199254740993ULL);  // 2^53 + 1: a double would make it 2^53
    json message{{"from_user_id", kOwner},
                 {"item_list", json::array({{{"type", 1}, {"text_item", {{"text", "one"}}}}})}};
    fake.inject(account.token, message, /*duplicate=*/true);
    REQUIRE(fake.wait_for_sends(1));
    say("two");  // 2^53 + 2
    REQUIRE(fake.wait_for_sends(2));
    std::this_thread::sleep_for(500ms);
    CHECK(fake.sent_messages().size() == 2);
    CHECK(llm.request_count() == 2);
    CHECK(sent_text(fake.sent_messages().at(1)) == "echo: two");
}

TEST_CASE_METHOD(IlinkChat,
                 "ilink: after a restart polling resumes from the stored cursor without repeats",
                 "[wechat_ilink]") {
    start();
    say("before");
    REQUIRE(fake.wait_for_sends(1));
    REQUIRE(eventually([&] { return fake.pending_updates(account.token) == 0; }));
    stop();
    CHECK(fake.count("msg/notifystart") == 1);
    CHECK(fake.count("msg/notifystop") == 1);  // told while shutting down
    say("while down");
    auto polls_before = fake.calls("getupdates").size();
    start();
    REQUIRE(fake.wait_for_sends(2));
    std::this_thread::sleep_for(500ms);
    CHECK(fake.sent_messages().size() == 2);
    CHECK(sent_text(fake.sent_messages().at(1)) == "echo: while down");
    CHECK(llm.request_count() == 2);
    auto polls = fake.calls("getupdates");
    REQUIRE(polls.size() > polls_before);
    CHECK(polls.at(polls_before).body.at("get_updates_buf") != "");  // resumed, not from ""
    // The context token survived the restart too: a reply to the new message used its token.
    CHECK(fake.sent_messages().at(1).at("context_token") ==
          fake.context_token(account.token, kOwner));
}

TEST_CASE_METHOD(IlinkChat, "ilink: -14 marks the account expired and stops its polling",
                 "[wechat_ilink]") {
    auto& bot = start();
    REQUIRE(fake.wait_for("getupdates", 2));
    fake.expire_token(account.token);
    REQUIRE(eventually([&] {
        auto stored = stored_account(dir.path(), account.bot_id);
        return stored && !stored->active();
    }));
    auto polls = fake.count("getupdates");
    std::this_thread::sleep_for(600ms);
    CHECK(fake.count("getupdates") == polls);
    CHECK(stored_account(dir.path(), account.bot_id)->status_detail.find("-14") !=
          std::string::npos);
    CHECK(bot.log_text().find("session expired") != std::string::npos);
    CHECK(bot.log_text().find(account.token) == std::string::npos);
}

TEST_CASE_METHOD(IlinkChat,
                 "ilink: a reply needing more than 10 sends is cut to 10, and nothing more is sent",
                 "[wechat_ilink]") {
    llm.reply_with([](const json&) { return std::string(45000, 'x'); });
    start({}, /*llm_timeout_s=*/30);

    say("write a lot");
    REQUIRE(fake.wait_for_sends(10, 30s));  // (slow under ASan: 45,000 characters streamed)
    std::this_thread::sleep_for(500ms);
    auto sent = fake.sent_messages();
    REQUIRE(sent.size() == 10);
    for (const auto& msg : sent) CHECK(sent_text(msg).size() <= 4000);
    CHECK(sent_text(sent.back()).ends_with("…"));
    for (const auto& call : fake.calls("sendmessage")) CHECK(call.ret == 0);  // none refused
    // Every part had its own client_id.
    std::set<std::string> ids;
    for (const auto& msg : sent) ids.insert(msg.at("client_id").get<std::string>());
    CHECK(ids.size() == 10);
}

TEST_CASE_METHOD(IlinkChat,
                 "ilink: a reply after the reply window closed is recorded as undeliverable",
                 "[wechat_ilink]") {
    llm.reply_delay(1500ms);
    auto& bot = start({{"reply_window_s", 1}});

    say("slow answer please");
    REQUIRE(eventually([&] { return bot.log_text().find("reply window") != std::string::npos; }));
    CHECK(fake.count("sendmessage") == 0);
    CHECK(bot.log_text().find("giving up") != std::string::npos);
}

TEST_CASE_METHOD(IlinkChat, "ilink: the window the server enforces (ret -2) is not retried",
                 "[wechat_ilink]") {
    auto& bot = start();
    fake.fail_next("sendmessage", FakeIlink::Failure::prepare_failed);
    say("hi");
    REQUIRE(fake.wait_for("sendmessage", 1));
    std::this_thread::sleep_for(1500ms);
    CHECK(fake.count("sendmessage") == 1);
    CHECK(bot.log_text().find("ret -2") != std::string::npos);
}

TEST_CASE_METHOD(IlinkChat, "ilink: typing shows while the LLM works, with one cached ticket",
                 "[wechat_ilink]") {
    llm.reply_delay(5500ms);  // longer than the 5 s keepalive
    start({{"typing", true}}, /*llm_timeout_s=*/20);

    say("think hard");
    REQUIRE(fake.wait_for_sends(1, 15s));
    REQUIRE(eventually([&] { return fake.calls("sendtyping").size() >= 3; }));
    auto typing = fake.calls("sendtyping");
    CHECK(typing.front().body.at("status") == 1);
    CHECK(typing.at(1).body.at("status") == 1);  // the keepalive
    CHECK(typing.back().body.at("status") == 2);
    CHECK(typing.front().body.at("typing_ticket") == "dGlja2V0LTE=");
    llm.reply_delay(0ms);
    say("quick one");
    REQUIRE(fake.wait_for_sends(2));
    CHECK(fake.calls("getconfig").size() == 1);
}

TEST_CASE_METHOD(IlinkChat,
                 "ilink: voice uses its transcript, media gets a notice, echoes are ignored",
                 "[wechat_ilink]") {
    start();

    fake.inject_voice(account.token, kOwner, "语音转文字");
    REQUIRE(fake.wait_for_sends(1));
    CHECK(sent_text(fake.sent_messages().at(0)) == "echo: 语音转文字");
    fake.inject_bot_echo(account.token, "my own words");
    fake.inject_image(account.token, kOwner);
    REQUIRE(fake.wait_for_sends(2));
    CHECK(llm.request_count() == 1);  // the image was answered without the LLM
    CHECK(sent_text(fake.sent_messages().at(1)).find("only read text") != std::string::npos);
    fake.inject_quote(account.token, kOwner, "what about it", 123, "orig");
    REQUIRE(fake.wait_for_sends(3));
    CHECK(sent_text(fake.sent_messages().at(2)) == "echo: > orig\nwhat about it");
}

TEST_CASE_METHOD(IlinkChat,
                 "ilink: failed polls wait poll_retry, and poll_backoff after three in a row",
                 "[wechat_ilink]") {
    fake.fail_next("getupdates", FakeIlink::Failure::busy, 2);
    fake.fail_next("getupdates", FakeIlink::Failure::http_500, 1);
    start({{"poll_retry_ms", 50}, {"poll_backoff_ms", 2500}});
    REQUIRE(fake.wait_for("getupdates", 3));  // the three failures, 50 ms apart
    auto after_failures = fake.count("getupdates");
    std::this_thread::sleep_for(1500ms);
    CHECK(fake.count("getupdates") == after_failures);  // backing off
    REQUIRE(eventually([&] { return fake.count("getupdates") > after_failures; }, 5s));
    say("still there?");
    REQUIRE(fake.wait_for_sends(1));
}

TEST_CASE_METHOD(IlinkChat, "ilink: a send retried after a transport failure keeps its client_id",
                 "[wechat_ilink]") {
    start();
    fake.fail_next("sendmessage", FakeIlink::Failure::http_500);
    say("retry me");
    REQUIRE(fake.wait_for_sends(1, 15s));
    REQUIRE(fake.wait_for("sendmessage", 2));
    auto calls = fake.calls("sendmessage");
    CHECK(calls.at(0).http_status == 500);
    CHECK(calls.at(0).body.at("msg").at("client_id") == calls.at(1).body.at("msg").at("client_id"));
    CHECK(fake.sent_messages().size() == 1);
}

TEST_CASE_METHOD(IlinkChat,
                 "ilink: iLink's own 24 h window refuses a late reply, which is not retried",
                 "[wechat_ilink]") {
    llm.reply_delay(800ms);
    auto& bot = start();
    say("answer tomorrow");
    REQUIRE(eventually([&] { return llm.request_count() == 1; }));
    fake.advance_clock(std::chrono::hours(25));  // the fake server's clock, not ours
    REQUIRE(fake.wait_for("sendmessage", 1));
    std::this_thread::sleep_for(1500ms);
    CHECK(fake.count("sendmessage") == 1);
    CHECK(fake.calls("sendmessage").at(0).ret == -2);
    CHECK(fake.sent_messages().empty());
    CHECK(bot.log_text().find("undeliverable") != std::string::npos);
}
