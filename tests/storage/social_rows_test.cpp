// Migration 12's tables through the Store: group messages (bounded per chat, purged by age,
// scoped by adapter and chat), shares (a snapshot of the conversation), the export of one user,
// and /forget removing the user's rows.
#include "storage/sqlite_db.hpp"
#include "storage/sqlite_store.hpp"
#include "storage_test_support.hpp"

#include <catch2/catch.hpp>

using namespace bot::storage;
using bot::storage::testing::run;
using bot::storage::testing::TempDir;

namespace {

void exchange(SqliteStore& store, const ConversationKey& key, const std::string& id,
              const std::string& question, const std::string& answer) {
    InboundRecord record{.key = key,
                         .message_id = id,
                         .user_name = key.user_id,
                         .is_group = false,
                         .text = question,
                         .received_at_ms = 1700000000000};
    auto accepted = run(store.accept_inbound(std::move(record)));
    Completion completion{
        .inbox_id = accepted.inbox_id,
        .key = key,
        .reply_to = id,
        .user_text = question,
        .reply = answer,
        .remember = true,
        .usage = TokenUsage{.day = "2026-12-07", .prompt_tokens = 3, .completion_tokens = 2}};
    run(store.complete(std::move(completion)));
}

GroupMessage line(const std::string& chat, const std::string& sender, const std::string& text,
                  std::int64_t at_ms) {
    return {.chat_id = chat,
            .sender_id = sender,
            .sender_name = sender,
            .text = text,
            .addressed = false,
            .at_ms = at_ms};
}

}  // namespace

TEST_CASE("group messages: the newest per chat, purged by age, scoped by adapter and chat",
          "[store][social]") {
    TempDir dir;
    SqliteStore store({.path = dir.file("bot.db")});
    for (int i = 1; i <= 5; ++i)
        run(store.add_group_message("tg", line("g1", "alice", "a" + std::to_string(i), 1000 + i), 3,
                                    0));
    run(store.add_group_message("tg", line("g2", "bob", "other chat", 1010), 3, 0));
    run(store.add_group_message("qq", line("g1", "carol", "other adapter", 1010), 3, 0));
    auto kept = run(store.group_messages("tg", "g1", 0, 10));
    REQUIRE(kept.size() == 3);
    CHECK(kept[0].text == "a3");  // oldest first
    CHECK(kept[2].text == "a5");
    CHECK(run(store.group_messages("tg", "g1", 1005, 10)).size() == 1);      // not before
    CHECK(run(store.group_messages("tg", "g1", 0, 2)).back().text == "a5");  // the newest
    run(store.purge_group_messages("tg", 1005));
    CHECK(run(store.group_messages("tg", "g1", 0, 10)).size() == 1);
    CHECK(run(store.group_messages("qq", "g1", 0, 10)).size() == 1);  // its own retention
}

TEST_CASE("a share is a snapshot; export holds only the user's data; forget removes both",
          "[store][social]") {
    TempDir dir;
    SqliteStore store({.path = dir.file("bot.db")});
    ConversationKey alice{"tg", "alice", "alice"}, bob{"tg", "bob", "bob"};
    CHECK_FALSE(run(store.create_share({.token_digest = "d0", .key = alice, .created_at_ms = 1})));
    exchange(store, alice, "1", "alice question", "answer one");
    exchange(store, bob, "2", "bob question", "answer two");
    REQUIRE(run(store.create_share({.token_digest = "d1", .key = alice, .created_at_ms = 5})));
    exchange(store, alice, "3", "later question", "later answer");
    auto shared = run(store.shared_conversation("d1"));
    REQUIRE(shared);
    REQUIRE(shared->turns.size() == 2);
    CHECK(shared->turns[0].content == "alice question");
    CHECK_FALSE(run(store.shared_conversation("d0")));

    run(store.add_group_message("tg", line("g", "alice", "alice in a group", 1), 5, 0));
    run(store.add_group_message("tg", line("g", "bob", "bob in a group", 1), 5, 0));
    auto data = run(store.export_user("tg", "alice"));
    REQUIRE(data.conversations.size() == 1);
    CHECK(data.conversations[0].turns.size() == 4);
    CHECK(data.usage.size() == 1);
    CHECK(data.usage[0].counts.messages == 2);
    REQUIRE(data.group_messages.size() == 1);
    CHECK(data.group_messages[0].text == "alice in a group");
    CHECK(data.shares == 1);

    CHECK(run(store.erase_shares("tg", "bob")) == 0);
    REQUIRE(run(store.create_share({.token_digest = "d2", .key = alice, .created_at_ms = 6})));
    run(store.forget_user("tg", "alice", 0));
    CHECK_FALSE(run(store.shared_conversation("d1")));
    CHECK_FALSE(run(store.shared_conversation("d2")));
    CHECK(run(store.group_messages("tg", "g", 0, 10)).size() == 1);  // bob's line stays
    auto empty = run(store.export_user("tg", "alice"));
    CHECK(empty.conversations.empty());
    CHECK(empty.group_messages.empty());
    CHECK(empty.shares == 0);
}
