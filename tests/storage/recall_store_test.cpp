// Recall in SqliteStore (storage/recall_index.hpp): found by words (CJK two-character ones
// too), scoped to the user's own chat, never another user's, nothing left after forget_user,
// vectors ranked by cosine similarity.
#include "fakes/db_leftovers.hpp"
#include "storage/recall_index.hpp"
#include "storage/sqlite_db.hpp"
#include "storage/sqlite_store.hpp"
#include "storage_test_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

using namespace bot::storage;
using bot::storage::testing::run;
using bot::storage::testing::TempDir;
namespace net = boost::asio;

namespace {

ConversationKey private_chat(const std::string& user, const std::string& adapter = "tg") {
    return {adapter, user, user};
}

SqliteOptions recall_options(const std::string& path, bool vectors = false) {
    SqliteOptions options{.path = path};
    options.recall_index = true;
    options.recall_vectors = vectors;
    return options;
}

std::atomic<int> next_message{0};

// One answered turn, as the pipeline stores it; returns the inbox id.
net::awaitable<std::int64_t> exchange_async(Store& store, ConversationKey key, std::string question,
                                            std::string answer) {
    InboundRecord record{.key = key,
                         .message_id = "m" + std::to_string(++next_message),
                         .user_name = "name",
                         .is_group = key.chat_id != key.user_id,
                         .text = question,
                         .received_at_ms = 1700000000000};
    std::string message_id = record.message_id;
    const AcceptResult accepted = co_await store.accept_inbound(std::move(record));
    Completion completion{.inbox_id = accepted.inbox_id,
                          .key = key,
                          .reply_to = message_id,
                          .user_text = question,
                          .reply = answer,
                          .remember = true,
                          .usage = std::nullopt};
    co_await store.complete(std::move(completion));
    co_return accepted.inbox_id;
}

std::int64_t exchange(Store& store, const ConversationKey& key, const std::string& question,
                      const std::string& answer = "noted") {
    return run(exchange_async(store, key, question, answer));
}

// Many exchanges at once (group commit keeps filling fast): (key, question) pairs.
void exchange_all(Store& store, const std::vector<std::pair<ConversationKey, std::string>>& turns) {
    net::io_context io;
    std::size_t next = 0;
    std::atomic<std::size_t> failed{0};
    // 64 workers, each taking the next turn; one user's turns stay in order (ids grow).
    for (int worker = 0; worker < 64; ++worker) {
        net::co_spawn(
            io,
            [&]() -> net::awaitable<void> {
                while (next < turns.size()) {
                    const auto& [key, text] = turns[next++];
                    co_await exchange_async(store, key, text, "ok");
                }
            },
            [&](std::exception_ptr error) {
                if (error) ++failed;
            });
    }
    io.run();
    REQUIRE(failed == 0);
}

std::vector<RecalledTurn> recall(Store& store, const ConversationKey& key, const std::string& text,
                                 int limit = 3, int exclude_newest = 0) {
    return run(store.recall(RecallQuery{
        .key = key, .text = text, .limit = limit, .exclude_newest = exclude_newest, .vector = {}}));
}

std::vector<std::string> texts(const std::vector<RecalledTurn>& turns) {
    std::vector<std::string> out;
    for (const auto& turn : turns) out.push_back(turn.user_text);
    return out;
}

}  // namespace

TEST_CASE("Recall finds a user's older turn by an English word and a Chinese two-character word",
          "[recall]") {
    TempDir dir;
    SqliteStore store(recall_options(dir.file("bot.db")));
    const auto alice = private_chat("alice");
    exchange(store, alice, "My cat is called Turing", "What a fine name for a cat!");
    exchange(store, alice, "我家猫咪叫图灵");
    exchange(store, alice, "我上个月去了北京");
    for (int i = 0; i < 20; ++i)
        exchange(store, alice, "Filler message number " + std::to_string(i));

    auto found = recall(store, alice, "What is my cat's name?");
    REQUIRE(!found.empty());
    CHECK(found.front().user_text == "My cat is called Turing");
    CHECK(found.front().reply == "What a fine name for a cat!");
    CHECK(found.front().at_ms > 0);

    CHECK(texts(recall(store, alice, "猫咪")) == std::vector<std::string>{"我家猫咪叫图灵"});
    CHECK(texts(recall(store, alice, "你记得我去过北京吗？")) ==
          std::vector<std::string>{"我上个月去了北京"});
    CHECK(texts(recall(store, alice, "图灵还好吗")) == std::vector<std::string>{"我家猫咪叫图灵"});
    CHECK(recall(store, alice, "completely unrelated words").empty());
    CHECK(recall(store, alice, "").empty());
    // Punctuation and FTS5 syntax in the message are only text.
    CHECK(recall(store, alice, "\"cat\" OR NEAR(turing) * ^ -- ;").size() == 1);
}

TEST_CASE("Recall leaves out the turns already in the context", "[recall]") {
    TempDir dir;
    SqliteStore store(recall_options(dir.file("bot.db")));
    const auto bob = private_chat("bob");
    exchange(store, bob, "I keep bees on the roof");
    for (int i = 0; i < 5; ++i) exchange(store, bob, "filler " + std::to_string(i));
    // 12 stored turns (6 exchanges): the bees are in the newest 12, not in the newest 10.
    CHECK(recall(store, bob, "bees", 3, 12).empty());
    CHECK(texts(recall(store, bob, "bees", 3, 10)) ==
          std::vector<std::string>{"I keep bees on the roof"});
    // After /reset the old conversation is recallable as a whole.
    run(store.reset_conversation(bob));
    CHECK(recall(store, bob, "bees", 3, 100).size() == 1);
}

TEST_CASE("Recall ranks by bm25: the turn with more of the rarer words first", "[recall]") {
    TempDir dir;
    SqliteStore store(recall_options(dir.file("bot.db")));
    const auto carol = private_chat("carol");
    exchange(store, carol, "the garden needs water");
    exchange(store, carol, "my tomato plants in the garden have blight");
    exchange(store, carol, "garden party on saturday");
    const auto found = texts(recall(store, carol, "how are the tomato plants in my garden?", 2));
    REQUIRE(found.size() == 2);
    CHECK(found.front() == "my tomato plants in the garden have blight");
}

TEST_CASE("Recall is scoped to the user's own chat on the adapter", "[recall]") {
    TempDir dir;
    SqliteStore store(recall_options(dir.file("bot.db")));
    const ConversationKey private_dan{"tg", "dan", "dan"};
    const ConversationKey group_dan{"tg", "group-1", "dan"};
    const ConversationKey group_erin{"tg", "group-1", "erin"};
    const ConversationKey other_adapter_dan{"qq", "dan", "dan"};
    exchange(store, private_dan, "my diagnosis is pneumonia");
    exchange(store, group_erin, "pneumonia is going around");
    exchange(store, other_adapter_dan, "pneumonia again");
    // A private turn never surfaces in the group (whose members read the answers), another
    // member's never, another adapter's never.
    CHECK(recall(store, group_dan, "pneumonia").empty());
    CHECK(texts(recall(store, private_dan, "pneumonia")) ==
          std::vector<std::string>{"my diagnosis is pneumonia"});
    CHECK(texts(recall(store, group_erin, "pneumonia")) ==
          std::vector<std::string>{"pneumonia is going around"});
}

TEST_CASE("1,000 users with the same words: every recall returns only the asker's turns",
          "[recall]") {
    TempDir dir;
    SqliteStore store(recall_options(dir.file("bot.db")));
    constexpr int kUsers = 1000;
    constexpr int kTurns = 8;
    std::vector<std::pair<ConversationKey, std::string>> turns;
    for (int turn = 0; turn < kTurns; ++turn) {
        for (int user = 0; user < kUsers; ++user) {
            char id[16];
            std::snprintf(id, sizeof id, "u%04d", user);
            // The same words for everyone; the owner's id in the text tells whose it is.
            turns.emplace_back(private_chat(id), std::string("owner ") + id +
                                                     ": my cat Turing likes fish, 我家猫咪在北京 " +
                                                     std::to_string(turn));
        }
    }
    exchange_all(store, turns);
    int recalled = 0;
    for (int user = 0; user < kUsers; ++user) {
        char id[16];
        std::snprintf(id, sizeof id, "u%04d", user);
        for (const char* question : {"what does Turing like?", "猫咪", "北京"}) {
            const auto found = recall(store, private_chat(id), question, 5);
            CHECK(found.size() == 5);
            for (const auto& turn : found) {
                recalled++;
                if (turn.user_text.find(std::string("owner ") + id + ":") != 0) {
                    FAIL_CHECK(id << " got " << turn.user_text);
                }
            }
        }
    }
    CHECK(recalled == kUsers * 3 * 5);
}

TEST_CASE("forget_user leaves nothing of the user in any table or index", "[recall]") {
    TempDir dir;
    const std::string path = dir.file("bot.db");
    SqliteStore store(recall_options(path, true));
    const ConversationKey frank{"tg", "frank-7731", "frank-7731"};
    const ConversationKey frank_group{"tg", "group-9", "frank-7731"};
    const ConversationKey gina{"tg", "gina", "gina"};
    exchange(store, frank, "my parrot Zanzibarite speaks Klingon", "Qapla!");
    exchange(store, frank, "我的鹦鹉叫喳喳");
    exchange(store, frank_group, "Zanzibarite says hello to the group");
    exchange(store, gina, "my parrot is quiet");
    auto vectors = run(store.pending_vectors(100));
    REQUIRE(vectors.size() == 4);
    for (auto& turn : vectors) turn.vector = {1, 0};
    run(store.put_vectors(vectors));
    const std::int64_t keep = exchange(store, frank, "/forget", "(confirmation)");

    run(store.forget_user("tg", "frank-7731", keep));
    store.close();

    const std::vector<std::string> needles{"frank-7731", "Zanzibarite", "zanzibarite", "Klingon",
                                           "klingon",    "喳喳",        "鹦鹉",        "Qapla"};
    // The /forget request's own inbox row (text erased) and its outbox row (the confirmation to
    // deliver) are all that may name the user: storage::Store::forget_user's contract.
    const std::string kept = std::to_string(keep);
    const auto left = bot::testing::find_leftovers(
        path, needles, {{"inbox", "id <> " + kept}, {"outbox", "inbox_id <> " + kept}});
    for (const auto& leftover : left) FAIL_CHECK(leftover.describe());
    CHECK(left.empty());
    const auto tables = bot::testing::table_names(path);
    CHECK(std::find(tables.begin(), tables.end(), "recall_fts_data") != tables.end());

    // The index still works for others, and is consistent.
    SqliteStore reopened(recall_options(path, true));
    CHECK(texts(recall(reopened, gina, "parrot")) ==
          std::vector<std::string>{"my parrot is quiet"});
    CHECK(recall(reopened, frank, "parrot").empty());
    reopened.close();
    Database db(path, Database::Mode::read_write_create);
    CHECK_NOTHROW(db.exec("INSERT INTO recall_fts (recall_fts) VALUES ('integrity-check')"));
}

TEST_CASE("Vectors: pending turns are listed once stored, and ranking follows cosine similarity",
          "[recall]") {
    TempDir dir;
    SqliteStore store(recall_options(dir.file("bot.db"), true));
    const auto hana = private_chat("hana");
    exchange(store, hana, "I adopted a kitten last week");
    exchange(store, hana, "The weather is grey");
    exchange(store, hana, "My car needs new tyres");
    auto pending = run(store.pending_vectors(10));
    REQUIRE(pending.size() == 3);
    CHECK(pending[0].text == "I adopted a kitten last week");
    // Made-up 3-dimensional embeddings: pets, weather, cars.
    pending[0].vector = {1, 0, 0};
    pending[1].vector = {0, 1, 0};
    pending[2].vector = {0.1f, 0, 1};
    // A turn whose id now holds another text (forgotten, id reused) keeps no stale vector.
    auto stale = pending[1];
    stale.text = "a forgotten text";
    stale.vector = {9, 9, 9};
    run(store.put_vectors({stale}));
    CHECK(run(store.pending_vectors(10)).size() == 3);
    run(store.put_vectors(pending));
    CHECK(run(store.pending_vectors(10)).empty());

    RecallQuery query{.key = hana, .text = "how is my feline friend?", .limit = 3};
    query.vector = {0.9f, 0.1f, 0};  // no keyword in common with the kitten turn
    auto found = run(store.recall(query));
    REQUIRE(!found.empty());
    CHECK(found.front().user_text == "I adopted a kitten last week");
    CHECK(found.size() == 1);  // the others are below min_similarity (0.3)

    query.vector = {0, 0, 1};
    found = run(store.recall(query));
    REQUIRE(found.size() == 1);
    CHECK(found.front().user_text == "My car needs new tyres");

    // Another user's query vector never reaches hana's vectors.
    RecallQuery other{.key = private_chat("ivan"), .text = "kitten", .limit = 3};
    other.vector = {1, 0, 0};
    CHECK(run(store.recall(other)).empty());
}

TEST_CASE("The vector codec round-trips float32 little-endian and cosine is safe", "[recall]") {
    const std::vector<float> vector{1.5f, -2.25f, 0.0f, 3e-8f};
    const std::string blob = vector_blob(vector);
    CHECK(blob.size() == 16);
    CHECK(static_cast<unsigned char>(blob[3]) == 0x3F);  // 1.5f = 0x3FC00000, little-endian
    CHECK(blob_vector(blob) == vector);
    CHECK(blob_vector("abc").empty());
    CHECK(cosine({1, 0}, {1, 0}) == Approx(1.0));
    CHECK(cosine({1, 0}, {0, 1}) == Approx(0.0));
    CHECK(cosine({1, 0}, {1, 0, 0}) == 0.0);  // another model's vector
    CHECK(cosine({0, 0}, {1, 0}) == 0.0);
}

// A measurement, not a test (no timing assertions): run with
// ./build/tests/test_storage "[recall-bench]"
TEST_CASE("Recall cost for a user with 10,000 turns among 1,000 users", "[.][recall-bench]") {
    TempDir dir;
    const std::string path = dir.file("bot.db");
    SqliteStore store(recall_options(path));
    std::vector<std::pair<ConversationKey, std::string>> turns;
    const char* words[] = {"cat",     "dog",    "garden",  "travel", "work", "music",
                           "book",    "北京",   "猫咪",    "上海",   "咖啡", "电影",
                           "weather", "dinner", "meeting", "code"};
    for (int i = 0; i < 10000; ++i) {
        // Three common words (each in 1/16 to 3/16 of the turns) and two of 3,000 rarer ones.
        turns.emplace_back(private_chat("heavy"), std::string("today ") + words[i % 16] + " and " +
                                                      words[(i * 7) % 16] + " then " +
                                                      words[(i * 3 + 1) % 16] + " topic" +
                                                      std::to_string(i * 7919 % 3000) + " item" +
                                                      std::to_string(i * 104729 % 3001));
    }
    for (int user = 0; user < 999; ++user) {
        for (int i = 0; i < 20; ++i) {
            turns.emplace_back(
                private_chat("light" + std::to_string(user)),
                std::string("my ") + words[(user + i) % 16] + " and " + words[i % 16]);
        }
    }
    const auto fill_start = std::chrono::steady_clock::now();
    exchange_all(store, turns);
    const auto fill = std::chrono::steady_clock::now() - fill_start;
    store.close();
    if (std::getenv("RECALL_BENCH_OPTIMIZE")) {
        Database(path, Database::Mode::read_write_create)
            .exec("INSERT INTO recall_fts (recall_fts) VALUES ('optimize')");
    }
    {
        Database counting(path, Database::Mode::read_only);
        auto segments = counting.prepare("SELECT count(DISTINCT segid) FROM recall_fts_idx");
        segments->step();
        WARN("FTS5 segments: " << segments->column_int64(0));
    }
    Database db(path, Database::Mode::read_only);
    db.exec("PRAGMA cache_size = -512");  // as the store's readers
    // Common words only (the worst case: every term has 100+ postings) and mixed ones.
    const char* questions[] = {
        "how is my cat?",      "我想去北京看电影",
        "any garden news",     "what about the weather and dinner",
        "code review meeting", "what happened with topic17 and item2024 at the meeting?",
        "remember topic1234?", "item77 and the garden"};
    constexpr int kRounds = 400;
    std::size_t hits = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; ++i) {
        RecallQuery query{.key = private_chat("heavy"), .text = questions[i % 8], .limit = 3};
        query.exclude_newest = 40;
        hits += read_recall(db, query).size();
    }
    const auto took = std::chrono::steady_clock::now() - start;
    const double per_query_us = std::chrono::duration<double, std::micro>(took).count() / kRounds;
    WARN("filled " << turns.size() << " turns in " << std::chrono::duration<double>(fill).count()
                   << " s; recall: " << per_query_us << " us per message (10,000-turn user, "
                   << hits << " excerpts)");
    CHECK(hits == kRounds * 3);
    const auto light_start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; ++i) {
        RecallQuery query{.key = private_chat("light" + std::to_string(i % 999)),
                          .text = questions[i % 8],
                          .limit = 3};
        query.exclude_newest = 6;
        read_recall(db, query);
    }
    const double light_us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - light_start)
            .count() /
        kRounds;
    WARN("recall for a user with 20 turns: " << light_us << " us per message");
}

// What indexing adds to storing a turn (the writer's work, in the reply's transaction):
// ./build/tests/test_storage "[recall-write-bench]"
TEST_CASE("Storing turns with and without the recall index", "[.][recall-write-bench]") {
    std::vector<std::pair<ConversationKey, std::string>> turns;
    for (int i = 0; i < 20000; ++i) {
        turns.emplace_back(
            private_chat("user" + std::to_string(i % 1000)),
            "I think the weather in Berlin is nice today, 北京今天天气很好 #" + std::to_string(i));
    }
    for (bool indexed : {false, true, false, true}) {
        TempDir dir;
        SqliteOptions options{.path = dir.file("bot.db")};
        options.recall_index = indexed;
        SqliteStore store(options);
        const auto cpu_start = std::clock();
        const auto start = std::chrono::steady_clock::now();
        exchange_all(store, turns);
        store.close();
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
        WARN((indexed ? "with" : "without")
             << " the recall index: " << turns.size() << " exchanges in " << seconds
             << " s, process CPU " << cpu / turns.size() * 1e6 << " us per exchange");
    }
}
