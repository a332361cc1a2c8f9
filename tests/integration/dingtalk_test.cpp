// The dingtalk adapter through the real server, against FakeDingtalk and FakeLlm: Stream mode
// (registration, the long connection with ACKs and pings, a server-initiated disconnect, a dead
// socket) and HTTP mode (signed pushes), replies through the session webhook and, once it is
// gone, through the robot OpenAPI with one cached token.
#include "fakes/fake_dingtalk.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <future>
#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kClientId = "dingappkey01";
constexpr const char* kSecret = "dt-app-secret-0123456789abcdef";
constexpr const char* kStaff = "manager4500";
constexpr const char* kGroup = "cidGroup42==";

struct Setup {
    explicit Setup(json extra = json::object(), BotOptions options = {})
        : dingtalk(kClientId, kSecret) {
        json section{{"type", "dingtalk"},
                     {"client_id", kClientId},
                     {"client_secret", kSecret},
                     {"api_base", dingtalk.api_base()},
                     {"webhook_base", dingtalk.api_base()}};
        section.update(extra);
        options.adapters["dt"] = section;
        this->options = options;
        bot = std::make_unique<TestBot>(llm, dir.path(), options);
    }
    void restart() {
        bot.reset();
        bot = std::make_unique<TestBot>(llm, dir.path(), options);
    }

    FakeLlm llm;
    FakeDingtalk dingtalk;
    TempDir dir;
    BotOptions options;
    std::unique_ptr<TestBot> bot;
};

std::int64_t past() {
    return FakeDingtalk::now_ms() - 1000;
}

}  // namespace

TEST_CASE("dingtalk stream: a 1:1 message is stored, ACKed and answered through the webhook",
          "[integration][dingtalk]") {
    Setup s;
    REQUIRE(s.dingtalk.wait_connections(1));
    auto id = s.dingtalk.push(s.dingtalk.private_message(kStaff, "m-1", "hello there"));
    REQUIRE(s.dingtalk.wait_ack(id));
    auto ack = s.dingtalk.ack(id);
    CHECK(ack["code"] == 200);
    CHECK(ack["headers"]["contentType"] == "application/json");
    CHECK(ack["data"] == R"({"response":null})");
    REQUIRE(s.dingtalk.wait_sent(1));
    auto sent = s.dingtalk.sent().at(0);
    CHECK(sent.via == "webhook");
    CHECK(sent.target == "s-cid-1on1-manager4500");
    CHECK(sent.type == "text");
    CHECK(sent.text == "echo: hello there");
    CHECK(sent.at_users.empty());            // no @ in a 1:1 chat
    CHECK(s.dingtalk.token_fetches() == 0);  // the webhook needs no token

    // The registration asked for JSON, subscribed to the robot topic only, and the ticket was
    // used once.
    auto opens =
        s.dingtalk.api().requests(RecordingServer::to("POST", "/v1.0/gateway/connections/open"));
    REQUIRE(opens.size() == 1);
    CHECK(opens[0].json["subscriptions"].size() == 1);
    CHECK(s.dingtalk.refused_upgrades() == 0);
    // Nothing secret or said reached the log.
    auto log = s.bot->log_text();
    CHECK(log.find(kSecret) == std::string::npos);
    CHECK(log.find("tkt-1") == std::string::npos);
    CHECK(log.find("hello there") == std::string::npos);
}

TEST_CASE("dingtalk stream: a group message is answered with an @ of the sender",
          "[integration][dingtalk]") {
    Setup s;
    REQUIRE(s.dingtalk.wait_connections(1));
    s.dingtalk.push(s.dingtalk.group_message(kGroup, "user0042", "g-1", "what time is it"));
    REQUIRE(s.dingtalk.wait_sent(1));
    auto sent = s.dingtalk.sent().at(0);
    CHECK(sent.via == "webhook");
    CHECK(sent.target == std::string("s-") + kGroup);
    CHECK(sent.text == "@user0042 echo: what time is it");
    CHECK(sent.at_users == std::vector<std::string>{"user0042"});
}

TEST_CASE("dingtalk stream: a message delivered twice is answered once; pings are echoed",
          "[integration][dingtalk]") {
    Setup s;
    REQUIRE(s.dingtalk.wait_connections(1));
    auto message = s.dingtalk.private_message(kStaff, "m-dup", "once");
    auto first = s.dingtalk.push(message);
    auto second = s.dingtalk.push(message);
    REQUIRE(s.dingtalk.wait_ack(first));
    REQUIRE(s.dingtalk.wait_ack(second));  // both acknowledged
    REQUIRE(s.dingtalk.wait_sent(1));

    auto ping = s.dingtalk.ping();
    REQUIRE(s.dingtalk.wait_ack(ping));
    auto echo = s.dingtalk.ack(ping);
    CHECK(echo["code"] == 200);
    CHECK(json::parse(echo["data"].get<std::string>()).contains("opaque"));

    // Frames the adapter cannot use are skipped (and ACKed when they have an id).
    s.dingtalk.push_text("not json");
    s.dingtalk.push_text(
        R"({"type":"EVENT","headers":{"messageId":"ev-1","topic":"*"},"data":"{}"})");
    REQUIRE(s.dingtalk.wait_ack("ev-1"));
    CHECK(json::parse(s.dingtalk.ack("ev-1")["data"].get<std::string>())["status"] == "SUCCESS");
    auto broken = s.dingtalk.push(json{{"msgId", 5}});
    REQUIRE(s.dingtalk.wait_ack(broken));
    std::this_thread::sleep_for(200ms);
    CHECK(s.dingtalk.sent().size() == 1);
    CHECK(s.llm.request_count() == 1);
    CHECK(s.dingtalk.connections() == 1);  // still the same connection
}

TEST_CASE("dingtalk stream: a disconnect opens the next connection before the old one closes",
          "[integration][dingtalk]") {
    Setup s;
    REQUIRE(s.dingtalk.wait_connections(1));
    auto started = std::chrono::steady_clock::now();
    s.dingtalk.disconnect(8s);  // DingTalk closes ~10 s later
    // Pushed on the old connection after the disconnect notice: still stored and answered.
    auto late = s.dingtalk.push(s.dingtalk.private_message(kStaff, "m-late", "late one"));
    REQUIRE(s.dingtalk.wait_connections(2));
    CHECK_FALSE(s.dingtalk.closed(0));       // the new one opened while the old one was up
    CHECK(s.dingtalk.registrations() == 2);  // a fresh ticket
    // The bot closes the old connection itself once the new one is open, long before the
    // server would.
    REQUIRE(eventually([&] { return s.dingtalk.closed(0); }, 5s));
    CHECK(std::chrono::steady_clock::now() - started < 6s);
    CHECK_FALSE(s.dingtalk.closed(1));
    REQUIRE(s.dingtalk.wait_ack(late));
    // The new connection carries the next message.
    s.dingtalk.push(s.dingtalk.private_message(kStaff, "m-next", "next one"));
    REQUIRE(s.dingtalk.wait_sent(2));
    std::vector<std::string> texts;
    for (const auto& sent : s.dingtalk.sent()) texts.push_back(sent.text);
    CHECK(texts == std::vector<std::string>{"echo: late one", "echo: next one"});
    CHECK(s.dingtalk.refused_upgrades() == 0);
    CHECK(s.dingtalk.connections() == 2);
}

TEST_CASE("dingtalk stream: a dead socket is detected and replaced", "[integration][dingtalk]") {
    Setup s(json{{"ping_interval_s", 1}});
    REQUIRE(s.dingtalk.wait_connections(1));
    s.dingtalk.freeze();  // no pongs, nothing read
    REQUIRE(s.dingtalk.wait_connections(2, 10s));
    CHECK(s.dingtalk.registrations() == 2);
    s.dingtalk.push(s.dingtalk.private_message(kStaff, "m-after", "after"));
    REQUIRE(s.dingtalk.wait_sent(1));
}

TEST_CASE("dingtalk stream: refused credentials are logged with the fix and not retried fast",
          "[integration][dingtalk]") {
    FakeLlm llm;
    TempDir dir;
    FakeDingtalk dingtalk(kClientId, kSecret);
    BotOptions options;
    options.adapters["dt"] = json{{"type", "dingtalk"},
                                  {"client_id", kClientId},
                                  {"client_secret", "wrong-secret-value"},
                                  {"api_base", dingtalk.api_base()}};
    TestBot bot(llm, dir.path(), options);
    auto opens = RecordingServer::to("POST", "/v1.0/gateway/connections/open");
    REQUIRE(dingtalk.api().wait_for(1, opens));
    std::this_thread::sleep_for(1500ms);
    CHECK(dingtalk.api().count(opens) == 1);  // waiting, not spinning
    CHECK(dingtalk.connections() == 0);
    REQUIRE(
        eventually([&] { return bot.log_text().find("check client_id") != std::string::npos; }));
    CHECK(bot.log_text().find("wrong-secret-value") == std::string::npos);
}

TEST_CASE("dingtalk: an expired session webhook gives way to the robot OpenAPI",
          "[integration][dingtalk]") {
    Setup s;
    REQUIRE(s.dingtalk.wait_connections(1));

    SECTION("expired by its time: 1:1 through batchSend") {
        s.dingtalk.push(s.dingtalk.private_message(kStaff, "m-old", "late reply", past()));
        REQUIRE(s.dingtalk.wait_sent(1));
        auto sent = s.dingtalk.sent().at(0);
        CHECK(sent.via == "batchSend");
        CHECK(sent.target == kStaff);
        CHECK(sent.text == "echo: late reply");
        CHECK(s.dingtalk.api().count(RecordingServer::to("POST", "/robot/sendBySession")) == 0);
    }
    SECTION("refused by DingTalk (errcode 300001): the same send goes on through the API") {
        s.dingtalk.expire_webhook(kGroup);
        s.dingtalk.push(s.dingtalk.group_message(kGroup, "user0042", "g-gone", "still there?"));
        REQUIRE(s.dingtalk.wait_sent(1));
        auto sent = s.dingtalk.sent().at(0);
        CHECK(sent.via == "groupSend");
        CHECK(sent.target == kGroup);
        CHECK(sent.text == "echo: still there?");
        CHECK(s.dingtalk.api().count(RecordingServer::to("POST", "/robot/sendBySession")) == 1);
        // The dead webhook is not tried again.
        s.dingtalk.push(s.dingtalk.group_message(kGroup, "user0042", "g-2", "again", past()));
        REQUIRE(s.dingtalk.wait_sent(2));
        CHECK(s.dingtalk.api().count(RecordingServer::to("POST", "/robot/sendBySession")) == 1);
    }
    SECTION("markdown replies use the markdown message type") {
        s.llm.reply_with([](const json&) { return std::string("## Weather\n- sunny\n- 20°C"); });
        s.dingtalk.push(s.dingtalk.private_message(kStaff, "m-md", "weather?", past()));
        s.dingtalk.push(s.dingtalk.private_message("other7", "m-md2", "weather?"));
        REQUIRE(s.dingtalk.wait_sent(2));
        for (const auto& sent : s.dingtalk.sent()) {
            CHECK(sent.type == "markdown");
            CHECK(sent.title == "Weather");
            CHECK(sent.text == "## Weather\n- sunny\n- 20°C");
        }
    }
}

TEST_CASE("dingtalk: five concurrent API sends fetch the token once; a revoked one is refetched",
          "[integration][dingtalk]") {
    Setup s;
    REQUIRE(s.dingtalk.wait_connections(1));
    s.dingtalk.token_delay(300ms);
    for (int i = 0; i < 5; ++i) {
        auto user = "staff" + std::to_string(i);
        s.dingtalk.push(s.dingtalk.private_message(user, "m-c" + std::to_string(i), "hi", past()));
    }
    REQUIRE(s.dingtalk.wait_sent(5));
    CHECK(s.dingtalk.token_fetches() == 1);
    for (const auto& sent : s.dingtalk.sent()) CHECK(sent.via == "batchSend");

    s.dingtalk.token_delay(0ms);
    s.dingtalk.expire_token();
    s.dingtalk.push(s.dingtalk.private_message(kStaff, "m-t", "after revoke", past()));
    REQUIRE(s.dingtalk.wait_sent(6));
    CHECK(s.dingtalk.token_fetches() == 2);
    auto headers_log = s.bot->log_text();
    CHECK(headers_log.find("tok-1-abcdef") == std::string::npos);
}

TEST_CASE("dingtalk: a reply undelivered at shutdown goes out after the restart",
          "[integration][dingtalk]") {
    Setup s(json::object(), BotOptions{.shutdown_grace_s = 1});
    REQUIRE(s.dingtalk.wait_connections(1));
    // The webhook does not answer once; the retries through the API fail too.
    s.dingtalk.api().fail_next("POST", "/robot/sendBySession", Reply::status_only(503));
    s.dingtalk.api().fail_next("POST", "/v1.0/robot/oToMessages/batchSend", Reply::status_only(503),
                               5);
    s.dingtalk.push(s.dingtalk.private_message(kStaff, "m-r", "survive"));
    REQUIRE(s.dingtalk.api().wait_for(
        1, RecordingServer::to("POST", "/v1.0/robot/oToMessages/batchSend")));
    CHECK(s.dingtalk.sent().empty());
    s.restart();
    // The new process knows the chat's webhook from the adapter's state.
    REQUIRE(s.dingtalk.wait_sent(1, 20s));
    auto sent = s.dingtalk.sent();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].text == "echo: survive");
    CHECK(sent[0].via == "webhook");
    CHECK(s.llm.request_count() == 1);
}

TEST_CASE("dingtalk http: signed pushes are answered, forged ones refused before storing",
          "[integration][dingtalk]") {
    Setup s(json{{"mode", "http"}});
    auto url = s.bot->url("/dingtalk/dt");
    auto body = s.dingtalk.private_message(kStaff, "h-1", "over http").dump();

    SECTION("forged, stale and unsigned: 401, nothing stored") {
        auto forged = http_request("POST", url, body,
                                   {"timestamp: " + std::to_string(FakeDingtalk::now_ms()),
                                    "sign: " + FakeDingtalk::sign("1", "wrong")});
        CHECK(forged.status == 401);
        auto stale = s.dingtalk.post(url, body, FakeDingtalk::now_ms() - 3'700'000);
        CHECK(stale.status == 401);
        auto unsigned_post = http_request("POST", url, body, {"Content-Type: application/json"});
        CHECK(unsigned_post.status == 401);
        std::this_thread::sleep_for(300ms);
        CHECK(s.llm.request_count() == 0);
        CHECK(s.dingtalk.sent().empty());
        CHECK(s.bot->log_text().find("over http") == std::string::npos);
    }
    SECTION("private and group exchanges; a redelivery answered once") {
        CHECK(s.dingtalk.post(url, body).status == 200);
        CHECK(s.dingtalk.post(url, body).status == 200);  // DingTalk retries
        auto group = s.dingtalk.group_message(kGroup, "user0042", "h-g", "group over http");
        CHECK(s.dingtalk.post(url, group.dump()).status == 200);
        REQUIRE(s.dingtalk.wait_sent(2));
        std::this_thread::sleep_for(300ms);
        auto sent = s.dingtalk.sent();
        REQUIRE(sent.size() == 2);
        CHECK(s.llm.request_count() == 2);
        for (const auto& one : sent) {
            CHECK(one.via == "webhook");
            if (one.target == std::string("s-") + kGroup)
                CHECK(one.text == "@user0042 echo: group over http");
            else
                CHECK(one.text == "echo: over http");
        }
        // An authentic push the adapter cannot read is acknowledged and skipped.
        CHECK(s.dingtalk.post(url, R"({"msgId":7})").status == 200);
        CHECK(s.dingtalk.registrations() == 0);  // HTTP mode dials nothing
    }
}

TEST_CASE("dingtalk: robot API errors are retried or given up as they should",
          "[integration][dingtalk]") {
    Setup s;
    REQUIRE(s.dingtalk.wait_connections(1));
    const auto batch = RecordingServer::to("POST", "/v1.0/robot/oToMessages/batchSend");

    SECTION("429 with Retry-After, then 5xx: retried until delivered") {
        s.dingtalk.api().fail_next("POST", "/v1.0/robot/oToMessages/batchSend",
                                   Reply::too_many_requests(1));
        s.dingtalk.api().fail_next("POST", "/v1.0/robot/oToMessages/batchSend",
                                   Reply::status_only(502));
        auto started = std::chrono::steady_clock::now();
        s.dingtalk.push(s.dingtalk.private_message(kStaff, "m-429", "busy?", past()));
        REQUIRE(s.dingtalk.wait_sent(1, 20s));
        CHECK(std::chrono::steady_clock::now() - started >= 1s);  // Retry-After honoured
        REQUIRE(s.dingtalk.api().wait_for(3, batch));             // (recorded once answered)
        CHECK(s.dingtalk.api().count(batch) == 3);
        CHECK(s.dingtalk.sent().at(0).text == "echo: busy?");
    }
    SECTION("403 (no permission): not retried, the operator told what to grant") {
        s.dingtalk.api().fail_next(
            "POST", "/v1.0/robot/oToMessages/batchSend",
            Reply::json({{"code", "Forbidden.AccessDenied.AccessTokenPermissionDenied"},
                         {"message", "没有调用该接口的权限"}},
                        403));
        s.dingtalk.push(s.dingtalk.private_message(kStaff, "m-403", "denied", past()));
        REQUIRE(s.dingtalk.api().wait_for(1, batch));
        REQUIRE(eventually(
            [&] { return s.bot->log_text().find("qyapi_robot_sendmsg") != std::string::npos; }));
        std::this_thread::sleep_for(1500ms);
        CHECK(s.dingtalk.api().count(batch) == 1);
        CHECK(s.dingtalk.sent().empty());
    }
}

TEST_CASE("dingtalk: a long reply is split, and only its first part @s the sender",
          "[integration][dingtalk]") {
    Setup s;
    REQUIRE(s.dingtalk.wait_connections(1));
    std::string paragraph(3000, 'a');
    s.llm.reply_with(
        [&](const json&) { return paragraph + "\n\n" + paragraph + "\n\n" + paragraph; });
    s.dingtalk.push(s.dingtalk.group_message(kGroup, "user0042", "g-long", "tell me a lot"));
    REQUIRE(s.dingtalk.wait_sent(3));
    auto sent = s.dingtalk.sent();
    REQUIRE(sent.size() >= 3);
    CHECK(sent[0].at_users == std::vector<std::string>{"user0042"});
    CHECK(sent[0].text.starts_with("@user0042 a"));
    for (std::size_t i = 1; i < sent.size(); ++i) {
        CHECK(sent[i].at_users.empty());
        CHECK(sent[i].text.front() == 'a');
    }
    std::size_t total = 0;
    for (const auto& one : sent) total += std::count(one.text.begin(), one.text.end(), 'a');
    CHECK(total == 9000);
}

TEST_CASE("dingtalk http: a session webhook outside webhook_base is never called",
          "[integration][dingtalk]") {
    Setup s(json{{"mode", "http"}});
    RecordingServer elsewhere;
    elsewhere.on("POST", "/*", json{{"errcode", 0}});
    auto message = s.dingtalk.private_message(kStaff, "h-evil", "reply elsewhere");
    message["sessionWebhook"] = elsewhere.base_url() + "/robot/sendBySession?session=x";
    CHECK(s.dingtalk.post(s.bot->url("/dingtalk/dt"), message.dump()).status == 200);
    REQUIRE(s.dingtalk.wait_sent(1));
    CHECK(s.dingtalk.sent().at(0).via == "batchSend");
    CHECK(elsewhere.requests().empty());
    CHECK(s.bot->log_text().find("outside") != std::string::npos);
}

TEST_CASE("dingtalk stream: a group sender without staff id is answered without an @",
          "[integration][dingtalk]") {
    Setup s;
    REQUIRE(s.dingtalk.wait_connections(1));
    auto message = s.dingtalk.group_message(kGroup, "ext9", "g-ext", "from outside");
    message.erase("senderStaffId");  // someone from another organisation
    s.dingtalk.push(message);
    REQUIRE(s.dingtalk.wait_sent(1));
    auto sent = s.dingtalk.sent().at(0);
    CHECK(sent.text == "echo: from outside");
    CHECK(sent.at_users.empty());
}

TEST_CASE("dingtalk http: an expired session webhook gives way to the robot OpenAPI",
          "[integration][dingtalk]") {
    Setup s(json{{"mode", "http"}});
    auto url = s.bot->url("/dingtalk/dt");
    auto group = s.dingtalk.group_message(kGroup, "user0042", "h-old", "late group", past());
    CHECK(s.dingtalk.post(url, group.dump()).status == 200);
    REQUIRE(s.dingtalk.wait_sent(1));
    auto sent = s.dingtalk.sent().at(0);
    CHECK(sent.via == "groupSend");
    CHECK(sent.target == kGroup);
    CHECK(sent.text == "echo: late group");
    CHECK(s.dingtalk.token_fetches() == 1);
}
