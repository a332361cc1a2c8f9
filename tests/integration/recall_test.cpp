// Recall end to end (issue 24, h/recall): through the real server with the fake LLM, an early
// turn that left the context comes back as an earlier excerpt (English and Chinese, two-character
// words included); 1,000 users with the same words never see each other's turns; /forget leaves
// nothing of the user in any table (shadow tables included); embeddings rank by vector, and a
// failing or slow embeddings endpoint neither fails nor delays a reply.
#include "fakes/db_leftovers.hpp"
#include "integration/harness.hpp"
#include "storage/sqlite_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

using namespace bot::testing;
using nlohmann::json;
namespace storage = bot::storage;
namespace net = boost::asio;

namespace {

template <class T>
T run(net::awaitable<T> operation) {
    net::io_context io;
    auto result = net::co_spawn(io, std::move(operation), net::use_future);
    io.run();
    return result.get();
}

constexpr const char* kExcerptsTitle = "Earlier excerpts of your conversations with the user";

// A small window (the newest 6 turns), so a few messages push a turn out of it. Summaries
// off: their requests would interleave with the replies these tests read.
BotOptions recall_options(int history_turns = 6) {
    BotOptions options;
    options.edit_config = [history_turns](json& config) {
        config["bot"]["history_turns"] = history_turns;
        config["memory"]["summary"]["enabled"] = false;
    };
    return options;
}

std::string reply_of(TestBot& bot, const std::string& user, const std::string& text,
                     const std::string& chat = {}) {
    auto [status, body] = bot.send(user, text, {}, chat);
    REQUIRE(status == 200);
    return body.value("reply", "");
}

// The memory notes (the second system message) of the newest LLM request; "" when none.
std::string last_notes(const FakeLlm& llm) {
    const auto requests = llm.requests();
    REQUIRE(!requests.empty());
    const auto& messages = requests.back().at("messages");
    if (messages.size() > 1 && messages[1].at("role") == "system")
        return messages[1].at("content").get<std::string>();
    return {};
}

// The recalled excerpt lines ("> [date] User: ...") of notes.
std::vector<std::string> excerpts_in(const std::string& notes) {
    std::vector<std::string> lines;
    const auto start = notes.find(kExcerptsTitle);
    if (start == std::string::npos) return lines;
    std::size_t at = notes.find('\n', start);
    while (at != std::string::npos && notes.compare(at + 1, 2, "> ") == 0) {
        const auto end = notes.find('\n', at + 1);
        lines.push_back(notes.substr(at + 3, end - at - 3));
        at = end;
    }
    return lines;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Whether the newest request's turns (not the notes) hold text.
bool in_turns(const FakeLlm& llm, const std::string& text) {
    const json messages = llm.requests().back().at("messages");
    for (std::size_t i = 0; i + 1 < messages.size(); ++i) {
        if (messages[i].at("role") != "system" &&
            contains(messages[i].at("content").get<std::string>(), text))
            return true;
    }
    return false;
}

}  // namespace

TEST_CASE("An early turn pushed out of the window is recalled as an earlier excerpt", "[recall]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), recall_options());
    reply_of(bot, "ada", "My cat is called Turing");
    reply_of(bot, "ada", "我家猫咪叫图灵");
    reply_of(bot, "ada", "我上个月去了北京");
    for (int i = 0; i < 8; ++i) reply_of(bot, "ada", "Filler message " + std::to_string(i));

    reply_of(bot, "ada", "What is my cat's name?");
    CHECK_FALSE(in_turns(llm, "Turing"));  // out of the window...
    auto excerpts = excerpts_in(last_notes(llm));
    REQUIRE(!excerpts.empty());  // ...but recalled, with its answer
    CHECK(contains(excerpts.front(), "User: My cat is called Turing | You answered: echo: My cat"));

    reply_of(bot, "ada", "我的猫咪叫什么？");
    excerpts = excerpts_in(last_notes(llm));
    REQUIRE(!excerpts.empty());
    CHECK(contains(excerpts.front(), "我家猫咪叫图灵"));

    reply_of(bot, "ada", "北京");  // a two-character word alone
    excerpts = excerpts_in(last_notes(llm));
    REQUIRE(excerpts.size() == 1);
    CHECK(contains(excerpts.front(), "我上个月去了北京"));

    // A turn still in the window is not repeated as an excerpt.
    reply_of(bot, "ada", "I started kayaking lessons");
    reply_of(bot, "ada", "any kayaking tips?");
    CHECK(in_turns(llm, "I started kayaking lessons"));
    CHECK(excerpts_in(last_notes(llm)).empty());
}

TEST_CASE("Recall never crosses users or chats through the server", "[recall]") {
    TempDir dir;
    FakeLlm llm;
    TestBot bot(llm, dir.path(), recall_options(2));
    reply_of(bot, "bea", "my secret diagnosis is bronchitis");
    reply_of(bot, "bea", "filler one");
    reply_of(bot, "cal", "what about bronchitis?");
    CHECK(excerpts_in(last_notes(llm)).empty());
    // The same user in another chat (e.g. a group) does not get the private turn either.
    reply_of(bot, "bea", "what about bronchitis?", "group-1");
    CHECK(excerpts_in(last_notes(llm)).empty());
    reply_of(bot, "bea", "what about bronchitis?");
    CHECK(excerpts_in(last_notes(llm)).size() == 1);
}

namespace {

// Fills the store directly (the server path would take minutes for 8,000 turns): many
// exchanges at once, so group commit batches them.
void fill(const std::string& path, const std::vector<std::pair<std::string, std::string>>& turns) {
    storage::SqliteOptions options{.path = path};
    options.recall_index = true;
    storage::SqliteStore store(options);
    net::io_context io;
    std::size_t next = 0;
    int failed = 0;
    for (int worker = 0; worker < 64; ++worker) {
        net::co_spawn(
            io,
            [&]() -> net::awaitable<void> {
                while (next < turns.size()) {
                    const auto& [user, text] = turns[next];
                    const std::string message_id = "fill-" + std::to_string(next++);
                    storage::ConversationKey key{"api", user, user};
                    storage::InboundRecord record{.key = key,
                                                  .message_id = message_id,
                                                  .user_name = "",
                                                  .is_group = false,
                                                  .text = text,
                                                  .received_at_ms = 1700000000000};
                    auto accepted = co_await store.accept_inbound(std::move(record));
                    storage::Completion completion{.inbox_id = accepted.inbox_id,
                                                   .key = key,
                                                   .reply_to = message_id,
                                                   .user_text = text,
                                                   .reply = "noted",
                                                   .remember = true,
                                                   .usage = std::nullopt};
                    co_await store.complete(std::move(completion));
                }
            },
            [&](std::exception_ptr error) {
                if (error) ++failed;
            });
    }
    io.run();
    store.close();
    REQUIRE(failed == 0);
}

std::string user_name(int user) {
    char id[16];
    std::snprintf(id, sizeof id, "u%04d", user);
    return id;
}

}  // namespace

TEST_CASE("1,000 users with the same words: no excerpt ever comes from another user", "[recall]") {
    TempDir dir;
    const std::string path = (dir.path() / "bot.db").string();
    constexpr int kUsers = 1000;
    std::vector<std::pair<std::string, std::string>> turns;
    for (int turn = 0; turn < 8; ++turn) {
        for (int user = 0; user < kUsers; ++user) {
            turns.emplace_back(user_name(user), "owner " + user_name(user) +
                                                    ": my cat Turing likes fish, 我家猫咪在北京 " +
                                                    std::to_string(turn));
        }
    }
    fill(path, turns);

    FakeLlm llm;
    {
        // Through the server for a sample: every excerpt in the LLM request is the asker's.
        TestBot bot(llm, dir.path(), recall_options(2));
        for (int user = 0; user < kUsers; user += 37) {
            const std::string id = user_name(user);
            for (const char* question : {"what does Turing like?", "猫咪", "北京"}) {
                reply_of(bot, id, question);
                const auto excerpts = excerpts_in(last_notes(llm));
                CHECK(excerpts.size() == 3);
                for (const auto& excerpt : excerpts) {
                    if (!contains(excerpt, "User: owner " + id + ":"))
                        FAIL_CHECK(id << " was shown " << excerpt);
                }
            }
        }
    }
    // Through the store for all of them.
    storage::SqliteOptions options{.path = path};
    options.recall_index = true;
    storage::SqliteStore store(options);
    int checked = 0;
    for (int user = 0; user < kUsers; ++user) {
        const std::string id = user_name(user);
        for (const char* question : {"what does Turing like?", "猫咪", "北京"}) {
            storage::RecallQuery query{.key = {"api", id, id}, .text = question, .limit = 5};
            for (const auto& turn : run(store.recall(query))) {
                ++checked;
                // The sample above also asked its questions: those turns are theirs too.
                const bool asked = user % 37 == 0 && turn.user_text == question;
                if (turn.user_text.rfind("owner " + id + ":", 0) != 0 && !asked)
                    FAIL_CHECK(id << " got " << turn.user_text);
            }
        }
    }
    CHECK(checked == kUsers * 3 * 5);
}

TEST_CASE("/forget through the server leaves nothing of the user in any table or index",
          "[recall]") {
    TempDir dir;
    FakeLlm llm;
    const std::string user = "zed-48151";
    {
        TestBot bot(llm, dir.path(), recall_options(2));
        reply_of(bot, user, "my parrot Zanzibarite speaks Klingon");
        reply_of(bot, user, "我的鹦鹉叫喳喳");
        reply_of(bot, user, "Zanzibarite visits the group", "group-77");
        reply_of(bot, user, "/usage");
        reply_of(bot, user, "/reset");
        reply_of(bot, user, "what does my parrot say?");  // recalled: the index is in use
        CHECK(!excerpts_in(last_notes(llm)).empty());
        reply_of(bot, "other-user", "my parrot is quiet");
        reply_of(bot, "other-user", "filler");
        const std::string confirmation = reply_of(bot, user, "/forget");
        CHECK(contains(confirmation, "deleted everything"));
        reply_of(bot, "other-user", "how is my parrot?");  // the index still serves others
        CHECK(excerpts_in(last_notes(llm)).size() == 1);
    }
    const std::string path = (dir.path() / "bot.db").string();
    // Every table, the FTS5 shadow tables and any other branch's tables included.
    const auto tables = table_names(path);
    for (const char* shadow : {"recall_fts_data", "recall_fts_idx", "recall_fts_content",
                               "recall_fts_docsize", "recall_vectors", "recall_owners"}) {
        CHECK(std::find(tables.begin(), tables.end(), shadow) != tables.end());
    }
    // Not even the /forget request's own rows: they go once its confirmation is delivered.
    const auto left = find_leftovers(path, {user, "Zanzibarite", "zanzibarite", "Klingon",
                                            "klingon", "parrot Z", "喳喳", "鹦鹉", "group-77"});
    for (const auto& leftover : left) FAIL_CHECK(leftover.describe());
    CHECK(left.empty());
}

TEST_CASE("Embeddings: turns are embedded in the background and a vector match is recalled",
          "[recall]") {
    TempDir dir;
    FakeLlm llm;
    llm.embeddings().synonym("feline", "cat");
    BotOptions options;
    const std::string url = llm.base_url();
    options.edit_config = [url](json& config) {
        config["bot"]["history_turns"] = 2;
        config["memory"]["summary"]["enabled"] = false;
        config["memory"]["embeddings"] = {
            {"base_url", url}, {"model", "fake-embed"}, {"query_timeout_ms", 2000}};
    };
    TestBot bot(llm, dir.path(), options);
    reply_of(bot, "eve", "My cat is called Turing");
    for (int i = 0; i < 4; ++i) reply_of(bot, "eve", "Filler message " + std::to_string(i));
    const std::string path = (dir.path() / "bot.db").string();
    const auto embedded = [&] {
        bot::storage::Database db(path, bot::storage::Database::Mode::read_only);
        auto query = db.prepare(
            "SELECT count(*) FROM recall_vectors WHERE vector IS NOT NULL AND length(vector) = ?");
        query->bind_all(static_cast<std::int64_t>(FakeEmbeddings::kDimensions * 4));
        query->step();
        return query->column_int64(0);
    };
    REQUIRE(eventually([&] { return embedded() == 5; }));

    // "feline" and "name" are in no stored turn: only the vectors can find it.
    reply_of(bot, "eve", "what is my feline's name?");
    const auto excerpts = excerpts_in(last_notes(llm));
    REQUIRE(!excerpts.empty());
    CHECK(contains(excerpts.front(), "My cat is called Turing"));
    const auto inputs = llm.embeddings().inputs();
    CHECK(std::find(inputs.begin(), inputs.end(), "what is my feline's name?") != inputs.end());
}

TEST_CASE("A failing or slow embeddings endpoint neither fails nor delays a reply", "[recall]") {
    TempDir dir;
    FakeLlm llm;
    BotOptions options;
    const std::string url = llm.base_url();
    options.edit_config = [url](json& config) {
        config["bot"]["history_turns"] = 2;
        config["memory"]["summary"]["enabled"] = false;
        config["memory"]["embeddings"] = {
            {"base_url", url}, {"model", "fake-embed"}, {"query_timeout_ms", 300}};
    };
    TestBot bot(llm, dir.path(), options);
    llm.embeddings().fail_with(500);
    reply_of(bot, "fay", "I play the theremin");
    reply_of(bot, "fay", "filler");
    CHECK(contains(reply_of(bot, "fay", "theremin practice?"), "echo: theremin practice?"));
    // Keywords still recall it.
    CHECK(excerpts_in(last_notes(llm)).size() == 1);

    llm.embeddings().fail_with(0);
    llm.embeddings().delay(std::chrono::seconds(5));
    const auto start = std::chrono::steady_clock::now();
    CHECK(contains(reply_of(bot, "fay", "more theremin?"), "echo: more theremin?"));
    const auto took = std::chrono::steady_clock::now() - start;
    // The query's embedding was given up after 300 ms, far from the endpoint's 5 s.
    CHECK(took < std::chrono::milliseconds(2500));
    CHECK(excerpts_in(last_notes(llm)).size() == 1);
    llm.embeddings().delay(std::chrono::milliseconds(0));
}
