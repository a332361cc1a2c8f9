// The line adapter through the real server, against FakeLine and FakeLlm: signed webhooks
// (forged and unsigned ones refused before anything is stored), 1:1 chats answered with the
// reply token (once) and the loading animation, groups only when the bot is mentioned,
// redeliveries answered once, push with X-Line-Retry-Key after the token went stale or for
// more than 5 parts (a retried push sent once), rate limits and permanent errors.
#include "fakes/fake_line.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "8d2f1c0b9a7e6d5c4b3a29180f7e6d5c";
constexpr const char* kAccessToken = "line-long-lived-access-token-SECRET/abc=";
constexpr const char* kUser = "U4af4980629000000000000000000aaaa";
constexpr const char* kGroup = "Ca56f94637cc4347f90a25382909b24b9";

struct Setup {
    explicit Setup(BotOptions options = {}) : line(kSecret, kAccessToken) {
        options.adapters["ln"] = json{{"type", "line"},
                                      {"channel_secret", kSecret},
                                      {"channel_access_token", kAccessToken},
                                      {"api_base", line.api_base()}};
        this->options = options;
        bot = std::make_unique<TestBot>(llm, dir.path(), options);
    }
    void restart() {
        bot.reset();
        bot = std::make_unique<TestBot>(llm, dir.path(), options);
    }
    std::string url() const { return bot->url("/line/ln"); }

    FakeLlm llm;
    FakeLine line;
    TempDir dir;
    BotOptions options;
    std::unique_ptr<TestBot> bot;
};

FakeLine::Event dm(const std::string& id, const std::string& text, const std::string& token) {
    return {.event_id = id, .user_id = kUser, .text = text, .reply_token = token};
}

bool is_uuid(const std::string& text) {
    static const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    return std::regex_match(text, uuid);
}

}  // namespace

TEST_CASE("line: a 1:1 message is answered with its reply token and a loading animation",
          "[integration][line]") {
    Setup s;
    auto token = s.line.issue_token(kUser);
    auto body = FakeLine::body({FakeLine::event(dm("01EV0000000000000000000001", "hello", token))});
    REQUIRE(s.line.post(s.url(), body).status == 200);
    REQUIRE(s.line.wait_delivered(1));
    auto sent = s.line.delivered().at(0);
    CHECK(sent.via == "reply");
    CHECK(sent.chat == kUser);
    CHECK(sent.text == "echo: hello");
    auto loading = RecordingServer::to("POST", "/v2/bot/chat/loading/start");
    REQUIRE(s.line.api().wait_for(1, loading));
    auto shown = s.line.api().requests(loading).at(0);
    CHECK(shown.json["chatId"] == kUser);
    CHECK(shown.status == 202);
    // (Recorded once answered: waited for, not assumed from the delivery.)
    REQUIRE(s.line.api().wait_for(1, RecordingServer::to("POST", "/v2/bot/message/reply")));
    auto reply = s.line.api().requests(RecordingServer::to("POST", "/v2/bot/message/reply"));
    REQUIRE(reply.size() == 1);
    CHECK(reply[0].header("Authorization") == std::string("Bearer ") + kAccessToken);
    auto log = s.bot->log_text();
    CHECK(log.find(kAccessToken) == std::string::npos);
    CHECK(log.find(kSecret) == std::string::npos);
    CHECK(log.find("hello") == std::string::npos);
}

TEST_CASE("line: forged and unsigned webhooks are refused before anything is stored",
          "[integration][line]") {
    Setup s;
    auto body = FakeLine::body(
        {FakeLine::event(dm("01EV0000000000000000000002", "forged", s.line.issue_token(kUser)))});
    CHECK(s.line.post(s.url(), body, FakeLine::sign("another secret", body)).status == 401);
    CHECK(s.line.post(s.url(), body, "-").status == 401);
    CHECK(s.line.post(s.url(), body, "bm90IGEgc2lnbmF0dXJl").status == 401);
    // A signed body that is not a webhook, and the console's connectivity check: 200.
    CHECK(s.line.post(s.url(), "not json").status == 200);
    CHECK(s.line.post(s.url(), R"({"destination":"U0BOT","events":[]})").status == 200);
    // The same body signed is answered: the forged copies stored nothing to dedupe against.
    REQUIRE(s.line.post(s.url(), body).status == 200);
    REQUIRE(s.line.wait_delivered(1));
    CHECK(s.line.delivered().at(0).text == "echo: forged");
    CHECK(s.llm.requests().size() == 1);
}

TEST_CASE("line: a redelivered event is answered once", "[integration][line]") {
    Setup s;
    auto first = dm("01EV0000000000000000000003", "once", s.line.issue_token(kUser));
    REQUIRE(s.line.post(s.url(), FakeLine::body({FakeLine::event(first)})).status == 200);
    REQUIRE(s.line.wait_delivered(1));
    // LINE redelivers it (same webhookEventId, isRedelivery, no usable token).
    auto again = first;
    again.redelivery = true;
    again.reply_token.clear();
    REQUIRE(s.line.post(s.url(), FakeLine::body({FakeLine::event(again)})).status == 200);
    // A later message is answered; the redelivery never was.
    auto next = dm("01EV0000000000000000000004", "twice?", s.line.issue_token(kUser));
    REQUIRE(s.line.post(s.url(), FakeLine::body({FakeLine::event(next)})).status == 200);
    REQUIRE(s.line.wait_delivered(2));
    std::this_thread::sleep_for(300ms);
    auto sent = s.line.delivered();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].text == "echo: once");
    CHECK(sent[1].text == "echo: twice?");
}

TEST_CASE("line: groups are answered only when the bot is mentioned, rooms too",
          "[integration][line]") {
    Setup s;
    FakeLine::Event chatter{.event_id = "01EV0000000000000000000005",
                            .source_type = "group",
                            .user_id = kUser,
                            .chat_id = kGroup,
                            .text = "just talking",
                            .reply_token = s.line.issue_token(kGroup)};
    // "@Bot " is 4 UTF-16 units of mention after an emoji of 2.
    FakeLine::Event mention{.event_id = "01EV0000000000000000000006",
                            .source_type = "group",
                            .user_id = kUser,
                            .chat_id = kGroup,
                            .text = "\xF0\x9F\x98\x80 @Bot what time is it",
                            .reply_token = s.line.issue_token(kGroup),
                            .self_mentions = {{3, 4}}};
    REQUIRE(
        s.line.post(s.url(), FakeLine::body({FakeLine::event(chatter), FakeLine::event(mention)}))
            .status == 200);
    REQUIRE(s.line.wait_delivered(1));
    FakeLine::Event room{.event_id = "01EV0000000000000000000007",
                         .source_type = "room",
                         .user_id = kUser,
                         .chat_id = "Ra8dbf4673c4c812cd491258042226c99",
                         .text = "@Bot hi room",
                         .reply_token = s.line.issue_token("Ra8dbf4673c4c812cd491258042226c99"),
                         .self_mentions = {{0, 4}}};
    REQUIRE(s.line.post(s.url(), FakeLine::body({FakeLine::event(room)})).status == 200);
    REQUIRE(s.line.wait_delivered(2));
    auto sent = s.line.delivered();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].chat == kGroup);
    CHECK(sent[0].via == "reply");
    CHECK(sent[0].text == "echo: \xF0\x9F\x98\x80 what time is it");
    CHECK(sent[1].chat == "Ra8dbf4673c4c812cd491258042226c99");
    CHECK(sent[1].text == "echo: hi room");
    // No loading animation outside 1:1 chats (LINE refuses it there).
    CHECK(s.line.api().count(RecordingServer::to("POST", "/v2/bot/chat/loading/start")) == 0);
}

TEST_CASE("line: a stale reply token falls back to push with a retry key", "[integration][line]") {
    Setup s;
    auto token = s.line.issue_token(kUser);
    s.line.expire(token);  // LINE answers "Invalid reply token"
    REQUIRE(s.line
                .post(s.url(), FakeLine::body({FakeLine::event(
                                   dm("01EV0000000000000000000008", "late", token))}))
                .status == 200);
    REQUIRE(s.line.wait_delivered(1));
    auto sent = s.line.delivered().at(0);
    CHECK(sent.via == "push");
    CHECK(sent.chat == kUser);
    CHECK(sent.text == "echo: late");
    CHECK(is_uuid(sent.retry_key));
    REQUIRE(s.line.api().wait_for(1, RecordingServer::to("POST", "/v2/bot/message/reply")));
    CHECK(s.line.api().count(RecordingServer::to("POST", "/v2/bot/message/reply")) == 1);
}

TEST_CASE("line: a redelivery without a token, or more than 5 parts, go by push",
          "[integration][line]") {
    Setup s;
    SECTION("no token") {
        auto event = dm("01EV0000000000000000000009", "from the queue", "");
        event.redelivery = true;  // LINE's redelivery: first seen here, no usable token
        REQUIRE(s.line.post(s.url(), FakeLine::body({FakeLine::event(event)})).status == 200);
        REQUIRE(s.line.wait_delivered(1));
        CHECK(s.line.delivered().at(0).via == "push");
        CHECK(s.line.api().count(RecordingServer::to("POST", "/v2/bot/message/reply")) == 0);
    }
    SECTION("six parts: two pushes of 5 and 1, each with its own key") {
        std::string paragraph(4900, 'a');
        std::string reply = paragraph;
        for (int i = 1; i < 6; ++i) reply += "\n\n" + paragraph;
        s.llm.reply_with([&](const json&) { return reply; });
        auto token = s.line.issue_token(kUser);
        REQUIRE(s.line
                    .post(s.url(), FakeLine::body({FakeLine::event(
                                       dm("01EV0000000000000000000010", "a lot", token))}))
                    .status == 200);
        REQUIRE(s.line.wait_delivered(6, 20s));
        auto sent = s.line.delivered();
        REQUIRE(sent.size() == 6);
        std::size_t total = 0;
        for (const auto& one : sent) {
            CHECK(one.via == "push");
            total += std::count(one.text.begin(), one.text.end(), 'a');
        }
        CHECK(total == 6 * 4900);
        REQUIRE(s.line.api().wait_for(2, RecordingServer::to("POST", "/v2/bot/message/push")));
        auto pushes = s.line.api().requests(RecordingServer::to("POST", "/v2/bot/message/push"));
        REQUIRE(pushes.size() == 2);
        CHECK(pushes[0].json["messages"].size() == 5);
        CHECK(pushes[1].json["messages"].size() == 1);
        CHECK(pushes[0].header("X-Line-Retry-Key") != pushes[1].header("X-Line-Retry-Key"));
        CHECK(s.line.api().count(RecordingServer::to("POST", "/v2/bot/message/reply")) == 0);
    }
}

TEST_CASE("line: a push whose answer was lost is retried with its key and sent once",
          "[integration][line]") {
    Setup s;
    s.line.lose_next_push_answer();
    REQUIRE(
        s.line
            .post(s.url(),
                  FakeLine::body({FakeLine::event(dm("01EV0000000000000000000011", "lost?", ""))}))
            .status == 200);
    auto pushes = RecordingServer::to("POST", "/v2/bot/message/push");
    REQUIRE(s.line.api().wait_for(2, pushes, 20s));
    auto calls = s.line.api().requests(pushes);
    CHECK(calls[0].header("X-Line-Retry-Key") == calls[1].header("X-Line-Retry-Key"));
    CHECK(calls[1].status == 409);
    std::this_thread::sleep_for(300ms);
    CHECK(s.line.delivered().size() == 1);
    CHECK(s.line.api().count(pushes) == 2);  // 409 counts as sent: no third try
}

TEST_CASE("line: a 429 is waited out as Retry-After says", "[integration][line]") {
    Setup s;
    s.line.api().fail_next("POST", "/v2/bot/message/reply", Reply::too_many_requests(1));
    auto started = std::chrono::steady_clock::now();
    REQUIRE(
        s.line
            .post(s.url(), FakeLine::body({FakeLine::event(dm("01EV0000000000000000000012", "busy?",
                                                              s.line.issue_token(kUser)))}))
            .status == 200);
    REQUIRE(s.line.wait_delivered(1, 20s));
    CHECK(std::chrono::steady_clock::now() - started >= 1s);
    CHECK(s.line.delivered().at(0).text == "echo: busy?");
    // A refused call did not spend the token: the retry still replies with it.
    CHECK(s.line.delivered().at(0).via == "reply");
    CHECK(s.line.api().wait_for(2, RecordingServer::to("POST", "/v2/bot/message/reply")));
}

TEST_CASE("line: a refused access token is not retried and the log says what to do",
          "[integration][line]") {
    Setup s;
    s.line.api().fail_next("POST", "/v2/bot/message/push",
                           Reply::json({{"message", "Authentication failed."}}, 401));
    REQUIRE(s.line
                .post(s.url(),
                      FakeLine::body({FakeLine::event(dm("01EV0000000000000000000013", "hi", ""))}))
                .status == 200);
    auto pushes = RecordingServer::to("POST", "/v2/bot/message/push");
    REQUIRE(s.line.api().wait_for(1, pushes));
    REQUIRE(eventually([&] {
        return s.bot->log_text().find("long-lived channel access token") != std::string::npos;
    }));
    std::this_thread::sleep_for(1500ms);
    CHECK(s.line.api().count(pushes) == 1);
    CHECK(s.line.delivered().empty());
}

TEST_CASE("line: a reply not yet pushed at a restart is pushed after it, with the same key",
          "[integration][line]") {
    Setup s;
    auto pushes = RecordingServer::to("POST", "/v2/bot/message/push");
    s.line.api().fail_next("POST", "/v2/bot/message/push", Reply::status_only(503), 3);
    REQUIRE(s.line
                .post(s.url(), FakeLine::body({FakeLine::event(
                                   dm("01EV0000000000000000000014", "survive", ""))}))
                .status == 200);
    REQUIRE(s.line.api().wait_for(1, pushes));
    s.restart();  // the reply token (none here) is gone; the outbox's part is not
    REQUIRE(s.line.wait_delivered(1, 30s));
    REQUIRE(s.line.api().wait_for(4, pushes));
    auto calls = s.line.api().requests(pushes);
    for (const auto& call : calls)
        CHECK(call.header("X-Line-Retry-Key") == calls[0].header("X-Line-Retry-Key"));
    std::this_thread::sleep_for(300ms);
    auto sent = s.line.delivered();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].text == "echo: survive");
    CHECK(sent[0].via == "push");
}
