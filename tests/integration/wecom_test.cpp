// The wecom adapter through the real server, with WeCom played by WecomCallbacks (signed,
// encrypted URL checks and callbacks) and FakeWecomApi (gettoken, message/send).
#include "base/crypto.hpp"
#include "base/text_split.hpp"
#include "fakes/fake_wecom.hpp"
#include "integration/harness.hpp"
#include "wechat_common/wx_crypt.hpp"

#include <catch2/catch.hpp>

#include <ctime>
#include <future>
#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kCorpId = "ww_test_corp";
constexpr long long kAgentId = 1000002;
constexpr const char* kSecret = "wecom-app-secret-0123456789abcdef";
constexpr const char* kWcToken = "wecom-token-123";
constexpr const char* kAesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

struct Setup {
    explicit Setup(BotOptions options = {}) : api(kCorpId, kSecret, kAgentId) {
        options.adapters["wc"] =
            json{{"type", "wecom"},           {"corp_id", kCorpId}, {"agent_id", kAgentId},
                 {"secret", kSecret},         {"token", kWcToken},  {"encoding_aes_key", kAesKey},
                 {"api_base", api.api_base()}};
        bot = std::make_unique<TestBot>(llm, dir.path(), options);
        wecom = std::make_unique<WecomCallbacks>(bot->url("/wecom/wc"), kWcToken, kCorpId, kAesKey);
    }

    FakeLlm llm;
    FakeWecomApi api;
    TempDir dir;
    std::unique_ptr<TestBot> bot;
    std::unique_ptr<WecomCallbacks> wecom;
};

std::string squeeze(std::string text) {
    std::erase_if(text, [](char c) { return c == ' ' || c == '\n'; });
    return text;
}

// A signed callback query for an arbitrary Encrypt value (junk that must be refused as such).
std::string signed_query_for(const std::string& encrypt) {
    std::string timestamp = std::to_string(std::time(nullptr)), nonce = "7";
    return "msg_signature=" +
           bot::adapters::wechat::sha1_signature({kWcToken, timestamp, nonce, encrypt}) +
           "&timestamp=" + timestamp + "&nonce=" + nonce;
}

}  // namespace

TEST_CASE("wecom: URL verification answers the decrypted echostr, only when signed", "[wecom]") {
    Setup s;
    const std::string plain = "1616140317555161061";
    // WeCom's echostr is base64 and arrives percent-encoded: make sure this one has '+', '/'
    // and '=' in it, so %2B, %2F and %3D are all exercised.
    std::string echostr;
    for (int i = 0; i < 1000; ++i) {
        echostr = s.wecom->encrypt(plain);
        if (echostr.find('+') != std::string::npos && echostr.find('/') != std::string::npos &&
            echostr.find('=') != std::string::npos) {
            break;
        }
    }
    REQUIRE(echostr.find('+') != std::string::npos);
    REQUIRE(echostr.find('/') != std::string::npos);
    REQUIRE(echostr.find('=') != std::string::npos);
    auto query = s.wecom->url_check_query(echostr);
    REQUIRE(query.find("%2B") != std::string::npos);
    REQUIRE(query.find("%2F") != std::string::npos);
    REQUIRE(query.find("%3D") != std::string::npos);

    auto started = std::chrono::steady_clock::now();
    auto ok = s.wecom->get_raw(query);
    CHECK(std::chrono::steady_clock::now() - started < 1s);  // WeCom waits 1 s
    CHECK(ok.status == 200);
    CHECK(ok.body == plain);  // as is: no quotes, no newline

    // A '+' left unescaped stays a '+' (not a space).
    auto unescaped = s.wecom->url_check_query(echostr, false);
    REQUIRE(unescaped.find('+') != std::string::npos);
    auto plus = s.wecom->get_raw(unescaped);
    CHECK(plus.status == 200);
    CHECK(plus.body == plain);

    // Forged, or no signature at all.
    auto forged = query;
    forged.replace(forged.find("msg_signature=") + 14, 6, "000000");
    auto refused = s.wecom->get_raw(forged);
    CHECK(refused.status == 401);
    CHECK(refused.body.find(plain) == std::string::npos);
    CHECK(s.wecom->get_raw(query.substr(query.find('&') + 1)).status == 401);
    // Correctly signed, but encrypted for another corp; or not ciphertext at all.
    WecomCallbacks other(s.bot->url("/wecom/wc"), kWcToken, "ww_other_corp", kAesKey);
    CHECK(s.wecom->get_raw(other.url_check_query(other.encrypt(plain))).status == 401);
    CHECK(s.wecom->get_raw(s.wecom->url_check_query("QUJD")).status == 400);
    CHECK(s.bot->log_text().find(plain) == std::string::npos);
}

TEST_CASE("wecom: a message is acknowledged at once and answered by message/send, with memory",
          "[wecom]") {
    Setup s;
    s.llm.reply_delay(1500ms);  // the acknowledgement must not wait for the LLM
    auto started = std::chrono::steady_clock::now();
    auto first = s.wecom->post(WecomCallbacks::text_xml("zhangsan", "1001", "hello"));
    CHECK(std::chrono::steady_clock::now() - started < 1s);
    CHECK(first.status == 200);
    CHECK(first.body.empty());
    REQUIRE(s.api.wait_for_messages(1));
    auto sent = s.api.messages();
    CHECK(sent[0].touser == "zhangsan");
    CHECK(sent[0].agentid == kAgentId);
    CHECK(sent[0].content == "echo: hello");

    s.llm.reply_delay(0ms);
    CHECK(s.wecom->post(WecomCallbacks::text_xml("zhangsan", "1002", "again")).status == 200);
    REQUIRE(s.api.wait_for_messages(2));
    CHECK(s.api.messages()[1].content == "echo: again");
    auto requests = s.llm.requests();
    REQUIRE(requests.size() == 2);
    // The second request carries the first turn: per-member memory.
    auto dumped = requests[1]["messages"].dump();
    CHECK(dumped.find("hello") != std::string::npos);
    CHECK(dumped.find("echo: hello") != std::string::npos);
    // Another member starts fresh.
    CHECK(s.wecom->post(WecomCallbacks::text_xml("lisi", "2001", "hi")).status == 200);
    REQUIRE(s.api.wait_for_messages(3));
    CHECK(s.api.messages()[2].touser == "lisi");
    CHECK(s.llm.requests()[2]["messages"].dump().find("hello") == std::string::npos);
    CHECK(s.api.token_fetches() == 1);
}

TEST_CASE("wecom: a redelivered MsgId is answered once", "[wecom]") {
    Setup s;
    s.llm.reply_delay(300ms);
    auto xml = WecomCallbacks::text_xml("wangwu", "3001", "once");
    // WeCom retries when it thinks the first try failed: at once, and again later.
    auto retry = std::async(std::launch::async, [&] { return s.wecom->post(xml); });
    CHECK(s.wecom->post(xml).status == 200);
    CHECK(retry.get().status == 200);
    REQUIRE(s.api.wait_for_messages(1));
    CHECK(s.wecom->post(xml).status == 200);
    std::this_thread::sleep_for(500ms);
    CHECK(s.llm.request_count() == 1);
    CHECK(s.api.messages().size() == 1);
}

TEST_CASE("wecom: a callback replayed after the member's /forget is not answered again",
          "[wecom][forget]") {
    Setup s;
    // Captured on the way: the exact query and body WeCom sent.
    auto [query, body] = s.wecom->sign(WecomCallbacks::text_xml("zhaoliu", "7001", "my secret"));
    REQUIRE(s.wecom->post_raw(query, body).status == 200);
    REQUIRE(s.api.wait_for_messages(1));
    REQUIRE(s.wecom->post(WecomCallbacks::text_xml("zhaoliu", "7002", "/forget")).status == 200);
    REQUIRE(s.api.wait_for_messages(2));
    CHECK(s.api.messages()[1].content.find("deleted everything") != std::string::npos);

    // Replayed within the timestamp window, once the inbox row it would dedupe on is gone.
    CHECK(s.wecom->post_raw(query, body).status == 200);
    CHECK(s.wecom->post(WecomCallbacks::text_xml("zhaoliu", "7003", "new question")).status == 200);
    REQUIRE(s.api.wait_for_messages(3));
    std::this_thread::sleep_for(300ms);
    auto sent = s.api.messages();
    REQUIRE(sent.size() == 3);
    CHECK(sent[2].content == "echo: new question");
    CHECK(s.llm.request_count() == 2);  // "my secret" went to the LLM once
    CHECK(s.llm.requests()[1]["messages"].dump().find("my secret") == std::string::npos);
}

TEST_CASE("wecom: callbacks and URL checks signed with a stale timestamp are refused", "[wecom]") {
    Setup s;
    const std::time_t now = std::time(nullptr);
    auto xml = WecomCallbacks::text_xml("eve", "7101", "replayed");
    for (std::time_t at : {now - 3600, now - 301, now + 3600}) {
        auto [query, body] = s.wecom->sign(xml, at);
        auto refused = s.wecom->post_raw(query, body);
        CHECK(refused.status == 401);
        CHECK(refused.body == "stale timestamp");
    }
    auto stale_check =
        s.wecom->get_raw(s.wecom->url_check_query(s.wecom->encrypt("123"), true, now - 3600));
    CHECK(stale_check.status == 401);
    CHECK(stale_check.body.find("123") == std::string::npos);
    std::this_thread::sleep_for(300ms);
    CHECK(s.llm.request_count() == 0);
    auto log = s.bot->log_text();
    CHECK(log.find("stale timestamp") != std::string::npos);
    CHECK(log.find("replayed") == std::string::npos);

    // A little clock skew is fine.
    auto [query, body] = s.wecom->sign(xml, now - 120);
    CHECK(s.wecom->post_raw(query, body).status == 200);
    REQUIRE(s.api.wait_for_messages(1));
    CHECK(s.api.messages()[0].content == "echo: replayed");
}

TEST_CASE("wecom: one access_token for many messages, refreshed after 42001", "[wecom]") {
    Setup s;
    auto round = [&](const std::string& prefix) {
        std::vector<std::future<TestResponse>> posts;
        for (int i = 0; i < 5; ++i) {
            posts.push_back(std::async(std::launch::async, [&, i] {
                auto n = std::to_string(i);
                return s.wecom->post(
                    WecomCallbacks::text_xml("user" + n, prefix + n, "q" + prefix + n));
            }));
        }
        for (auto& post : posts) CHECK(post.get().status == 200);
    };
    round("40");
    REQUIRE(s.api.wait_for_messages(5));
    CHECK(s.api.token_fetches() == 1);

    s.api.expire_token();  // WeCom invalidated it early: calls with it get 42001
    round("41");
    REQUIRE(s.api.wait_for_messages(10));
    CHECK(s.api.token_fetches() == 2);
    CHECK(s.api.send_calls() > 10);  // at least one call was refused and retried
    CHECK(s.llm.request_count() == 10);
    for (auto& sent : s.api.messages()) CHECK(sent.content.starts_with("echo: q4"));
}

TEST_CASE("wecom: a long reply is split into parts of at most 2048 bytes", "[wecom]") {
    Setup s;
    s.api.limit_per_user(30);  // WeCom's limit: the parts must stay within it
    std::string long_reply;
    for (int i = 0; long_reply.size() < 5000; ++i) {
        long_reply += "这是第" + std::to_string(i) + "句比较长的回答内容，用来测试分段。";
        if (i % 20 == 19) long_reply += "\n\n";
    }
    auto expected = bot::split_text(long_reply, 2048);
    REQUIRE(expected.size() >= 3);
    s.llm.reply_with([&](const json&) { return long_reply; });
    CHECK(s.wecom->post(WecomCallbacks::text_xml("zhaoliu", "5001", "long")).status == 200);
    REQUIRE(s.api.wait_for_messages(expected.size()));
    std::this_thread::sleep_for(200ms);
    auto sent = s.api.messages();
    CHECK(sent.size() == expected.size());
    std::string whole;
    for (auto& part : sent) {
        CHECK(part.touser == "zhaoliu");
        CHECK(part.content.size() <= 2048);
        whole += part.content;
    }
    CHECK(squeeze(whole) == squeeze(long_reply));
    CHECK(s.api.rate_limit_violations() == 0);
}

TEST_CASE("wecom: forged, foreign and malformed callbacks are refused", "[wecom]") {
    Setup s;
    auto [query, body] = s.wecom->sign(WecomCallbacks::text_xml("eve", "6001", "hi"));

    auto forged = query;
    forged.replace(forged.find("msg_signature=") + 14, 6, "ffffff");
    CHECK(s.wecom->post_raw(forged, body).status == 401);
    CHECK(s.wecom->post_raw(query.substr(query.find('&') + 1), body).status == 401);  // unsigned
    // Correctly signed with our token, but encrypted for another CorpID.
    auto [foreign_query, foreign_body] =
        s.wecom->sign_for(WecomCallbacks::text_xml("eve", "6002", "hi"), "ww_other_corp");
    CHECK(s.wecom->post_raw(foreign_query, foreign_body).status == 401);
    // Malformed XML; an Encrypt that is not base64, or is but does not decrypt, or decrypts to
    // something that is not a message: all correctly signed.
    CHECK(s.wecom->post_raw(query, "<xml><Encrypt>").status == 400);
    std::string junk = "@@not-base64@@";
    CHECK(s.wecom->post_raw(signed_query_for(junk), "<xml><Encrypt>" + junk + "</Encrypt></xml>")
              .status == 400);
    std::string blocks = bot::crypto::base64_encode(std::string(64, 'A'));
    CHECK(
        s.wecom->post_raw(signed_query_for(blocks), "<xml><Encrypt>" + blocks + "</Encrypt></xml>")
            .status == 400);
    // Authentic but not a message: skipped and acknowledged, so WeCom does not resend it.
    auto [text_query, text_body] = s.wecom->sign("not xml at all");
    CHECK(s.wecom->post_raw(text_query, text_body).status == 200);

    std::this_thread::sleep_for(300ms);
    CHECK(s.llm.request_count() == 0);  // nothing was processed
    CHECK(s.api.messages().empty());
    auto log = s.bot->log_text();
    CHECK(log.find("refused") != std::string::npos);
    CHECK(log.find(kSecret) == std::string::npos);
    CHECK(log.find(kAesKey) == std::string::npos);
    CHECK(log.find(kWcToken) == std::string::npos);
    CHECK(log.find(junk) == std::string::npos);  // refused bodies are not logged

    // The real callback still works after all that.
    CHECK(s.wecom->post_raw(query, body).status == 200);
    REQUIRE(s.api.wait_for_messages(1));
    CHECK(s.api.messages()[0].content == "echo: hi");
    CHECK(s.bot->log_text().find("WECOM_TOKEN_") == std::string::npos);  // access tokens
}

TEST_CASE("wecom: images get a notice without the LLM; events are acknowledged", "[wecom]") {
    Setup s;
    for (const char* event : {"enter_agent", "subscribe", "click"}) {
        auto acked = s.wecom->post(WecomCallbacks::event_xml("sunqi", event));
        CHECK(acked.status == 200);
        CHECK(acked.body.empty());
    }
    // A message for another app of the corp (same token and key) is not ours to answer.
    auto other_app = s.wecom->post(WecomCallbacks::text_xml("sunqi", "7000", "hi", "1000099"));
    CHECK(other_app.status == 200);

    CHECK(s.wecom->post(WecomCallbacks::image_xml("sunqi", "7001")).status == 200);
    REQUIRE(s.api.wait_for_messages(1));
    std::this_thread::sleep_for(300ms);
    auto sent = s.api.messages();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].touser == "sunqi");
    CHECK(sent[0].content.find("only read text") != std::string::npos);
    CHECK(s.llm.request_count() == 0);
}

TEST_CASE("wecom: busy WeCom is retried; an untrusted IP is reported, not retried", "[wecom]") {
    Setup s;
    s.api.script_send(-1);  // system busy: transient
    CHECK(s.wecom->post(WecomCallbacks::text_xml("zhouba", "8001", "busy")).status == 200);
    REQUIRE(s.api.wait_for_messages(1));
    CHECK(s.api.messages()[0].content == "echo: busy");
    CHECK(s.api.send_calls() == 2);

    s.api.script_send(60020);  // the server's IP is not among the app's trusted IPs
    CHECK(s.wecom->post(WecomCallbacks::text_xml("zhouba", "8002", "ip")).status == 200);
    for (int i = 0; i < 100 && s.api.send_calls() < 3; ++i) std::this_thread::sleep_for(20ms);
    std::this_thread::sleep_for(1500ms);  // longer than the outbox's first backoff
    CHECK(s.api.send_calls() == 3);       // permanent: not retried
    CHECK(s.api.messages().size() == 1);
    auto log = s.bot->log_text();
    CHECK(log.find("60020") != std::string::npos);
    CHECK(log.find("企业可信IP") != std::string::npos);
}
