// The qq adapter through the real server, with QQ played by FakeQq: pushes signed with the
// bot secret, the token endpoint and the passive reply endpoints.
#include "base/crypto.hpp"
#include "base/text_split.hpp"
#include "fakes/fake_qq.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <ctime>
#include <future>
#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAppId = "102030405";
constexpr const char* kSecret = "qq-bot-secret-0123";  // < 32 bytes: the seed repeats it
const std::string kAck = R"({"op":12,"d":0})";

struct Setup {
    explicit Setup(BotOptions options = {}) : qq(kAppId, kSecret) {
        options.adapters["qq1"] = json{{"type", "qq"},
                                       {"app_id", kAppId},
                                       {"app_secret", kSecret},
                                       {"api_base", qq.api_base()},
                                       {"token_url", qq.token_url()}};
        bot = std::make_unique<TestBot>(llm, dir.path(), options);
        url = bot->url("/qq/qq1");
    }

    FakeLlm llm;
    FakeQq qq;
    TempDir dir;
    std::unique_ptr<TestBot> bot;
    std::string url;
};

std::string seed(std::string secret) {
    while (secret.size() < 32) secret += secret;
    return secret.substr(0, 32);
}

}  // namespace

TEST_CASE("qq: a signed C2C push is stored, acknowledged with op 12 and answered passively",
          "[qq]") {
    Setup s;
    auto started = std::chrono::steady_clock::now();
    s.llm.reply_delay(1500ms);  // the acknowledgement waits for the store, not the LLM
    auto answer = s.qq.push(s.url, FakeQq::c2c("USER_A", "ROBOT1.0_m1", "hello"));
    CHECK(std::chrono::steady_clock::now() - started < 1s);
    CHECK(answer.status == 200);
    CHECK(answer.body == kAck);
    REQUIRE(s.qq.wait_for_messages(1));
    auto sent = s.qq.messages()[0];
    CHECK(sent.path == "/v2/users/USER_A/messages");
    CHECK(sent.content == "echo: hello");
    CHECK(sent.msg_id == "ROBOT1.0_m1");
    CHECK(sent.msg_seq == 1);
    CHECK(sent.msg_type == 0);

    // Memory per user: the second turn carries the first.
    s.llm.reply_delay(0ms);
    REQUIRE(s.qq.push(s.url, FakeQq::c2c("USER_A", "ROBOT1.0_m2", "again")).body == kAck);
    REQUIRE(s.qq.wait_for_messages(2));
    CHECK(s.qq.messages()[1].msg_id == "ROBOT1.0_m2");
    CHECK(s.llm.requests()[1]["messages"].dump().find("echo: hello") != std::string::npos);
    CHECK(s.qq.token_fetches() == 1);
    CHECK(s.bot->log_text().find(kSecret) == std::string::npos);
}

TEST_CASE("qq: a group @ message is answered in the group", "[qq]") {
    Setup s;
    REQUIRE(
        s.qq.push(s.url, FakeQq::group("GROUP_1", "MEMBER_1", "ROBOT1.0_g1", "what's up")).body ==
        kAck);
    REQUIRE(s.qq.wait_for_messages(1));
    auto sent = s.qq.messages()[0];
    CHECK(sent.path == "/v2/groups/GROUP_1/messages");
    CHECK(sent.content == "echo: what's up");  // the space where the @ was is gone
    CHECK(sent.msg_id == "ROBOT1.0_g1");
    CHECK(sent.msg_seq == 1);
}

TEST_CASE("qq: forged and unsigned pushes get 401 and nothing is processed", "[qq]") {
    Setup s;
    auto body = FakeQq::c2c("USER_A", "ROBOT1.0_f1", "forged secret words");
    std::string ts = std::to_string(std::time(nullptr));
    FakeQq stranger(kAppId, "another-secret");
    std::vector<std::vector<std::string>> attempts = {
        {},  // no signature at all
        {"X-Signature-Timestamp: " + ts},
        {"X-Signature-Ed25519: " + s.qq.signature(ts, body)},  // no timestamp
        {"X-Signature-Ed25519: " + stranger.signature(ts, body), "X-Signature-Timestamp: " + ts},
        {"X-Signature-Ed25519: " + s.qq.signature(ts, body + " "), "X-Signature-Timestamp: " + ts},
        {"X-Signature-Ed25519: " + s.qq.signature(ts, body), "X-Signature-Timestamp: 1"},
        {"X-Signature-Ed25519: not-hex", "X-Signature-Timestamp: " + ts},
    };
    for (const auto& headers : attempts) {
        auto refused = s.qq.push_raw(s.url, body, headers);
        CHECK(refused.status == 401);
        CHECK(refused.body.find("op") == std::string::npos);
    }
    // A forged validation is not answered either.
    auto check = FakeQq::validation("token123", ts);
    CHECK(s.qq.push_raw(s.url, check,
                        {"X-Signature-Ed25519: " + stranger.signature(ts, check),
                         "X-Signature-Timestamp: " + ts})
              .status == 401);
    std::this_thread::sleep_for(300ms);
    CHECK(s.llm.request_count() == 0);
    CHECK(s.qq.send_calls() == 0);
    auto log = s.bot->log_text();
    CHECK(log.find("refused (401)") != std::string::npos);
    CHECK(log.find("forged secret words") == std::string::npos);

    // The genuine push still goes through.
    CHECK(s.qq.push(s.url, body).body == kAck);
    REQUIRE(s.qq.wait_for_messages(1));
}

TEST_CASE("qq: op 13 callback validation is answered with the signed plain_token", "[qq]") {
    Setup s;
    auto answer = s.qq.push(s.url, FakeQq::validation("Arq0D5A61EgUu4OxUvOp", "1725442341"));
    REQUIRE(answer.status == 200);
    auto body = json::parse(answer.body);
    CHECK(body["plain_token"] == "Arq0D5A61EgUu4OxUvOp");
    auto signature = bot::crypto::from_hex(body["signature"].get<std::string>());
    REQUIRE(signature);
    auto key = bot::crypto::ed25519_public_key(seed(kSecret));
    CHECK(bot::crypto::ed25519_verify(key, "1725442341Arq0D5A61EgUu4OxUvOp", *signature));
    CHECK(s.llm.request_count() == 0);
}

TEST_CASE("qq: a message QQ pushes twice is answered once", "[qq]") {
    Setup s;
    s.llm.reply_delay(300ms);
    auto body = FakeQq::c2c("USER_B", "ROBOT1.0_d1", "once");
    auto again = std::async(std::launch::async, [&] { return s.qq.push(s.url, body); });
    CHECK(s.qq.push(s.url, body).body == kAck);
    CHECK(again.get().body == kAck);
    REQUIRE(s.qq.wait_for_messages(1));
    CHECK(s.qq.push(s.url, body).body == kAck);
    std::this_thread::sleep_for(500ms);
    CHECK(s.llm.request_count() == 1);
    CHECK(s.qq.messages().size() == 1);
}

TEST_CASE("qq: other events, heartbeats, images and junk are acknowledged", "[qq]") {
    Setup s;
    auto friend_add = json{{"op", 0},
                           {"t", "FRIEND_ADD"},
                           {"id", "FRIEND_ADD:1"},
                           {"d", {{"openid", "USER_C"}, {"timestamp", 1700000000}}}}
                          .dump();
    CHECK(s.qq.push(s.url, friend_add).body == kAck);
    CHECK(s.qq.push(s.url, R"({"op":1,"d":7})").body == R"({"op":11,"d":7})");
    CHECK(s.qq.push(s.url, "not json").body == kAck);
    CHECK(s.qq.push(s.url, R"({"op":0,"t":"C2C_MESSAGE_CREATE","d":{"content":"x"}})").body ==
          kAck);
    CHECK(s.bot->log_text().find("FRIEND_ADD") != std::string::npos);

    // An image alone gets the core's text-only notice.
    CHECK(s.qq.push(s.url, FakeQq::c2c_image("USER_C", "ROBOT1.0_i1")).body == kAck);
    REQUIRE(s.qq.wait_for_messages(1));
    CHECK(s.qq.messages()[0].content.find("only read text") != std::string::npos);
    CHECK(s.qq.messages()[0].msg_id == "ROBOT1.0_i1");
    std::this_thread::sleep_for(200ms);
    CHECK(s.llm.request_count() == 0);
}

TEST_CASE("qq: a reply past the passive window is marked failed and not retried", "[qq]") {
    Setup s;
    auto now = std::chrono::system_clock::now();
    // A group message written 6 minutes ago (QQ pushed it late): its 5-minute window is over.
    CHECK(s.qq.push(s.url, FakeQq::group("GROUP_2", "MEMBER_2", "ROBOT1.0_w1", "late", now - 6min))
              .body == kAck);
    // A private message 30 minutes old is still inside its 60 minutes.
    CHECK(s.qq.push(s.url, FakeQq::c2c("USER_D", "ROBOT1.0_w2", "slow", now - 30min)).body == kAck);
    REQUIRE(s.qq.wait_for_messages(1));
    CHECK(s.qq.messages()[0].msg_id == "ROBOT1.0_w2");
    REQUIRE(eventually([&] {
        return s.bot->log_text().find("passive reply window closed") != std::string::npos;
    }));
    std::this_thread::sleep_for(1500ms);  // past the outbox's first retry backoff
    CHECK(s.qq.messages().size() == 1);
    CHECK(s.qq.send_calls() == 1);  // the late one never reached QQ
    auto log = s.bot->log_text();
    CHECK(log.find("giving up") != std::string::npos);
    CHECK(log.find("will retry") == std::string::npos);

    // QQ's own verdict (after a restart the adapter does not know the time): the same.
    s.qq.script_send(400, 304027);
    CHECK(s.qq.push(s.url, FakeQq::c2c("USER_E", "ROBOT1.0_w3", "expired")).body == kAck);
    REQUIRE(eventually([&] { return s.qq.send_calls() == 2; }));
    std::this_thread::sleep_for(1500ms);
    CHECK(s.qq.send_calls() == 2);
    CHECK(s.qq.messages().size() == 1);
}

TEST_CASE("qq: a long reply is cut to 5 messages, the fifth ending with an ellipsis", "[qq]") {
    Setup s;
    // ~3 KB per paragraph of CJK text, five paragraphs: more than 5 parts of 2000 bytes.
    std::string paragraph;
    for (int i = 0; i < 330; ++i) paragraph += "你好吗";
    s.llm.reply_with([&](const json&) {
        std::string text;
        for (int i = 0; i < 5; ++i) text += paragraph + "\n\n";
        return text;
    });
    CHECK(s.qq.push(s.url, FakeQq::c2c("USER_F", "ROBOT1.0_l1", "tell me a lot")).body == kAck);
    REQUIRE(s.qq.wait_for_messages(5));
    std::this_thread::sleep_for(500ms);
    auto sent = s.qq.messages();
    REQUIRE(sent.size() == 5);
    for (std::size_t i = 0; i < sent.size(); ++i) {
        CHECK(sent[i].msg_id == "ROBOT1.0_l1");
        CHECK(sent[i].msg_seq == static_cast<std::int64_t>(i + 1));
        CHECK(sent[i].content.size() <= 2000);
    }
    CHECK(sent[4].content.ends_with("…"));
    CHECK_FALSE(sent[3].content.ends_with("…"));
    CHECK(s.qq.send_calls() == 5);
}

TEST_CASE("qq: one token fetch serves 5 concurrent sends, and a refused token is refetched once",
          "[qq]") {
    Setup s;
    s.qq.token_delay(300ms);  // every send waits on the same fetch
    auto push_five = [&](const std::string& round) {
        std::vector<std::future<TestResponse>> pushes;
        for (int i = 0; i < 5; ++i) {
            auto user = "USER_" + round + std::to_string(i);
            pushes.push_back(std::async(std::launch::async, [&, user] {
                return s.qq.push(s.url, FakeQq::c2c(user, "ROBOT1.0_" + user, "hi"));
            }));
        }
        for (auto& push : pushes) CHECK(push.get().body == kAck);
    };
    push_five("T");
    REQUIRE(s.qq.wait_for_messages(5));
    CHECK(s.qq.token_fetches() == 1);

    // QQ stops accepting the token (expired early): the five that find out share one refetch.
    s.qq.expire_token();
    push_five("U");
    REQUIRE(s.qq.wait_for_messages(10));
    CHECK(s.qq.token_fetches() == 2);
    auto log = s.bot->log_text();
    CHECK(log.find("QQ_TOKEN_") == std::string::npos);  // tokens are redacted
}

TEST_CASE("qq: expires_in as a number works too, and transient errors are retried", "[qq]") {
    Setup s;
    s.qq.expires_in_as_number(true);
    s.qq.script_send(500, 1100300);
    CHECK(s.qq.push(s.url, FakeQq::c2c("USER_G", "ROBOT1.0_n1", "retry me")).body == kAck);
    REQUIRE(s.qq.wait_for_messages(1));
    CHECK(s.qq.messages()[0].msg_seq == 1);
    CHECK(s.qq.send_calls() == 2);
    CHECK(s.qq.token_fetches() == 1);
}
