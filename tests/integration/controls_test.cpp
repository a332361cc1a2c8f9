// The user's own controls end to end: /persona and /model through the real server, remembered
// per user in SQLite across a restart, removed by /forget, and listed by /help only when enabled.
#include "integration/harness.hpp"
#include "storage/sqlite_db.hpp"

#include <catch2/catch.hpp>

using namespace bot::testing;
using nlohmann::json;

namespace {

constexpr const char* kPirate = "You are a pirate. Answer like one.";
constexpr const char* kTeacher = "You are a patient teacher.";

// Two personas; a second provider ("second", at second_llm) users may pick.
BotOptions controls_options(const FakeLlm* second_llm) {
    BotOptions options;
    std::string second_url = second_llm ? second_llm->base_url() : std::string();
    options.edit_config = [second_url](json& config) {
        config["bot"]["personas"] = {{"pirate", kPirate}, {"teacher", kTeacher}};
        if (second_url.empty()) return;
        config["llm"]["providers"]["second"] = {{"type", "openai"},       {"base_url", second_url},
                                                {"api_key", "sk-second"}, {"model", "second-model"},
                                                {"retries", 0},           {"reply_tokens", 64}};
        config["bot"]["user_models"] = {"second"};
    };
    return options;
}

std::string system_prompt_of(const json& request) {
    const auto& first = request.at("messages").at(0);
    return first.at("role") == "system" ? first.at("content").get<std::string>() : std::string();
}

std::string reply_of(TestBot& bot, const std::string& user, const std::string& text) {
    auto [status, body] = bot.send(user, text);
    REQUIRE(status == 200);
    return body.at("reply").get<std::string>();
}

long long settings_rows(const std::filesystem::path& dir, const std::string& user) {
    bot::storage::Database db((dir / "bot.db").string(), bot::storage::Database::Mode::read_only);
    auto count = db.prepare("SELECT count(*) FROM user_settings WHERE user_id = ?");
    count->bind_all(user);
    count->step();
    return count->column_int64(0);
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("/persona changes the system prompt and survives a restart", "[controls]") {
    TempDir dir;
    FakeLlm llm;
    {
        TestBot bot(llm, dir.path(), controls_options(nullptr));
        reply_of(bot, "alice", "hello");
        REQUIRE(llm.request_count() == 1);
        CHECK(system_prompt_of(llm.requests()[0]) == "You are a test bot.");

        auto listing = reply_of(bot, "alice", "/persona");
        CHECK(contains(listing, "* default"));
        CHECK(contains(listing, "  pirate"));
        CHECK(contains(listing, "  teacher"));

        auto unknown = reply_of(bot, "alice", "/persona dragon");
        CHECK(contains(unknown, "no such persona"));
        CHECK(contains(unknown, "pirate, teacher"));

        CHECK(contains(reply_of(bot, "alice", "/persona Pirate"), "pirate"));
        reply_of(bot, "alice", "ahoy");
        reply_of(bot, "bob", "hi");  // others keep the default
        auto requests = llm.requests();
        REQUIRE(requests.size() == 3);
        CHECK(system_prompt_of(requests[1]) == kPirate);
        CHECK(system_prompt_of(requests[2]) == "You are a test bot.");
        CHECK(contains(reply_of(bot, "alice", "/persona"), "* pirate"));
    }
    {
        TestBot bot(llm, dir.path(), controls_options(nullptr));  // the same database
        reply_of(bot, "alice", "still a pirate?");
        CHECK(system_prompt_of(llm.requests().back()) == kPirate);

        reply_of(bot, "alice", "/persona default");
        reply_of(bot, "alice", "back to normal");
        CHECK(system_prompt_of(llm.requests().back()) == "You are a test bot.");
        CHECK(settings_rows(dir.path(), "alice") == 0);  // nothing chosen: no row
    }
}

TEST_CASE("/model routes a user's requests to the provider they picked", "[controls]") {
    TempDir dir;
    FakeLlm llm;
    FakeLlm second;
    second.reply_with([](const json&) { return std::string("from the second model"); });
    {
        TestBot bot(llm, dir.path(), controls_options(&second));
        auto listing = reply_of(bot, "alice", "/model");
        CHECK(contains(listing, "* default (fake)"));
        CHECK(contains(listing, "  second"));
        CHECK(contains(reply_of(bot, "alice", "/model gpt-99"), "no such model"));

        reply_of(bot, "alice", "/model second");
        CHECK(reply_of(bot, "alice", "hello") == "from the second model");
        CHECK(reply_of(bot, "bob", "hello") == "echo: hello");
        REQUIRE(second.request_count() == 1);
        CHECK(second.requests()[0].at("model") == "second-model");
        CHECK(second.last_header("Authorization") == "Bearer sk-second");
    }
    {
        TestBot bot(llm, dir.path(), controls_options(&second));
        CHECK(reply_of(bot, "alice", "again") == "from the second model");
        // The conversation went on with the other model: it sees the earlier turns.
        auto turns = second.requests().back().at("messages");
        CHECK(turns.size() == 4);  // system, hello, its answer, again
        reply_of(bot, "alice", "/model default");
        CHECK(reply_of(bot, "alice", "and now") == "echo: and now");
    }
}

TEST_CASE("a choice the operator removed falls back to the default", "[controls]") {
    TempDir dir;
    FakeLlm llm;
    FakeLlm second;
    second.reply_with([](const json&) { return std::string("from the second model"); });
    {
        TestBot bot(llm, dir.path(), controls_options(&second));
        reply_of(bot, "alice", "/persona teacher");
        reply_of(bot, "alice", "/model second");
    }
    BotOptions fewer;
    fewer.edit_config = [](json& config) { config["bot"]["personas"] = {{"pirate", kPirate}}; };
    TestBot bot(llm, dir.path(), fewer);
    CHECK(reply_of(bot, "alice", "hello") == "echo: hello");
    CHECK(system_prompt_of(llm.requests().back()) == "You are a test bot.");
    CHECK(contains(reply_of(bot, "alice", "/persona"), "* default"));
    CHECK(contains(bot.log_text(), "persona 'teacher' is no longer configured"));
}

TEST_CASE("an adapter's persona is its users' default", "[controls]") {
    TempDir dir;
    FakeLlm llm;
    BotOptions options = controls_options(nullptr);
    auto edit = options.edit_config;
    options.edit_config = [edit](json& config) {
        edit(config);
        config["adapters"]["api"]["persona"] = "teacher";
    };
    TestBot bot(llm, dir.path(), options);
    reply_of(bot, "alice", "hello");
    CHECK(system_prompt_of(llm.requests().back()) == kTeacher);
    CHECK(contains(reply_of(bot, "alice", "/persona"), "* default (teacher)"));
    reply_of(bot, "alice", "/persona@contact_bot pirate");  // Telegram's form in groups
    reply_of(bot, "alice", "ahoy");
    CHECK(system_prompt_of(llm.requests().back()) == kPirate);
}

TEST_CASE("/forget deletes the user's choices", "[controls]") {
    TempDir dir;
    FakeLlm llm;
    FakeLlm second;
    TestBot bot(llm, dir.path(), controls_options(&second));
    reply_of(bot, "alice", "/persona pirate");
    reply_of(bot, "alice", "/model second");
    reply_of(bot, "bob", "/persona teacher");
    CHECK(settings_rows(dir.path(), "alice") == 1);

    CHECK(contains(reply_of(bot, "alice", "/forget"), "deleted everything"));
    CHECK(settings_rows(dir.path(), "alice") == 0);
    CHECK(settings_rows(dir.path(), "bob") == 1);
    reply_of(bot, "alice", "who are you?");
    CHECK(system_prompt_of(llm.requests().back()) == "You are a test bot.");
    CHECK(second.request_count() == 0);
}

TEST_CASE("/help lists /persona and /model only when they are enabled", "[controls]") {
    TempDir dir;
    FakeLlm llm;
    FakeLlm second;
    SECTION("enabled") {
        TestBot bot(llm, dir.path(), controls_options(&second));
        auto help = reply_of(bot, "alice", "/help");
        CHECK(contains(help, "/persona"));
        CHECK(contains(help, "/model"));
    }
    SECTION("disabled") {
        TestBot bot(llm, dir.path());
        auto help = reply_of(bot, "alice", "/help");
        CHECK_FALSE(contains(help, "/persona"));
        CHECK_FALSE(contains(help, "/model"));
        CHECK(contains(reply_of(bot, "alice", "/persona pirate"), "Unknown command /persona"));
        CHECK(contains(reply_of(bot, "alice", "/model second"), "Unknown command /model"));
        CHECK(llm.request_count() == 0);
    }
}

TEST_CASE("/usage counts a user's messages and tokens, estimated when none are reported",
          "[controls]") {
    TempDir dir;
    FakeLlm llm;
    {
        TestBot bot(llm, dir.path());
        CHECK(contains(reply_of(bot, "alice", "/help"), "/usage"));
        auto none = reply_of(bot, "alice", "/usage");
        CHECK(contains(none, "Today (UTC): 0 messages, 0 tokens"));

        reply_of(bot, "alice", "hello");  // the fake reports 10 + 5 tokens
        reply_of(bot, "alice", "again");
        reply_of(bot, "bob", "hi");
        reply_of(bot, "alice", "/help");  // commands are not counted
        auto counted = reply_of(bot, "alice", "/usage");
        CHECK(contains(counted, "Today (UTC): 2 messages, 30 tokens (20 in, 10 out)"));
        CHECK(contains(counted, "In total: 2 messages, 30 tokens"));
    }
    {
        // After a restart, with a provider that reports no usage: estimated, never zero.
        llm.send_usage(false);
        TestBot bot(llm, dir.path());
        reply_of(bot, "alice", "one more");
        auto counted = reply_of(bot, "alice", "/usage");
        INFO(counted);
        CHECK(contains(counted, "Today (UTC): 3 messages"));
        CHECK_FALSE(contains(counted, "30 tokens (20 in, 10 out)"));  // the estimate was added

        reply_of(bot, "alice", "/forget");
        CHECK(contains(reply_of(bot, "alice", "/usage"), "In total: 0 messages, 0 tokens"));
        bot::storage::Database db((dir.path() / "bot.db").string(),
                                  bot::storage::Database::Mode::read_only);
        auto rows = db.prepare("SELECT user_id FROM usage_daily");
        REQUIRE(rows->step());
        CHECK(rows->column_text(0) == "bob");
        CHECK_FALSE(rows->step());
    }
}
