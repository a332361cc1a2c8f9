// The onebot adapter through the real server, against FakeOneBot (a NapCat stand-in) and
// FakeLlm: reverse and forward websockets, groups, several accounts, reconnects, heartbeats.
#include "fakes/fake_onebot.hpp"
#include "fakes/ws_client.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAccessToken = "onebot-token_123";
constexpr const char* kRoute = "/onebot/qq";
constexpr std::int64_t kSelf = 10001000;
constexpr std::int64_t kUser = 20002000;
constexpr std::int64_t kGroup = 30003000;

BotOptions with_onebot(json extra = json::object()) {
    BotOptions options;
    json section{{"type", "onebot"}, {"access_token", kAccessToken}, {"action_timeout_s", 2}};
    section.update(extra);
    options.adapters["qq"] = section;
    return options;
}

json text(const std::string& value) {
    return {{"type", "text"}, {"data", {{"text", value}}}};
}

json at(std::int64_t qq) {
    return {{"type", "at"}, {"data", {{"qq", std::to_string(qq)}}}};
}

json reply_to(std::int64_t id) {
    return {{"type", "reply"}, {"data", {{"id", std::to_string(id)}}}};
}

// The text of an action's message (its text segments).
std::string action_text(const json& action) {
    std::string out;
    for (const auto& segment : action.at("params").at("message"))
        if (segment.at("type") == "text") out += segment.at("data").at("text").get<std::string>();
    return out;
}

}  // namespace

TEST_CASE("onebot reverse: a private message is answered on the account's socket",
          "[integration][onebot]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_onebot());
    FakeOneBot qq(kSelf);
    REQUIRE(qq.connect(bot.app().port(), kRoute, kAccessToken) == 101);
    qq.post(qq.heartbeat(30000));  // NapCat's first frames: lifecycle, heartbeats
    qq.post(qq.private_message(kUser, 1, "hello there"));
    REQUIRE(qq.wait_actions(1));
    auto action = qq.actions().at(0);
    CHECK(action.at("action") == "send_private_msg");
    CHECK(action.at("params").at("user_id") == kUser);
    CHECK(action_text(action) == "echo: hello there");
    CHECK(action.at("echo").is_string());

    // Memory per user: the second turn carries the first.
    qq.post(qq.private_message(kUser, 2, "and again"));
    REQUIRE(qq.wait_actions(2));
    CHECK(llm.requests().back().at("messages").size() == 4);  // system, q, a, q
}

TEST_CASE("onebot reverse: the access token is checked before the upgrade",
          "[integration][onebot]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_onebot());
    FakeOneBot qq(kSelf);
    CHECK(qq.connect(bot.app().port(), kRoute) == 401);
    CHECK(qq.connect(bot.app().port(), kRoute, "wrong-token") == 401);
    CHECK(qq.connect(bot.app().port(), kRoute, "onebot-token_12") == 401);  // a prefix
    CHECK(qq.connect(bot.app().port(), kRoute, kAccessToken, "Robot") == 400);
    CHECK(qq.connect(bot.app().port(),
                     std::string(kRoute).append("?access_token=").append(kAccessToken)) == 101);
    qq.post(qq.private_message(kUser, 1, "via the query"));
    CHECK(qq.wait_actions(1));
    CHECK(bot.log_text().find(kAccessToken) == std::string::npos);
}

TEST_CASE("onebot reverse: groups answer what addresses the bot, quoting and @-ing the user",
          "[integration][onebot]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_onebot());
    FakeOneBot qq(kSelf);
    REQUIRE(qq.connect(bot.app().port(), kRoute, kAccessToken) == 101);

    qq.post(qq.group_message(kGroup, kUser, 10, json::array({text("just chatting")})));
    qq.post(qq.group_message(kGroup, kUser, 11, json::array({at(kSelf), text(" what is QQ?")})));
    REQUIRE(qq.wait_actions(1));
    auto action = qq.actions().at(0);
    CHECK(action.at("action") == "send_group_msg");
    CHECK(action.at("params").at("group_id") == kGroup);
    auto message = action.at("params").at("message");
    REQUIRE(message.size() == 3);
    CHECK(message[0] == reply_to(11));
    CHECK(message[1] == at(kUser));
    CHECK(action_text(action) == " echo: what is QQ?");  // the @ removed from what the LLM saw
    CHECK(llm.request_count() == 1);                     // the chatter was not stored

    // A reply to the bot's message, without an @, is for the bot too.
    // The core records the bot's message id once the send is answered, a moment after the
    // fake saw the action; until then a quote of it is chatter, not stored, and is posted again.
    REQUIRE(eventually([&] {
        qq.post(qq.group_message(kGroup, kUser, 12,
                                 json::array({reply_to(qq.sent_id(0)), text("why?")})));
        return qq.wait_actions(2, std::chrono::milliseconds(300));
    }));
    CHECK(action_text(qq.actions().at(1)) == " echo: why?");
    // A reply to someone else's message is not; a command is; a CQ string works as well.
    qq.post(qq.group_message(kGroup, kUser, 13, json::array({reply_to(10), text("lol")})));
    qq.post(qq.group_message(kGroup, kUser, 14, "[CQ:at,qq=10001000] a &#91;b&#93;"));
    REQUIRE(qq.wait_actions(3));
    CHECK(action_text(qq.actions().at(2)) == " echo: a [b]");
    qq.post(qq.group_message(kGroup, kUser, 15, json::array({text("/help")})));
    REQUIRE(qq.wait_actions(4));
    CHECK(llm.request_count() == 3);  // /help is the core's
    std::this_thread::sleep_for(100ms);
    CHECK(qq.action_count() == 4);

    // Each member of a group has a conversation of their own.
    qq.post(qq.group_message(kGroup, kUser + 1, 16, json::array({at(kSelf), text("me too")})));
    REQUIRE(qq.wait_actions(5));
    CHECK(llm.requests().back().at("messages").size() == 2);
}

TEST_CASE("onebot reverse: a repeated message id is answered once, and bad frames are skipped",
          "[integration][onebot]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_onebot());
    FakeOneBot qq(kSelf);
    REQUIRE(qq.connect(bot.app().port(), kRoute, kAccessToken) == 101);
    qq.post(qq.private_message(kUser, 7, "once"));
    REQUIRE(qq.wait_actions(1));
    qq.post(qq.private_message(kUser, 7, "once"));
    for (std::string bad : {"not json", "[1,2]", R"({"post_type":"message","message":7})",
                            R"({"post_type":"message","message_type":"private","message_id":"x"})",
                            R"({"post_type":"notice","notice_type":"group_increase"})",
                            R"({"echo":"unknown","status":"ok","retcode":0})"}) {
        qq.post_text(bad);
    }
    auto image = qq.private_message(kUser, 8, "");
    image["message"] = json::array({{{"type", "image"}, {"data", {{"file", "a.jpg"}}}}});
    qq.post(image);
    qq.post(qq.private_message(kUser, 9, "still here?"));
    REQUIRE(qq.wait_actions(3));
    auto actions = qq.actions();
    CHECK(action_text(actions[0]) == "echo: once");
    CHECK(action_text(actions[1]).find("text") != std::string::npos);  // the text-only notice
    CHECK(action_text(actions[2]) == "echo: still here?");
    CHECK(llm.request_count() == 2);
    CHECK(qq.connected());
}

TEST_CASE("onebot reverse: two accounts on one route, each answered on its own socket",
          "[integration][onebot]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_onebot());
    FakeOneBot first(kSelf);
    FakeOneBot second(kSelf + 5);
    REQUIRE(first.connect(bot.app().port(), kRoute, kAccessToken) == 101);
    REQUIRE(second.connect(bot.app().port(), kRoute, kAccessToken) == 101);
    llm.record(true);
    // The same message id on both accounts: two messages (ids are per account).
    first.post(first.private_message(kUser, 1, "to the first"));
    REQUIRE(first.wait_actions(1));
    second.post(second.private_message(kUser, 1, "to the second"));
    REQUIRE(second.wait_actions(1));
    std::this_thread::sleep_for(100ms);
    REQUIRE(first.action_count() == 1);
    REQUIRE(second.action_count() == 1);
    CHECK(action_text(first.actions()[0]) == "echo: to the first");
    CHECK(action_text(second.actions()[0]) == "echo: to the second");
    // One user writing to two accounts has two conversations: the second never sees the first.
    auto requests = llm.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1].dump().find("to the first") == std::string::npos);
}

TEST_CASE("onebot reverse: a reconnecting account replaces its old socket",
          "[integration][onebot]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_onebot());
    FakeOneBot old_socket(kSelf);
    FakeOneBot new_socket(kSelf);
    REQUIRE(old_socket.connect(bot.app().port(), kRoute, kAccessToken) == 101);
    // The old socket is in use (answered) before the account reconnects: two upgrades in the
    // same instant could be served in either order.
    old_socket.post(old_socket.private_message(kUser, 1, "before the switch"));
    REQUIRE(old_socket.wait_actions(1));
    REQUIRE(new_socket.connect(bot.app().port(), kRoute, kAccessToken) == 101);
    CHECK(old_socket.wait_closed(5s));
    new_socket.post(new_socket.private_message(kUser, 2, "after the switch"));
    REQUIRE(new_socket.wait_actions(1));
    CHECK(old_socket.action_count() == 1);
}

TEST_CASE("onebot reverse: a connection silent for three heartbeats is closed",
          "[integration][onebot]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_onebot());
    FakeOneBot qq(kSelf);
    REQUIRE(qq.connect(bot.app().port(), kRoute, kAccessToken) == 101);
    auto start = std::chrono::steady_clock::now();
    qq.post(qq.heartbeat(100));
    REQUIRE(qq.wait_closed(5s));
    CHECK(std::chrono::steady_clock::now() - start >= 300ms);
    CHECK(bot.log_text().find("heartbeat") != std::string::npos);
}

TEST_CASE("onebot reverse: replies waiting while the socket is gone arrive after the reconnect",
          "[integration][onebot]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_onebot());
    {
        // The implementation goes silent with an action in hand, then its socket vanishes.
        FakeOneBot hung(kSelf);
        REQUIRE(hung.connect(bot.app().port(), kRoute, kAccessToken) == 101);
        hung.answer(false);
        hung.post(hung.private_message(kUser, 1, "are you there?"));
        REQUIRE(hung.wait_actions(1));
        hung.drop();
    }
    // The reply's next try finds no socket and waits for the account.
    std::this_thread::sleep_for(700ms);
    FakeOneBot back(kSelf);
    REQUIRE(back.connect(bot.app().port(), kRoute, kAccessToken) == 101);
    REQUIRE(back.wait_actions(1));
    CHECK(action_text(back.actions()[0]) == "echo: are you there?");
    CHECK(llm.request_count() == 1);
}

TEST_CASE("onebot reverse: a failed send is retried, a refused one is not",
          "[integration][onebot]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_onebot());
    FakeOneBot qq(kSelf);
    REQUIRE(qq.connect(bot.app().port(), kRoute, kAccessToken) == 101);
    qq.fail_next(100);  // go-cqhttp's generic failure: transient
    qq.post(qq.private_message(kUser, 1, "first"));
    REQUIRE(qq.wait_actions(2));
    CHECK(action_text(qq.actions()[1]) == "echo: first");
    qq.fail_next(1400);
    qq.post(qq.private_message(kUser, 2, "second"));
    REQUIRE(qq.wait_actions(3));
    std::this_thread::sleep_for(1500ms);
    CHECK(qq.action_count() == 3);
}

namespace {

BotOptions forward_to(const FakeOneBot& qq, const std::string& token = kAccessToken) {
    return with_onebot({{"mode", "forward_ws"}, {"url", qq.url()}, {"access_token", token}});
}

// The bot's n-th connection to the fake is up.
bool dialled(const FakeOneBot& qq, int n) {
    return eventually([&] { return qq.accepted() >= n && qq.connected(); }, 15s);
}

}  // namespace

TEST_CASE("onebot forward: contactbot dials the implementation and talks both ways",
          "[integration][onebot]") {
    FakeLlm llm;
    TempDir dir;
    FakeOneBot qq(kSelf);
    qq.listen(kAccessToken);
    TestBot bot(llm, dir.path(), forward_to(qq));
    REQUIRE(dialled(qq, 1));
    CHECK(qq.last_authorization() == std::string("Bearer ") + kAccessToken);
    qq.post(qq.private_message(kUser, 1, "over the forward socket"));
    REQUIRE(qq.wait_actions(1));
    CHECK(action_text(qq.actions()[0]) == "echo: over the forward socket");
    qq.post(qq.group_message(kGroup, kUser, 2, json::array({at(kSelf), text("group too")})));
    REQUIRE(qq.wait_actions(2));
    CHECK(qq.actions()[1].at("action") == "send_group_msg");

    // The socket vanishes: contactbot dials again, and the conversation goes on. (A drop
    // before the group reply's answer came back has the outbox send that reply again on the
    // new socket: delivered at least once. So the new answer is looked for, not counted.)
    qq.drop();
    REQUIRE(dialled(qq, 2));
    qq.post(qq.private_message(kUser, 3, "after the drop"));
    REQUIRE(eventually([&] {
        for (const auto& action : qq.actions())
            if (action_text(action) == "echo: after the drop") return true;
        return false;
    }));
    bool asked_with_history = false;
    for (const auto& request : llm.requests()) {
        const auto& messages = request.at("messages");
        if (messages.back().at("content") == "after the drop")
            asked_with_history = messages.size() == 4;  // the private turn before it
    }
    CHECK(asked_with_history);

    // Heartbeats stop: the connection is closed and dialled again.
    qq.post(qq.heartbeat(100));
    REQUIRE(qq.wait_closed(5s));
    REQUIRE(dialled(qq, 3));
}

TEST_CASE("onebot forward: a refused token is reported (and retried only slowly)",
          "[integration][onebot]") {
    FakeLlm llm;
    TempDir dir;
    FakeOneBot qq(kSelf);
    qq.listen(kAccessToken);
    TestBot bot(llm, dir.path(), forward_to(qq, "not-the-token"));
    CHECK(eventually(
        [&] { return bot.log_text().find("is access_token right?") != std::string::npos; }));
    std::this_thread::sleep_for(1500ms);
    CHECK(qq.accepted() == 0);
    // Not dialled again within the first backoff steps (0.5 s, 1 s): a refused token waits 30 s.
    const auto log = bot.log_text();
    std::size_t refusals = 0;
    for (auto at = log.find("is access_token right?"); at != std::string::npos;
         at = log.find("is access_token right?", at + 1))
        ++refusals;
    CHECK(refusals == 1);
    CHECK(log.find("not-the-token") == std::string::npos);
}
