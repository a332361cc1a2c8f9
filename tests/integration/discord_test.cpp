// The discord adapter through the real server, against FakeDiscord (REST and the gateway
// websocket) and FakeLlm: DMs and guild messages, bots ignored, Resume after a drop with the
// replay answered once, a zombie connection, close codes that forbid reconnecting, 429s,
// long replies split, and replies streamed by edits.
#include "fakes/fake_discord.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kUser = "1000000000000000042";
constexpr const char* kOtherBot = "1000000000000000077";
constexpr const char* kDmChannel = "1400000000000000001";
constexpr const char* kGuildChannel = "1400000000000000002";

BotOptions with_discord(const FakeDiscord& discord, json extra = json::object()) {
    BotOptions options;
    json section{{"type", "discord"},
                 {"bot_token", FakeDiscord::kToken},
                 {"api_base", discord.api_base()},
                 {"typing", false},
                 {"streaming", false}};
    section.update(extra);
    options.adapters["dc"] = section;
    return options;
}

std::vector<FakeDiscord::Sent> replies_to(const FakeDiscord& discord, const std::string& id) {
    std::vector<FakeDiscord::Sent> out;
    for (auto& message : discord.messages())
        if (message.reply_to == id) out.push_back(message);
    return out;
}

json mention_of_bot() {
    return json::array({FakeDiscord::user(FakeDiscord::kBotId, FakeDiscord::kBotName, true)});
}

}  // namespace

TEST_CASE("discord: a DM is answered as a reply that pings nobody", "[integration][discord]") {
    FakeDiscord discord;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_discord(discord));
    REQUIRE(discord.wait_sessions(1));
    CHECK(discord.identifies() == 1);
    CHECK(discord.gateway_bot_requests() == 1);
    CHECK(discord.targets().at(0) == "/?v=10&encoding=json");

    discord.dispatch_message(
        FakeDiscord::dm("1500000000000000001", kDmChannel, kUser, "hello there"));
    REQUIRE(eventually([&] { return discord.messages().size() == 1; }));
    auto sent = discord.messages().at(0);
    CHECK(sent.channel == kDmChannel);
    CHECK(sent.content == "echo: hello there");
    CHECK(sent.reply_to == "1500000000000000001");
    CHECK(sent.allowed_mentions == json{{"parse", json::array()}});
    auto log = bot.log_text();
    CHECK(log.find(FakeDiscord::kToken) == std::string::npos);
    CHECK(log.find("hello there") == std::string::npos);
}

TEST_CASE("discord: guild messages need a mention; bots are ignored", "[integration][discord]") {
    FakeDiscord discord;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_discord(discord));
    REQUIRE(discord.wait_sessions(1));

    // Not addressed to the bot; from another bot (even with a mention); from the bot itself.
    discord.dispatch_message(
        FakeDiscord::guild_message("1500000000000000010", kGuildChannel, kUser, "just chatting"));
    auto from_bot = FakeDiscord::guild_message("1500000000000000011", kGuildChannel, kOtherBot,
                                               std::string("<@") + FakeDiscord::kBotId + "> hi",
                                               mention_of_bot());
    from_bot["author"]["bot"] = true;
    discord.dispatch_message(from_bot);
    auto own = FakeDiscord::dm("1500000000000000012", kDmChannel, FakeDiscord::kBotId, "my own");
    discord.dispatch_message(own);
    // Addressed: the mention is removed from what the LLM reads.
    discord.dispatch_message(FakeDiscord::guild_message(
        "1500000000000000013", kGuildChannel, kUser,
        std::string("<@") + FakeDiscord::kBotId + "> what time is it?", mention_of_bot()));
    REQUIRE(eventually([&] { return !discord.messages().empty(); }));
    std::this_thread::sleep_for(300ms);  // nothing else may follow
    auto sent = discord.messages();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].channel == kGuildChannel);
    CHECK(sent[0].content == "echo: what time is it?");
    CHECK(sent[0].reply_to == "1500000000000000013");
    CHECK(llm.request_count() == 1);
}

TEST_CASE("discord: the prefix addresses the bot in a guild", "[integration][discord]") {
    FakeDiscord discord;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_discord(discord, {{"prefix", "!ai"}}));
    REQUIRE(discord.wait_sessions(1));
    discord.dispatch_message(
        FakeDiscord::guild_message("1500000000000000020", kGuildChannel, kUser, "!ai tell me"));
    REQUIRE(eventually([&] { return discord.messages().size() == 1; }));
    CHECK(discord.messages().at(0).content == "echo: tell me");
}

TEST_CASE("discord: Resume after a drop replays the missed message, answered once",
          "[integration][discord]") {
    FakeDiscord discord;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_discord(discord));
    REQUIRE(discord.wait_sessions(1));
    discord.dispatch_message(FakeDiscord::dm("1500000000000000030", kDmChannel, kUser, "first"));
    REQUIRE(eventually([&] { return discord.messages().size() == 1; }));

    discord.drop();
    // Sent while the bot is away; the replay also repeats "first", already answered.
    discord.set_replay_extra(1);
    discord.dispatch_message(FakeDiscord::dm("1500000000000000031", kDmChannel, kUser, "second"));
    REQUIRE(discord.wait_sessions(2, 15s));
    CHECK(discord.resumes() == 1);
    CHECK(discord.identifies() == 1);  // no new session
    CHECK(discord.targets().at(1).starts_with("/resume"));
    CHECK(discord.targets().at(1).find("v=10&encoding=json") != std::string::npos);
    REQUIRE(eventually([&] { return discord.messages().size() == 2; }));
    std::this_thread::sleep_for(300ms);
    CHECK(replies_to(discord, "1500000000000000030").size() == 1);
    CHECK(replies_to(discord, "1500000000000000031").size() == 1);
    CHECK(discord.messages().size() == 2);
}

TEST_CASE("discord: a zombie connection is closed and resumed", "[integration][discord]") {
    FakeDiscord discord;
    discord.set_heartbeat_interval(300ms);
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_discord(discord));
    REQUIRE(discord.wait_sessions(1));
    REQUIRE(eventually([&] { return discord.heartbeats() >= 2; }));
    discord.set_acks(false);
    REQUIRE(discord.wait_client_closes(1));
    int code = discord.client_close_codes().at(0);
    CHECK(code != 1000);
    CHECK(code != 1001);
    discord.set_acks(true);
    REQUIRE(discord.wait_sessions(2, 15s));
    CHECK(discord.resumes() == 1);
    CHECK(discord.identifies() == 1);
    CHECK(bot.log_text().find("zombie") != std::string::npos);
}

TEST_CASE("discord: Reconnect resumes, Invalid Session and 4009 start a new session",
          "[integration][discord]") {
    FakeDiscord discord;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_discord(discord));
    REQUIRE(discord.wait_sessions(1));

    // op 7: the bot closes (not with 1000/1001) and resumes.
    REQUIRE(discord.send_payload({{"op", 7}, {"d", nullptr}}));
    REQUIRE(discord.wait_client_closes(1));
    CHECK(discord.client_close_codes().at(0) == 4000);
    REQUIRE(discord.wait_sessions(2, 15s));
    CHECK(discord.resumes() == 1);
    CHECK(discord.identifies() == 1);

    // op 9 with d false: a new session after 1-5 s, on the first URL.
    REQUIRE(discord.send_payload({{"op", 9}, {"d", false}}));
    REQUIRE(discord.wait_sessions(3, 20s));
    CHECK(discord.identifies() == 2);
    CHECK(discord.resumes() == 1);
    CHECK(discord.targets().back() == "/?v=10&encoding=json");

    // 4009 (session timed out) from the server: identify anew.
    discord.close(4009);
    REQUIRE(discord.wait_sessions(4, 20s));
    CHECK(discord.identifies() == 3);
    CHECK(discord.resumes() == 1);

    // The session still answers.
    discord.dispatch_message(FakeDiscord::dm("1500000000000000070", kDmChannel, kUser, "still?"));
    REQUIRE(eventually([&] { return discord.messages().size() == 1; }));
}

TEST_CASE("discord: a disallowed intent (4014) stops reconnecting, with the fix logged",
          "[integration][discord]") {
    FakeDiscord discord;
    discord.fail_identify(4014);
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_discord(discord));
    REQUIRE(discord.wait_connections(1));
    REQUIRE(eventually([&] { return bot.log_text().find("4014") != std::string::npos; }));
    std::this_thread::sleep_for(2s);  // ReconnectLoop's first waits are 0.5-1 s
    CHECK(discord.connections() == 1);
    CHECK(bot.log_text().find("Message Content Intent") != std::string::npos);
}

TEST_CASE("discord: a 429's retry_after is obeyed before the next call", "[integration][discord]") {
    FakeDiscord discord;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_discord(discord));
    REQUIRE(discord.wait_sessions(1));
    Reply limited = Reply::json(
        {{"message", "You are being rate limited."}, {"retry_after", 1.6}, {"global", false}}, 429);
    limited.headers.push_back({"Retry-After", "2"});
    limited.headers.push_back({"X-RateLimit-Scope", "user"});
    limited.headers.push_back({"X-RateLimit-Bucket", "bucket-create"});
    const std::string path = std::string("/api/v10/channels/") + kDmChannel + "/messages";
    discord.api().fail_next("POST", path, limited);
    discord.dispatch_message(FakeDiscord::dm("1500000000000000040", kDmChannel, kUser, "hi"));
    REQUIRE(discord.api().wait_for(1, RecordingServer::to("POST", path)));
    auto limited_at = std::chrono::steady_clock::now();
    REQUIRE(eventually([&] { return discord.messages().size() == 1; }, 15s));
    auto waited = std::chrono::steady_clock::now() - limited_at;
    auto calls = discord.api().requests(RecordingServer::to("POST", path));
    REQUIRE(calls.size() == 2);
    CHECK(calls[0].status == 429);
    CHECK(calls[1].status == 200);
    // retry_after 1.6 s, rounded up to whole seconds: the retry came no sooner (a lower
    // bound, not a timing measurement).
    CHECK(waited >= 1500ms);
    CHECK(bot.log_text().find("rate limited") != std::string::npos);
}

TEST_CASE("discord: a long answer is split into parts of at most 2,000 characters",
          "[integration][discord]") {
    FakeDiscord discord;
    FakeLlm llm;
    std::string answer;
    for (int i = 0; i < 500; ++i) answer += "word" + std::to_string(i) + " ";
    answer += "ünïcödé end.";
    llm.reply_with([&](const json&) { return answer; });
    TempDir dir;
    TestBot bot(llm, dir.path(), with_discord(discord));
    REQUIRE(discord.wait_sessions(1));
    discord.dispatch_message(FakeDiscord::dm("1500000000000000050", kDmChannel, kUser, "long"));
    REQUIRE(eventually([&] { return discord.messages().size() >= 2; }));
    std::this_thread::sleep_for(500ms);
    auto sent = discord.messages();
    REQUIRE(sent.size() >= 2);
    std::string joined;
    for (std::size_t i = 0; i < sent.size(); ++i) {
        CHECK(bot::utf8_length(sent[i].content) <= 2000);
        CHECK(sent[i].reply_to == (i == 0 ? "1500000000000000050" : ""));
        joined += (i ? " " : "") + sent[i].content;
    }
    CHECK(joined == answer);
}

TEST_CASE("discord: streaming edits end with the full text", "[integration][discord]") {
    FakeDiscord discord;
    FakeLlm llm;
    std::string answer;
    for (int i = 0; i < 80; ++i) answer += "word" + std::to_string(i) + " ";
    answer += "end.";
    llm.reply_with([&](const json&) { return answer; });
    llm.reply_delay(3500ms);
    TempDir dir;
    TestBot bot(
        llm, dir.path(),
        with_discord(discord,
                     {{"streaming", true}, {"typing", true}, {"stream_interval_ms", 1000}}));
    REQUIRE(discord.wait_sessions(1));
    discord.dispatch_message(FakeDiscord::dm("1500000000000000060", kDmChannel, kUser, "stream"));
    REQUIRE(eventually(
        [&] {
            auto sent = discord.messages();
            return sent.size() == 1 && sent[0].content == answer;
        },
        20s));
    std::this_thread::sleep_for(500ms);
    auto sent = discord.messages();
    REQUIRE(sent.size() == 1);  // the preview became the answer
    CHECK(sent[0].reply_to == "1500000000000000060");
    INFO("edits: " << sent[0].edits.size());
    REQUIRE(!sent[0].edits.empty());
    CHECK(sent[0].edits.back() == answer);
    for (std::size_t i = 0; i + 1 < sent[0].edits.size(); ++i)
        CHECK(sent[0].edits[i].ends_with(" …"));
    CHECK(sent[0].edits.size() <= 6);  // ~3.5 s at one edit per second, plus the final
    CHECK(discord.typing_count() >= 1);
}

TEST_CASE("discord: 403 is permanent with the fix logged; 5xx is retried",
          "[integration][discord]") {
    FakeDiscord discord;
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_discord(discord));
    REQUIRE(discord.wait_sessions(1));
    const std::string path = std::string("/api/v10/channels/") + kDmChannel + "/messages";

    discord.api().fail_next(
        "POST", path, Reply::json({{"message", "Missing Permissions"}, {"code", 50013}}, 403));
    discord.dispatch_message(FakeDiscord::dm("1500000000000000080", kDmChannel, kUser, "a"));
    REQUIRE(eventually([&] { return bot.log_text().find("Send Messages") != std::string::npos; }));
    std::this_thread::sleep_for(1500ms);  // longer than the outbox's first backoff
    CHECK(discord.api().count(RecordingServer::to("POST", path)) == 1);  // not retried
    CHECK(discord.messages().empty());

    discord.api().fail_next("POST", path, Reply::status_only(502));
    discord.dispatch_message(FakeDiscord::dm("1500000000000000081", kDmChannel, kUser, "b"));
    REQUIRE(eventually([&] { return discord.messages().size() == 1; }));
    CHECK(discord.messages().at(0).content == "echo: b");
    CHECK(discord.api().count(RecordingServer::to("POST", path)) == 3);
}
