// Issue 24's social features through the real server: group context (adapters.<id>.
// group_context; off by default, bounded, never across chats), /export (a one-time link that
// expires, only the asking user's data), /share and /unshare (a read-only, escaped, noindex
// page), and /forget removing shares and export links.
#include "fakes/fake_onebot.hpp"
#include "fakes/fake_telegram.hpp"
#include "integration/harness.hpp"
#include "storage/sqlite_db.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kOneBotToken = "onebot-token_123";
constexpr std::int64_t kSelf = 10001000;
constexpr std::int64_t kAlice = 20002001;
constexpr std::int64_t kBob = 20002002;
constexpr std::int64_t kGroup = 30003000;
constexpr std::int64_t kOtherGroup = 30003999;

json text(const std::string& value) {
    return {{"type", "text"}, {"data", {{"text", value}}}};
}
json at(std::int64_t qq) {
    return {{"type", "at"}, {"data", {{"qq", std::to_string(qq)}}}};
}

BotOptions with_onebot(json group_context = nullptr) {
    BotOptions options;
    json section{{"type", "onebot"}, {"access_token", kOneBotToken}, {"action_timeout_s", 2}};
    if (!group_context.is_null()) section["group_context"] = group_context;
    options.adapters["qq"] = section;
    return options;
}

// Everything the model read for the newest request, as one text.
std::string last_request_text(const FakeLlm& llm) {
    std::string all;
    const json request = llm.requests().back();  // (a temporary's member would dangle below)
    for (const auto& message : request.at("messages"))
        all += message.at("content").get<std::string>() + "\n";
    return all;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A group message straight into the core (as an adapter submits it).
bot::Inbound group_message(const std::string& chat, const std::string& sender,
                           const std::string& words, bool to_bot) {
    static int counter = 0;
    bot::Inbound inbound;
    inbound.chat = {.adapter_id = "grp", .chat_id = chat, .is_group = true};
    inbound.sender_id = sender;
    inbound.sender_name = sender;
    inbound.message_id = "m" + std::to_string(++counter);
    inbound.text = words;
    inbound.mentions_me = to_bot;
    return inbound;
}

// A fake adapter "grp" that sees group chatter, with group_context as given.
BotOptions with_group_adapter(json group_context) {
    BotOptions options;
    // The onebot type: its Capabilities allow group_context; it needs no connection to take
    // submissions straight into the core.
    options.adapters["grp"] = {
        {"type", "onebot"}, {"access_token", kOneBotToken}, {"group_context", group_context}};
    return options;
}

constexpr const char* kPublicUrl = "https://bot.example.test";

BotOptions with_public_url(int export_link_s = 900) {
    BotOptions options;
    options.edit_config = [export_link_s](json& config) {
        config["server"]["public_url"] = kPublicUrl;
        config["server"]["export_link_s"] = export_link_s;
    };
    return options;
}

std::string reply_of(TestBot& bot, const std::string& user, const std::string& words) {
    auto [status, body] = bot.send(user, words);
    REQUIRE(status == 200);
    return body.at("reply").get<std::string>();
}

// The link in a reply, pointed at the test server instead of the public address.
std::string local_link(TestBot& bot, const std::string& reply, const std::string& kind) {
    std::smatch match;
    std::regex link(std::string(kPublicUrl) + "(/" + kind + "/[0-9a-f]+)");
    REQUIRE(std::regex_search(reply, match, link));
    return bot.url(match[1].str());
}

long long rows(const std::filesystem::path& dir, const std::string& sql) {
    bot::storage::Database db((dir / "bot.db").string(), bot::storage::Database::Mode::read_only);
    auto count = db.prepare(sql);
    count->step();
    return count->column_int64(0);
}

}  // namespace

TEST_CASE("group context is off by default: chatter is neither kept nor shown",
          "[integration][social]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_onebot());
    FakeOneBot qq(kSelf);
    REQUIRE(qq.connect(bot.app().port(), "/onebot/qq", kOneBotToken) == 101);
    qq.post(qq.group_message(kGroup, kAlice, 1, json::array({text("pineapple belongs on pizza")})));
    qq.post(qq.group_message(kGroup, kBob, 2,
                             json::array({at(kSelf), text(" what do you think of what Alice "
                                                          "just said?")})));
    REQUIRE(qq.wait_actions(1));
    CHECK_FALSE(contains(last_request_text(llm), "pineapple"));
    CHECK(rows(dir.path(), "SELECT count(*) FROM group_messages") == 0);
}

TEST_CASE("group context on: the asking member's request carries what Alice just said",
          "[integration][social]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_onebot({{"messages", 10}, {"max_age_s", 600}}));
    FakeOneBot qq(kSelf);
    REQUIRE(qq.connect(bot.app().port(), "/onebot/qq", kOneBotToken) == 101);
    qq.post(qq.group_message(kGroup, kAlice, 1, json::array({text("pineapple belongs on pizza")})));
    qq.post(
        qq.group_message(kOtherGroup, kAlice, 2, json::array({text("secret of the other group")})));
    // The adapter stores different senders' messages concurrently, each sender's in order:
    // Alice's answered question comes after her chatter (as Bob's question would, in a group).
    qq.post(qq.group_message(kGroup, kAlice, 3, json::array({at(kSelf), text(" right?")})));
    qq.post(qq.group_message(kOtherGroup, kAlice, 4, json::array({at(kSelf), text(" hm")})));
    REQUIRE(qq.wait_actions(2));
    qq.post(qq.group_message(kGroup, kBob, 5,
                             json::array({at(kSelf), text(" what do you think of what Alice "
                                                          "just said?")})));
    REQUIRE(qq.wait_actions(3));
    auto request = last_request_text(llm);
    INFO(request);
    CHECK(contains(request, "user20002001: pineapple belongs on pizza"));
    CHECK_FALSE(contains(request, "secret of the other group"));  // another chat
    // Bob's own question is his turn, not a group line.
    CHECK_FALSE(contains(request, "user20002002: "));
    // Nothing of the chatter reached the inbox or the conversations.
    CHECK(rows(dir.path(), "SELECT count(*) FROM inbox WHERE text LIKE '%pineapple%'") == 0);
    CHECK(rows(dir.path(), "SELECT count(*) FROM messages WHERE content LIKE '%pineapple%'") == 0);
    CHECK(contains(request, "user20002001: right?"));  // another member's question counts
    CHECK(llm.request_count() == 3);                   // chatter never goes to the LLM
}

TEST_CASE("telegram: group context names who said what, in that group only",
          "[integration][social]") {
    FakeLlm llm;
    FakeTelegram telegram;
    TempDir dir;
    BotOptions options;
    options.adapters["tg"] = {{"type", "telegram"},
                              {"bot_token", telegram.token()},
                              {"mode", "webhook"},
                              {"api_base", telegram.api_base()},
                              {"webhook_url", "https://bot.example.com/telegram/tg"},
                              {"secret_token", "webhook-secret_123"},
                              {"typing", false},
                              {"streaming", "off"},
                              {"group_context", {{"messages", 10}, {"max_age_s", 600}}}};
    TestBot bot(llm, dir.path(), options);
    auto post = [&](std::int64_t update_id, std::int64_t chat, std::int64_t from,
                    const std::string& name, const std::string& words, bool mention) {
        json message{{"message_id", update_id},
                     {"date", 1700000000},
                     {"chat", {{"id", chat}, {"type", "supergroup"}}},
                     {"from", {{"id", from}, {"is_bot", false}, {"first_name", name}}},
                     {"text", mention ? "@contact_test_bot " + words : words}};
        if (mention)
            message["entities"] =
                json::array({{{"offset", 0}, {"length", 17}, {"type", "mention"}}});
        json update{{"update_id", update_id}, {"message", message}};
        // Acknowledged once stored (or kept as group context): the next one comes after.
        return http_request("POST", bot.url("/telegram/tg"), update.dump(),
                            {"Content-Type: application/json",
                             "X-Telegram-Bot-Api-Secret-Token: webhook-secret_123"})
            .status;
    };
    CHECK(post(1, -100, 41, "Alice", "the meeting moves to Friday", false) == 200);
    CHECK(post(2, -200, 43, "Eve", "another group's plans", false) == 200);
    CHECK(post(3, -100, 42, "Bob", "what do you think of what Alice just said?", true) == 200);
    REQUIRE(telegram.wait_for("sendMessage", 1));
    auto request = last_request_text(llm);
    INFO(request);
    CHECK(contains(request, "Alice: the meeting moves to Friday"));
    CHECK_FALSE(contains(request, "another group"));
}

TEST_CASE("group context is bounded by count and age and never crosses chats",
          "[integration][social]") {
    FakeLlm llm;
    TempDir dir;
    for (const char* store : {"memory", "sqlite"}) {
        DYNAMIC_SECTION("store " << store) {
            TestBot bot(
                llm, dir.path(),
                with_group_adapter({{"messages", 3}, {"max_age_s", 600}, {"store", store}}));
            for (int i = 1; i <= 5; ++i) {
                bot.offer(group_message("g1", "alice", "line " + std::to_string(i), false));
            }
            bot.offer(group_message("g2", "mallory", "from the other chat", false));
            auto reply = bot.submit(group_message("g1", "bob", "what did alice say?", true));
            REQUIRE(reply.kind == bot::ReplyEvent::Kind::done);
            auto request = last_request_text(llm);
            INFO(request);
            // Only the newest 3 are kept, Bob's question among them (his own turn: not shown).
            CHECK_FALSE(contains(request, "line 3"));
            CHECK(contains(request, "alice: line 4\nalice: line 5\n"));
            CHECK_FALSE(contains(request, "other chat"));

            // Another member's question to the bot was said in front of the group: it counts
            // for Dave (not the bot's answer to it, which is Bob's).
            bot.submit(group_message("g1", "dave", "and what did bob ask?", true));
            request = last_request_text(llm);
            CHECK(contains(request, "bob: what did alice say?"));
            CHECK_FALSE(contains(request, "echo: what did alice say?"));

            // /forget removes the member's own lines.
            bot.offer(group_message("g1", "alice", "alice again", false));
            bot.submit(group_message("g1", "bob", "anything?", true));
            CHECK(contains(last_request_text(llm), "alice: alice again"));
            bot.submit(group_message("g1", "alice", "/forget", true));
            bot.submit(group_message("g1", "bob", "anything new?", true));
            CHECK_FALSE(contains(last_request_text(llm), "alice: alice again"));
        }
    }
    CHECK(rows(dir.path(), "SELECT count(*) FROM group_messages WHERE sender_id = 'alice'") == 0);
    CHECK(rows(dir.path(), "SELECT count(*) FROM group_messages WHERE chat_id = 'g1'") <= 3);
}

TEST_CASE("group context older than max_age_s is not shown", "[integration][social]") {
    FakeLlm llm;
    TempDir dir;
    for (const char* store : {"memory", "sqlite"}) {
        DYNAMIC_SECTION("store " << store) {
            TestBot bot(llm, dir.path(),
                        with_group_adapter({{"messages", 5}, {"max_age_s", 2}, {"store", store}}));
            CHECK(bot.offer(group_message("g1", "carol", "too old to matter", false)) ==
                  bot::Submission::Status::ignored);
            std::this_thread::sleep_for(2200ms);  // past max_age_s
            bot.offer(group_message("g1", "alice", "fresh words", false));
            bot.submit(group_message("g1", "bob", "what was said?", true));
            auto request = last_request_text(llm);
            CHECK(contains(request, "alice: fresh words"));
            CHECK_FALSE(contains(request, "too old"));
        }
    }
}

TEST_CASE("group_context is refused where the platform sends only messages to the bot",
          "[integration][social]") {
    FakeLlm llm;
    TempDir dir;
    BotOptions options;
    options.adapters["wb"] = {{"type", "wecom_bot"},
                              {"token", "t"},
                              {"encoding_aes_key", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"},
                              {"group_context", {{"messages", 5}}}};
    try {
        TestBot bot(llm, dir.path(), options);
        FAIL("started");
    } catch (const bot::ConfigError& error) {
        CHECK(contains(error.what(), "adapters.wb.group_context"));
    }
}

TEST_CASE("/export: a one-time link to only this user's data", "[integration][social]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_public_url());
    reply_of(bot, "alice", "alice likes tea");
    reply_of(bot, "bob", "bob likes coffee");
    auto reply = reply_of(bot, "alice", "/export");
    auto link = local_link(bot, reply, "export");

    auto download = http_request("GET", link);
    REQUIRE(download.status == 200);
    CHECK(contains(download.headers, "Content-Disposition: attachment"));
    CHECK(contains(download.headers, "Cache-Control: no-store"));
    auto data = json::parse(download.body);
    CHECK(data.at("user") == "alice");
    CHECK(contains(download.body, "alice likes tea"));
    CHECK(contains(download.body, "echo: alice likes tea"));
    CHECK_FALSE(contains(download.body, "coffee"));
    CHECK(data.at("usage").at(0).at("messages") == 1);

    CHECK(http_request("GET", link).status == 404);  // once
    CHECK(http_request("GET", bot.url("/export/" + std::string(48, 'a'))).status == 404);
}

TEST_CASE("/export still downloads when stored text is not valid UTF-8", "[integration][social]") {
    FakeLlm llm;
    TempDir dir;
    auto options = with_group_adapter({{"messages", 5}});
    options.edit_config = [](json& config) { config["server"]["public_url"] = kPublicUrl; };
    TestBot bot(llm, dir.path(), options);
    // Platforms deliver bytes; the core stores them as they came (JSON bodies replace them).
    auto hello = group_message("alice", "alice", "caf\xE9 au lait", true);
    hello.chat.is_group = false;
    REQUIRE(bot.submit(hello).kind == bot::ReplyEvent::Kind::done);
    auto ask = group_message("alice", "alice", "/export", true);
    ask.chat.is_group = false;
    auto reply = bot.submit(ask);
    REQUIRE(reply.kind == bot::ReplyEvent::Kind::done);
    auto download = http_request("GET", local_link(bot, reply.text, "export"));
    REQUIRE(download.status == 200);
    auto data = json::parse(download.body);
    const auto& turn = data.at("conversations").at(0).at("turns").at(0);
    CHECK(turn.at("content") == "caf\xEF\xBF\xBD au lait");  // U+FFFD in its place
}

TEST_CASE("/export in a group gives no link: the whole group would see it",
          "[integration][social]") {
    FakeLlm llm;
    TempDir dir;
    auto options = with_group_adapter({{"messages", 5}});
    options.edit_config = [](json& config) { config["server"]["public_url"] = kPublicUrl; };
    TestBot bot(llm, dir.path(), options);
    auto reply = bot.submit(group_message("g1", "alice", "/export", true));
    REQUIRE(reply.kind == bot::ReplyEvent::Kind::done);
    CHECK(contains(reply.text, "private chat"));
    CHECK_FALSE(contains(reply.text, "/export/"));
}

TEST_CASE("/export links expire, and /forget revokes them", "[integration][social]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_public_url(1));
    reply_of(bot, "alice", "hello");
    auto expired = local_link(bot, reply_of(bot, "alice", "/export"), "export");
    std::this_thread::sleep_for(1100ms);
    CHECK(http_request("GET", expired).status == 404);

    auto revoked = local_link(bot, reply_of(bot, "alice", "/export"), "export");
    reply_of(bot, "alice", "/forget");
    CHECK(http_request("GET", revoked).status == 404);
}

TEST_CASE("/export, /share without server.public_url say they are unavailable",
          "[integration][social]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path());
    CHECK(contains(reply_of(bot, "alice", "/export"), "not available"));
    CHECK(contains(reply_of(bot, "alice", "/share"), "not available"));
    CHECK_FALSE(contains(reply_of(bot, "alice", "/help"), "/share"));
    CHECK(http_request("GET", bot.url("/share/" + std::string(48, 'a'))).status == 404);
}

TEST_CASE("/share: a read-only, escaped, noindex page of the conversation; /unshare revokes",
          "[integration][social]") {
    FakeLlm llm;
    llm.reply_with([](const json& request) {
        auto last = request.at("messages").back().at("content").get<std::string>();
        return contains(last, "html please")
                   ? std::string("<script>alert(1)</script><img src=x onerror=alert(2)> **bold**")
                   : "echo: " + last;
    });
    TempDir dir;
    TestBot bot(llm, dir.path(), with_public_url());
    CHECK(contains(reply_of(bot, "alice", "/share"), "nothing to share"));
    reply_of(bot, "alice", "my <b>secret</b> plan");
    reply_of(bot, "alice", "html please");
    reply_of(bot, "bob", "bob's private words");
    CHECK(contains(reply_of(bot, "alice", "/help"), "/share"));
    auto link = local_link(bot, reply_of(bot, "alice", "/share"), "share");
    reply_of(bot, "alice", "said after sharing");

    auto page = http_request("GET", link);
    REQUIRE(page.status == 200);
    CHECK(contains(page.body, R"(<meta name="robots" content="noindex)"));
    CHECK(contains(page.headers, "X-Robots-Tag: noindex"));
    CHECK(contains(page.headers, "Content-Security-Policy: default-src 'none'"));
    CHECK_FALSE(contains(page.headers, "script-src"));
    CHECK(contains(page.body, "my &lt;b&gt;secret&lt;/b&gt; plan"));
    CHECK(contains(page.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CHECK_FALSE(contains(page.body, "<script"));
    CHECK_FALSE(contains(page.body, "<img"));
    CHECK(contains(page.body, "<b>bold</b>"));
    CHECK_FALSE(contains(page.body, "bob's private"));
    CHECK_FALSE(contains(page.body, "said after sharing"));  // a snapshot

    // Bob cannot revoke Alice's page; Alice can.
    CHECK(contains(reply_of(bot, "bob", "/unshare"), "no shared links"));
    CHECK(http_request("GET", link).status == 200);
    CHECK(contains(reply_of(bot, "alice", "/unshare"), "1 shared link"));
    CHECK(http_request("GET", link).status == 404);
}

TEST_CASE("/forget removes the user's shares", "[integration][social]") {
    FakeLlm llm;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_public_url());
    reply_of(bot, "alice", "hello");
    auto link = local_link(bot, reply_of(bot, "alice", "/share"), "share");
    reply_of(bot, "alice", "/reset");  // the shared conversation stays shared after /reset
    CHECK(http_request("GET", link).status == 200);
    reply_of(bot, "alice", "/forget");
    CHECK(http_request("GET", link).status == 404);
    CHECK(rows(dir.path(), "SELECT count(*) FROM shares") == 0);
}
