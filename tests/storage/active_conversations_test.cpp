// The writer's memory of active conversations: filled from the database, kept without asking it
// again, and bounded.
#include "storage/active_conversations.hpp"
#include "storage/migrations.hpp"
#include "storage/sqlite_db.hpp"
#include "storage_test_support.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace bot::storage;
using bot::storage::testing::TempDir;

TEST_CASE("Active conversations come from the database once, then from memory", "[store]") {
    TempDir dir;
    Database db(dir.file("t.db"), Database::Mode::read_write_create);
    migrate(db);
    db.run(
        "INSERT INTO conversations (public_id, adapter_id, chat_id, user_id, active, created_at) "
        "VALUES ('ended', 'tg', '1', '1', 0, 1), ('current', 'tg', '1', '1', 1, 2)");
    const ConversationKey key{"tg", "1", "1"};

    ActiveConversations conversations;
    const auto found = conversations.find(db, key);
    REQUIRE(found);
    CHECK(found->public_id == "current");
    CHECK_FALSE(conversations.find(db, ConversationKey{"tg", "1", "2"}));  // none, not kept
    CHECK(conversations.size() == 1);

    // Once known, the row is not read again: what the writer did itself is what counts.
    db.run("UPDATE conversations SET public_id = 'changed behind its back' WHERE active = 1");
    CHECK(conversations.find(db, key)->public_id == "current");
    conversations.forget_all();
    CHECK(conversations.find(db, key)->public_id == "changed behind its back");

    // Keys differ by each of their parts.
    conversations.remember({"tg", "1", "2"}, {7, "other user"});
    conversations.remember({"tg", "2", "1"}, {8, "other chat"});
    conversations.remember({"wx", "1", "1"}, {9, "other adapter"});
    CHECK(conversations.find(db, key)->public_id == "changed behind its back");
    CHECK(conversations.find(db, {"tg", "2", "1"})->id == 8);
}

TEST_CASE("Past its capacity the memory of conversations starts over", "[store]") {
    TempDir dir;
    Database db(dir.file("t.db"), Database::Mode::read_write_create);
    migrate(db);
    ActiveConversations conversations;
    for (std::size_t i = 0; i < ActiveConversations::kCapacity; ++i)
        conversations.remember({"tg", std::to_string(i), "u"}, {static_cast<std::int64_t>(i), "c"});
    CHECK(conversations.size() == ActiveConversations::kCapacity);
    conversations.remember({"tg", "0", "u"}, {42, "again"});  // known: replaced, nothing dropped
    CHECK(conversations.size() == ActiveConversations::kCapacity);
    conversations.remember({"tg", "new", "u"}, {1, "c"});
    CHECK(conversations.size() == 1);
    CHECK_FALSE(conversations.find(db, {"tg", "0", "u"}));  // forgotten, and not in the file
}
