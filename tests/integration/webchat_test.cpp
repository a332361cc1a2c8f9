// The web chat through the real server: page, websocket frames, streaming, history, isolation.
#include "fakes/ws_client.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <memory>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
const std::string kAlice(32, 'a');
const std::string kBob = std::string(31, 'b') + "0";

std::string joined_deltas(const std::vector<json>& frames, const std::string& id) {
    std::string text;
    for (const auto& frame : frames) {
        if (frame.at("type") == "delta" && frame.at("id") == id)
            text += frame.at("text").get<std::string>();
    }
    return text;
}

// How the server answered message id: "done" or the error's code (deltas and frames about other
// messages are skipped).
std::string outcome(WsClient& page, const std::string& id) {
    while (auto frame = page.next()) {
        if (frame->value("id", "") != id) continue;
        if (frame->at("type") == "done") return "done";
        if (frame->at("type") == "error") return frame->at("code").get<std::string>();
    }
    return "no answer";
}

std::string user_id(int n) {
    std::string id = std::to_string(n);
    return std::string(32 - id.size(), 'c') + id;
}

// The web chat section with its two rate limits (per user, per address).
BotOptions webchat_limits(int per_user, int per_address) {
    BotOptions options;
    options.adapters["web"] = {{"type", "webchat"},
                               {"messages_per_minute", per_user},
                               {"messages_per_minute_per_address", per_address}};
    return options;
}
}  // namespace

TEST_CASE("the page is served with its settings", "[integration][webchat]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path());
    auto page = http_request("GET", bot.url("/"));
    REQUIRE(page.status == 200);
    CHECK(page.headers.find("text/html") != std::string::npos);
    CHECK(page.headers.find("Content-Security-Policy") != std::string::npos);
    CHECK(page.body.find("<title>contactbot</title>") != std::string::npos);
    CHECK(page.body.find("\"wsPath\":\"/webchat/ws\"") != std::string::npos);
    CHECK(page.body.find("{{") == std::string::npos);  // every placeholder filled
    CHECK(http_request("GET", bot.url("/webchat/ws")).status == 426);
}

TEST_CASE("replies stream in order, join to the final text, and history survives a reconnect",
          "[integration][webchat]") {
    TempDir dir;
    FakeLlm llm;
    llm.chunk_delay(5ms);
    TestBot bot(llm, dir.path());
    {
        WsClient page(bot.app().port(), "/webchat/ws");
        page.send({{"type", "hello"}, {"user", kAlice}});
        auto ready = page.until("ready");
        CHECK(ready.back().at("history").empty());
        CHECK(ready.back().at("greeting").get<std::string>().size() > 0);

        page.send({{"type", "message"}, {"id", "m1"}, {"text", "tell me something long"}});
        auto frames = page.until("done", "m1");
        CHECK(frames.size() >= 4);  // several deltas, then done
        CHECK(frames.back().at("text") == "echo: tell me something long");
        CHECK(joined_deltas(frames, "m1") == "echo: tell me something long");

        page.send({{"type", "message"}, {"id", "m2"}, {"text", "second"}});
        CHECK(page.until("done", "m2").back().at("text") == "echo: second");
    }
    // A reload: same user id, new socket. The earlier turns come back in order.
    WsClient again(bot.app().port(), "/webchat/ws");
    again.send({{"type", "hello"}, {"user", kAlice}});
    auto history = again.until("ready").back().at("history");
    REQUIRE(history.size() == 4);
    CHECK(history[0] == json{{"role", "user"}, {"text", "tell me something long"}});
    CHECK(history[3] == json{{"role", "assistant"}, {"text", "echo: second"}});

    // A retry of an answered message id returns the stored reply without a new LLM call.
    again.send({{"type", "message"}, {"id", "m2"}, {"text", "second"}});
    CHECK(again.until("done", "m2").back().at("text") == "echo: second");
    CHECK(llm.request_count() == 2);

    // /reset from the page starts over.
    again.send({{"type", "message"}, {"id", "m3"}, {"text", "/reset"}});
    CHECK(again.until("done", "m3").back().at("text").get<std::string>().find("new conversation") !=
          std::string::npos);
}

TEST_CASE("messages sent back to back are answered in the order sent", "[integration][webchat]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path());
    WsClient page(bot.app().port(), "/webchat/ws");
    page.send({{"type", "hello"}, {"user", kAlice}});
    page.until("ready");
    for (int i = 0; i < 5; ++i) {  // the burst the rate limit allows
        // (append, not "lit" + to_string: g++ 12 warns falsely about the latter in Release)
        page.send({{"type", "message"},
                   {"id", std::string("q").append(std::to_string(i))},
                   {"text", std::string("n").append(std::to_string(i))}});
    }
    page.until("done", "q4");
    auto requests = llm.requests();
    REQUIRE(requests.size() == 5);
    for (int i = 0; i < 5; ++i) {
        auto messages = requests[i].at("messages");
        CHECK(messages.back().at("content") == std::string("n").append(std::to_string(i)));
        CHECK(messages.size() ==
              static_cast<std::size_t>(2 + 2 * i));  // all earlier turns, in order
    }
}

TEST_CASE("two browsers are isolated", "[integration][webchat]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path());
    WsClient alice(bot.app().port(), "/webchat/ws");
    WsClient bob(bot.app().port(), "/webchat/ws");
    alice.send({{"type", "hello"}, {"user", kAlice}});
    bob.send({{"type", "hello"}, {"user", kBob}});
    alice.until("ready");
    bob.until("ready");
    alice.send({{"type", "message"}, {"id", "same-id"}, {"text", "alice secret"}});
    bob.send({{"type", "message"}, {"id", "same-id"}, {"text", "bob question"}});
    CHECK(alice.until("done", "same-id").back().at("text") == "echo: alice secret");
    auto bob_frames = bob.until("done", "same-id");
    CHECK(bob_frames.back().at("text") == "echo: bob question");
    for (const auto& frame : bob_frames) CHECK(frame.dump().find("alice") == std::string::npos);
    CHECK(llm.request_count() == 2);  // the same client id from two users is two messages
    for (const auto& request : llm.requests()) {
        CHECK(request.at("messages").size() == 2);  // persona + own message only
    }
}

TEST_CASE("bad frames, long messages, floods and foreign origins are refused",
          "[integration][webchat]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), BotOptions{.webchat_per_minute = 1});
    CHECK(upgrade_status(bot.app().port(), "/webchat/ws", "http://evil.example") == 403);
    std::string own_origin = "http://127.0.0.1:" + std::to_string(bot.app().port());
    CHECK(upgrade_status(bot.app().port(), "/webchat/ws", own_origin) == 101);
    // Served over plain http: an https page with the same host is another origin.
    std::string https_origin = "https://127.0.0.1:" + std::to_string(bot.app().port());
    CHECK(upgrade_status(bot.app().port(), "/webchat/ws", https_origin) == 403);

    {
        WsClient rude(bot.app().port(), "/webchat/ws");
        rude.send({{"type", "message"}, {"id", "x"}, {"text", "no hello"}});
        auto error = rude.next();
        REQUIRE(error);
        CHECK(error->at("code") == "bad_frame");
        CHECK_FALSE(rude.next(2s));  // closed
    }

    WsClient page(bot.app().port(), "/webchat/ws");
    page.send({{"type", "hello"}, {"user", kAlice}});
    page.until("ready");
    page.send_text("not json");
    CHECK(page.next()->at("code") == "bad_frame");
    page.send({{"type", "message"}, {"id", "long"}, {"text", std::string(4001, 'x')}});
    CHECK(page.until("error", "long").back().at("code") == "too_long");
    // Burst of five allowed at one per minute (the two frames above took two), then refused.
    for (int i = 0; i < 4; ++i) {
        page.send({{"type", "message"},
                   {"id", std::string("f").append(std::to_string(i))},
                   {"text", "flood"}});
    }
    CHECK(page.until("error", "f3").back().at("code") == "rate_limited");
    // Oversize frames close the connection without disturbing the server.
    page.send_text(std::string(70000, 'x'));
    while (page.next(3s)) {
    }
    auto [status, reply] = bot.send("carol", "still fine?");
    CHECK(status == 200);
}

TEST_CASE("the rate limit holds per user across all their pages", "[integration][webchat]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), webchat_limits(1, 1000));  // bursts of 5 per user
    std::vector<std::unique_ptr<WsClient>> pages;
    for (int i = 0; i < 3; ++i) {
        pages.push_back(std::make_unique<WsClient>(bot.app().port(), "/webchat/ws"));
        pages.back()->send({{"type", "hello"}, {"user", kAlice}});
        pages.back()->until("ready");
    }
    std::map<std::string, int> outcomes;
    for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 2; ++j) {
            std::string id = std::string("p").append(std::to_string(i)).append(std::to_string(j));
            pages[i]->send({{"type", "message"}, {"id", id}, {"text", "hi"}});
            ++outcomes[outcome(*pages[i], id)];
        }
    }
    CHECK(outcomes["done"] == 5);
    CHECK(outcomes["rate_limited"] == 1);
    CHECK(llm.request_count() == 5);
}

TEST_CASE("the rate limit holds per address across users", "[integration][webchat]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), webchat_limits(1000, 1));  // bursts of 20 per address
    std::map<std::string, int> outcomes;
    for (int user = 0; user < 7; ++user) {  // new user ids cost nothing: they do not help
        WsClient page(bot.app().port(), "/webchat/ws");
        page.send({{"type", "hello"}, {"user", user_id(user)}});
        page.until("ready");
        for (int i = 0; i < 3; ++i) {
            std::string id = std::string("m").append(std::to_string(i));
            page.send({{"type", "message"}, {"id", id}, {"text", "hi"}});
            ++outcomes[outcome(page, id)];
        }
    }
    CHECK(outcomes["done"] == 20);
    CHECK(outcomes["rate_limited"] == 1);
    CHECK(llm.request_count() == 20);
}

TEST_CASE("invalid frames count against the rate limit; over it one answer, then silence",
          "[integration][webchat]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), webchat_limits(1, 1000));
    WsClient page(bot.app().port(), "/webchat/ws");
    page.send({{"type", "hello"}, {"user", kAlice}});
    page.until("ready");
    page.send_text("not json");
    page.send({{"type", "hello"}, {"user", kAlice}});
    page.send({{"type", "message"}, {"id", "empty"}, {"text", ""}});
    page.send({{"type", "message"}, {"id", "long"}, {"text", std::string(4001, 'x')}});
    page.send_text("[]");
    for (int i = 0; i < 5; ++i) CHECK(page.next()->at("type") == "error");
    // The burst is spent on invalid frames: a real message is refused now.
    page.send({{"type", "message"}, {"id", "real"}, {"text", "hi"}});
    auto refused = page.next();
    REQUIRE(refused);
    CHECK(refused->at("code") == "rate_limited");
    CHECK(refused->at("id") == "real");
    // A client that keeps writing is not answered again, and is closed after a while.
    for (int i = 0; i < 30; ++i) page.send_text("x");
    CHECK_FALSE(page.next(3s));
    CHECK(eventually([&] {
        return bot.log_text().find("kept sending over the rate limit") != std::string::npos;
    }));
    CHECK(llm.request_count() == 0);
    // Another user at the same address is not affected (the address allows bursts of 20).
    WsClient other(bot.app().port(), "/webchat/ws");
    other.send({{"type", "hello"}, {"user", kBob}});
    other.until("ready");
    other.send({{"type", "message"}, {"id", "b1"}, {"text", "hello"}});
    CHECK(outcome(other, "b1") == "done");
}
