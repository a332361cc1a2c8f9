// The wechat_mp adapter through the real server, with WeChat played by WechatPusher (signed,
// encrypted, retried pushes) and FakeWechatApi (tokens, customer-service messages).
#include "base/text_split.hpp"
#include "fakes/fake_wechat.hpp"
#include "integration/harness.hpp"
#include "wechat_common/wx_crypt.hpp"
#include "wechat_common/wx_xml.hpp"

#include <catch2/catch.hpp>

#include <ctime>
#include <future>
#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAppId = "wx1234567890abcdef";
constexpr const char* kAppSecret = "app-secret-0123456789abcdef";
constexpr const char* kWxToken = "wechat-token-123";
constexpr const char* kAesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

struct Setup {
    explicit Setup(json extra = json::object(), BotOptions options = {})
        : api(kAppId, kAppSecret), bot(nullptr) {
        json section{{"type", "wechat_mp"},
                     {"app_id", kAppId},
                     {"app_secret", kAppSecret},
                     {"token", kWxToken},
                     {"api_base", api.api_base()}};
        section.update(extra);
        options.adapters["mp"] = section;
        bot = std::make_unique<TestBot>(llm, dir.path(), options);
        pusher = std::make_unique<WechatPusher>(bot->url("/wechat/mp"), kWxToken, kAppId,
                                                section.contains("encoding_aes_key")
                                                    ? section["encoding_aes_key"].get<std::string>()
                                                    : std::string());
    }

    FakeLlm llm;
    FakeWechatApi api;
    TempDir dir;
    std::unique_ptr<TestBot> bot;
    std::unique_ptr<WechatPusher> pusher;
};

// Fast retries for tests that are not about WeChat's real 5 s.
json quick(json extra = json::object()) {
    extra["push_timeout_ms"] = 1000;
    extra["reply_margin_ms"] = 200;
    return extra;
}

}  // namespace

TEST_CASE("wechat_mp: URL verification echoes echostr only when signed", "[wechat_mp]") {
    Setup s;
    std::string timestamp = std::to_string(std::time(nullptr)), nonce = "42";
    auto signature = bot::adapters::wechat::sha1_signature({kWxToken, timestamp, nonce});
    auto ok = http_request("GET", s.bot->url("/wechat/mp?signature=" + signature + "&timestamp=" +
                                             timestamp + "&nonce=" + nonce + "&echostr=abc123"));
    CHECK(ok.status == 200);
    CHECK(ok.body == "abc123");
    auto forged =
        http_request("GET", s.bot->url("/wechat/mp?signature=0000&timestamp=" + timestamp +
                                       "&nonce=" + nonce + "&echostr=abc"));
    CHECK(forged.status == 401);
    CHECK(forged.body.find("abc") == std::string::npos);
    std::string old = std::to_string(std::time(nullptr) - 3600);
    auto stale_signature = bot::adapters::wechat::sha1_signature({kWxToken, old, nonce});
    auto stale =
        http_request("GET", s.bot->url("/wechat/mp?signature=" + stale_signature +
                                       "&timestamp=" + old + "&nonce=" + nonce + "&echostr=abc"));
    CHECK(stale.status == 401);
    CHECK(stale.body == "stale timestamp");
}

TEST_CASE("wechat_mp: plain mode, fast LLM: the answer is the passive reply, with memory",
          "[wechat_mp]") {
    Setup s;
    auto first = s.pusher->push(WechatPusher::text_xml("o_alice", "1001", "hello"));
    CHECK(first.tries == 1);
    CHECK(first.status == 200);
    CHECK(first.content == "echo: hello");
    auto second = s.pusher->push(WechatPusher::text_xml("o_alice", "1002", "again"));
    CHECK(second.content == "echo: again");
    auto requests = s.llm.requests();
    REQUIRE(requests.size() == 2);
    // The second request carries the first turn: per-user memory.
    auto dumped = requests[1]["messages"].dump();
    CHECK(dumped.find("hello") != std::string::npos);
    CHECK(dumped.find("echo: hello") != std::string::npos);
    // Another user starts fresh.
    s.pusher->push(WechatPusher::text_xml("o_bob", "2001", "hi"));
    CHECK(s.llm.requests()[2]["messages"].dump().find("hello") == std::string::npos);
    CHECK(s.api.custom_messages().empty());
    CHECK(s.api.token_fetches() == 0);  // passive replies need no token
}

TEST_CASE("wechat_mp: safe mode round trip, encrypted both ways", "[wechat_mp]") {
    Setup s(json{{"encoding_aes_key", kAesKey}});
    auto outcome = s.pusher->push(WechatPusher::text_xml("o_alice", "3001", "加密 hello"));
    CHECK(outcome.status == 200);
    CHECK(outcome.body.find("<Encrypt>") != std::string::npos);
    CHECK(outcome.body.find("echo") == std::string::npos);  // nothing readable on the wire
    CHECK(outcome.content == "echo: 加密 hello");           // decrypted and signature-checked
}

TEST_CASE("wechat_mp: forged, foreign and malformed pushes are refused", "[wechat_mp]") {
    Setup s(json{{"encoding_aes_key", kAesKey}});
    auto [query, body] = s.pusher->sign(WechatPusher::text_xml("o_eve", "4001", "hi"));

    // A wrong msg_signature.
    auto forged = query;
    forged.replace(forged.find("msg_signature=") + 14, 4, "ffff");
    CHECK(s.pusher->post_raw(forged, body).first == 401);
    // Encrypted for another AppID (correctly signed with our token).
    WechatPusher other(s.bot->url("/wechat/mp"), kWxToken, "wx_other_app", kAesKey);
    auto [other_query, other_body] = other.sign(WechatPusher::text_xml("o_eve", "4002", "hi"));
    CHECK(s.pusher->post_raw(other_query, other_body).first == 401);
    // Plain text to a safe-mode account.
    WechatPusher plain(s.bot->url("/wechat/mp"), kWxToken, kAppId);
    auto [plain_query, plain_body] = plain.sign(WechatPusher::text_xml("o_eve", "4003", "hi"));
    CHECK(s.pusher->post_raw(plain_query, plain_body).first == 400);
    // Malformed XML, and an Encrypt that is not base64, both correctly signed.
    CHECK(s.pusher->post_raw(query, "<xml><Encrypt>").first == 400);
    std::string timestamp = std::to_string(std::time(nullptr)), nonce = "7",
                junk = "@@not-base64@@";
    auto signature = bot::adapters::wechat::sha1_signature({kWxToken, timestamp, nonce, junk});
    auto junk_query = "timestamp=" + timestamp + "&nonce=" + nonce +
                      "&encrypt_type=aes&msg_signature=" + signature;
    CHECK(s.pusher->post_raw(junk_query, "<xml><Encrypt>" + junk + "</Encrypt></xml>").first ==
          400);

    // Authentic but not a message, or a message without MsgId: skipped and acknowledged, so
    // WeChat does not push them again.
    auto [text_query, text_body] = s.pusher->sign("not xml at all");
    CHECK(s.pusher->post_raw(text_query, text_body) ==
          std::pair<long, std::string>{200, "success"});
    auto [no_id_query, no_id_body] = s.pusher->sign(WechatPusher::text_xml("o_eve", "", "hi"));
    CHECK(s.pusher->post_raw(no_id_query, no_id_body).first == 200);

    CHECK(s.llm.request_count() == 0);  // nothing was processed
    CHECK(s.bot->log_text().find(kAppSecret) == std::string::npos);
    // The real push still works after all that.
    CHECK(s.pusher->push(WechatPusher::text_xml("o_eve", "4004", "real")).content == "echo: real");
}

TEST_CASE("wechat_mp: plain mode refuses a wrong signature and a replayed old one", "[wechat_mp]") {
    Setup s;
    auto [query, body] = s.pusher->sign(WechatPusher::text_xml("o_eve", "4101", "hi"));
    query.replace(query.find("signature=") + 10, 4, "0000");
    CHECK(s.pusher->post_raw(query, body).first == 401);
    // Correctly signed, but an hour old: the body is not signed in plain mode, so an old
    // captured query must not carry a new body.
    std::string timestamp = std::to_string(std::time(nullptr) - 3600), nonce = "1";
    auto signature = bot::adapters::wechat::sha1_signature({kWxToken, timestamp, nonce});
    CHECK(s.pusher
              ->post_raw("signature=" + signature + "&timestamp=" + timestamp + "&nonce=" + nonce,
                         WechatPusher::text_xml("o_eve", "4102", "forged body"))
              .first == 401);
    CHECK(s.llm.request_count() == 0);
}

TEST_CASE("wechat_mp: safe mode refuses a push whose msg_signature timestamp is stale",
          "[wechat_mp]") {
    Setup s(json{{"encoding_aes_key", kAesKey}});
    const std::time_t now = std::time(nullptr);
    auto xml = WechatPusher::text_xml("o_eve", "4201", "replayed");
    // Captured and replayed an hour later, or signed an hour ahead: the signature is right.
    for (std::time_t at : {now - 3600, now + 3600}) {
        auto [query, body] = s.pusher->sign(xml, at);
        auto [status, reply] = s.pusher->post_raw(query, body);
        CHECK(status == 401);
        CHECK(reply == "stale timestamp");
    }
    CHECK(s.llm.request_count() == 0);
    auto log = s.bot->log_text();
    CHECK(log.find("stale timestamp") != std::string::npos);
    CHECK(log.find("<Encrypt>") == std::string::npos);  // refused bodies are not logged
    // A little clock skew is fine.
    auto [query, body] = s.pusher->sign(xml, now - 120);
    CHECK(s.pusher->post_raw(query, body).first == 200);
    CHECK(s.llm.request_count() == 1);
}

TEST_CASE("wechat_mp: a slow LLM (over 15 s) runs once and answers by customer service",
          "[wechat_mp][slow]") {
    BotOptions options;
    options.llm_timeout_s = 60;
    Setup s(json::object(), options);
    s.llm.reply_delay(16s);
    // WeChat's real behaviour: 5 s per try, 3 tries; every try is given up unanswered except
    // the last, which must get an empty answer so WeChat does not show an error.
    auto outcome = s.pusher->push(WechatPusher::text_xml("o_slow", "5001", "think hard"));
    CHECK(outcome.tries == 3);
    CHECK(outcome.status == 200);
    CHECK(outcome.content.empty());
    REQUIRE(s.api.wait_for_custom(1, 15s));
    auto sent = s.api.custom_messages();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].touser == "o_slow");
    CHECK(sent[0].content == "echo: think hard");
    CHECK(s.llm.request_count() == 1);  // three pushes, one LLM call
    CHECK(s.api.token_fetches() == 1);
}

TEST_CASE("wechat_mp: an answer after the first try's window goes out passively on a retry",
          "[wechat_mp]") {
    Setup s(quick());
    s.llm.reply_delay(1500ms);  // misses try 1 (800 ms), ready for try 2
    auto outcome = s.pusher->push(WechatPusher::text_xml("o_carol", "6001", "medium"), 3, 1000ms);
    CHECK(outcome.tries == 2);
    CHECK(outcome.content == "echo: medium");
    CHECK(s.llm.request_count() == 1);
    CHECK(s.api.custom_messages().empty());
}

TEST_CASE("wechat_mp: a duplicate MsgId never reaches the LLM twice", "[wechat_mp]") {
    Setup s;
    auto xml = WechatPusher::text_xml("o_dave", "7001", "once");
    CHECK(s.pusher->push(xml).content == "echo: once");
    // WeChat pushes the same MsgId again (our answer was lost on its way): same answer.
    auto again = s.pusher->push(xml);
    CHECK(again.content == "echo: once");
    CHECK(s.llm.request_count() == 1);
}

TEST_CASE("wechat_mp: one token for many customer-service messages, refreshed on 40001",
          "[wechat_mp]") {
    Setup s(quick());
    s.llm.reply_delay(3500ms);  // past all three 1 s tries
    auto round = [&](const std::string& prefix) {
        std::vector<std::future<PushOutcome>> pushes;
        for (int i = 0; i < 5; ++i) {
            pushes.push_back(std::async(std::launch::async, [&, i] {
                return s.pusher->push(
                    WechatPusher::text_xml("o_user" + std::to_string(i), prefix + std::to_string(i),
                                           "q" + prefix + std::to_string(i)),
                    3, 1000ms);
            }));
        }
        for (auto& push : pushes) CHECK(push.get().content.empty());
    };
    round("80");
    REQUIRE(s.api.wait_for_custom(5, 10s));
    CHECK(s.api.token_fetches() == 1);

    s.api.expire_token();  // WeChat invalidated it: calls with it get 40001
    round("81");
    REQUIRE(s.api.wait_for_custom(10, 10s));
    CHECK(s.api.token_fetches() == 2);
    CHECK(s.llm.request_count() == 10);
}

TEST_CASE("wechat_mp: a long reply: first part passively, the rest by customer service",
          "[wechat_mp]") {
    Setup s(quick(json{{"reply_max_bytes", 300}}));
    std::string long_reply;
    for (int i = 0; i < 60; ++i) long_reply += "第" + std::to_string(i) + "句话。 ";  // ~900 bytes
    auto parts = bot::split_text(long_reply, 300);
    REQUIRE(parts.size() >= 3);
    s.llm.reply_with([&](const json&) { return long_reply; });
    auto outcome = s.pusher->push(WechatPusher::text_xml("o_erin", "9001", "long"), 3, 1000ms);
    REQUIRE(s.api.wait_for_custom(parts.size() - 1, 10s));
    CHECK(s.api.custom_messages().size() == parts.size() - 1);
    std::string whole = outcome.content;
    for (auto& sent : s.api.custom_messages()) {
        CHECK(sent.content.size() <= 300);
        whole += sent.content;
    }
    CHECK(outcome.content.size() <= 300);
    CHECK_FALSE(outcome.content.empty());
    auto squeeze = [](std::string text) {
        std::erase_if(text, [](char c) { return c == ' ' || c == '\n'; });
        return text;
    };
    CHECK(squeeze(whole) == squeeze(long_reply));
}

TEST_CASE("wechat_mp: next-message mode keeps a late answer for the user's next message",
          "[wechat_mp]") {
    Setup s(quick(json{{"late_replies", "next_message"}, {"app_secret", ""}}));
    s.llm.reply_delay(3500ms);
    auto late = s.pusher->push(WechatPusher::text_xml("o_fay", "10001", "slow one"), 3, 1000ms);
    CHECK(late.tries == 3);
    CHECK(late.content.find("Send me any message") != std::string::npos);
    std::this_thread::sleep_for(1500ms);  // the answer is ready now, and held

    s.llm.reply_delay(0ms);
    auto next = s.pusher->push(WechatPusher::text_xml("o_fay", "10002", "next"), 3, 1000ms);
    CHECK(next.content.find("echo: slow one") != std::string::npos);
    CHECK(next.content.find("previous message") != std::string::npos);
    CHECK(next.content.find("echo: next") != std::string::npos);
    CHECK(s.api.custom_calls() == 0);
}

TEST_CASE("wechat_mp: customer-service quota spent: the answer waits for the next message",
          "[wechat_mp]") {
    Setup s(quick());
    s.llm.reply_delay(3500ms);
    s.api.script_custom_send(45047);
    auto late = s.pusher->push(WechatPusher::text_xml("o_gus", "11001", "quota"), 3, 1000ms);
    CHECK(late.content.empty());
    for (int i = 0; i < 100 && s.api.custom_calls() == 0; ++i) std::this_thread::sleep_for(50ms);
    CHECK(s.api.custom_calls() == 1);
    CHECK(s.api.custom_messages().empty());

    s.llm.reply_delay(0ms);
    auto next = s.pusher->push(WechatPusher::text_xml("o_gus", "11002", "hello?"), 3, 1000ms);
    CHECK(next.content.find("echo: quota") != std::string::npos);
    CHECK(next.content.find("echo: hello?") != std::string::npos);
}

TEST_CASE("wechat_mp: subscribe greets, voice is read, images get a clear notice", "[wechat_mp]") {
    Setup s(json{{"greeting", "欢迎! Welcome."}});
    auto greeted = s.pusher->push(WechatPusher::event_xml("o_hal", "subscribe"));
    CHECK(greeted.content == "欢迎! Welcome.");
    auto click = s.pusher->push(WechatPusher::event_xml("o_hal", "unsubscribe"));
    CHECK(click.body == "success");

    std::string voice = bot::adapters::wechat::build_xml({{"ToUserName", "gh_test_account"},
                                                          {"FromUserName", "o_hal"},
                                                          {"CreateTime", "1700000000", false},
                                                          {"MsgType", "voice"},
                                                          {"MediaId", "m"},
                                                          {"Format", "amr"},
                                                          {"Recognition", "语音识别的文字"},
                                                          {"MsgId", "12001", false}});
    CHECK(s.pusher->push(voice).content == "echo: 语音识别的文字");

    std::string image = bot::adapters::wechat::build_xml({{"ToUserName", "gh_test_account"},
                                                          {"FromUserName", "o_hal"},
                                                          {"CreateTime", "1700000000", false},
                                                          {"MsgType", "image"},
                                                          {"PicUrl", "http://example.com/x.jpg"},
                                                          {"MediaId", "m"},
                                                          {"MsgId", "12002", false}});
    auto notice = s.pusher->push(image);
    CHECK(notice.content.find("only read text") != std::string::npos);
    CHECK(s.llm.request_count() == 1);  // only the voice message reached the LLM
}
