// The slack adapter through the real server, against FakeSlack and FakeLlm: Socket Mode (the
// connection with its acknowledgements, a refresh that opens the next connection before the
// old one closes) and the Events API (signed requests, url_verification, retries), DMs and
// mentions answered in their thread, the bot's own messages ignored, rate limits, long replies
// split and replies streamed by chat.update.
#include "fakes/fake_slack.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kBotToken = "xoxb-1111-2222-botsecretvalue";
constexpr const char* kAppToken = "xapp-1-A0001-3333-appsecretvalue";
constexpr const char* kSigningSecret = "8f742231b10e8888abcd99yyyzzz85a5";
constexpr const char* kUser = "U0USER42";
constexpr const char* kChannel = "C0GENERAL";

struct Setup {
    explicit Setup(json extra = json::object(), BotOptions options = {})
        : slack(kBotToken, kAppToken, kSigningSecret) {
        json section{{"type", "slack"},        {"bot_token", kBotToken},
                     {"app_token", kAppToken}, {"signing_secret", kSigningSecret},
                     {"streaming", "off"},     {"api_base", slack.api_base()}};
        section.update(extra);
        options.adapters["sl"] = section;
        this->options = options;
        bot = std::make_unique<TestBot>(llm, dir.path(), options);
    }
    void restart() {
        bot.reset();
        bot = std::make_unique<TestBot>(llm, dir.path(), options);
    }

    std::string events_url() const { return bot->url("/slack/sl"); }

    FakeLlm llm;
    FakeSlack slack;
    TempDir dir;
    BotOptions options;
    std::unique_ptr<TestBot> bot;
};

std::vector<std::string> texts(const std::vector<FakeSlack::Message>& messages) {
    std::vector<std::string> out;
    for (const auto& m : messages) out.push_back(m.text);
    return out;
}

}  // namespace

TEST_CASE("slack socket: a DM is stored, acknowledged and answered in the conversation",
          "[integration][slack]") {
    Setup s;
    REQUIRE(s.slack.wait_connections(1));
    auto envelope = s.slack.push(FakeSlack::dm(kUser, "1700000100.000100", "hello &lt;there&gt;"));
    REQUIRE(s.slack.wait_ack(envelope));
    REQUIRE(s.slack.wait_messages(1));
    auto sent = s.slack.messages().at(0);
    CHECK(sent.channel == std::string("D") + kUser);
    CHECK(sent.text == "echo: hello &lt;there&gt;");  // read as "<there>", mrkdwn-escaped back
    CHECK(sent.thread_ts.empty());                    // a DM is answered in the conversation
    CHECK(sent.mrkdwn);
    // The Web API saw each token where it belongs.
    auto opens = s.slack.api().requests(RecordingServer::to("POST", "/api/apps.connections.open"));
    REQUIRE(opens.size() == 1);
    CHECK(opens[0].header("Authorization") == std::string("Bearer ") + kAppToken);
    CHECK(s.slack.api().count(RecordingServer::to("POST", "/api/auth.test")) == 1);
    CHECK(s.slack.refused_upgrades() == 0);
    // Nothing secret or said reached the log (the socket URL carries a ticket).
    auto log = s.bot->log_text();
    CHECK(log.find(kBotToken) == std::string::npos);
    CHECK(log.find(kAppToken) == std::string::npos);
    CHECK(log.find("tkt-1-secret") == std::string::npos);
    CHECK(log.find("there") == std::string::npos);
}

TEST_CASE("slack socket: a mention in a channel is answered in its thread, the mention removed",
          "[integration][slack]") {
    Setup s;
    REQUIRE(s.slack.wait_connections(1));
    SECTION("a top-level message starts a thread") {
        s.slack.push(FakeSlack::mention(kChannel, kUser, "1700000200.000100", "what time is it"));
        REQUIRE(s.slack.wait_messages(1));
        auto sent = s.slack.messages().at(0);
        CHECK(sent.channel == kChannel);
        CHECK(sent.thread_ts == "1700000200.000100");
        CHECK(sent.text == "echo: what time is it");
    }
    SECTION("a message inside a thread is answered in that thread") {
        s.slack.push(FakeSlack::mention(kChannel, kUser, "1700000300.000200", "and now?",
                                        "1700000300.000100"));
        REQUIRE(s.slack.wait_messages(1));
        CHECK(s.slack.messages().at(0).thread_ts == "1700000300.000100");
        CHECK(s.slack.messages().at(0).text == "echo: and now?");
    }
}

TEST_CASE("slack socket: bots, edits, plain channel messages and doubles are not answered twice",
          "[integration][slack]") {
    Setup s;
    REQUIRE(s.slack.wait_connections(1));
    std::vector<std::string> envelopes;
    envelopes.reserve(8);  // (g++ 12 warns falsely about push_back's growth here)
    // The bot's own message in a DM (message.im delivers it too), another bot, an edit.
    auto own = FakeSlack::dm(FakeSlack::kBotUser, "1700000400.000100", "echo: earlier");
    own["bot_id"] = FakeSlack::kBotId;
    envelopes.push_back(s.slack.push(own));
    auto other_bot = FakeSlack::dm("U0OTHERBOT", "1700000400.000200", "beep");
    other_bot["bot_id"] = "B0OTHER";
    other_bot["subtype"] = "bot_message";
    envelopes.push_back(s.slack.push(other_bot));
    auto edit = FakeSlack::dm(kUser, "1700000400.000300", "changed");
    edit["subtype"] = "message_changed";
    envelopes.push_back(s.slack.push(edit));
    // A channel message without a mention (message.channels).
    auto plain = FakeSlack::dm(kUser, "1700000400.000400", "just chatting");
    plain["channel"] = kChannel;
    plain["channel_type"] = "channel";
    envelopes.push_back(s.slack.push(plain));
    // One mention arriving as app_mention and as message.channels, and Slack's retry of it.
    auto mention = FakeSlack::mention(kChannel, kUser, "1700000400.000500", "once please");
    auto as_message = mention;
    as_message["type"] = "message";
    as_message["channel_type"] = "channel";
    envelopes.push_back(s.slack.push(mention, "Ev-mention"));
    envelopes.push_back(s.slack.push(as_message, "Ev-message"));
    envelopes.push_back(s.slack.push(mention, "Ev-mention"));
    // Envelopes the adapter does not use are acknowledged too.
    s.slack.push_text(R"({"envelope_id":"env-slash","type":"slash_commands","payload":{}})");
    s.slack.push_text("not json");
    for (const auto& envelope : envelopes) REQUIRE(s.slack.wait_ack(envelope));
    REQUIRE(s.slack.wait_ack("env-slash"));
    REQUIRE(s.slack.wait_messages(1));
    std::this_thread::sleep_for(300ms);
    CHECK(texts(s.slack.messages()) == std::vector<std::string>{"echo: once please"});
    CHECK(s.llm.request_count() == 1);
    CHECK(s.slack.connections() == 1);
}

TEST_CASE("slack socket: a refresh opens the next connection before the old one closes",
          "[integration][slack]") {
    Setup s;
    REQUIRE(s.slack.wait_connections(1));
    auto started = std::chrono::steady_clock::now();
    s.slack.disconnect("refresh_requested", 8s);
    // Sent on the old connection after the notice: still stored, acknowledged and answered.
    auto late = s.slack.push(FakeSlack::dm(kUser, "1700000500.000100", "late one"));
    REQUIRE(s.slack.wait_connections(2));
    CHECK_FALSE(s.slack.closed(0));  // the new one opened while the old one was up
    CHECK(s.slack.api().count(RecordingServer::to("POST", "/api/apps.connections.open")) == 2);
    REQUIRE(s.slack.wait_ack(late));
    // The bot closes the old connection itself once the new one is open.
    REQUIRE(eventually([&] { return s.slack.closed(0); }, 5s));
    CHECK(std::chrono::steady_clock::now() - started < 6s);
    CHECK_FALSE(s.slack.closed(1));
    s.slack.push(FakeSlack::dm(kUser, "1700000500.000200", "next one"));
    REQUIRE(s.slack.wait_messages(2));
    CHECK(texts(s.slack.messages()) ==
          std::vector<std::string>{"echo: late one", "echo: next one"});
    CHECK(s.slack.refused_upgrades() == 0);
    CHECK(s.slack.connections() == 2);
}

TEST_CASE("slack socket: a wrong app token is logged with the fix and not retried fast",
          "[integration][slack]") {
    Setup s(json{{"app_token", "xapp-1-wrong-token-value"}});
    auto opens = RecordingServer::to("POST", "/api/apps.connections.open");
    REQUIRE(s.slack.api().wait_for(1, opens));
    REQUIRE(eventually(
        [&] { return s.bot->log_text().find("connections:write") != std::string::npos; }));
    std::this_thread::sleep_for(1500ms);
    CHECK(s.slack.api().count(opens) == 1);  // waiting, not spinning
    CHECK(s.slack.connections() == 0);
    CHECK(s.bot->log_text().find("xapp-1-wrong-token-value") == std::string::npos);
}

TEST_CASE("slack events: signed requests answered, forged and stale ones refused",
          "[integration][slack]") {
    Setup s(json{{"mode", "events"}});
    const auto url = s.events_url();
    auto body =
        FakeSlack::callback(FakeSlack::dm(kUser, "1700000600.000100", "over http"), "Ev0600")
            .dump();

    SECTION("forged, stale and unsigned: 401, nothing stored") {
        auto stamp = std::to_string(FakeSlack::now_s());
        auto forged = http_request("POST", url, body,
                                   {"X-Slack-Request-Timestamp: " + stamp,
                                    "X-Slack-Signature: " + FakeSlack::sign("wrong", stamp, body)});
        CHECK(forged.status == 401);
        // Signed right, but six minutes old (a replay).
        CHECK(s.slack.post(url, body, FakeSlack::now_s() - 360).status == 401);
        CHECK(http_request("POST", url, body, {"Content-Type: application/json"}).status == 401);
        std::this_thread::sleep_for(300ms);
        CHECK(s.llm.request_count() == 0);
        CHECK(s.slack.messages().empty());
        CHECK(s.bot->log_text().find("over http") == std::string::npos);
    }
    SECTION("url_verification is answered with the challenge") {
        // The official example (vectors.json "url_verification handshake").
        std::string challenge = R"({
    "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
    "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    "type": "url_verification"
})";
        auto answer = s.slack.post(url, challenge);
        CHECK(answer.status == 200);
        CHECK(
            json::parse(answer.body) ==
            json::parse(R"({"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})"));
        // Unsigned, it is refused like any request.
        CHECK(http_request("POST", url, challenge, {}).status == 401);
    }
    SECTION("a DM and its retry (X-Slack-Retry-Num) are answered once") {
        CHECK(s.slack.post(url, body).status == 200);
        CHECK(s.slack.post(url, body, 0, 1).status == 200);
        auto mention = FakeSlack::callback(
            FakeSlack::mention(kChannel, kUser, "1700000600.000200", "in channel"), "Ev0601");
        CHECK(s.slack.post(url, mention.dump()).status == 200);
        REQUIRE(s.slack.wait_messages(2));
        std::this_thread::sleep_for(300ms);
        auto sent = s.slack.messages();
        REQUIRE(sent.size() == 2);
        CHECK(s.llm.request_count() == 2);
        for (const auto& one : sent) {
            if (one.channel == kChannel) {
                CHECK(one.text == "echo: in channel");
                CHECK(one.thread_ts == "1700000600.000200");
            } else {
                CHECK(one.text == "echo: over http");
            }
        }
        // Signed but unreadable, or an event the bot does not use: acknowledged and skipped.
        CHECK(s.slack.post(url, R"({"type":"event_callback","event":7})").status == 200);
        CHECK(s.slack.post(url, "not json").status == 200);
        CHECK(s.slack.connections() == 0);  // events mode dials nothing
    }
}

TEST_CASE("slack: a 429 is waited out as Retry-After says", "[integration][slack]") {
    Setup s;
    REQUIRE(s.slack.wait_connections(1));
    s.slack.api().fail_next("POST", "/api/chat.postMessage", Reply::too_many_requests(1));
    auto started = std::chrono::steady_clock::now();
    s.slack.push(FakeSlack::dm(kUser, "1700000700.000100", "busy?"));
    REQUIRE(s.slack.wait_messages(1, 20s));
    CHECK(std::chrono::steady_clock::now() - started >= 1s);
    auto posts = RecordingServer::to("POST", "/api/chat.postMessage");
    REQUIRE(s.slack.api().wait_for(2, posts));
    CHECK(s.slack.api().count(posts) == 2);
    CHECK(s.slack.messages().at(0).text == "echo: busy?");
}

TEST_CASE("slack: a channel the app is not in is not retried, and the log says what to do",
          "[integration][slack]") {
    Setup s;
    REQUIRE(s.slack.wait_connections(1));
    s.slack.api().fail_next("POST", "/api/chat.postMessage",
                            Reply::json({{"ok", false}, {"error", "not_in_channel"}}));
    s.slack.push(FakeSlack::mention(kChannel, kUser, "1700000800.000100", "hello?"));
    auto posts = RecordingServer::to("POST", "/api/chat.postMessage");
    REQUIRE(s.slack.api().wait_for(1, posts));
    REQUIRE(eventually([&] { return s.bot->log_text().find("/invite") != std::string::npos; }));
    std::this_thread::sleep_for(1500ms);
    CHECK(s.slack.api().count(posts) == 1);
    CHECK(s.slack.messages().empty());
}

TEST_CASE("slack: a long reply is split into parts in the same thread", "[integration][slack]") {
    Setup s;
    REQUIRE(s.slack.wait_connections(1));
    std::string paragraph(3000, 'a');
    s.llm.reply_with(
        [&](const json&) { return paragraph + "\n\n" + paragraph + "\n\n" + paragraph; });
    s.slack.push(FakeSlack::mention(kChannel, kUser, "1700000900.000100", "tell me a lot"));
    REQUIRE(s.slack.wait_messages(3));
    auto sent = s.slack.messages();
    std::size_t total = 0;
    for (const auto& one : sent) {
        CHECK(one.text.size() <= 3900);
        CHECK(one.thread_ts == "1700000900.000100");
        total += std::count(one.text.begin(), one.text.end(), 'a');
    }
    CHECK(total == 9000);
}

TEST_CASE("slack: a streamed reply grows by chat.update and ends with the full text",
          "[integration][slack]") {
    Setup s(json{{"streaming", "update"}, {"stream_interval_ms", 500}});
    std::string full = std::string(300, 'y') + " done";
    s.llm.reply_with([&](const json&) { return full; });
    s.llm.reply_delay(2500ms);
    REQUIRE(s.slack.wait_connections(1));
    s.slack.push(FakeSlack::mention(kChannel, kUser, "1700001000.000100", "stream"));
    REQUIRE(eventually([&] {
        auto sent = s.slack.messages();
        return sent.size() == 1 && sent[0].text == full;
    }));
    std::this_thread::sleep_for(700ms);
    auto sent = s.slack.messages();
    REQUIRE(sent.size() == 1);  // the preview, updated into the final text
    CHECK(sent[0].text == full);
    CHECK(sent[0].thread_ts == "1700001000.000100");
    CHECK(sent[0].updates >= 2);  // at least one growing update, then the final text
    // The first post was the unfinished preview.
    auto posts = s.slack.api().requests(RecordingServer::to("POST", "/api/chat.postMessage"));
    REQUIRE(posts.size() == 1);
    CHECK(posts[0].json["text"].get<std::string>().ends_with(" …"));
    // The last call wrote the final text.
    auto updates = s.slack.api().requests(RecordingServer::to("POST", "/api/chat.update"));
    REQUIRE_FALSE(updates.empty());
    CHECK(updates.back().json["text"] == full);
}

TEST_CASE("slack socket: too_many_websockets closes this connection and reconnects later",
          "[integration][slack]") {
    Setup s;
    REQUIRE(s.slack.wait_connections(1));
    s.slack.disconnect("too_many_websockets", 30s);
    // No second connection while the first is up: the bot closes it first.
    REQUIRE(eventually([&] { return s.slack.closed(0); }, 5s));
    CHECK(s.slack.connections() == 1);
    REQUIRE(s.slack.wait_connections(2, 10s));  // after ReconnectLoop's backoff
    CHECK(s.bot->log_text().find("too_many_websockets") != std::string::npos);
    s.slack.push(FakeSlack::dm(kUser, "1700001100.000100", "still here"));
    REQUIRE(s.slack.wait_messages(1));
}

TEST_CASE("slack: markdown answers arrive as mrkdwn", "[integration][slack]") {
    Setup s;
    s.llm.reply_with([](const json&) {
        return std::string(
            "## Plan\n**bold**, _it_, ~~gone~~ and [the docs](https://x.example/a)\n- one");
    });
    REQUIRE(s.slack.wait_connections(1));
    s.slack.push(FakeSlack::dm(kUser, "1700001200.000100", "format?"));
    REQUIRE(s.slack.wait_messages(1));
    CHECK(s.slack.messages().at(0).text ==
          "*Plan*\n\n*bold*, _it_, ~gone~ and <https://x.example/a|the docs>\n\n• one");
}

TEST_CASE("slack: a reply undelivered at shutdown goes out after the restart, in its thread",
          "[integration][slack]") {
    Setup s(json::object(), BotOptions{.shutdown_grace_s = 1});
    REQUIRE(s.slack.wait_connections(1));
    s.slack.api().fail_next("POST", "/api/chat.postMessage", Reply::status_only(503), 3);
    s.slack.push(
        FakeSlack::mention(kChannel, kUser, "1700001300.000200", "survive", "1700001300.000100"));
    auto posts = RecordingServer::to("POST", "/api/chat.postMessage");
    REQUIRE(s.slack.api().wait_for(1, posts));
    CHECK(s.slack.messages().empty());
    s.restart();
    REQUIRE(s.slack.wait_messages(1, 20s));
    auto sent = s.slack.messages();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].text == "echo: survive");
    CHECK(sent[0].channel == kChannel);
    CHECK(sent[0].thread_ts == "1700001300.000100");
    CHECK(s.llm.request_count() == 1);
}

TEST_CASE("slack: a final update that fails is retried on the same message",
          "[integration][slack]") {
    // One preview (posted at the first delta after 500 ms), no growing update before the reply
    // is done at ~900 ms: the scripted 503 meets the final chat.update (or, on a slow machine,
    // a preview update, which then stops the previews): either way one message, final text.
    Setup s(json{{"streaming", "update"}, {"stream_interval_ms", 500}});
    std::string full = std::string(400, 'z') + " end";
    s.llm.reply_with([&](const json&) { return full; });
    s.llm.reply_delay(900ms);
    s.slack.api().fail_next("POST", "/api/chat.update", Reply::status_only(503));
    REQUIRE(s.slack.wait_connections(1));
    s.slack.push(FakeSlack::dm(kUser, "1700001400.000100", "retry the end"));
    REQUIRE(eventually(
        [&] {
            auto sent = s.slack.messages();
            return sent.size() == 1 && sent[0].text == full;
        },
        15s));
    std::this_thread::sleep_for(500ms);
    CHECK(s.slack.messages().size() == 1);
    CHECK(s.slack.api().count(RecordingServer::to("POST", "/api/chat.postMessage")) == 1);
    CHECK(s.slack.api().count(RecordingServer::to("POST", "/api/chat.update")) >= 2);
}

TEST_CASE("slack: a wrong bot token is logged with the fix", "[integration][slack]") {
    Setup s(json{{"bot_token", "xoxb-wrong-token-value"}});
    REQUIRE(
        eventually([&] { return s.bot->log_text().find("check bot_token") != std::string::npos; }));
    CHECK(s.slack.connections() == 0);  // no socket without knowing who the bot is
    CHECK(s.bot->log_text().find("xoxb-wrong-token-value") == std::string::npos);
}
