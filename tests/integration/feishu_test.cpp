// The feishu adapter through the real server, against FakeFeishu (REST, the long connection's
// websocket, a webhook client that signs and encrypts) and FakeLlm: both modes, groups, split
// frames, reconnects, the tenant token under concurrency, and replies streamed into a card.
#include "fakes/fake_feishu.hpp"
#include "feishu/feishu_frame.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kUser = "ou_user00000000000000000000000001";
constexpr const char* kP2p = "oc_p2p0000000000000000000000001";
constexpr const char* kGroup = "oc_group000000000000000000000001";
constexpr const char* kVerificationToken = "verification-token-abcdef";
constexpr const char* kEncryptKey = "encrypt-key-0123456789";

BotOptions with_feishu(const FakeFeishu& feishu, json extra = json::object()) {
    BotOptions options;
    json section{{"type", "feishu"},
                 {"app_id", FakeFeishu::kAppId},
                 {"app_secret", FakeFeishu::kAppSecret},
                 {"domain", feishu.base_url()}};
    section.update(extra);
    options.adapters["fs"] = section;
    return options;
}

json group_text(const std::string& message_id, const std::string& text,
                std::vector<FakeFeishu::MentionSpec> mentions, const std::string& parent = {},
                const std::string& token = {}) {
    return FakeFeishu::message_event("ev-" + message_id, message_id, kGroup, "group", kUser, "text",
                                     {{"text", text}}, mentions, parent, token);
}

FakeFeishu::MentionSpec bot_mention() {
    return {"@_user_1", FakeFeishu::kBotOpenId, "contactbot"};
}

}  // namespace

TEST_CASE("feishu long connection: a private message is answered in a streamed card",
          "[integration][feishu]") {
    FakeFeishu feishu;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_feishu(feishu));
    REQUIRE(feishu.wait_connections(1));
    REQUIRE(feishu.wait_pings(1));  // a ping right after connecting
    CHECK(feishu.last_ws_target().find("service_id=33555434") != std::string::npos);

    auto seq = feishu.push(FakeFeishu::text_event("om_1", kP2p, kUser, "hello there"));
    REQUIRE(feishu.wait_responses(1));
    auto response = feishu.responses().at(0);
    CHECK(response.seq_id == seq);
    CHECK(response.log_id == 9007199254740993ull + seq);  // 64 bits kept
    CHECK(response.payload == json{{"code", 200}});
    CHECK(response.headers.value("type", "") == "event");
    CHECK(response.headers.value("trace_id", "") == "trace-" + std::to_string(seq));
    CHECK(response.headers.contains("biz_rt"));

    REQUIRE(eventually([&] {
        auto cards = feishu.cards();
        return cards.size() == 1 && !cards[0].streaming;
    }));
    auto card = feishu.cards().at(0);
    CHECK(card.text == "echo: hello there");
    CHECK(card.reply_to == "om_1");
    CHECK(feishu.sent_texts().empty());  // the card carried the answer
    // The ticket and secrets in the URL and config never reach the log.
    auto log = bot.log_text();
    CHECK(log.find("tk-secret") == std::string::npos);
    CHECK(log.find("ak-secret") == std::string::npos);
    CHECK(log.find(FakeFeishu::kAppSecret) == std::string::npos);
    CHECK(log.find("hello there") == std::string::npos);
}

TEST_CASE("feishu long connection: card updates grow with the LLM and end with the whole text",
          "[integration][feishu]") {
    FakeFeishu feishu;
    FakeLlm llm;
    std::string answer;
    for (int i = 0; i < 60; ++i) answer += "word" + std::to_string(i) + " ";
    answer += "end.";
    llm.reply_with([&](const json&) { return answer; });
    llm.reply_delay(2000ms);  // spread over the streamed chunks
    TempDir dir;
    TestBot bot(llm, dir.path(), with_feishu(feishu));
    REQUIRE(feishu.wait_connections(1));
    feishu.push(FakeFeishu::text_event("om_s", kP2p, kUser, "tell me a lot"));
    REQUIRE(eventually(
        [&] {
            auto cards = feishu.cards();
            return cards.size() == 1 && !cards[0].streaming;
        },
        20s));
    auto card = feishu.cards().at(0);
    CHECK(card.text == answer);
    INFO("texts written: " << card.texts.size());
    REQUIRE(card.texts.size() >= 2);  // at least one streamed update besides the final text
    for (std::size_t i = 0; i + 1 < card.texts.size(); ++i) {
        CHECK(answer.starts_with(card.texts[i]));  // each update a prefix of the answer
        CHECK(card.texts[i].size() <= card.texts[i + 1].size());
    }
    // Bounded: ~60 chunks over ~2.4 s at most one update per 500 ms, plus the final.
    CHECK(card.texts.size() <= 8);
    for (std::size_t i = 1; i < card.sequences.size(); ++i)
        CHECK(card.sequences[i] > card.sequences[i - 1]);
}

TEST_CASE("feishu long connection: split frames, malformed frames and other events",
          "[integration][feishu]") {
    FakeFeishu feishu;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_feishu(feishu, {{"streaming", "off"}}));
    REQUIRE(feishu.wait_connections(1));
    CHECK(feishu.push_raw("\x08\xff"));  // not a frame: skipped, the connection goes on
    json other{{"schema", "2.0"},
               {"header", {{"event_id", "e-x"}, {"event_type", "im.chat.member.bot.added_v1"}}},
               {"event", {{"chat_id", kGroup}}}};
    feishu.push(other);
    feishu.push(FakeFeishu::text_event("om_split", kP2p, kUser, "a message in three frames"), 3);
    REQUIRE(feishu.wait_responses(2));
    for (const auto& response : feishu.responses()) CHECK(response.payload == json{{"code", 200}});
    REQUIRE(eventually([&] { return feishu.sent_texts().size() == 1; }));
    CHECK(feishu.sent_texts().at(0) == "echo: a message in three frames");
    // A redelivered event (same message_id) is answered on the socket, not by the LLM again.
    feishu.push(FakeFeishu::text_event("om_split", kP2p, kUser, "a message in three frames"));
    REQUIRE(feishu.wait_responses(3));
    std::this_thread::sleep_for(200ms);
    CHECK(llm.request_count() == 1);
    CHECK(feishu.sent_texts().size() == 1);
}

TEST_CASE("feishu long connection: a server-initiated close is followed by a new endpoint",
          "[integration][feishu]") {
    FakeFeishu feishu;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_feishu(feishu, {{"streaming", "off"}}));
    REQUIRE(feishu.wait_connections(1));
    CHECK(feishu.endpoint_requests() == 1);
    feishu.close();
    REQUIRE(feishu.wait_connections(2, 15s));
    CHECK(feishu.endpoint_requests() == 2);  // every reconnect asks for a new URL
    feishu.push(FakeFeishu::text_event("om_after", kP2p, kUser, "still there?"));
    REQUIRE(eventually([&] { return feishu.sent_texts().size() == 1; }));
    CHECK(feishu.sent_texts().at(0) == "echo: still there?");
}

TEST_CASE("feishu long connection: pings follow the interval a pong sets",
          "[integration][feishu]") {
    FakeFeishu feishu;
    feishu.set_client_config({{"ReconnectCount", -1},
                              {"ReconnectInterval", 1},
                              {"ReconnectNonce", 0},
                              {"PingInterval", 1}});
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_feishu(feishu, {{"streaming", "off"}}));
    REQUIRE(feishu.wait_connections(1));
    REQUIRE(feishu.wait_pings(3, 5s));  // 1 s apart, not the default 120 s
}

TEST_CASE("feishu long connection: an operator error is not retried in a spin",
          "[integration][feishu]") {
    FakeFeishu feishu;
    feishu.fail_endpoint(1000040350);
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_feishu(feishu, {{"streaming", "off"}}));
    REQUIRE(eventually([&] { return feishu.endpoint_requests() >= 1; }));
    std::this_thread::sleep_for(1500ms);
    CHECK(feishu.endpoint_requests() == 1);
    CHECK(feishu.connections() == 0);
    CHECK(bot.log_text().find("too many connections") != std::string::npos);
}

TEST_CASE("feishu groups: @mentions and replies to the bot are answered, chatter is not",
          "[integration][feishu]") {
    FakeFeishu feishu;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_feishu(feishu, {{"streaming", "off"}}));
    REQUIRE(feishu.wait_connections(1));
    feishu.push(group_text("om_g1", "lunch?", {}));
    feishu.push(group_text("om_g2", "@_user_2 lunch?", {{"@_user_2", "ou_alice", "Alice"}}));
    feishu.push(group_text("om_g3", "@_user_1 what is Feishu?", {bot_mention()}));
    REQUIRE(eventually([&] { return feishu.sent_texts().size() == 1; }));
    CHECK(feishu.sent_texts().at(0) == "echo: what is Feishu?");  // the @ removed
    CHECK(feishu.replies_to("om_g3") == 1);
    CHECK(llm.request_count() == 1);
    // A reply to the bot's message without an @ is for the bot too (the core knows its ids,
    // recorded a moment after the send was answered: posted again until then).
    REQUIRE(eventually([&] {
        static int n = 0;
        feishu.push(group_text("om_g4_" + std::to_string(n++), "and why?", {}, "om_sent_1"));
        return eventually([&] { return feishu.sent_texts().size() == 2; }, 300ms);
    }));
    CHECK(feishu.sent_texts().at(1) == "echo: and why?");
}

TEST_CASE("feishu tenant token: one fetch for 5 concurrent sends, fetched again when refused",
          "[integration][feishu]") {
    FakeFeishu feishu;
    // No token before the sends: the one asked for at start (for the bot's identity) fails.
    feishu.api().fail_next("POST", "/open-apis/auth/v3/tenant_access_token/internal",
                           Reply::status_only(503));
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_feishu(feishu, {{"streaming", "off"}}));
    REQUIRE(feishu.wait_connections(1));
    CHECK(feishu.token_fetches() == 0);
    feishu.set_token_delay(500ms);  // the five sends all wait for this one fetch
    for (int i = 0; i < 5; ++i) {
        feishu.push(FakeFeishu::text_event("om_c" + std::to_string(i),
                                           "oc_chat" + std::to_string(i),
                                           "ou_u" + std::to_string(i), "hi " + std::to_string(i)));
    }
    REQUIRE(eventually([&] { return feishu.sent_texts().size() == 5; }));
    CHECK(feishu.token_fetches() == 1);
    auto replies = feishu.api().requests(
        [](const RecordedRequest& r) { return r.path.ends_with("/reply") && r.status == 200; });
    REQUIRE(replies.size() == 5);
    for (const auto& reply : replies) CHECK(reply.header("Authorization") == "Bearer t-fake-1");
    feishu.set_token_delay(0ms);
    feishu.revoke_tokens();
    feishu.push(FakeFeishu::text_event("om_c5", kP2p, kUser, "after revocation"));
    REQUIRE(eventually([&] { return feishu.sent_texts().size() == 6; }));
    CHECK(feishu.token_fetches() == 2);
    CHECK(bot.log_text().find("t-fake-1") == std::string::npos);
}

TEST_CASE("feishu send: rate limits and permission errors are mapped", "[integration][feishu]") {
    FakeFeishu feishu;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_feishu(feishu, {{"streaming", "off"}}));
    REQUIRE(feishu.wait_connections(1));
    feishu.api().fail_next("POST", "/open-apis/im/v1/messages/*",
                           Reply::json({{"code", 99991400}, {"msg", "frequency limit"}}, 400));
    feishu.push(FakeFeishu::text_event("om_r1", kP2p, kUser, "retried"));
    REQUIRE(eventually([&] { return feishu.sent_texts().size() == 1; }));
    CHECK(feishu.sent_texts().at(0) == "echo: retried");

    feishu.api().fail_next("POST", "/open-apis/im/v1/messages/*",
                           Reply::json({{"code", 230002}, {"msg", "bot not in chat"}}, 400), 10);
    feishu.push(FakeFeishu::text_event("om_r2", kP2p, kUser, "refused"));
    REQUIRE(eventually(
        [&] { return bot.log_text().find("add the bot to the chat") != std::string::npos; }));
    std::this_thread::sleep_for(300ms);
    // Permanent: one attempt, not retried.
    CHECK(feishu.api().count([](const RecordedRequest& r) {
        return r.path == "/open-apis/im/v1/messages/om_r2/reply";
    }) == 1);
}

TEST_CASE("feishu webhook: encrypted URL check, signed pushes, forged and stale ones refused",
          "[integration][feishu]") {
    FakeFeishu feishu;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(),
                with_feishu(feishu, {{"mode", "webhook"},
                                     {"verification_token", kVerificationToken},
                                     {"encrypt_key", kEncryptKey},
                                     {"streaming", "off"}}));
    FeishuWebhook webhook(bot.url("/feishu/fs"), kEncryptKey);

    // The URL check comes encrypted and unsigned; answered with the challenge.
    json check{
        {"challenge", "ch-123"}, {"token", kVerificationToken}, {"type", "url_verification"}};
    auto answer = http_request("POST", bot.url("/feishu/fs"), webhook.body_of(check),
                               {"Content-Type: application/json"});
    CHECK(answer.status == 200);
    CHECK(json::parse(answer.body) == json{{"challenge", "ch-123"}});
    json wrong_check = check;
    wrong_check["token"] = "nope";
    CHECK(http_request("POST", bot.url("/feishu/fs"), webhook.body_of(wrong_check)).status == 401);

    auto event = FakeFeishu::text_event("om_w1", kP2p, kUser, "via webhook", kVerificationToken);
    // Forged: a wrong signature; stale: signed 8 h ago; wrong token inside; plain with no key.
    auto body = webhook.body_of(event);
    auto now = std::to_string(std::time(nullptr));
    CHECK(webhook.post_raw(body, now, "n1", std::string(64, '0')).status == 401);
    CHECK(webhook.post(event, std::time(nullptr) - 8 * 3600).status == 401);
    auto bad_token = FakeFeishu::text_event("om_w2", kP2p, kUser, "x", "other-token");
    CHECK(webhook.post(bad_token).status == 401);
    CHECK(FeishuWebhook(bot.url("/feishu/fs"), "").post(event).status == 401);
    std::this_thread::sleep_for(200ms);
    CHECK(llm.request_count() == 0);  // nothing refused was processed

    auto accepted = webhook.post(event);
    CHECK(accepted.status == 200);
    REQUIRE(eventually([&] { return feishu.sent_texts().size() == 1; }));
    CHECK(feishu.sent_texts().at(0) == "echo: via webhook");
    CHECK(webhook.post(event).status == 200);  // Feishu's retry: acknowledged, answered once
    std::this_thread::sleep_for(200ms);
    CHECK(feishu.sent_texts().size() == 1);
    CHECK(bot.log_text().find(kEncryptKey) == std::string::npos);
}

TEST_CASE("feishu webhook: a reply in a card, and the card survives a restart",
          "[integration][feishu]") {
    FakeFeishu feishu;
    FakeLlm llm;
    TempDir dir;
    auto options =
        with_feishu(feishu, {{"mode", "webhook"}, {"verification_token", kVerificationToken}});
    options.shutdown_grace_s = 1;
    {
        TestBot bot(llm, dir.path(), options);
        FeishuWebhook plain(bot.url("/feishu/fs"), "");
        // Without an Encrypt Key the URL check comes in the clear.
        json check{
            {"challenge", "plain-1"}, {"token", kVerificationToken}, {"type", "url_verification"}};
        auto answer = http_request("POST", bot.url("/feishu/fs"), check.dump());
        CHECK(answer.status == 200);
        CHECK(json::parse(answer.body) == json{{"challenge", "plain-1"}});
        CHECK(plain
                  .post(FakeFeishu::text_event("om_k1", kP2p, kUser, "card please",
                                               kVerificationToken))
                  .status == 200);
        REQUIRE(eventually([&] {
            auto cards = feishu.cards();
            return cards.size() == 1 && cards[0].text == "echo: card please" && !cards[0].streaming;
        }));
        // The next answer is still being written when the bot stops: the card shows "…".
        llm.chunk_delay(1s);
        CHECK(plain
                  .post(FakeFeishu::text_event("om_k2", kP2p, kUser, "after restart",
                                               kVerificationToken))
                  .status == 200);
        REQUIRE(eventually([&] {
            auto cards = feishu.cards();
            return cards.size() == 2 && !cards[1].reply_to.empty();
        }));
        REQUIRE(eventually([&] { return llm.request_count() == 2; }));
        bot.stop();
    }
    llm.chunk_delay(0ms);
    TestBot again(llm, dir.path(), options);
    REQUIRE(eventually(
        [&] {
            auto cards = feishu.cards();
            return cards.size() >= 2 && cards[1].text == "echo: after restart" &&
                   !cards[1].streaming;
        },
        30s));
    CHECK(feishu.replies_to("om_k2") == 1);  // the card, and no text message besides
    CHECK(feishu.sent_texts().empty());
}

TEST_CASE("feishu send: a long answer fills the card, the rest follows as text replies",
          "[integration][feishu]") {
    FakeFeishu feishu;
    FakeLlm llm;
    std::string paragraph(3000, 'x');
    llm.reply_with([&](const json&) {
        std::string text;
        for (int i = 0; i < 8; ++i) text += paragraph + "\n\n";  // ~24,000 characters
        return text;
    });
    TempDir dir;
    TestBot bot(llm, dir.path(), with_feishu(feishu));
    REQUIRE(feishu.wait_connections(1));
    feishu.push(FakeFeishu::text_event("om_long", kP2p, kUser, "tell me everything"));
    REQUIRE(eventually([&] { return feishu.sent_texts().size() == 2; }));
    auto cards = feishu.cards();
    REQUIRE(cards.size() == 1);
    CHECK_FALSE(cards[0].streaming);
    CHECK(cards[0].text.size() <= 10000);
    std::size_t total = cards[0].text.size();
    for (const auto& text : feishu.sent_texts()) {
        CHECK(text.size() <= 10000);
        total += text.size();
    }
    CHECK(total >= 8 * 3000);
    CHECK(feishu.replies_to("om_long") == 3);  // the card and two text replies
}

TEST_CASE("feishu long connection: one user's messages are answered in the order sent",
          "[integration][feishu]") {
    FakeFeishu feishu;
    FakeLlm llm;
    llm.record(true);
    TempDir dir;
    TestBot bot(llm, dir.path(), with_feishu(feishu, {{"streaming", "off"}}));
    REQUIRE(feishu.wait_connections(1));
    // Back to back on the one socket: stored side by side with other users' messages, but
    // each sender's in order, so the second is asked with the first in its history.
    constexpr int kMessages = 6;
    for (int i = 0; i < kMessages; ++i) {
        feishu.push(FakeFeishu::text_event("om_order" + std::to_string(i), kP2p, kUser,
                                           "message " + std::to_string(i)));
    }
    REQUIRE(feishu.wait_responses(kMessages));
    REQUIRE(eventually([&] { return llm.request_count() == kMessages; }));
    auto requests = llm.requests();
    for (int i = 0; i < kMessages; ++i) {
        const auto& messages = requests[i].at("messages");
        CHECK(messages.back().at("content") == "message " + std::to_string(i));
        CHECK(messages.size() == static_cast<std::size_t>(2 + 2 * i));  // every earlier turn
    }
}
