// Adapter state in the SqliteStore: values scoped per adapter, versions that tell what changed
// (also when another connection — another process — wrote), survival across reopen.
#include "storage/sqlite_store.hpp"
#include "storage_test_support.hpp"

#include <catch2/catch.hpp>

using namespace bot::storage;
using bot::storage::testing::run;
using bot::storage::testing::TempDir;

TEST_CASE("Adapter state is scoped per adapter and kind, replaced by put, erased", "[store]") {
    TempDir dir;
    SqliteStore store({.path = dir.file("bot.db")});
    run(store.put_state("wx", "account", "a@im.bot", "v1"));
    run(store.put_state("wx", "cursor", "a@im.bot", "c1"));
    run(store.put_state("other", "account", "a@im.bot", "foreign"));
    CHECK(run(store.get_state("wx", "account", "a@im.bot")) == "v1");
    CHECK(run(store.get_state("wx", "account", "b@im.bot")) == std::nullopt);

    run(store.put_state("wx", "account", "a@im.bot", "v2"));
    CHECK(run(store.get_state("wx", "account", "a@im.bot")) == "v2");
    auto accounts = run(store.list_state("wx", "account", 0));
    REQUIRE(accounts.size() == 1);
    CHECK(accounts[0].value == "v2");

    run(store.erase_state("wx", "account", "a@im.bot"));
    CHECK(run(store.get_state("wx", "account", "a@im.bot")) == std::nullopt);
    CHECK(run(store.get_state("other", "account", "a@im.bot")) == "foreign");
}

TEST_CASE("Adapter state versions list only what changed, also writes of another process",
          "[store]") {
    TempDir dir;
    SqliteStore server({.path = dir.file("bot.db")});
    run(server.put_state("wx", "account", "a", "1"));
    run(server.put_state("wx", "account", "b", "1"));
    auto all = run(server.list_state("wx", "account", 0));
    REQUIRE(all.size() == 2);
    CHECK(all[0].key == "a");
    CHECK(all[1].version > all[0].version);
    const auto seen = all[1].version;
    CHECK(run(server.list_state("wx", "account", seen)).empty());

    {
        SqliteStore cli({.path = dir.file("bot.db")});  // a second connection, as ilink-login
        run(cli.put_state("wx", "account", "c", "new"));
        run(cli.put_state("wx", "account", "a", "rebound"));
    }
    auto changed = run(server.list_state("wx", "account", seen));
    REQUIRE(changed.size() == 2);
    CHECK(changed[0].key == "c");
    CHECK(changed[1].key == "a");
    CHECK(changed[1].value == "rebound");
}

TEST_CASE("Adapter state survives reopening the file", "[store]") {
    TempDir dir;
    {
        SqliteStore store({.path = dir.file("bot.db")});
        run(store.put_state("wx", "cursor", "a", "Y3Vyc29y"));
    }
    SqliteStore store({.path = dir.file("bot.db")});
    CHECK(run(store.get_state("wx", "cursor", "a")) == "Y3Vyc29y");
}

TEST_CASE("Sent message ids are kept per adapter and chat, survive reopening, expire", "[store]") {
    TempDir dir;
    {
        SqliteStore store({.path = dir.file("bot.db")});
        run(store.remember_sent("tg", "g1", {"10", "11"}));
        run(store.remember_sent("tg", "g1", {"11"}));  // a repeat is kept once
        run(store.remember_sent("tg", "g2", {"20"}));
        CHECK(run(store.was_sent("tg", "g1", "10")));
        CHECK(run(store.was_sent("tg", "g1", "11")));
        CHECK_FALSE(run(store.was_sent("tg", "g1", "20")));  // another chat's
        CHECK_FALSE(run(store.was_sent("tg", "g2", "10")));
        CHECK_FALSE(run(store.was_sent("qq", "g1", "10")));  // another adapter's
        CHECK_FALSE(run(store.was_sent("tg", "g1", "")));
    }
    {
        SqliteStore reopened({.path = dir.file("bot.db")});
        CHECK(run(reopened.was_sent("tg", "g2", "20")));
    }
    // Kept for less than nothing: too old at once, and purged by the next write.
    SqliteStore forgetful(
        {.path = dir.file("bot.db"), .sent_ids_kept_for = std::chrono::milliseconds(-1)});
    CHECK_FALSE(run(forgetful.was_sent("tg", "g2", "20")));
    run(forgetful.remember_sent("tg", "g3", {"30"}));
    SqliteStore reopened({.path = dir.file("bot.db")});
    CHECK_FALSE(run(reopened.was_sent("tg", "g2", "20")));
}
