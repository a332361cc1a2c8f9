// End to end through the real server: HTTP -> http_api -> dispatcher -> SQLite -> fake LLM.
#include "bot/net/sse_parser.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <thread>

using namespace bot::testing;
using nlohmann::json;

namespace {

// The (role, content) pairs the fake LLM received in request i, system prompt excluded.
std::vector<std::pair<std::string, std::string>> turns_of(const json& request) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& m : request.at("messages")) {
        if (m.at("role") != "system") out.emplace_back(m.at("role"), m.at("content"));
    }
    return out;
}

}  // namespace

TEST_CASE("a conversation remembers earlier turns and the LLM sees them", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path());

    auto [status1, reply1] = bot.send("alice", "my name is Alice");
    REQUIRE(status1 == 200);
    CHECK(reply1.at("reply") == "echo: my name is Alice");
    auto conversation = reply1.at("conversation_id").get<std::string>();
    CHECK(conversation.size() >= 16);

    auto [status2, reply2] = bot.send("alice", "what is my name?");
    REQUIRE(status2 == 200);
    CHECK(reply2.at("conversation_id") == conversation);

    auto requests = llm.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1].at("messages").at(0).at("role") == "system");
    CHECK(requests[1].at("messages").at(0).at("content") == "You are a test bot.");
    CHECK(turns_of(requests[1]) ==
          std::vector<std::pair<std::string, std::string>>{{"user", "my name is Alice"},
                                                           {"assistant", "echo: my name is Alice"},
                                                           {"user", "what is my name?"}});
    CHECK(requests[1].at("model") == "fake-model");
    CHECK(llm.last_header("Authorization") == "Bearer sk-test-secret-key");
}

TEST_CASE("interleaved users never see each other's turns", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path());

    // Concurrent and interleaved: each user sends in order, users run in parallel.
    auto talk = [&](std::string user) {
        for (int i = 0; i < 5; ++i) {
            auto [status, reply] = bot.send(user, user + " says " + std::to_string(i));
            REQUIRE(status == 200);
            REQUIRE(reply.at("reply") == "echo: " + user + " says " + std::to_string(i));
        }
    };
    auto a = std::async(std::launch::async, talk, "alice");
    auto b = std::async(std::launch::async, talk, "bob");
    auto c = std::async(std::launch::async, talk, "carol");
    a.get();
    b.get();
    c.get();

    auto requests = llm.requests();
    REQUIRE(requests.size() == 15);
    for (const auto& request : requests) {
        auto turns = turns_of(request);
        std::string owner = turns.back().second.substr(0, turns.back().second.find(' '));
        for (const auto& [role, content] : turns) {
            INFO("request of " << owner << " contains: " << content);
            CHECK(content.find(owner + " says") != std::string::npos);
        }
    }
    // The last request of each user carries all of that user's earlier turns, in order.
    for (const auto& request : requests) {
        auto turns = turns_of(request);
        if (turns.back().second == "alice says 4") {
            REQUIRE(turns.size() == 9);
            for (int i = 0; i < 4; ++i)
                CHECK(turns[2 * i].second == "alice says " + std::to_string(i));
        }
    }
}

TEST_CASE("the same message_id returns the same reply without a second LLM call", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path());

    auto [s1, r1] = bot.send("alice", "hello", "msg-1");
    auto [s2, r2] = bot.send("alice", "hello", "msg-1");
    REQUIRE(s1 == 200);
    REQUIRE(s2 == 200);
    CHECK(r1.at("reply") == r2.at("reply"));
    CHECK(r1.at("conversation_id") == r2.at("conversation_id"));
    CHECK(r2.at("message_id") == "msg-1");
    CHECK(llm.request_count() == 1);

    // Message ids belong to their user: another user's "msg-1" is a new message, and never
    // returns alice's reply.
    auto [s5, r5] = bot.send("mallory", "what did alice say?", "msg-1");
    CHECK(s5 == 200);
    CHECK(r5.at("reply") == "echo: what did alice say?");
    CHECK(r5.at("conversation_id") != r1.at("conversation_id"));
    CHECK(llm.request_count() == 2);

    // A retry that arrives while the first is still being answered attaches to it.
    llm.chunk_delay(std::chrono::milliseconds(20));
    auto first =
        std::async(std::launch::async, [&] { return bot.send("bob", "slow one", "msg-2"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto [s3, r3] = bot.send("bob", "slow one", "msg-2");
    auto [s4, r4] = first.get();
    CHECK(s3 == 200);
    CHECK(s4 == 200);
    CHECK(r3.at("reply") == "echo: slow one");
    CHECK(r4.at("reply") == "echo: slow one");
    CHECK(llm.request_count() == 3);
}

TEST_CASE("replies stream as server-sent events; the LLM streams only when someone watches",
          "[integration]") {
    TempDir dir;
    FakeLlm llm;
    llm.chunk_delay(std::chrono::milliseconds(5));
    TestBot bot(llm, dir.path());

    auto response =
        bot.send_raw(json{{"user", "alice"}, {"text", "stream this please"}}.dump(),
                     {"Authorization: Bearer " + std::string(kToken), "Accept: text/event-stream"});
    REQUIRE(response.status == 200);
    CHECK(response.headers.find("text/event-stream") != std::string::npos);
    auto events = bot::SseParser().feed(response.body);
    REQUIRE(events.size() >= 3);
    std::string joined;
    for (std::size_t i = 0; i + 1 < events.size(); ++i) {
        REQUIRE(events[i].event == "delta");
        joined += json::parse(events[i].data).at("text").get<std::string>();
    }
    REQUIRE(events.back().event == "done");
    auto done = json::parse(events.back().data);
    CHECK(done.at("reply") == "echo: stream this please");
    CHECK(joined == done.at("reply"));
    CHECK(llm.requests().back().at("stream") == true);

    // Nobody watches this reply grow: it is asked for in one piece.
    auto [status, plain] = bot.send("alice", "no stream needed");
    REQUIRE(status == 200);
    CHECK(plain.at("reply") == "echo: no stream needed");
    CHECK(llm.requests().back().at("stream") == false);
}

TEST_CASE("/reset starts a new conversation and /forget deletes the user's data", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path());

    auto [s1, r1] = bot.send("alice", "remember the number 42");
    auto [s2, r2] = bot.send("alice", "/reset");
    REQUIRE(s2 == 200);
    CHECK(r2.at("reply").get<std::string>().find("new conversation") != std::string::npos);
    CHECK(r2.at("conversation_id") != r1.at("conversation_id"));
    bot.send("alice", "what number?");
    auto requests = llm.requests();
    REQUIRE(requests.size() == 2);  // the command itself did not reach the LLM
    CHECK(turns_of(requests[1]).size() == 1);

    bot.send("bob", "bob keeps his memory");
    auto [s3, r3] = bot.send("alice", "/forget");
    REQUIRE(s3 == 200);
    CHECK(r3.at("reply").get<std::string>().find("deleted everything") != std::string::npos);
    bot.send("alice", "hello again");
    bot.send("bob", "still there?");
    requests = llm.requests();
    CHECK(turns_of(requests[requests.size() - 2]).size() == 1);  // alice starts from nothing
    CHECK(turns_of(requests.back()).size() == 3);                // bob's turn survived

    auto [s4, r4] = bot.send("alice", "/help");
    CHECK(r4.at("reply").get<std::string>().find("/forget") != std::string::npos);
    auto [s5, r5] = bot.send("alice", "/nonsense");
    CHECK(r5.at("reply").get<std::string>().find("Unknown command /nonsense") != std::string::npos);
}

TEST_CASE("/forget in one chat also clears the user's cached context in her other chats",
          "[integration]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path());

    bot.send("alice", "secret in the side room", "", "room");
    bot.send("alice", "and more there", "", "room");  // served from the in-memory context
    REQUIRE(turns_of(llm.requests().back()).size() == 3);
    auto [status, reply] = bot.send("alice", "/forget");
    REQUIRE(status == 200);
    bot.send("alice", "what did I say?", "", "room");
    CHECK(turns_of(llm.requests().back()).size() == 1);
    CHECK(llm.requests().back().dump().find("secret") == std::string::npos);
}

TEST_CASE("http_api: a message_id sent again after /forget is not answered again",
          "[integration][forget]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path());
    auto [s1, r1] = bot.send("alice", "my secret", "m1");
    REQUIRE(s1 == 200);
    REQUIRE(bot.send("alice", "/forget", "m2").first == 200);
    // Before /forget the same id collected the stored reply; that reply is gone now, and the
    // message is not run again: an empty reply, at once.
    auto [s3, r3] = bot.send("alice", "my secret", "m1");
    CHECK(s3 == 200);
    CHECK(r3.at("reply") == "");
    CHECK(r3.at("message_id") == "m1");
    CHECK(llm.request_count() == 1);
    // New ids are answered as usual, from an empty memory.
    CHECK(bot.send("alice", "hello", "m3").second.at("reply") == "echo: hello");
    CHECK(turns_of(llm.requests().back()).size() == 1);
}

TEST_CASE("memory survives a restart on the same database file", "[integration]") {
    TempDir dir;
    FakeLlm llm;
    {
        TestBot bot(llm, dir.path());
        bot.send("alice", "first life", "m1");
    }
    TestBot bot(llm, dir.path());
    auto [status, reply] = bot.send("alice", "second life");
    REQUIRE(status == 200);
    auto turns = turns_of(llm.requests().back());
    REQUIRE(turns.size() == 3);
    CHECK(turns[0].second == "first life");
    // Dedupe survives too.
    auto [s2, r2] = bot.send("alice", "first life", "m1");
    CHECK(r2.at("reply") == "echo: first life");
    CHECK(llm.request_count() == 2);
}
