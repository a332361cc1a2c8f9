// The RAII wrappers and the migrations, against a real file.
#include "storage/sqlite_db.hpp"
#include "storage/migrations.hpp"
#include "storage_test_support.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace bot::storage;
using bot::storage::testing::TempDir;

namespace {

std::int64_t count_rows(Database& db, const std::string& table) {
    Statement count(db.handle(), "SELECT count(*) FROM " + table, false);
    REQUIRE(count.step());
    return count.column_int64(0);
}

std::string query_plan(Database& db, const std::string& sql) {
    Statement plan(db.handle(), "EXPLAIN QUERY PLAN " + sql, false);
    std::string details;
    while (plan.step()) details.append(plan.column_text(3)).append("\n");
    return details;
}

}  // namespace

TEST_CASE("SqliteError carries SQLite's message and the statement's first words", "[sqlite]") {
    TempDir dir;
    Database db(dir.file("t.db"), Database::Mode::read_write_create);
    try {
        db.prepare("SELECT secret FROM missing_table WHERE user = 'x' AND more = 1");
        FAIL("prepare should have thrown");
    } catch (const SqliteError& error) {
        const std::string message = error.what();
        CHECK(message.find("no such table: missing_table") != std::string::npos);
        CHECK(message.find("(in: SELECT secret FROM missing_table WHERE ...)") !=
              std::string::npos);
        CHECK(error.code() == SQLITE_ERROR);
    }
}

TEST_CASE("Statements are cached per connection and reset after each use", "[sqlite]") {
    TempDir dir;
    Database db(dir.file("t.db"), Database::Mode::read_write_create);
    db.exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('a'), ('b'), (''), (NULL);");

    Statement* first = nullptr;
    {
        auto query = db.prepare("SELECT v FROM t ORDER BY rowid");
        first = &*query;
        REQUIRE(query->step());
        CHECK(query->column_text(0) == "a");  // abandoned mid-way: the lease must reset it
    }
    auto again = db.prepare("SELECT v FROM t ORDER BY rowid");
    CHECK(&*again == first);
    REQUIRE(again->step());
    CHECK(again->column_text(0) == "a");
    REQUIRE(again->step());
    REQUIRE(again->step());
    CHECK(again->column_text(0).empty());
    CHECK_FALSE(again->column_is_null(0));
    REQUIRE(again->step());
    CHECK(again->column_is_null(0));
    CHECK_FALSE(again->step());
}

TEST_CASE("Empty strings bind as text and not as NULL", "[sqlite]") {
    TempDir dir;
    Database db(dir.file("t.db"), Database::Mode::read_write_create);
    db.exec("CREATE TABLE t (v TEXT NOT NULL)");
    auto insert = db.prepare("INSERT INTO t VALUES (?)");
    const std::string empty;
    insert->bind_all(empty);
    CHECK_NOTHROW(insert->run());
    CHECK(count_rows(db, "t") == 1);
}

TEST_CASE("A transaction rolls back unless committed", "[sqlite]") {
    TempDir dir;
    Database db(dir.file("t.db"), Database::Mode::read_write_create);
    db.exec("CREATE TABLE t (v INTEGER)");
    {
        Transaction transaction(db, Transaction::Kind::immediate);
        db.exec("INSERT INTO t VALUES (1)");
    }
    CHECK(count_rows(db, "t") == 0);
    CHECK_FALSE(db.in_transaction());
    {
        Transaction transaction(db, Transaction::Kind::immediate);
        db.exec("INSERT INTO t VALUES (1)");
        transaction.commit();
    }
    CHECK(count_rows(db, "t") == 1);
}

TEST_CASE("Rolling back a savepoint undoes only its own work", "[sqlite]") {
    TempDir dir;
    Database db(dir.file("t.db"), Database::Mode::read_write_create);
    db.exec("CREATE TABLE t (v INTEGER)");
    {
        Transaction transaction(db, Transaction::Kind::immediate);
        {
            Savepoint kept(db);
            db.exec("INSERT INTO t VALUES (1)");
            kept.release();
        }
        {
            Savepoint undone(db);
            db.exec("INSERT INTO t VALUES (2)");
            undone.rollback();
        }
        {
            Savepoint abandoned(db);  // destroyed without release: rolled back
            db.exec("INSERT INTO t VALUES (3)");
        }
        CHECK(db.in_transaction());
        transaction.commit();
    }
    Statement values(db.handle(), "SELECT group_concat(v) FROM t", false);
    REQUIRE(values.step());
    CHECK(values.column_text(0) == "1");
}

TEST_CASE("Migrations build the schema once and record the version", "[sqlite][migrations]") {
    TempDir dir;
    const std::string path = dir.file("t.db");
    {
        Database db(path, Database::Mode::read_write_create);
        CHECK(schema_version(db) == 0);
        migrate(db);
        CHECK(schema_version(db) == latest_schema_version());
        CHECK(latest_schema_version() >= 1);
        for (const char* table : {"conversations", "messages", "inbox", "outbox"})
            CHECK(count_rows(db, table) == 0);
        db.exec(
            "INSERT INTO inbox (adapter_id, message_id, chat_id, user_id, text, received_at, "
            "updated_at) VALUES ('a', 'm', 'c', 'u', 'hi', 1, 1)");
    }
    Database reopened(path, Database::Mode::read_write_create);
    CHECK_NOTHROW(migrate(reopened));  // already current: nothing re-run, nothing lost
    CHECK(schema_version(reopened) == latest_schema_version());
    CHECK(count_rows(reopened, "inbox") == 1);
}

TEST_CASE("Migrations 3 and 4 keep only pending rows indexed by state, on new and upgraded files",
          "[sqlite][migrations]") {
    TempDir dir;
    Database db(dir.file("t.db"), Database::Mode::read_write_create);
    migrate(db);
    // A version 2 file: full state indexes, the outbox and the inbox indexed by user, a
    // delivered message and a pending one.
    db.exec(
        "DROP TABLE recall_vectors; DROP TABLE recall_fts; DROP TABLE recall_owners;"         // 11
        "DROP TABLE user_facts; DROP TABLE summary_jobs; DROP TABLE conversation_summaries;"  // 10
        "DROP TABLE shares; DROP TABLE group_messages; "  // migration 12
        "DROP TABLE usage_daily; DROP TABLE user_settings; DROP TABLE sent_messages; DROP TABLE "
        "forgotten_messages;"
        "DROP TABLE installation_secrets;"
        "DROP INDEX inbox_pending; DROP INDEX outbox_pending;"
        "DROP INDEX inbox_unremembered; ALTER TABLE inbox DROP COLUMN remembered;"
        "CREATE INDEX inbox_user ON inbox (adapter_id, user_id);"
        "CREATE INDEX inbox_state ON inbox (state, id);"
        "CREATE INDEX outbox_state ON outbox (state, id);"
        "CREATE INDEX outbox_user ON outbox (adapter_id, user_id);"
        "INSERT INTO inbox (id, adapter_id, message_id, chat_id, user_id, text, state, "
        "received_at, updated_at) VALUES (1, 'a', 'm1', 'c', 'u', 'hi', 2, 1, 1),"
        "(2, 'a', 'm2', 'c', 'u', 'again', 0, 2, 2);"
        "INSERT INTO outbox (inbox_id, adapter_id, chat_id, user_id, text, state, created_at, "
        "updated_at) VALUES (1, 'a', 'c', 'u', 'hello', 1, 1, 1);"
        "PRAGMA user_version = 2");
    migrate(db);
    CHECK(schema_version(db) == latest_schema_version());
    CHECK(count_rows(db, "inbox") == 2);
    Statement outbox_indexes(
        db.handle(), "SELECT group_concat(name) FROM sqlite_master WHERE tbl_name = 'outbox'",
        false);
    REQUIRE(outbox_indexes.step());
    CHECK(outbox_indexes.column_text(0) == "outbox,sqlite_autoindex_outbox_1,outbox_pending");
    // Start-up recovery finds pending rows through the partial indexes, in arrival order.
    for (const std::string table : {"inbox", "outbox"}) {
        const auto plan =
            query_plan(db, "SELECT id, text FROM " + table + " WHERE state = 0 ORDER BY id");
        INFO(plan);
        CHECK(plan.find("USING INDEX " + table + "_pending (state=?)") != std::string::npos);
        CHECK(plan.find("ORDER BY") == std::string::npos);  // no sorting step
    }
    Statement pending(db.handle(), "SELECT group_concat(id) FROM inbox WHERE state = 0", false);
    REQUIRE(pending.step());
    CHECK(pending.column_text(0) == "2");
}

TEST_CASE("Migration 5 indexes by user only the inbox rows answered without being remembered",
          "[sqlite][migrations]") {
    TempDir dir;
    Database db(dir.file("t.db"), Database::Mode::read_write_create);
    migrate(db);
    // A version 4 file: a remembered answer (its turns name it), an answer not remembered (a
    // command) and an unanswered message.
    db.exec(
        "DROP TABLE recall_vectors; DROP TABLE recall_fts; DROP TABLE recall_owners;"         // 11
        "DROP TABLE user_facts; DROP TABLE summary_jobs; DROP TABLE conversation_summaries;"  // 10
        "DROP TABLE shares; DROP TABLE group_messages; "  // migration 12
        "DROP TABLE usage_daily; DROP TABLE user_settings; DROP TABLE sent_messages; DROP TABLE "
        "forgotten_messages;"
        "DROP TABLE installation_secrets;"
        "DROP INDEX inbox_unremembered; ALTER TABLE inbox DROP COLUMN remembered;"
        "CREATE INDEX inbox_user ON inbox (adapter_id, user_id);"
        "INSERT INTO inbox (id, adapter_id, message_id, chat_id, user_id, text, state, "
        "received_at, updated_at) VALUES (1, 'a', 'm1', 'c', 'u', 'hi', 1, 1, 1),"
        "(2, 'a', 'm2', 'c', 'u', '/help', 1, 2, 2), (3, 'a', 'm3', 'c', 'u', 'new', 0, 3, 3);"
        "INSERT INTO conversations (id, public_id, adapter_id, chat_id, user_id, created_at) "
        "VALUES (1, 'p', 'a', 'c', 'u', 1);"
        "INSERT INTO messages (conversation_id, role, content, inbox_id, created_at) "
        "VALUES (1, 'user', 'hi', 1, 1), (1, 'assistant', 'hello', 1, 1);"
        "PRAGMA user_version = 4");
    migrate(db);
    CHECK(schema_version(db) == latest_schema_version());
    Statement remembered(db.handle(), "SELECT group_concat(remembered) FROM inbox ORDER BY id",
                         false);
    REQUIRE(remembered.step());
    CHECK(remembered.column_text(0) == "1,0,1");
    Statement inbox_indexes(
        db.handle(),
        "SELECT group_concat(name) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'inbox'",
        false);
    REQUIRE(inbox_indexes.step());
    CHECK(inbox_indexes.column_text(0) ==
          "sqlite_autoindex_inbox_1,inbox_pending,inbox_unremembered");
    // /forget reaches remembered rows through the turns, by index at every step.
    const auto plan = query_plan(
        db,
        "SELECT id FROM inbox WHERE id IN (SELECT inbox_id FROM messages WHERE conversation_id "
        "IN (SELECT id FROM conversations WHERE adapter_id = 'a' AND user_id = 'u'))");
    INFO(plan);
    CHECK(plan.find("SCAN") == std::string::npos);
}

TEST_CASE("Migrations refuse a file from a newer build", "[sqlite][migrations]") {
    TempDir dir;
    Database db(dir.file("t.db"), Database::Mode::read_write_create);
    db.exec("PRAGMA user_version = 999");
    CHECK_THROWS_WITH(migrate(db), Catch::Contains("newer than this build"));
    CHECK(schema_version(db) == 999);
}
