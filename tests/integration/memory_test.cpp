// The memory through the real server with the fake LLM (h/summary): the rolling summary keeps an
// early fact of a 300-message conversation, a slow summariser never delays a reply, a crash
// during a summary is made good at the next start (no turn twice), and the facts commands.
#include "fakes/fake_adapter.hpp"
#include "integration/harness.hpp"
#include "storage/sqlite_db.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <set>

using namespace bot::testing;
using nlohmann::json;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// The memory's background requests are told apart by their fixed answer format.
bool is_summary_request(const json& request) {
    const auto& first = request.at("messages").at(0);
    return first.at("role") == "system" && contains(first.at("content"), "{\"summary\":");
}

std::string summary_input_of(const json& request) {
    return request.at("messages").at(1).at("content").get<std::string>();
}

// Everything a reply request holds besides the new message, as one text.
std::string context_of(const json& request) {
    std::string all;
    for (const auto& message : request.at("messages"))
        all += message.at("content").get<std::string>() + "\n";
    return all;
}

std::vector<json> summary_requests(const FakeLlm& llm) {
    std::vector<json> out;
    for (const auto& request : llm.requests())
        if (is_summary_request(request)) out.push_back(request);
    return out;
}

std::vector<json> reply_requests(const FakeLlm& llm) {
    std::vector<json> out;
    for (const auto& request : llm.requests())
        if (!is_summary_request(request)) out.push_back(request);
    return out;
}

// A summariser that folds: what it knows about the cat survives from "Summary so far" or the
// new messages into the next summary.
void summarise_cats(FakeLlm& llm, bool with_facts) {
    llm.route(is_summary_request, [with_facts](const json& request) {
        const std::string input = summary_input_of(request);
        const bool turing = contains(input, "Turing");
        json answer{{"summary", turing ? "The user's cat is called Turing. They chat a lot."
                                       : "They chat a lot."}};
        answer["facts"] =
            with_facts && turing ? json::array({"The user's cat is called Turing"}) : json::array();
        return "```json\n" + answer.dump() + "\n```";
    });
}

BotOptions memory_options(int after_turns, bool facts = true, int max_facts = 50) {
    BotOptions options;
    options.edit_config = [=](json& config) {
        // Recall off: these tests prove what the summary and the facts carry on their own.
        config["memory"] = {{"summary", {{"after_turns", after_turns}, {"retry_s", 1}}},
                            {"facts", {{"enabled", facts}, {"max", max_facts}}},
                            {"recall", {{"enabled", false}}}};
    };
    return options;
}

std::string reply_of(TestBot& bot, const std::string& user, const std::string& text,
                     const std::string& chat = {}) {
    auto [status, body] = bot.send(user, text, {}, chat);
    REQUIRE(status == 200);
    return body.at("reply").get<std::string>();
}

long long query_int(const std::filesystem::path& dir, const std::string& sql) {
    bot::storage::Database db((dir / "bot.db").string(), bot::storage::Database::Mode::read_only);
    auto query = db.prepare(sql);
    query->step();
    return query->column_int64(0);
}

std::string marker(int i) {
    return "[m" + std::to_string(i) + "]";
}

}  // namespace

TEST_CASE("memory: an early fact is still in the request 300 messages later", "[memory]") {
    TempDir dir;
    FakeLlm llm;
    summarise_cats(llm, /*with_facts=*/false);  // the summary alone has to carry it
    TestBot bot(llm, dir.path(), memory_options(20, /*facts=*/false));
    for (int i = 1; i < 300; ++i) {
        const std::string text = i == 3 ? marker(i) + " my cat is called Turing"
                                        : marker(i) + " let us talk about the weather";
        reply_of(bot, "alice", text);
    }
    // The last summary is made in the background: wait for it, as a user would come back.
    REQUIRE(eventually(
        [&] { return query_int(dir.path(), "SELECT count(*) FROM summary_jobs") == 0; }));
    reply_of(bot, "alice", "[m300] what is my cat called?");

    const json last = reply_requests(llm).back();
    CHECK(contains(context_of(last), "[m300]"));
    CHECK(contains(context_of(last), "The user's cat is called Turing"));
    CHECK_FALSE(contains(context_of(last), marker(3)));  // from the summary, not the turn
    CHECK(last.at("messages").size() <= 2 + 20 + 1);     // persona, notes, turns, question

    // Every old message was folded into exactly one summary request; none twice.
    const auto summaries = summary_requests(llm);
    CHECK(summaries.size() >= 10);
    for (int i = 1; i < 270; ++i) {
        int seen = 0;
        for (const auto& request : summaries)
            seen += contains(summary_input_of(request), marker(i) + " ");
        INFO("message " << i);
        CHECK(seen == 1);
    }
    // Each summary folds in the previous one.
    CHECK(contains(summary_input_of(summaries.back()),
                   "Summary so far:\nThe user's cat is called Turing"));
}

TEST_CASE("memory: a slow summariser does not slow replies", "[memory]") {
    TempDir dir;
    FakeLlm llm;
    summarise_cats(llm, true);
    llm.hold_routed(true);
    TestBot bot(llm, dir.path(), memory_options(8));
    int i = 0;
    while (llm.held() == 0 && i < 20) reply_of(bot, "alice", marker(++i) + " hello");
    REQUIRE(llm.held() == 1);
    // While the summary request is held, replies come and go.
    for (int k = 0; k < 10; ++k) {
        const std::string text = marker(++i) + " still there?";
        CHECK(reply_of(bot, "alice", text) == "echo: " + text);
        CHECK(reply_of(bot, "bob", "hi " + std::to_string(k)) == "echo: hi " + std::to_string(k));
    }
    // Still the one summary: none twice for a conversation, and bob's waits for the one
    // worker (memory.summary.workers: 1 by default).
    CHECK(llm.held() == 1);
    CHECK(query_int(dir.path(), "SELECT count(*) FROM conversation_summaries") == 0);
    llm.hold_routed(false);
    // Then alice's summary is stored, and bob's (queued behind it: one worker) follows.
    REQUIRE(eventually(
        [&] { return query_int(dir.path(), "SELECT count(*) FROM conversation_summaries") == 2; }));
}

TEST_CASE("memory: a summary interrupted by a crash is made at the next start, once", "[memory]") {
    TempDir dir;
    FakeLlm llm;
    summarise_cats(llm, true);
    llm.hold_routed(true);
    {
        TestBot bot(llm, dir.path(), memory_options(8));
        int i = 0;
        while (llm.held() == 0 && i < 20) reply_of(bot, "alice", marker(++i) + " hello");
        REQUIRE(llm.held() == 1);
        bot.stop();  // while the summary request is held
    }
    REQUIRE(summary_requests(llm).size() == 1);
    CHECK(query_int(dir.path(), "SELECT count(*) FROM conversation_summaries") == 0);
    CHECK(query_int(dir.path(), "SELECT count(*) FROM summary_jobs") == 1);
    const std::string interrupted = summary_input_of(summary_requests(llm).front());

    llm.hold_routed(false);
    TestBot bot(llm, dir.path(), memory_options(8));
    REQUIRE(eventually([&] {
        return query_int(dir.path(), "SELECT count(*) FROM conversation_summaries") == 1 &&
               query_int(dir.path(), "SELECT count(*) FROM summary_jobs") == 0;
    }));
    auto summaries = summary_requests(llm);
    REQUIRE(summaries.size() == 2);
    // Asked again from the same pointer: the same turns first (and those that came after the
    // job was recorded, up to its newest keep_turns).
    const std::string made = summary_input_of(summaries[1]);
    CHECK(made.starts_with(interrupted));
    // The pointer is the newest turn of that request (an assistant turn: an echo).
    const long long through =
        query_int(dir.path(), "SELECT through_message_id FROM conversation_summaries");
    {
        bot::storage::Database db((dir.path() / "bot.db").string(),
                                  bot::storage::Database::Mode::read_only);
        auto turn = db.prepare("SELECT role, content FROM messages WHERE id = ?");
        turn->bind_all(static_cast<std::int64_t>(through));
        REQUIRE(turn->step());
        CHECK(turn->column_text(0) == "assistant");
        CHECK(made.ends_with("Assistant: " + turn->column_text(1) + "\n"));
        auto after = db.prepare("SELECT content FROM messages WHERE id = ?");
        after->bind_all(static_cast<std::int64_t>(through + 1));
        REQUIRE(after->step());
        CHECK_FALSE(contains(made, after->column_text(0)));
    }
    // More talk: the next summary starts after the pointer, nothing of the first again.
    for (int i = 100; i < 120; ++i) reply_of(bot, "alice", marker(i) + " more");
    REQUIRE(eventually([&] { return summary_requests(llm).size() >= 3; }));
    summaries = summary_requests(llm);
    for (int i = 1; i < 100; ++i) {
        if (contains(made, marker(i) + " ")) {
            for (std::size_t k = 2; k < summaries.size(); ++k)
                CHECK_FALSE(contains(summary_input_of(summaries[k]), marker(i) + " "));
        }
    }
}

TEST_CASE("memory: a failed summary is retried with backoff, the reply unaffected", "[memory]") {
    TempDir dir;
    FakeLlm llm;
    summarise_cats(llm, true);
    llm.fail_routed(2);  // one attempt (the client retries once)
    TestBot bot(llm, dir.path(), memory_options(8));
    for (int i = 1; i <= 6; ++i) reply_of(bot, "alice", marker(i) + " hello");
    REQUIRE(eventually(
        [&] { return query_int(dir.path(), "SELECT attempts FROM summary_jobs") == 1; }));
    // The sweep retries after retry_s (1 s here).
    REQUIRE(eventually(
        [&] { return query_int(dir.path(), "SELECT count(*) FROM conversation_summaries") == 1; }));
    CHECK(contains(bot.log_text(), "retrying in"));
}

TEST_CASE("memory: /remember, /memory, /memory forget N, dedupe and the cap", "[memory]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), memory_options(20, true, 3));
    CHECK(contains(reply_of(bot, "alice", "/help"), "/remember TEXT"));
    CHECK(contains(reply_of(bot, "alice", "/memory"), "don't remember anything"));
    CHECK(reply_of(bot, "alice", "/remember I like green tea") == "OK, I will remember that.");
    CHECK(reply_of(bot, "alice", "/remember i like  green tea.") == "I know that already.");
    CHECK(reply_of(bot, "alice", "/remember I live in Lyon") == "OK, I will remember that.");
    CHECK(reply_of(bot, "alice", "/remember I have two kids") == "OK, I will remember that.");
    CHECK(contains(reply_of(bot, "alice", "/remember I play chess"), "full (3 facts)"));
    CHECK(contains(reply_of(bot, "alice", "/remember"), "/remember TEXT"));
    CHECK(reply_of(bot, "alice", "/memory") ==
          "What I remember about you:\n1. I like green tea\n2. I live in Lyon\n3. I have two "
          "kids\n/memory forget N removes one; /forget deletes everything stored about you.");
    CHECK(reply_of(bot, "alice", "/memory forget 2") == "Done: I forgot fact 2.");
    CHECK(contains(reply_of(bot, "alice", "/memory forget 7"), "There is no fact 7"));
    CHECK(contains(reply_of(bot, "alice", "/memory forget two"), "/memory forget N"));
    CHECK(contains(reply_of(bot, "alice", "/memory"), "2. I have two kids"));

    reply_of(bot, "alice", "what should I drink?");
    const std::string context = context_of(reply_requests(llm).back());
    CHECK(
        contains(context, "What you know about the user:\n- I like green tea\n- I have two kids"));
    CHECK_FALSE(contains(context, "Lyon"));
    CHECK_FALSE(contains(context_of(reply_requests(llm).back()), "/remember"));  // not turns
}

TEST_CASE("memory: facts are taken from the conversation in the background", "[memory]") {
    TempDir dir;
    FakeLlm llm;
    summarise_cats(llm, true);
    TestBot bot(llm, dir.path(), memory_options(8));
    reply_of(bot, "alice", "my cat is called Turing");
    for (int i = 1; i <= 5; ++i) reply_of(bot, "alice", marker(i) + " hello");
    REQUIRE(eventually([&] { return contains(reply_of(bot, "alice", "/memory"), "Turing"); }));
    CHECK(reply_of(bot, "alice", "/memory") ==
          "What I remember about you:\n1. The user's cat is called Turing\n/memory forget N "
          "removes one; /forget deletes everything stored about you.");
    CHECK(contains(reply_of(bot, "bob", "/memory"), "don't remember anything"));
}

TEST_CASE("memory: in a group each member has their own facts", "[memory]") {
    TempDir dir;
    FakeLlm llm;
    auto options = memory_options(20);
    options.before_start = [](bot::App& app) {
        app.add_adapter("fake", std::make_unique<FakeAdapter>());
    };
    TestBot bot(llm, dir.path(), options);
    auto say = [&](const std::string& user, const std::string& text, bool in_group = true) {
        static int n = 0;
        auto event = bot.submit(bot::Inbound{.chat = {.adapter_id = "fake",
                                                      .chat_id = in_group ? "group-1" : user,
                                                      .is_group = in_group},
                                             .sender_id = user,
                                             .sender_name = user,
                                             .message_id = "g" + std::to_string(++n),
                                             .text = text,
                                             .mentions_me = true});
        return event.text;
    };
    CHECK(say("alice", "/remember I am Alice, a pilot") == "OK, I will remember that.");
    CHECK(say("bob", "/remember I am Bob, a cook") == "OK, I will remember that.");
    // The list is not for the whole group to read; in a private chat each sees their own.
    CHECK(contains(say("alice", "/memory"), "private chat"));
    CHECK_FALSE(contains(say("alice", "/memory"), "pilot"));
    CHECK(contains(say("alice", "/memory", false), "1. I am Alice, a pilot"));
    CHECK_FALSE(contains(say("alice", "/memory", false), "Bob"));
    CHECK_FALSE(contains(say("bob", "/memory", false), "Alice"));
    say("alice", "what do I do for a living?");
    const std::string context = context_of(reply_requests(llm).back());
    CHECK(contains(context, "I am Alice, a pilot"));
    CHECK_FALSE(contains(context, "Bob"));
}

TEST_CASE("memory: /export shows, /forget removes the user's summaries, jobs and facts",
          "[memory]") {
    TempDir dir;
    FakeLlm llm;
    summarise_cats(llm, true);
    auto options = memory_options(8);
    options.edit_config = [edit = options.edit_config](json& config) {
        edit(config);
        config["server"]["public_url"] = "https://bot.example.test";
    };
    TestBot bot(llm, dir.path(), options);
    reply_of(bot, "alice", "my cat is called Turing");
    reply_of(bot, "bob", "my cat is called Turing");
    reply_of(bot, "alice", "/remember I like tea");
    for (int i = 1; i <= 6; ++i) {
        reply_of(bot, "alice", marker(i) + " hello");
        reply_of(bot, "bob", marker(i) + " hello");
    }
    REQUIRE(eventually([&] {
        return query_int(dir.path(), "SELECT count(*) FROM conversation_summaries") == 2 &&
               query_int(dir.path(), "SELECT count(*) FROM summary_jobs") == 0;
    }));
    REQUIRE(query_int(dir.path(), "SELECT count(*) FROM user_facts WHERE user_id = 'alice'") == 2);
    // /export has them (h/social's export, with the summary and facts added).
    {
        std::smatch match;
        const std::string reply = reply_of(bot, "alice", "/export");
        REQUIRE(std::regex_search(reply, match,
                                  std::regex("https://bot\\.example\\.test(/export/[0-9a-f]+)")));
        auto download = http_request("GET", bot.url(match[1].str()));
        REQUIRE(download.status == 200);
        const auto data = json::parse(download.body);
        CHECK(data.at("facts").size() == 2);
        CHECK(data.at("facts").at(0).at("text") == "I like tea");
        CHECK(data.at("facts").at(0).at("from_user") == true);
        CHECK(contains(data.at("conversations").at(0).at("summary"), "Turing"));
        CHECK_FALSE(contains(download.body, "bob"));
    }
    // /reset: the facts stay (they are the user's); the new conversation has no summary.
    reply_of(bot, "alice", "/reset");
    reply_of(bot, "alice", "hello again");
    std::string context = context_of(reply_requests(llm).back());
    CHECK_FALSE(contains(context, "Summary of your earlier conversation"));
    CHECK(contains(context, "- I like tea"));

    reply_of(bot, "alice", "/forget");
    CHECK(query_int(dir.path(), "SELECT count(*) FROM user_facts WHERE user_id = 'alice'") == 0);
    CHECK(query_int(dir.path(),
                    "SELECT count(*) FROM conversation_summaries s JOIN conversations c "
                    "ON c.id = s.conversation_id WHERE c.user_id = 'alice'") == 0);
    CHECK(query_int(dir.path(), "SELECT count(*) FROM conversation_summaries") == 1);  // bob's
    CHECK(query_int(dir.path(),
                    "SELECT count(*) FROM summary_jobs WHERE conversation_id NOT IN "
                    "(SELECT id FROM conversations WHERE user_id = 'bob')") == 0);
    CHECK(query_int(dir.path(), "SELECT count(*) FROM user_facts WHERE user_id = 'bob'") == 1);
    reply_of(bot, "alice", "who am I?");
    context = context_of(reply_requests(llm).back());
    CHECK_FALSE(contains(context, "Turing"));
    CHECK_FALSE(contains(context, "tea"));
}

TEST_CASE("memory: off means no summary requests and no fact commands", "[memory]") {
    TempDir dir;
    FakeLlm llm;
    BotOptions options;
    options.edit_config = [](json& config) {
        config["memory"] = {{"summary", {{"enabled", false}}}, {"facts", {{"enabled", false}}}};
        config["bot"]["history_turns"] = 8;
    };
    TestBot bot(llm, dir.path(), options);
    for (int i = 1; i <= 12; ++i) reply_of(bot, "alice", marker(i) + " hello");
    CHECK(summary_requests(llm).empty());
    CHECK(contains(reply_of(bot, "alice", "/remember x"), "Unknown command"));
    CHECK_FALSE(contains(reply_of(bot, "alice", "/help"), "/memory"));
}
