// The memory's storage (h/summary): the rolling summary's compare-and-set on its pointer, the
// durable summary jobs, facts (dedupe, cap, numbering) and what /forget and /reset do to them.
#include "storage/memory_rows.hpp"
#include "storage/sqlite_db.hpp"
#include "storage/sqlite_store.hpp"
#include "storage_test_support.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace bot::storage;
using bot::storage::testing::run;
using bot::storage::testing::TempDir;

namespace {

ConversationKey chat_of(const std::string& user, const std::string& chat = {}) {
    return {"tg", chat.empty() ? user : chat, user};
}

// n exchanges "q<i>" / "a<i>" (i from first), as the pipeline stores them.
std::string talk(SqliteStore& store, const ConversationKey& key, int n, int first = 1) {
    std::string conversation;
    for (int i = first; i < first + n; ++i) {
        const std::string id = key.chat_id + "-" + key.user_id + "-" + std::to_string(i);
        InboundRecord record{.key = key,
                             .message_id = id,
                             .user_name = key.user_id,
                             .is_group = key.chat_id != key.user_id,
                             .text = "q" + std::to_string(i),
                             .received_at_ms = 1};
        auto accepted = run(store.accept_inbound(record));
        auto done = run(store.complete(Completion{.inbox_id = accepted.inbox_id,
                                                  .key = key,
                                                  .reply_to = id,
                                                  .user_text = record.text,
                                                  .reply = "a" + std::to_string(i),
                                                  .remember = true,
                                                  .usage = {}}));
        REQUIRE(done.appended);
        REQUIRE(done.first_message_id > 0);
        conversation = done.conversation_id;
    }
    return conversation;
}

long long count_rows(const TempDir& dir, const std::string& sql) {
    Database db(dir.file("memory.db"), Database::Mode::read_only);
    auto query = db.prepare(sql);
    query->step();
    return query->column_int64(0);
}

}  // namespace

TEST_CASE("summary: compare-and-set on the pointer; no turn twice, none skipped",
          "[storage][memory]") {
    TempDir dir;
    SqliteStore store({.path = dir.file("memory.db")});
    auto key = chat_of("alice");
    const std::string conversation = talk(store, key, 10);  // 20 turns

    auto row = run(store.queue_summary(key, conversation, 4));
    REQUIRE(row);
    auto input = run(store.summary_input(*row, 6));
    REQUIRE(input.found);
    CHECK(input.through == 0);
    REQUIRE(input.turns.size() == 6);  // at most 6 of the 16 beyond the newest 4
    CHECK(input.more);
    CHECK(input.turns.front().content == "q1");
    CHECK(input.turns.back().content == "a3");

    SummaryUpdate first{.conversation = *row,
                        .expected_through = 0,
                        .through = input.turns.back().id,
                        .summary = "S1",
                        .facts = {"Likes tea"},
                        .max_facts = 10,
                        .public_id = conversation};
    auto committed = run(store.commit_summary(first));
    CHECK(committed.stored);
    CHECK_FALSE(committed.done);
    // The same update again (a retry after a lost answer, another worker): refused.
    CHECK_FALSE(run(store.commit_summary(first)).stored);
    SummaryUpdate stale = first;
    stale.expected_through = first.through - 1;
    stale.summary = "stale";
    CHECK_FALSE(run(store.commit_summary(stale)).stored);

    // The context is the summary plus the turns after its pointer.
    auto context = run(store.load_context(key, 100));
    CHECK(context.summary == "S1");
    CHECK(context.summarized_through == first.through);
    REQUIRE(context.turns.size() == 14);
    CHECK(context.turns.front().content == "q4");

    // The next input starts right after the pointer and stops before the newest 4 turns.
    input = run(store.summary_input(*row, 100));
    REQUIRE(input.turns.size() == 10);
    CHECK(input.turns.front().content == "q4");
    CHECK(input.turns.back().content == "a8");
    CHECK(input.summary == "S1");
    SummaryUpdate second{.conversation = *row,
                         .expected_through = input.through,
                         .through = input.turns.back().id,
                         .summary = "S2",
                         .facts = {"likes tea.", "Has a cat"},
                         .max_facts = 10,
                         .public_id = conversation};
    committed = run(store.commit_summary(second));
    CHECK(committed.stored);
    CHECK(committed.done);  // only the newest 4 are left: the job is gone
    CHECK(count_rows(dir, "SELECT count(*) FROM summary_jobs") == 0);
    CHECK(run(store.summary_input(*row, 100)).found == false);

    auto facts = run(store.facts("tg", "alice"));
    REQUIRE(facts.size() == 2);  // "likes tea." is the same fact as "Likes tea"
    CHECK(facts[0].text == "Likes tea");
    CHECK(facts[1].text == "Has a cat");
    CHECK_FALSE(facts[0].from_user);
}

TEST_CASE("summary jobs survive a reopen, back off, and end with their conversation",
          "[storage][memory]") {
    TempDir dir;
    auto key = chat_of("bob");
    std::int64_t row = 0;
    {
        SqliteStore store({.path = dir.file("memory.db")});
        const std::string conversation = talk(store, key, 5);
        row = *run(store.queue_summary(key, conversation, 2));
        // Asked again (the next message) while waiting: still one job.
        CHECK(*run(store.queue_summary(key, conversation, 2)) == row);
        CHECK_FALSE(run(store.queue_summary(key, "not-the-active-one", 2)));
    }
    SqliteStore store({.path = dir.file("memory.db")});
    auto due = run(store.due_summaries(INT64_MAX));
    REQUIRE(due.size() == 1);
    CHECK(due[0].conversation == row);
    CHECK(due[0].key.user_id == "bob");
    CHECK(due[0].keep_turns == 2);

    const std::int64_t later = INT64_MAX / 2;
    run(store.summary_failed(row, later));
    CHECK(run(store.due_summaries(later - 1)).empty());
    due = run(store.due_summaries(later));
    REQUIRE(due.size() == 1);
    CHECK(due[0].attempts == 1);

    // /reset ends the conversation: its job is no longer found (the worker drops it).
    run(store.reset_conversation(key));
    CHECK_FALSE(run(store.summary_input(row, 10)).found);
}

TEST_CASE("facts: dedupe, cap (the user's own stay), numbering, per user", "[storage][memory]") {
    TempDir dir;
    SqliteStore store({.path = dir.file("memory.db")});
    CHECK(run(store.remember_fact("tg", "alice", "My cat is  Turing", 3)) == RememberResult::added);
    CHECK(run(store.remember_fact("tg", "alice", "my cat is turing!", 3)) ==
          RememberResult::duplicate);
    CHECK(run(store.remember_fact("tg", "bob", "My cat is Turing", 3)) == RememberResult::added);
    CHECK(run(store.remember_fact("tg", "alice", "B", 3)) == RememberResult::added);
    CHECK(run(store.remember_fact("tg", "alice", "C", 3)) == RememberResult::added);
    CHECK(run(store.remember_fact("tg", "alice", "D", 3)) == RememberResult::full);
    CHECK(run(store.facts("tg", "alice")).size() == 3);
    CHECK(run(store.facts("tg", "bob")).size() == 1);

    CHECK(run(store.forget_fact("tg", "alice", 2)));
    CHECK_FALSE(run(store.forget_fact("tg", "alice", 3)));
    CHECK_FALSE(run(store.forget_fact("tg", "alice", 0)));
    auto facts = run(store.facts("tg", "alice"));
    REQUIRE(facts.size() == 2);
    CHECK(facts[0].text == "My cat is  Turing");
    CHECK(facts[1].text == "C");
    CHECK(facts[1].from_user);
    CHECK(normalize_fact("  My  cat\tis Turing. ") == "my cat is turing");
}

TEST_CASE("facts from conversations make room for newer ones, never for the user's own",
          "[storage][memory]") {
    TempDir dir;
    SqliteStore store({.path = dir.file("memory.db")});
    auto key = chat_of("carol");
    const std::string conversation = talk(store, key, 6);
    CHECK(run(store.remember_fact("tg", "carol", "Mine", 2)) == RememberResult::added);
    auto row = *run(store.queue_summary(key, conversation, 2));
    auto input = run(store.summary_input(row, 2));
    REQUIRE(run(store.commit_summary({.conversation = row,
                                      .expected_through = 0,
                                      .through = input.turns.back().id,
                                      .summary = "S",
                                      .facts = {"old", "new"},
                                      .max_facts = 2,
                                      .public_id = conversation}))
                .stored);
    auto facts = run(store.facts("tg", "carol"));
    REQUIRE(facts.size() == 2);
    CHECK(facts[0].text == "Mine");
    CHECK(facts[1].text == "new");
}

TEST_CASE("/forget deletes the user's facts, summaries and summary jobs, nobody else's",
          "[storage][memory]") {
    TempDir dir;
    SqliteStore store({.path = dir.file("memory.db")});
    for (const std::string user : {"alice", "bob"}) {
        auto key = chat_of(user, "group");
        const std::string conversation = talk(store, key, 4);
        auto row = *run(store.queue_summary(key, conversation, 2));
        auto input = run(store.summary_input(row, 2));
        REQUIRE(run(store.commit_summary({.conversation = row,
                                          .expected_through = 0,
                                          .through = input.turns.back().id,
                                          .summary = "about " + user,
                                          .facts = {user + " fact"},
                                          .max_facts = 5,
                                          .public_id = conversation}))
                    .stored);
        run(store.queue_summary(key, conversation, 2));  // a job still to do
    }
    REQUIRE(count_rows(dir, "SELECT count(*) FROM summary_jobs") == 2);
    run(store.forget_user("tg", "alice", 0));
    CHECK(count_rows(dir, "SELECT count(*) FROM user_facts WHERE user_id = 'alice'") == 0);
    CHECK(count_rows(dir, "SELECT count(*) FROM user_facts WHERE user_id = 'bob'") == 1);
    CHECK(count_rows(dir, "SELECT count(*) FROM conversation_summaries") == 1);
    CHECK(count_rows(dir,
                     "SELECT count(*) FROM conversation_summaries WHERE summary LIKE "
                     "'%alice%'") == 0);
    CHECK(count_rows(dir, "SELECT count(*) FROM summary_jobs") == 1);
    // A summary of a forgotten conversation that was being made when /forget ran: refused,
    // and its facts do not come back.
    CHECK_FALSE(run(store.commit_summary({.conversation = 1,
                                          .expected_through = 0,
                                          .through = 5,
                                          .summary = "late",
                                          .facts = {"late alice fact"},
                                          .max_facts = 5}))
                    .stored);
    CHECK(count_rows(dir, "SELECT count(*) FROM user_facts WHERE user_id = 'alice'") == 0);
}

TEST_CASE("a summary made before /forget never lands on a conversation that reuses its row id",
          "[storage][memory]") {
    TempDir dir;
    SqliteStore store({.path = dir.file("memory.db")});
    auto alice = chat_of("alice");
    const std::string conversation = talk(store, alice, 4);
    auto row = *run(store.queue_summary(alice, conversation, 2));
    auto input = run(store.summary_input(row, 2));
    REQUIRE(input.found);
    // The summariser is waiting for the LLM; alice sends /forget, then bob starts talking.
    run(store.forget_user("tg", "alice", 0));
    auto bob = chat_of("bob");
    const std::string bobs = talk(store, bob, 1);
    // INTEGER PRIMARY KEY without AUTOINCREMENT: bob's conversation takes alice's freed row id.
    REQUIRE(count_rows(dir, "SELECT id FROM conversations WHERE user_id = 'bob'") == row);
    CHECK_FALSE(run(store.commit_summary({.conversation = row,
                                          .expected_through = 0,
                                          .through = input.turns.back().id,
                                          .summary = "about alice",
                                          .facts = {"alice's secret"},
                                          .max_facts = 5,
                                          .public_id = conversation}))
                    .stored);
    CHECK(count_rows(dir, "SELECT count(*) FROM conversation_summaries") == 0);
    CHECK(count_rows(dir, "SELECT count(*) FROM user_facts") == 0);
    CHECK(run(store.load_context(bob, 100)).summary.empty());
}
