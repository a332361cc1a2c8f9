// The telegram adapter through the real server, against FakeTelegram and FakeLlm: webhook and
// poll mode, groups, dedupe, splitting, rate limits, blocked users, typing and streaming.
#include "fakes/fake_telegram.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "webhook-secret_123";

json telegram_section(const FakeTelegram& telegram, const std::string& mode, json extra = {}) {
    json section{{"type", "telegram"}, {"bot_token", telegram.token()},
                 {"mode", mode},       {"api_base", telegram.api_base()},
                 {"typing", false},    {"streaming", "off"}};
    if (mode == "webhook") {
        section["webhook_url"] = "https://bot.example.com/telegram/tg";
        section["secret_token"] = kSecret;
    }
    if (extra.is_object()) section.update(extra);
    return section;
}

BotOptions with_telegram(const FakeTelegram& telegram, const std::string& mode, json extra = {}) {
    BotOptions options;
    options.adapters["tg"] = telegram_section(telegram, mode, std::move(extra));
    return options;
}

json message_update(std::int64_t update_id, std::int64_t chat, std::int64_t from,
                    std::int64_t message_id, const std::string& text, bool group = false) {
    return {{"update_id", update_id},
            {"message",
             {{"message_id", message_id},
              {"date", 1700000000},
              {"chat", {{"id", chat}, {"type", group ? "supergroup" : "private"}}},
              {"from", {{"id", from}, {"is_bot", false}, {"first_name", "U"}}},
              {"text", text}}}};
}

json mention_update(std::int64_t update_id, std::int64_t chat, std::int64_t from,
                    std::int64_t message_id, const std::string& text) {
    json update =
        message_update(update_id, chat, from, message_id, "@contact_test_bot " + text, true);
    update["message"]["entities"] =
        json::array({{{"offset", 0}, {"length", 17}, {"type", "mention"}}});
    return update;
}

long post_update(TestBot& bot, const json& update, const std::string& secret = kSecret) {
    std::vector<std::string> headers{"Content-Type: application/json"};
    if (!secret.empty()) headers.push_back("X-Telegram-Bot-Api-Secret-Token: " + secret);
    return http_request("POST", bot.url("/telegram/tg"), update.dump(), headers).status;
}

std::vector<FakeTelegram::Call> sent_to(const FakeTelegram& telegram, std::int64_t chat) {
    std::vector<FakeTelegram::Call> out;
    for (auto& call : telegram.calls("sendMessage")) {
        if (call.params.value("chat_id", std::int64_t{0}) == chat) out.push_back(call);
    }
    return out;
}

}  // namespace

TEST_CASE("telegram webhook: registered, secret checked, private conversation with memory",
          "[integration][telegram]") {
    FakeLlm llm;
    FakeTelegram telegram;
    TempDir dir;
    BotOptions options = with_telegram(telegram, "webhook");
    options.threads = GENERATE(1, 2);  // one I/O thread runs without strands (make_io_strand)
    TestBot bot(llm, dir.path(), options);

    REQUIRE(eventually([&] { return !telegram.webhook_url().empty(); }));
    CHECK(telegram.webhook_url() == "https://bot.example.com/telegram/tg");
    CHECK(telegram.webhook_secret() == kSecret);
    auto registration = telegram.calls("setWebhook").at(0).params;
    CHECK(registration["allowed_updates"] == json::array({"message"}));

    // No secret, a wrong one: 401 and nothing reaches the LLM.
    CHECK(post_update(bot, message_update(1, 500, 500, 1, "hi"), "") == 401);
    CHECK(post_update(bot, message_update(1, 500, 500, 1, "hi"), "wrong") == 401);
    // Not an Update at all, but from Telegram: skipped and acknowledged, so not redelivered.
    CHECK(post_update(bot, json::parse("[1]"), kSecret) == 200);
    std::this_thread::sleep_for(100ms);
    CHECK(llm.request_count() == 0);

    CHECK(post_update(bot, message_update(2, 500, 500, 10, "my name is Ann")) == 200);
    REQUIRE(telegram.wait_for("sendMessage", 1));
    CHECK(post_update(bot, message_update(3, 500, 500, 11, "what is my name?")) == 200);
    REQUIRE(telegram.wait_for("sendMessage", 2));
    auto sent = sent_to(telegram, 500);
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].params["text"] == "echo: my name is Ann");
    CHECK(sent[1].params["text"] == "echo: what is my name?");
    CHECK_FALSE(sent[0].params.contains("reply_parameters"));  // private: no quoting

    // The second LLM request carries the first turn: memory per user.
    auto requests = llm.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1]["messages"].dump().find("my name is Ann") != std::string::npos);
    CHECK(bot.log_text().find(telegram.token()) == std::string::npos);
    CHECK(telegram.count("getMe") == 1);  // once, however many requests came in meanwhile
}

TEST_CASE("telegram webhook: a redelivered update is answered once", "[integration][telegram]") {
    FakeLlm llm;
    llm.reply_delay(300ms);
    FakeTelegram telegram;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_telegram(telegram, "webhook"));

    auto update = message_update(7, 600, 600, 3, "once please");
    CHECK(post_update(bot, update) == 200);
    CHECK(post_update(bot, update) == 200);  // while the first is still running
    REQUIRE(telegram.wait_for("sendMessage", 1));
    CHECK(post_update(bot, update) == 200);  // after it was answered
    std::this_thread::sleep_for(500ms);
    CHECK(llm.request_count() == 1);
    CHECK(telegram.count("sendMessage") == 1);
}

TEST_CASE("telegram groups: answers mentions, replies and commands; memory per member",
          "[integration][telegram]") {
    FakeLlm llm;
    FakeTelegram telegram;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_telegram(telegram, "webhook"));
    const std::int64_t group = -100777;

    // Chatter among members: acknowledged, not stored, not answered.
    CHECK(post_update(bot, message_update(1, group, 41, 1, "lunch anyone?", true)) == 200);
    json other = message_update(2, group, 41, 2, "/help@other_bot", true);
    other["message"]["entities"] =
        json::array({{{"offset", 0}, {"length", 15}, {"type", "bot_command"}}});
    CHECK(post_update(bot, other) == 200);

    CHECK(post_update(bot, mention_update(3, group, 41, 3, "I am Ann")) == 200);
    REQUIRE(telegram.wait_for("sendMessage", 1));
    CHECK(post_update(bot, mention_update(4, group, 42, 4, "I am Bob")) == 200);
    REQUIRE(telegram.wait_for("sendMessage", 2));

    // A reply to the bot's message counts as addressing it.
    json reply = message_update(5, group, 41, 5, "who am I?", true);
    reply["message"]["reply_to_message"] = {
        {"message_id", 1000},
        {"date", 1700000000},
        {"chat", {{"id", group}, {"type", "supergroup"}}},
        {"from", {{"id", 123456}, {"is_bot", true}, {"first_name", "Bot"}}},
        {"text", "echo: I am Ann"}};
    CHECK(post_update(bot, reply) == 200);
    REQUIRE(telegram.wait_for("sendMessage", 3));

    json help = message_update(6, group, 42, 6, "/help@contact_test_bot", true);
    help["message"]["entities"] =
        json::array({{{"offset", 0}, {"length", 22}, {"type", "bot_command"}}});
    CHECK(post_update(bot, help) == 200);
    REQUIRE(telegram.wait_for("sendMessage", 4));

    auto sent = sent_to(telegram, group);
    REQUIRE(sent.size() == 4);
    CHECK(sent[0].params["text"] == "echo: I am Ann");  // the @mention is not sent to the LLM
    CHECK(sent[0].params["reply_parameters"]["message_id"] == 3);  // quotes whom it answers
    CHECK(sent[2].params["reply_parameters"]["message_id"] == 5);
    CHECK(sent[3].params["text"].get<std::string>().find("Commands:") != std::string::npos);

    // Three LLM calls (the command needs none); Ann's second turn sees Ann's history only.
    auto requests = llm.requests();
    REQUIRE(requests.size() == 3);
    std::string third = requests[2]["messages"].dump();
    CHECK(third.find("I am Ann") != std::string::npos);
    CHECK(third.find("I am Bob") == std::string::npos);
    CHECK(third.find("lunch") == std::string::npos);
}

TEST_CASE("telegram: media gets a notice, edits are ignored", "[integration][telegram]") {
    FakeLlm llm;
    FakeTelegram telegram;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_telegram(telegram, "webhook"));

    json photo = message_update(1, 700, 700, 1, "", false);
    photo["message"].erase("text");
    photo["message"]["photo"] = json::array({{{"file_id", "x"}, {"width", 1}, {"height", 1}}});
    CHECK(post_update(bot, photo) == 200);
    REQUIRE(telegram.wait_for("sendMessage", 1));
    CHECK(sent_to(telegram, 700).at(0).params["text"].get<std::string>().find("only read text") !=
          std::string::npos);

    json edited{{"update_id", 2},
                {"edited_message", message_update(0, 700, 700, 2, "x")["message"]}};
    CHECK(post_update(bot, edited) == 200);
    std::this_thread::sleep_for(300ms);
    CHECK(telegram.count("sendMessage") == 1);
    CHECK(llm.request_count() == 0);
}

TEST_CASE("telegram: long replies split at 4096 UTF-16 units; emoji and CJK intact",
          "[integration][telegram]") {
    FakeLlm llm;
    std::string reply;
    for (int i = 0; i < 700; ++i) reply += "Emoji 😀 and 中文。 ";  // ~17 units each
    llm.reply_with([&](const json&) { return reply; });
    FakeTelegram telegram;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_telegram(telegram, "webhook"));

    CHECK(post_update(bot, message_update(1, 800, 800, 1, "long please")) == 200);
    REQUIRE(telegram.wait_for("sendMessage", 3));
    std::this_thread::sleep_for(200ms);
    auto sent = sent_to(telegram, 800);
    REQUIRE(sent.size() == 3);
    std::string joined;
    for (auto& call : sent) {
        auto text = call.params["text"].get<std::string>();
        CHECK(utf16_length(text) <= 4096);
        CHECK(utf16_length(text) > 3000);  // full parts, not byte-sized ones
        joined += text + " ";
    }
    CHECK(joined == reply);
}

TEST_CASE("telegram: 429 waits retry_after; 403 (blocked) is not retried",
          "[integration][telegram]") {
    FakeLlm llm;
    FakeTelegram telegram;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_telegram(telegram, "webhook"));

    telegram.script("sendMessage", 429, "Too Many Requests: retry after 1", 1);
    auto posted = std::chrono::steady_clock::now();
    CHECK(post_update(bot, message_update(1, 900, 900, 1, "hello")) == 200);
    REQUIRE(telegram.wait_for("sendMessage", 2));
    CHECK(std::chrono::steady_clock::now() - posted >= 1s);
    auto sent = sent_to(telegram, 900);
    REQUIRE(sent.size() == 2);  // the refused attempt and the retry
    CHECK(sent[1].params["text"] == "echo: hello");

    telegram.script("sendMessage", 403, "Forbidden: bot was blocked by the user");
    CHECK(post_update(bot, message_update(2, 901, 901, 1, "hello")) == 200);
    REQUIRE(telegram.wait_for("sendMessage", 3));
    std::this_thread::sleep_for(1500ms);
    CHECK(telegram.count("sendMessage") == 3);  // no retry
    CHECK(bot.log_text().find("blocked the bot") != std::string::npos);
}

TEST_CASE("telegram poll mode: deleteWebhook, offsets confirm stored updates, errors back off",
          "[integration][telegram]") {
    FakeLlm llm;
    FakeTelegram telegram;
    TempDir dir;
    std::int64_t first =
        telegram.push_update(json{{"message", message_update(0, 1000, 1000, 1, "one")["message"]}});
    std::int64_t second =
        telegram.push_update(json{{"message", message_update(0, 1001, 1001, 1, "two")["message"]}});
    {
        TestBot bot(llm, dir.path(), with_telegram(telegram, "poll", {{"poll_timeout_s", 1}}));
        REQUIRE(telegram.wait_for("sendMessage", 2));
        CHECK(telegram.count("deleteWebhook") == 1);
        CHECK(sent_to(telegram, 1000).at(0).params["text"] == "echo: one");
        CHECK(sent_to(telegram, 1001).at(0).params["text"] == "echo: two");
        // The next poll confirms both.
        REQUIRE(eventually([&] {
            for (auto& call : telegram.calls("getUpdates")) {
                if (call.params.value("offset", std::int64_t{0}) == second + 1) return true;
            }
            return false;
        }));
        CHECK(telegram.pending_updates() == 0);
        CHECK(first + 1 == second);

        // A failing getUpdates is retried after a pause; the poller keeps going.
        telegram.script("getUpdates", 502, "Bad Gateway");
        REQUIRE(eventually(
            [&] { return bot.log_text().find("getUpdates failed") != std::string::npos; }));
        telegram.push_update(
            json{{"message", message_update(0, 1002, 1002, 1, "three")["message"]}});
        REQUIRE(telegram.wait_for("sendMessage", 3, 15s));
        CHECK(sent_to(telegram, 1002).at(0).params["text"] == "echo: three");
    }
    // Restart: nothing is answered twice.
    TestBot again(llm, dir.path(), with_telegram(telegram, "poll", {{"poll_timeout_s", 1}}));
    std::this_thread::sleep_for(1500ms);
    CHECK(telegram.count("sendMessage") == 3);
    CHECK(llm.request_count() == 3);
}

// An update the codec once threw on (the same @mention entity twice) stopped the poller, and
// since the offset never moved past it, every restart fetched it again: nothing behind it was
// ever stored. Every update is now read, or skipped and confirmed, and the rest go on.
TEST_CASE("telegram: an unusual update never blocks the ones behind it",
          "[integration][telegram]") {
    FakeLlm llm;
    FakeTelegram telegram;
    TempDir dir;
    const bool webhook = GENERATE(false, true);
    json twice = mention_update(0, -1005, 1005, 1, "hi");
    twice["message"]["entities"].push_back(twice["message"]["entities"][0]);
    json after = message_update(0, 1006, 1006, 1, "after");
    TestBot bot(llm, dir.path(),
                with_telegram(telegram, webhook ? "webhook" : "poll", {{"poll_timeout_s", 1}}));
    if (webhook) {
        REQUIRE(eventually([&] { return !telegram.webhook_url().empty(); }));
        twice["update_id"] = 1;
        after["update_id"] = 2;
        CHECK(post_update(bot, twice) == 200);
        CHECK(post_update(bot, json{{"update_id", 3}, {"message", "not an object"}}) == 200);
        CHECK(post_update(bot, after) == 200);
    } else {
        telegram.push_update(json{{"message", twice["message"]}});
        telegram.push_update(json{{"message", "not an object"}});
        telegram.push_update(json{{"message", after["message"]}});
    }
    REQUIRE(telegram.wait_for("sendMessage", 2));
    CHECK(sent_to(telegram, -1005).at(0).params["text"] == "echo: hi");
    CHECK(sent_to(telegram, 1006).at(0).params["text"] == "echo: after");
    if (!webhook) CHECK(eventually([&] { return telegram.pending_updates() == 0; }));
}

TEST_CASE("telegram: one adapter per bot token", "[integration][telegram]") {
    FakeLlm llm;
    FakeTelegram telegram;
    TempDir dir;
    BotOptions options = with_telegram(telegram, "poll");
    options.adapters["tg2"] = telegram_section(telegram, "poll");
    try {
        TestBot bot(llm, dir.path(), options);
        FAIL("a second adapter for the same bot started");
    } catch (const std::exception& e) {
        CHECK(std::string(e.what()).find("adapters.tg") != std::string::npos);
        CHECK(std::string(e.what()).find("only one webhook or poller") != std::string::npos);
    }
}

TEST_CASE("telegram: typing, then the reply streams as drafts in private chats",
          "[integration][telegram]") {
    FakeLlm llm;
    llm.reply_with([](const json&) { return std::string(300, 'x') + " the end"; });
    llm.reply_delay(1500ms);  // streamed evenly over ~1.5 s
    FakeTelegram telegram;
    TempDir dir;
    BotOptions options = with_telegram(telegram, "webhook",
                                       {{"typing", true},
                                        {"typing_after_ms", 0},
                                        {"streaming", "auto"},
                                        {"stream_interval_ms", 300}});
    options.threads = GENERATE(1, 2);
    TestBot bot(llm, dir.path(), options);

    CHECK(post_update(bot, message_update(1, 1100, 1100, 1, "stream")) == 200);
    REQUIRE(telegram.wait_for("sendMessage", 1));
    std::this_thread::sleep_for(200ms);
    CHECK(telegram.count("sendChatAction") >= 1);
    CHECK(telegram.calls("sendChatAction").at(0).params["action"] == "typing");
    auto drafts = telegram.calls("sendMessageDraft");
    REQUIRE(drafts.size() >= 2);
    auto first = drafts.front().params["text"].get<std::string>();
    auto last = drafts.back().params["text"].get<std::string>();
    CHECK(first.size() < last.size());  // it grows
    CHECK(drafts.front().params["draft_id"] == drafts.back().params["draft_id"]);
    CHECK(drafts.front().params["draft_id"] != 0);
    // The final text is a normal message, sent once, after every draft.
    auto all = telegram.calls();
    CHECK(all.back().method == "sendMessage");
    CHECK(all.back().params["text"] == std::string(300, 'x') + " the end");
    CHECK(telegram.count("sendMessage") == 1);
}

TEST_CASE("telegram: in groups the reply streams by editing one message",
          "[integration][telegram]") {
    FakeLlm llm;
    llm.reply_with([](const json&) { return std::string(300, 'y') + " done"; });
    llm.reply_delay(1500ms);
    FakeTelegram telegram;
    TempDir dir;
    TestBot bot(
        llm, dir.path(),
        with_telegram(telegram, "webhook", {{"streaming", "auto"}, {"stream_interval_ms", 300}}));

    CHECK(post_update(bot, mention_update(1, -100900, 5, 9, "stream")) == 200);
    REQUIRE(eventually([&] {
        auto edits = telegram.calls("editMessageText");
        return !edits.empty() && edits.back().params["text"] == std::string(300, 'y') + " done";
    }));
    std::this_thread::sleep_for(200ms);
    CHECK(telegram.count("sendMessageDraft") == 0);
    auto sends = telegram.calls("sendMessage");
    REQUIRE(sends.size() == 1);  // the preview, later edited into the final text
    CHECK(sends[0].params["text"].get<std::string>().ends_with(" …"));
    CHECK(sends[0].params["reply_parameters"]["message_id"] == 9);
    auto edits = telegram.calls("editMessageText");
    CHECK(edits.back().params["message_id"] == edits.front().params["message_id"]);
    CHECK(telegram.calls().back().method == "editMessageText");
}

TEST_CASE("telegram: drafts refused -> streaming falls back to edits", "[integration][telegram]") {
    FakeLlm llm;
    llm.reply_with([](const json&) { return std::string(300, 'z'); });
    llm.reply_delay(1500ms);
    FakeTelegram telegram;
    telegram.script("sendMessageDraft", 400, "Bad Request: method is not available");
    TempDir dir;
    TestBot bot(
        llm, dir.path(),
        with_telegram(telegram, "webhook", {{"streaming", "auto"}, {"stream_interval_ms", 300}}));

    CHECK(post_update(bot, message_update(1, 1200, 1200, 1, "stream")) == 200);
    REQUIRE(eventually([&] {
        auto edits = telegram.calls("editMessageText");
        return !edits.empty() && edits.back().params["text"] == std::string(300, 'z');
    }));
    CHECK(telegram.count("sendMessageDraft") == 1);
    CHECK(telegram.count("sendMessage") == 1);
    CHECK(bot.log_text().find("streaming by editing") != std::string::npos);
}
