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

TEST_CASE("ilink: a message is answered with its context_token and every protocol header",
          "[wechat_ilink]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_poll_hold(300ms);
    auto account = fake.add_account("alice@im.wechat");
    store_account(dir.path(), fake, account);
    TestBot bot(llm, dir.path(), with_ilink(fake));

    fake.inject_text(account.token, "alice@im.wechat", "hello there");
    REQUIRE(fake.wait_for_sends(1));
    auto msg = fake.sent_messages().at(0);
    CHECK(msg.at("to_user_id") == "alice@im.wechat");
    CHECK(msg.at("from_user_id") == "");
    CHECK(msg.at("context_token") == fake.context_token(account.token, "alice@im.wechat"));
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
    fake.inject_text(account.token, "alice@im.wechat", "and again");
    REQUIRE(fake.wait_for_sends(2));
    auto second = llm.requests().back().at("messages");
    CHECK(second.size() >= 4);  // persona, hello there, its reply, and again
}

TEST_CASE("ilink: redelivered message ids are answered once; ids above 2^53 stay distinct",
          "[wechat_ilink]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_poll_hold(300ms);
    auto account = fake.add_account("bob@im.wechat");
    store_account(dir.path(), fake, account);
    TestBot bot(llm, dir.path(), with_ilink(fake));

    fake.set_next_message_id(9007199254740993ULL);  // 2^53 + 1: a double would make it 2^53
    json message{{"from_user_id", "bob@im.wechat"},
                 {"item_list", json::array({{{"type", 1}, {"text_item", {{"text", "one"}}}}})}};
    fake.inject(account.token, message, /*duplicate=*/true);
    REQUIRE(fake.wait_for_sends(1));
    fake.inject_text(account.token, "bob@im.wechat", "two");  // 2^53 + 2
    REQUIRE(fake.wait_for_sends(2));
    std::this_thread::sleep_for(500ms);
    CHECK(fake.sent_messages().size() == 2);
    CHECK(llm.request_count() == 2);
    CHECK(sent_text(fake.sent_messages().at(1)) == "echo: two");
}

TEST_CASE("ilink: after a restart polling resumes from the stored cursor without repeats",
          "[wechat_ilink]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_poll_hold(200ms);
    auto account = fake.add_account("carol@im.wechat");
    store_account(dir.path(), fake, account);
    {
        TestBot bot(llm, dir.path(), with_ilink(fake));
        fake.inject_text(account.token, "carol@im.wechat", "before");
        REQUIRE(fake.wait_for_sends(1));
        REQUIRE(eventually([&] { return fake.pending_updates(account.token) == 0; }));
    }
    CHECK(fake.count("msg/notifystart") == 1);
    CHECK(fake.count("msg/notifystop") == 1);  // told while shutting down
    fake.inject_text(account.token, "carol@im.wechat", "while down");
    auto polls_before = fake.calls("getupdates").size();
    TestBot bot(llm, dir.path(), with_ilink(fake));
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
          fake.context_token(account.token, "carol@im.wechat"));
}

TEST_CASE("ilink: -14 marks the account expired and stops its polling", "[wechat_ilink]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_poll_hold(100ms);
    auto account = fake.add_account("dave@im.wechat");
    store_account(dir.path(), fake, account);
    TestBot bot(llm, dir.path(), with_ilink(fake));
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

TEST_CASE("ilink: a reply needing more than 10 sends is cut to 10, and nothing more is sent",
          "[wechat_ilink]") {
    TempDir dir;
    FakeLlm llm;
    llm.reply_with([](const json&) { return std::string(45000, 'x'); });
    FakeIlink fake;
    fake.set_poll_hold(200ms);
    auto account = fake.add_account("erin@im.wechat");
    store_account(dir.path(), fake, account);
    TestBot bot(llm, dir.path(), with_ilink(fake));

    fake.inject_text(account.token, "erin@im.wechat", "write a lot");
    REQUIRE(fake.wait_for_sends(10));
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

TEST_CASE("ilink: a reply after the reply window closed is recorded as undeliverable",
          "[wechat_ilink]") {
    TempDir dir;
    FakeLlm llm;
    llm.reply_delay(1500ms);
    FakeIlink fake;
    fake.set_poll_hold(200ms);
    auto account = fake.add_account("fay@im.wechat");
    store_account(dir.path(), fake, account);
    TestBot bot(llm, dir.path(), with_ilink(fake, {{"reply_window_s", 1}}));

    fake.inject_text(account.token, "fay@im.wechat", "slow answer please");
    REQUIRE(eventually([&] { return bot.log_text().find("reply window") != std::string::npos; }));
    CHECK(fake.count("sendmessage") == 0);
    CHECK(bot.log_text().find("giving up") != std::string::npos);
}

TEST_CASE("ilink: the window the server enforces (ret -2) is not retried", "[wechat_ilink]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_poll_hold(200ms);
    auto account = fake.add_account("gus@im.wechat");
    store_account(dir.path(), fake, account);
    TestBot bot(llm, dir.path(), with_ilink(fake));
    fake.fail_next("sendmessage", FakeIlink::Failure::prepare_failed);
    fake.inject_text(account.token, "gus@im.wechat", "hi");
    REQUIRE(fake.wait_for("sendmessage", 1));
    std::this_thread::sleep_for(1500ms);
    CHECK(fake.count("sendmessage") == 1);
    CHECK(bot.log_text().find("ret -2") != std::string::npos);
}

TEST_CASE("ilink: typing shows while the LLM works, with one cached ticket", "[wechat_ilink]") {
    TempDir dir;
    FakeLlm llm;
    llm.reply_delay(5500ms);  // longer than the 5 s keepalive
    FakeIlink fake;
    fake.set_poll_hold(200ms);
    auto account = fake.add_account("hal@im.wechat");
    store_account(dir.path(), fake, account);
    auto options = with_ilink(fake, {{"typing", true}});
    options.llm_timeout_s = 20;
    TestBot bot(llm, dir.path(), options);

    fake.inject_text(account.token, "hal@im.wechat", "think hard");
    REQUIRE(fake.wait_for_sends(1, 15s));
    REQUIRE(eventually([&] { return fake.calls("sendtyping").size() >= 3; }));
    auto typing = fake.calls("sendtyping");
    CHECK(typing.front().body.at("status") == 1);
    CHECK(typing.at(1).body.at("status") == 1);  // the keepalive
    CHECK(typing.back().body.at("status") == 2);
    CHECK(typing.front().body.at("typing_ticket") == "dGlja2V0LTE=");
    llm.reply_delay(0ms);
    fake.inject_text(account.token, "hal@im.wechat", "quick one");
    REQUIRE(fake.wait_for_sends(2));
    CHECK(fake.calls("getconfig").size() == 1);
}

TEST_CASE("ilink: voice uses its transcript, media gets a notice, echoes are ignored",
          "[wechat_ilink]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_poll_hold(200ms);
    auto account = fake.add_account("ivy@im.wechat");
    store_account(dir.path(), fake, account);
    TestBot bot(llm, dir.path(), with_ilink(fake));

    fake.inject_voice(account.token, "ivy@im.wechat", "语音转文字");
    REQUIRE(fake.wait_for_sends(1));
    CHECK(sent_text(fake.sent_messages().at(0)) == "echo: 语音转文字");
    fake.inject_bot_echo(account.token, "my own words");
    fake.inject_image(account.token, "ivy@im.wechat");
    REQUIRE(fake.wait_for_sends(2));
    CHECK(llm.request_count() == 1);  // the image was answered without the LLM
    CHECK(sent_text(fake.sent_messages().at(1)).find("only read text") != std::string::npos);
    fake.inject_quote(account.token, "ivy@im.wechat", "what about it", 123, "orig");
    REQUIRE(fake.wait_for_sends(3));
    CHECK(sent_text(fake.sent_messages().at(2)) == "echo: > orig\nwhat about it");
}

TEST_CASE("ilink: failed polls wait poll_retry, and poll_backoff after three in a row",
          "[wechat_ilink]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_poll_hold(100ms);
    auto account = fake.add_account("jo@im.wechat");
    store_account(dir.path(), fake, account);
    fake.fail_next("getupdates", FakeIlink::Failure::busy, 2);
    fake.fail_next("getupdates", FakeIlink::Failure::http_500, 1);
    TestBot bot(llm, dir.path(),
                with_ilink(fake, {{"poll_retry_ms", 50}, {"poll_backoff_ms", 2500}}));
    REQUIRE(fake.wait_for("getupdates", 3));  // the three failures, 50 ms apart
    auto after_failures = fake.count("getupdates");
    std::this_thread::sleep_for(1500ms);
    CHECK(fake.count("getupdates") == after_failures);  // backing off
    REQUIRE(eventually([&] { return fake.count("getupdates") > after_failures; }, 5s));
    fake.inject_text(account.token, "jo@im.wechat", "still there?");
    REQUIRE(fake.wait_for_sends(1));
}

TEST_CASE("ilink: a send retried after a transport failure keeps its client_id", "[wechat_ilink]") {
    TempDir dir;
    FakeLlm llm;
    FakeIlink fake;
    fake.set_poll_hold(200ms);
    auto account = fake.add_account("kim@im.wechat");
    store_account(dir.path(), fake, account);
    TestBot bot(llm, dir.path(), with_ilink(fake));
    fake.fail_next("sendmessage", FakeIlink::Failure::http_500);
    fake.inject_text(account.token, "kim@im.wechat", "retry me");
    REQUIRE(fake.wait_for_sends(1, 15s));
    REQUIRE(fake.wait_for("sendmessage", 2));
    auto calls = fake.calls("sendmessage");
    CHECK(calls.at(0).http_status == 500);
    CHECK(calls.at(0).body.at("msg").at("client_id") == calls.at(1).body.at("msg").at("client_id"));
    CHECK(fake.sent_messages().size() == 1);
}

TEST_CASE("ilink: iLink's own 24 h window refuses a late reply, which is not retried",
          "[wechat_ilink]") {
    TempDir dir;
    FakeLlm llm;
    llm.reply_delay(800ms);
    FakeIlink fake;
    fake.set_poll_hold(200ms);
    auto account = fake.add_account("lee@im.wechat");
    store_account(dir.path(), fake, account);
    TestBot bot(llm, dir.path(), with_ilink(fake));
    fake.inject_text(account.token, "lee@im.wechat", "answer tomorrow");
    REQUIRE(eventually([&] { return llm.request_count() == 1; }));
    fake.advance_clock(std::chrono::hours(25));  // the fake server's clock, not ours
    REQUIRE(fake.wait_for("sendmessage", 1));
    std::this_thread::sleep_for(1500ms);
    CHECK(fake.count("sendmessage") == 1);
    CHECK(fake.calls("sendmessage").at(0).ret == -2);
    CHECK(fake.sent_messages().empty());
    CHECK(bot.log_text().find("undeliverable") != std::string::npos);
}
