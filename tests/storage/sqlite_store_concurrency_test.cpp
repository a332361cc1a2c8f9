// SqliteStore under concurrency: group commit, per-operation rollback inside a batch, draining
// on close, and the file's permissions.
#include "storage/sqlite_db.hpp"
#include "storage/sqlite_store.hpp"
#include "storage_test_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <chrono>
#include <future>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace bot::storage;
using bot::storage::testing::run;
using bot::storage::testing::TempDir;
namespace net = boost::asio;

namespace {

InboundRecord inbound(const std::string& user, const std::string& message_id) {
    InboundRecord record;
    record.key = {"tg", user, user};
    record.message_id = message_id;
    record.text = "message " + message_id;
    record.received_at_ms = 1700000000000;
    return record;
}

void run_on_threads(net::io_context& io, int threads) {
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
    for (auto& thread : pool) thread.join();
}

unsigned permissions_of(const std::string& path) {
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    return info.st_mode & 0777;
}

}  // namespace

TEST_CASE("Thousands of concurrent writes all commit in few grouped transactions",
          "[store][concurrency]") {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("bot.db")});
    constexpr int writes = 2000;
    net::io_context io(4);
    std::vector<std::future<AcceptResult>> results;
    for (int i = 0; i < writes; ++i)
        results.push_back(net::co_spawn(
            io, store.accept_inbound(inbound("user" + std::to_string(i % 37), std::to_string(i))),
            net::use_future));
    const std::uint64_t commits_before = store.commits();
    run_on_threads(io, 4);

    std::set<std::int64_t> ids;
    for (auto& result : results) {
        const AcceptResult accepted = result.get();
        CHECK_FALSE(accepted.duplicate);
        ids.insert(accepted.inbox_id);
    }
    CHECK(ids.size() == writes);
    const std::uint64_t commits = store.commits() - commits_before;
    INFO("commits for " << writes << " writes: " << commits);
    CHECK(commits >= 1);
    CHECK(commits < writes);
    CHECK(run(store.unanswered()).size() == writes);
}

TEST_CASE("Concurrent retries of one message id are accepted exactly once",
          "[store][concurrency]") {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("bot.db")});
    constexpr int messages = 20;
    constexpr int copies = 10;
    net::io_context io(4);
    std::vector<std::pair<int, std::future<AcceptResult>>> results;
    for (int copy = 0; copy < copies; ++copy)
        for (int m = 0; m < messages; ++m)
            results.emplace_back(
                m, net::co_spawn(
                       io, store.accept_inbound(inbound("alice", "retried-" + std::to_string(m))),
                       net::use_future));
    run_on_threads(io, 4);

    std::map<int, std::set<std::int64_t>> ids_per_message;
    std::map<int, int> firsts_per_message;
    for (auto& [message, result] : results) {
        const AcceptResult accepted = result.get();
        ids_per_message[message].insert(accepted.inbox_id);
        if (!accepted.duplicate) ++firsts_per_message[message];
    }
    for (int m = 0; m < messages; ++m) {
        CHECK(ids_per_message[m].size() == 1);
        CHECK(firsts_per_message[m] == 1);
    }
    CHECK(run(store.unanswered()).size() == messages);
}

TEST_CASE("A failing operation rolls back alone and its batch still commits",
          "[store][concurrency]") {
    TempDir dir;
    const std::string path = dir.file("bot.db");
    SqliteStore store(SqliteOptions{path});
    const std::uint64_t commits_before = store.commits();

    // Hold the write lock from another connection so the writer stalls and the operations
    // below pile up into (at most) two batches, the failing one in the middle.
    Database blocker(path, Database::Mode::read_write_create);
    blocker.exec("BEGIN IMMEDIATE");

    net::io_context io;
    std::vector<std::future<AcceptResult>> good;
    for (int i = 0; i < 5; ++i)
        good.push_back(net::co_spawn(
            io, store.accept_inbound(inbound("alice", std::string("g").append(std::to_string(i)))),
            net::use_future));
    // No inbox row 987654: this completion fails. Its batch is then run again with a savepoint
    // per operation, and the others in it must still commit, once each.
    const ConversationKey bob{"tg", "bob", "bob"};
    auto failing =
        net::co_spawn(io, store.complete(Completion{987654, bob, "x", "question", "answer", true}),
                      net::use_future);
    for (int i = 5; i < 10; ++i)
        good.push_back(net::co_spawn(
            io, store.accept_inbound(inbound("alice", std::string("g").append(std::to_string(i)))),
            net::use_future));
    std::thread runner([&io] { io.run(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    blocker.exec("COMMIT");
    runner.join();

    CHECK_THROWS_WITH(failing.get(), Catch::Contains("no inbox row 987654"));
    for (auto& result : good) CHECK_FALSE(result.get().duplicate);
    CHECK(store.commits() - commits_before <= 2);  // so the failure shared a batch
    CHECK(run(store.unanswered()).size() == 10);
    CHECK(run(store.load_context(bob, 10)).conversation_id.empty());
    CHECK(run(store.undelivered()).empty());
}

TEST_CASE("A conversation started in a batch that rolls back is not taken as started",
          "[store][concurrency]") {
    TempDir dir;
    const std::string path = dir.file("bot.db");
    SqliteStore store(SqliteOptions{path});
    const AcceptResult carol_message = run(store.accept_inbound(inbound("carol", "c1")));
    const ConversationKey carol{"tg", "carol", "carol"};

    // As above: the writer stalls on the lock, so carol's first reply (which starts her
    // conversation) and a failing completion after it share a batch. That batch rolls back and
    // runs again isolated; carol's reply must then start her conversation anew, not reuse the
    // one that was rolled back.
    Database blocker(path, Database::Mode::read_write_create);
    blocker.exec("BEGIN IMMEDIATE");
    net::io_context io;
    auto stall = net::co_spawn(io, store.accept_inbound(inbound("dave", "d1")), net::use_future);
    auto reply = net::co_spawn(
        io,
        store.complete(Completion{carol_message.inbox_id, carol, "c1", "question", "answer", true}),
        net::use_future);
    auto failing = net::co_spawn(
        io, store.complete(Completion{987654, carol, "x", "question", "answer", true}),
        net::use_future);
    std::thread runner([&io] { io.run(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    blocker.exec("COMMIT");
    runner.join();

    CHECK_FALSE(stall.get().duplicate);
    CHECK_THROWS_WITH(failing.get(), Catch::Contains("no inbox row 987654"));
    const CompletionResult replied = reply.get();
    REQUIRE_FALSE(replied.conversation_id.empty());
    const Context context = run(store.load_context(carol, 10));
    CHECK(context.conversation_id == replied.conversation_id);
    CHECK(context.turns.size() == 2);
}

TEST_CASE("close() finishes queued writes and every acknowledged write is stored",
          "[store][concurrency]") {
    TempDir dir;
    const std::string path = dir.file("bot.db");
    constexpr int writes = 500;
    int acknowledged = 0;
    int refused = 0;
    {
        SqliteStore store(SqliteOptions{path});
        net::io_context io(2);
        std::vector<std::future<AcceptResult>> results;
        for (int i = 0; i < writes; ++i)
            results.push_back(net::co_spawn(
                io, store.accept_inbound(inbound("alice", std::to_string(i))), net::use_future));
        std::thread runner([&io] { io.run(); });
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        store.close();  // races with the submissions on purpose
        runner.join();
        for (auto& result : results) {
            try {
                result.get();
                ++acknowledged;
            } catch (const std::runtime_error& error) {
                CHECK(std::string(error.what()).find("closed") != std::string::npos);
                ++refused;
            }
        }
    }
    CHECK(acknowledged + refused == writes);
    SqliteStore reopened(SqliteOptions{path});
    CHECK(run(reopened.unanswered()).size() == static_cast<std::size_t>(acknowledged));
}

TEST_CASE("The database and its WAL files are private whatever the umask", "[store][security]") {
    TempDir dir;
    const mode_t previous = ::umask(0);  // the most permissive: SQLite alone would create 0644
    struct RestoreUmask {
        mode_t mask;
        ~RestoreUmask() { ::umask(mask); }
    } restore{previous};

    const std::string path = dir.file("private/bot.db");
    SqliteStore store(SqliteOptions{path});
    run(store.accept_inbound(inbound("alice", "m1")));  // the WAL now holds data
    CHECK(permissions_of(path) == 0600);
    CHECK(permissions_of(path + "-wal") == 0600);
    CHECK(permissions_of(path + "-shm") == 0600);
    CHECK(permissions_of(dir.file("private")) == 0700);
}
