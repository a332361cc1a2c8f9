// Faults: LLM errors and timeouts, bad requests, overload, and a restart in the middle of work.
#include "fakes/fake_adapter.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <future>
#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
std::string reply_text(const json& body) {
    return body.value("reply", std::string("<none>"));
}

bot::Inbound inbound_for(const std::string& adapter, const std::string& user,
                         const std::string& text, const std::string& id) {
    return bot::Inbound{.chat = {.adapter_id = adapter, .chat_id = user, .is_group = false},
                        .sender_id = user,
                        .sender_name = user,
                        .message_id = id,
                        .text = text,
                        .mentions_me = true};
}
}  // namespace

TEST_CASE("transient LLM errors are retried; persistent ones get a clear apology",
          "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), BotOptions{.llm_retries = 1});

    llm.script({.status = 500, .body = R"({"error":{"message":"boom"}})"});
    auto [s1, r1] = bot.send("alice", "first");
    REQUIRE(s1 == 200);
    CHECK(reply_text(r1) == "echo: first");
    CHECK(llm.request_count() == 2);

    llm.script({.status = 503, .body = "{}"});
    llm.script({.status = 502, .body = "{}"});
    auto [s2, r2] = bot.send("alice", "second");
    REQUIRE(s2 == 200);
    CHECK(reply_text(r2).find("not available") != std::string::npos);
    CHECK(llm.request_count() == 4);

    // The failed exchange is not part of the memory; the next message works normally.
    auto [s3, r3] = bot.send("alice", "third");
    CHECK(reply_text(r3) == "echo: third");
    auto messages = llm.requests().back().at("messages");
    CHECK(messages.size() == 4);  // system, first, echo: first, third
}

TEST_CASE("401 from the LLM is not retried and the key never reaches the log", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), BotOptions{.llm_retries = 2});
    llm.script(
        {.status = 401, .body = R"({"error":{"message":"Incorrect API key sk-test-secret-key"}})"});
    auto [status, reply] = bot.send("alice", "hi");
    REQUIRE(status == 200);
    CHECK(reply_text(reply).find("not available") != std::string::npos);
    CHECK(llm.request_count() == 1);
    bot.stop();
    CHECK(bot.log_text().find("unauthorized") != std::string::npos);
    CHECK(bot.log_text().find("sk-test-secret-key") == std::string::npos);
}

TEST_CASE("429 is retried after Retry-After", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), BotOptions{.llm_retries = 1});
    llm.script({.status = 429, .body = "{}", .retry_after = "1"});
    auto start = std::chrono::steady_clock::now();
    auto [status, reply] = bot.send("alice", "hi");
    auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE(status == 200);
    CHECK(reply_text(reply) == "echo: hi");
    CHECK(elapsed >= 900ms);
}

TEST_CASE("an LLM that does not answer in time gets an apology", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), BotOptions{.llm_timeout_s = 1, .llm_retries = 0});
    llm.script({.delay = 2500ms});
    auto [status, reply] = bot.send("alice", "hi");
    REQUIRE(status == 200);
    CHECK(reply_text(reply).find("too long") != std::string::npos);
}

TEST_CASE("bad requests get clear errors and disturb nobody", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path());
    const std::string auth = "Authorization: Bearer " + std::string(kToken);

    auto no_token = bot.send_raw(R"({"user":"a","text":"x"})", {});
    CHECK(no_token.status == 401);
    CHECK(json::parse(no_token.body).contains("error"));
    CHECK(bot.send_raw(R"({"user":"a","text":"x"})", {"Authorization: Bearer wrong"}).status ==
          401);

    auto malformed = bot.send_raw("{not json", {auth});
    CHECK(malformed.status == 400);
    CHECK(json::parse(malformed.body).at("error") == "body must be a JSON object");
    auto missing = bot.send_raw(R"({"user":"a"})", {auth});
    CHECK(missing.status == 400);
    CHECK(json::parse(missing.body).at("error") == "\"text\" is required");
    CHECK(bot.send_raw(R"({"user":5,"text":"x"})", {auth}).status == 400);

    std::string huge = json{{"user", "a"}, {"text", std::string(2 << 20, 'x')}}.dump();
    auto oversize = bot.send_raw(huge, {auth});
    CHECK(oversize.status == 413);

    CHECK(http_request("GET", bot.url("/nowhere")).status == 404);
    CHECK(http_request("GET", bot.url("/api/v1/messages")).status == 405);
    auto health = http_request("GET", bot.url("/healthz"));
    CHECK(health.status == 200);

    auto [status, reply] = bot.send("alice", "still fine?");
    CHECK(status == 200);
    CHECK(reply_text(reply) == "echo: still fine?");
    CHECK(llm.request_count() == 1);
}

TEST_CASE("http_api: limits count characters, not bytes; invalid UTF-8 is refused",
          "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path());
    const std::string auth = "Authorization: Bearer " + std::string(kToken);
    std::string han;  // 256 characters of 3 bytes each: within the limit of 256 characters
    for (int i = 0; i < 256; ++i) han += "字";
    for (const std::string field : {"user", "message_id", "chat"}) {
        json body{{"user", "alice"}, {"text", "hi"}};
        body[field] = han;
        CHECK(bot.send_raw(body.dump(), {auth}).status == 200);
        body[field] = han + "字";
        auto too_long = bot.send_raw(body.dump(), {auth});
        CHECK(too_long.status == 400);
        CHECK(json::parse(too_long.body).at("error").get<std::string>().find(field) !=
              std::string::npos);
    }
    // max_text_chars (8000) in characters too.
    CHECK(bot.send_raw(json{{"user", "bob"}, {"text", std::string(8001, 'x')}}.dump(), {auth})
              .status == 400);
    // A byte that is no UTF-8: refused, not counted.
    CHECK(bot.send_raw("{\"user\":\"al\xffice\",\"text\":\"hi\"}", {auth}).status == 400);
    CHECK(llm.request_count() == 3);
}

TEST_CASE("without an LLM provider the bot says how to configure one", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), BotOptions{.with_llm = false});
    auto [status, reply] = bot.send("alice", "hi");
    REQUIRE(status == 200);
    CHECK(reply_text(reply).find("llm.providers") != std::string::npos);
    CHECK(llm.request_count() == 0);
}

TEST_CASE("a full conversation queue answers busy instead of dropping", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    llm.chunk_delay(400ms);  // "echo: one" (three chunks) takes over a second to stream
    TestBot bot(llm, dir.path(), BotOptions{.queue_limit = 1});
    auto first = std::async(std::launch::async, [&] { return bot.send("alice", "one"); });
    std::this_thread::sleep_for(200ms);
    auto second = std::async(std::launch::async, [&] { return bot.send("alice", "two"); });
    std::this_thread::sleep_for(200ms);
    auto [s3, r3] = bot.send("alice", "three");
    CHECK(s3 == 200);
    CHECK(reply_text(r3).find("still working") != std::string::npos);
    CHECK(reply_text(first.get().second) == "echo: one");
    CHECK(reply_text(second.get().second) == "echo: two");
    // Order held: "two" was answered with "one" in its context.
    auto last = llm.requests().back().at("messages");
    CHECK(last.at(1).at("content") == "one");
}

TEST_CASE("outbox retries failed sends, splits long replies and gives up on permanent errors",
          "[integration]") {
    TempDir dir;
    FakeLlm llm;
    llm.reply_with([](const json&) { return std::string("First paragraph here.\n\nSecond one."); });
    auto* adapter = new FakeAdapter(24);
    TestBot bot(llm, dir.path(), BotOptions{.before_start = [&](bot::App& app) {
                    app.add_adapter("fake", std::unique_ptr<bot::Adapter>(adapter));
                }});
    adapter->fail_next(
        {.kind = bot::SendError::Kind::transient, .detail = "flaky", .retry_after = 0s});
    adapter->fail_next(
        {.kind = bot::SendError::Kind::rate_limited, .detail = "slow down", .retry_after = 1s});
    bot.submit(inbound_for("fake", "alice", "hi", "f-1"));
    REQUIRE(eventually([&] { return adapter->sent().size() == 2; }));
    auto sent = adapter->sent();
    CHECK(sent[0].text == "First paragraph here.");
    CHECK(sent[1].text == "Second one.");
    CHECK(sent[0].part == 1);
    CHECK(sent[1].parts == 2);
    CHECK(adapter->attempts() == 4);

    adapter->fail_next(
        {.kind = bot::SendError::Kind::unauthorized, .detail = "blocked", .retry_after = 0s});
    bot.submit(inbound_for("fake", "bob", "hi", "f-2"));
    REQUIRE(eventually([&] { return adapter->attempts() == 5; }));
    std::this_thread::sleep_for(300ms);
    CHECK(adapter->attempts() == 5);  // not retried
}

TEST_CASE("work interrupted by a shutdown is finished after the restart", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    {
        llm.chunk_delay(1s);  // far slower than the grace period
        TestBot bot(llm, dir.path(), BotOptions{.shutdown_grace_s = 1});
        auto pending = std::async(std::launch::async, [&] {
            return bot.send_raw(
                json{{"user", "alice"}, {"text", "interrupted"}, {"message_id", "r-1"}}.dump(),
                {"Authorization: Bearer " + std::string(kToken)});
        });
        REQUIRE(eventually([&] { return llm.request_count() == 1; }));
        bot.stop();
        auto response = pending.get();
        CHECK(response.status != 200);
    }
    llm.chunk_delay(0ms);
    TestBot bot(llm, dir.path());
    REQUIRE(eventually([&] { return llm.request_count() == 2; }));  // re-run at start-up
    auto [status, reply] = bot.send("alice", "interrupted", "r-1");
    CHECK(status == 200);
    CHECK(reply_text(reply) == "echo: interrupted");
    CHECK(llm.request_count() == 2);
}

TEST_CASE("undelivered replies are sent again after a restart", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    {
        auto* adapter = new FakeAdapter();
        for (int i = 0; i < 20; ++i) {  // never succeeds before the shutdown
            adapter->fail_next(
                {.kind = bot::SendError::Kind::transient, .detail = "down", .retry_after = 0s});
        }
        TestBot bot(llm, dir.path(),
                    BotOptions{.shutdown_grace_s = 1, .before_start = [&](bot::App& app) {
                                   app.add_adapter("fake", std::unique_ptr<bot::Adapter>(adapter));
                               }});
        bot.submit(inbound_for("fake", "alice", "hello", "u-1"));
        REQUIRE(eventually([&] { return adapter->attempts() >= 1; }));
    }
    auto* adapter = new FakeAdapter();
    TestBot bot(llm, dir.path(), BotOptions{.before_start = [&](bot::App& app) {
                    app.add_adapter("fake", std::unique_ptr<bot::Adapter>(adapter));
                }});
    REQUIRE(eventually([&] { return adapter->sent().size() == 1; }));
    CHECK(adapter->sent()[0].text == "echo: hello");
    CHECK(llm.request_count() == 1);  // answered once, delivered after the restart
}

TEST_CASE("a client that never finishes its headers is disconnected", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), BotOptions{.header_timeout_s = 1});
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(bot.app().port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    std::string partial = "POST /api/v1/messages HTTP/1.1\r\nHost: x\r\n";
    REQUIRE(::send(fd, partial.data(), partial.size(), 0) == static_cast<ssize_t>(partial.size()));
    timeval wait{.tv_sec = 5, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    auto start = std::chrono::steady_clock::now();
    char buffer[256];
    auto received = ::recv(fd, buffer, sizeof buffer, 0);
    auto elapsed = std::chrono::steady_clock::now() - start;
    ::close(fd);
    CHECK(received == 0);  // closed by the server, not by our 5 s receive timeout
    CHECK(elapsed < 3s);
}
