// SqliteStore against a real file: semantics of every operation, durability across reopen,
// group commit under concurrency, isolation between users, and file permissions.
#include "storage/sqlite_store.hpp"
#include "base/crypto.hpp"
#include "storage/migrations.hpp"
#include "storage/sqlite_db.hpp"
#include "storage_test_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace bot::storage;
using bot::storage::testing::run;
using bot::storage::testing::TempDir;
namespace net = boost::asio;

namespace {

ConversationKey private_chat(const std::string& user) {
    return {"tg", user, user};
}

InboundRecord inbound(const ConversationKey& key, const std::string& message_id,
                      const std::string& text = "hello") {
    InboundRecord record;
    record.key = key;
    record.message_id = message_id;
    record.user_name = "name of " + key.user_id;
    record.is_group = key.chat_id != key.user_id;
    record.text = text;
    record.received_at_ms = 1700000000000;
    return record;
}

// Accepts a message and answers it, as the pipeline does for one turn.
CompletionResult exchange(SqliteStore& store, const ConversationKey& key,
                          const std::string& message_id, const std::string& question,
                          const std::string& answer, bool remember = true) {
    const AcceptResult accepted = run(store.accept_inbound(inbound(key, message_id, question)));
    return run(
        store.complete(Completion{accepted.inbox_id, key, message_id, question, answer, remember}));
}

std::vector<std::string> contents(const Context& context) {
    std::vector<std::string> result;
    for (const Turn& turn : context.turns) result.push_back(turn.role + ":" + turn.content);
    return result;
}

}  // namespace

TEST_CASE("A fresh file is migrated and reopening keeps the version", "[store]") {
    TempDir dir;
    const std::string path = dir.file("data/bot.db");  // the parent directory does not exist
    SqliteStore(SqliteOptions{path}).close();
    {
        Database db(path, Database::Mode::read_only);
        CHECK(schema_version(db) == latest_schema_version());
    }
    SqliteStore reopened(SqliteOptions{path});
    CHECK(run(reopened.unanswered()).empty());
    Database db(path, Database::Mode::read_only);
    CHECK(schema_version(db) == latest_schema_version());
}

TEST_CASE("Opening a file from a newer build fails with the path", "[store]") {
    TempDir dir;
    const std::string path = dir.file("bot.db");
    Database(path, Database::Mode::read_write_create).exec("PRAGMA user_version = 999");
    CHECK_THROWS_WITH(SqliteStore(SqliteOptions{path}),
                      Catch::Contains(path) && Catch::Contains("newer than this build"));
}

TEST_CASE("A repeated message id is reported as a duplicate with its state", "[store]") {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("bot.db")});
    const auto key = private_chat("alice");

    const AcceptResult first = run(store.accept_inbound(inbound(key, "m1")));
    CHECK_FALSE(first.duplicate);
    CHECK(first.state == InboxState::received);

    const AcceptResult again = run(store.accept_inbound(inbound(key, "m1")));
    CHECK(again.duplicate);
    CHECK(again.inbox_id == first.inbox_id);
    CHECK(again.state == InboxState::received);

    run(store.complete(Completion{first.inbox_id, key, "m1", "hello", "hi!", true}));
    CHECK(run(store.accept_inbound(inbound(key, "m1"))).state == InboxState::answered);

    // The same message id from another adapter is a different message.
    auto other_adapter = key;
    other_adapter.adapter_id = "slack";
    CHECK_FALSE(run(store.accept_inbound(inbound(other_adapter, "m1"))).duplicate);
}

TEST_CASE("Completions build the context with the newest max_turns oldest first", "[store]") {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("bot.db")});
    const auto key = private_chat("alice");

    CHECK(run(store.load_context(key, 10)).conversation_id.empty());
    const CompletionResult first = exchange(store, key, "m1", "q1", "a1");
    const CompletionResult second = exchange(store, key, "m2", "q2", "a2");
    CHECK(first.outbox_id != second.outbox_id);
    CHECK(first.conversation_id.size() == 32);
    CHECK(first.conversation_id.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(second.conversation_id == first.conversation_id);

    const Context all = run(store.load_context(key, 10));
    CHECK(all.conversation_id == first.conversation_id);
    CHECK(contents(all) ==
          std::vector<std::string>{"user:q1", "assistant:a1", "user:q2", "assistant:a2"});
    CHECK(contents(run(store.load_context(key, 3))) ==
          std::vector<std::string>{"assistant:a1", "user:q2", "assistant:a2"});
    CHECK(run(store.load_context(key, 0)).turns.empty());

    const auto reply = run(store.reply_for(run(store.accept_inbound(inbound(key, "m2"))).inbox_id));
    REQUIRE(reply);
    CHECK(reply->outbox_id == second.outbox_id);
    CHECK(reply->text == "a2");
    CHECK(reply->conversation_id == first.conversation_id);
    CHECK(reply->state == OutboxState::pending);
}

TEST_CASE("Completing the same inbound twice returns the first reply", "[store]") {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("bot.db")});
    const auto key = private_chat("alice");
    const AcceptResult accepted = run(store.accept_inbound(inbound(key, "m1", "q")));
    const Completion completion{accepted.inbox_id, key, "m1", "q", "first answer", true};

    const CompletionResult first = run(store.complete(completion));
    auto retry = completion;
    retry.reply = "second answer";
    const CompletionResult second = run(store.complete(retry));
    CHECK(second.outbox_id == first.outbox_id);
    CHECK(second.conversation_id == first.conversation_id);
    CHECK(run(store.reply_for(accepted.inbox_id))->text == "first answer");
    CHECK(run(store.load_context(key, 10)).turns.size() == 2);  // the turns were not doubled
    CHECK(run(store.undelivered()).size() == 1);
}

TEST_CASE("remember=false answers without creating or extending a conversation", "[store]") {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("bot.db")});
    const auto key = private_chat("alice");

    const CompletionResult command = exchange(store, key, "m1", "/help", "help text", false);
    CHECK(command.conversation_id.empty());
    CHECK(run(store.load_context(key, 10)).conversation_id.empty());
    CHECK(run(store.undelivered()).size() == 1);  // the reply itself is still sent

    const CompletionResult chat = exchange(store, key, "m2", "q", "a");
    const CompletionResult later = exchange(store, key, "m3", "/usage", "usage", false);
    CHECK(later.conversation_id == chat.conversation_id);
    CHECK(contents(run(store.load_context(key, 10))) ==
          std::vector<std::string>{"user:q", "assistant:a"});
}

TEST_CASE("Reset starts a new conversation without the old turns", "[store]") {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("bot.db")});
    const auto key = private_chat("alice");
    const CompletionResult before = exchange(store, key, "m1", "old question", "old answer");

    const std::string fresh = run(store.reset_conversation(key));
    CHECK(fresh != before.conversation_id);
    Context context = run(store.load_context(key, 10));
    CHECK(context.conversation_id == fresh);
    CHECK(context.turns.empty());

    const CompletionResult after = exchange(store, key, "m2", "new question", "new answer");
    CHECK(after.conversation_id == fresh);
    CHECK(contents(run(store.load_context(key, 10))) ==
          std::vector<std::string>{"user:new question", "assistant:new answer"});

    // Resetting without any conversation simply starts one.
    CHECK_FALSE(run(store.reset_conversation(private_chat("bob"))).empty());
}

TEST_CASE("Forget deletes one user's data in every chat and nobody else's", "[store]") {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("bot.db")});
    const auto alice = private_chat("alice");
    const ConversationKey alice_in_group{"tg", "group-1", "alice"};
    const ConversationKey bob_in_group{"tg", "group-1", "bob"};
    const ConversationKey alice_elsewhere{"slack", "alice", "alice"};  // another platform

    const CompletionResult first = exchange(store, alice, "a1", "my secret", "noted");
    exchange(store, alice, "a2", "more", "ok");
    exchange(store, alice_in_group, "a3", "group talk", "sure");
    run(store.accept_inbound(inbound(alice, "a4", "unanswered secret")));
    exchange(store, alice_in_group, "a6", "/help", "help text", false);  // not remembered
    exchange(store, bob_in_group, "b1", "bob's question", "bob's answer");
    exchange(store, alice_elsewhere, "s1", "slack secret", "fine");
    const AcceptResult request = run(store.accept_inbound(inbound(alice, "a5", "/forget")));

    const ForgetResult forgotten = run(store.forget_user("tg", "alice", request.inbox_id));
    CHECK(forgotten.conversations == 2);
    CHECK(forgotten.messages == 6);
    CHECK(forgotten.inbox == 5);

    CHECK(run(store.load_context(alice, 10)).conversation_id.empty());
    CHECK(run(store.load_context(alice_in_group, 10)).conversation_id.empty());
    CHECK(contents(run(store.load_context(bob_in_group, 10))) ==
          std::vector<std::string>{"user:bob's question", "assistant:bob's answer"});
    CHECK(run(store.load_context(alice_elsewhere, 10)).turns.size() == 2);

    // Only the /forget request itself is left of alice on tg, and its text is erased.
    const auto pending = run(store.unanswered());
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].inbox_id == request.inbox_id);
    CHECK(pending[0].record.text == "[forgotten]");
    CHECK(pending[0].record.user_name.empty());
    for (const OutboxRow& row : run(store.undelivered()))
        CHECK_FALSE((row.key.adapter_id == "tg" && row.key.user_id == "alice"));
    CHECK(run(store.undelivered()).size() == 2);  // bob's and slack alice's replies remain

    // The request can still be answered and delivered.
    const CompletionResult answer = run(store.complete(
        Completion{request.inbox_id, alice, "a5", "/forget", "All your data is gone.", false}));
    CHECK(answer.conversation_id.empty());

    // Talking again starts a new conversation: the deleted one is not remembered anywhere.
    const CompletionResult again = exchange(store, alice, "a7", "hello again", "hi");
    CHECK(again.conversation_id != first.conversation_id);
    CHECK(contents(run(store.load_context(alice, 10))) ==
          std::vector<std::string>{"user:hello again", "assistant:hi"});

    // A keep id belonging to someone else is not erased.
    const AcceptResult bob_message = run(store.accept_inbound(inbound(bob_in_group, "b2", "hi")));
    run(store.forget_user("tg", "nobody", bob_message.inbox_id));
    bool bob_text_intact = false;
    for (const auto& row : run(store.unanswered()))
        if (row.inbox_id == bob_message.inbox_id) bob_text_intact = row.record.text == "hi";
    CHECK(bob_text_intact);
}

TEST_CASE("After a forget, its message ids are still duplicates, stored only as keyed hashes",
          "[store][forget]") {
    TempDir dir;
    const std::string path = dir.file("bot.db");
    const auto alice = private_chat("alice-7f3e");
    const std::vector<std::string> forgotten_ids{"msg-answered-1001", "msg-pending-1002",
                                                 "msg-command-1003"};
    std::int64_t request_id = 0;
    {
        SqliteStore store(SqliteOptions{path});
        exchange(store, alice, forgotten_ids[0], "my secret", "noted");
        run(store.accept_inbound(inbound(alice, forgotten_ids[1], "unanswered")));
        exchange(store, alice, forgotten_ids[2], "/help", "help text", false);
        request_id =
            run(store.accept_inbound(inbound(alice, "msg-forget-1004", "/forget"))).inbox_id;
        CHECK(run(store.forget_user("tg", "alice-7f3e", request_id)).inbox == 3);

        for (const std::string& id : forgotten_ids) {
            const AcceptResult again = run(store.accept_inbound(inbound(alice, id, "replayed")));
            CHECK(again.duplicate);
            CHECK(again.forgotten);
            CHECK(again.inbox_id == 0);  // nothing was stored
        }
        // The request itself is still an ordinary row; ids are per adapter.
        const AcceptResult request = run(store.accept_inbound(inbound(alice, "msg-forget-1004")));
        CHECK((request.duplicate && !request.forgotten && request.inbox_id == request_id));
        const ConversationKey elsewhere{"slack", "alice-7f3e", "alice-7f3e"};
        CHECK_FALSE(run(store.accept_inbound(inbound(elsewhere, forgotten_ids[0]))).duplicate);
        REQUIRE(run(store.unanswered()).size() == 2);  // the request and the slack message
    }
    // Durable, with the same key after reopening.
    SqliteStore reopened(SqliteOptions{path});
    CHECK(run(reopened.accept_inbound(inbound(alice, forgotten_ids[1]))).forgotten);

    // What is kept: one 32-byte hash per id and its expiry, nothing readable. The hashes are
    // HMAC-SHA256 under the installation's key of the length-prefixed adapter id and the id.
    Database db(path, Database::Mode::read_only);
    auto key_row = db.prepare("SELECT value FROM installation_secrets");
    REQUIRE(key_row->step());
    const std::string key = key_row->column_text(0);
    CHECK(key.size() == 64);
    std::set<std::string> expected;
    for (const std::string& id : forgotten_ids) {
        const std::string input = "2:tg" + id;
        expected.insert(bot::crypto::hmac_sha256(key, input));
    }
    std::set<std::string> stored;
    auto rows = db.prepare(
        "SELECT typeof(digest), length(digest), CAST(digest AS TEXT), expires_at "
        "FROM forgotten_messages");
    int count = 0;
    while (rows->step()) {
        ++count;
        CHECK(rows->column_text(0) == "blob");
        CHECK(rows->column_int(1) == 32);
        const std::string bytes = rows->column_text(2);
        for (const std::string& secret : {std::string("alice-7f3e"), std::string("msg-")})
            CHECK(bytes.find(secret) == std::string::npos);
        CHECK(rows->column_int64(3) > 1700000000000);
        stored.insert(bytes);
    }
    CHECK(count == 3);
    CHECK(stored == expected);
}

TEST_CASE("Forgotten message ids expire", "[store][forget]") {
    TempDir dir;
    SqliteOptions options{dir.file("bot.db")};
    options.forgotten_ids_kept_for = std::chrono::milliseconds(300);
    const auto alice = private_chat("alice");
    {
        SqliteStore store(options);
        exchange(store, alice, "m1", "hello", "hi");
        const AcceptResult request = run(store.accept_inbound(inbound(alice, "m2", "/forget")));
        run(store.forget_user("tg", "alice", request.inbox_id));
        CHECK(run(store.accept_inbound(inbound(alice, "m1"))).forgotten);
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        // Expired: the id is an ordinary new message again.
        const AcceptResult later = run(store.accept_inbound(inbound(alice, "m1")));
        CHECK_FALSE(later.duplicate);
        CHECK(later.inbox_id > 0);
    }
    // Expired entries are deleted at the next start (and at each forget).
    SqliteStore reopened(options);
    reopened.close();
    Database db(options.path, Database::Mode::read_only);
    auto count = db.prepare("SELECT count(*) FROM forgotten_messages");
    REQUIRE(count->step());
    CHECK(count->column_int(0) == 0);
}

TEST_CASE("Recovery lists are oldest first and follow the delivery states", "[store]") {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("bot.db")});
    const auto alice = private_chat("alice");
    const ConversationKey bob_in_group{"tg", "group-1", "bob"};

    const AcceptResult a1 = run(store.accept_inbound(inbound(alice, "a1", "first")));
    const AcceptResult b1 = run(store.accept_inbound(inbound(bob_in_group, "b1", "second")));
    const AcceptResult a2 = run(store.accept_inbound(inbound(alice, "a2", "third")));

    auto pending = run(store.unanswered());
    REQUIRE(pending.size() == 3);
    CHECK(pending[0].inbox_id == a1.inbox_id);
    CHECK(pending[1].inbox_id == b1.inbox_id);
    CHECK(pending[1].record.is_group);
    CHECK(pending[1].record.key.chat_id == "group-1");
    CHECK(pending[1].record.user_name == "name of bob");
    CHECK(pending[1].record.received_at_ms == 1700000000000);
    CHECK(pending[2].record.text == "third");

    const auto r1 = run(store.complete(Completion{a1.inbox_id, alice, "a1", "first", "r1", true}));
    const auto rb =
        run(store.complete(Completion{b1.inbox_id, bob_in_group, "b1", "second", "rb", true}));
    CHECK(run(store.unanswered()).size() == 1);

    auto outbox = run(store.undelivered());
    REQUIRE(outbox.size() == 2);
    CHECK(outbox[0].id == r1.outbox_id);
    CHECK(outbox[1].id == rb.outbox_id);
    CHECK(outbox[1].is_group);
    CHECK(outbox[1].reply_to == "b1");
    CHECK(outbox[1].key.chat_id == "group-1");
    CHECK(outbox[1].inbox_id == b1.inbox_id);

    run(store.mark_parts_sent(r1.outbox_id, 2));
    run(store.mark_attempt_failed(r1.outbox_id, "HTTP 502", false));
    run(store.mark_attempt_failed(r1.outbox_id, "HTTP 502", false));
    outbox = run(store.undelivered());
    REQUIRE(outbox.size() == 2);
    CHECK(outbox[0].parts_sent == 2);
    CHECK(outbox[0].attempts == 2);

    run(store.mark_delivered(r1.outbox_id));
    CHECK(run(store.reply_for(a1.inbox_id))->state == OutboxState::delivered);
    CHECK(run(store.accept_inbound(inbound(alice, "a1"))).state == InboxState::delivered);

    run(store.mark_attempt_failed(rb.outbox_id, "HTTP 403 blocked", true));
    CHECK(run(store.reply_for(b1.inbox_id))->state == OutboxState::failed);
    CHECK(run(store.accept_inbound(inbound(bob_in_group, "b1"))).state == InboxState::failed);
    CHECK(run(store.undelivered()).empty());

    // A late permanent error cannot undo a delivery.
    run(store.mark_attempt_failed(r1.outbox_id, "late", true));
    CHECK(run(store.reply_for(a1.inbox_id))->state == OutboxState::delivered);
    CHECK(run(store.accept_inbound(inbound(alice, "a1"))).state == InboxState::delivered);

    CHECK_FALSE(run(store.reply_for(a2.inbox_id)).has_value());
}

TEST_CASE("Everything survives close and reopen", "[store]") {
    TempDir dir;
    const std::string path = dir.file("bot.db");
    const auto key = private_chat("alice");
    CompletionResult written;
    std::int64_t waiting_id = 0;
    {
        SqliteStore store(SqliteOptions{path, true});  // synchronous=FULL path as well
        written = exchange(store, key, "m1", "q", "a");
        waiting_id = run(store.accept_inbound(inbound(key, "m2", "still waiting"))).inbox_id;
    }  // the destructor closes
    SqliteStore store(SqliteOptions{path});
    const Context context = run(store.load_context(key, 10));
    CHECK(context.conversation_id == written.conversation_id);
    CHECK(contents(context) == std::vector<std::string>{"user:q", "assistant:a"});
    const auto pending = run(store.unanswered());
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].inbox_id == waiting_id);
    const auto outbox = run(store.undelivered());
    REQUIRE(outbox.size() == 1);
    CHECK(outbox[0].id == written.outbox_id);
    CHECK(run(store.accept_inbound(inbound(key, "m1"))).duplicate);
}

TEST_CASE("Operations after close throw and close is idempotent", "[store]") {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("bot.db")});
    store.close();
    CHECK_NOTHROW(store.close());
    CHECK_THROWS_WITH(run(store.accept_inbound(inbound(private_chat("a"), "m1"))),
                      Catch::Contains("closed"));
    CHECK_THROWS_WITH(run(store.unanswered()), Catch::Contains("closed"));
}

TEST_CASE("Completions resume on the caller's executor and not on a storage thread", "[store]") {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("bot.db")});
    net::io_context io;
    std::thread::id resumed_on;
    auto done = net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            co_await store.accept_inbound(inbound(private_chat("a"), "m1"));
            co_await store.unanswered();
            resumed_on = std::this_thread::get_id();
        },
        net::use_future);
    std::thread runner([&] { io.run(); });
    const std::thread::id io_thread = runner.get_id();
    runner.join();
    done.get();
    CHECK(resumed_on == io_thread);
}

TEST_CASE("user settings: set one, keep the other, clear, reopen and forget", "[store]") {
    TempDir dir;
    const std::string path = dir.file("bot.db");
    {
        SqliteStore store(SqliteOptions{path});
        CHECK(run(store.user_settings("tg", "alice")).persona.empty());
        run(store.set_user_setting("tg", "alice", UserSetting::persona, "pirate"));
        run(store.set_user_setting("tg", "alice", UserSetting::model, "small"));
        run(store.set_user_setting("tg", "bob", UserSetting::persona, "teacher"));
        run(store.set_user_setting("slack", "alice", UserSetting::model, "big"));
        const UserSettings alice = run(store.user_settings("tg", "alice"));
        CHECK(alice.persona == "pirate");
        CHECK(alice.model == "small");
        // Clearing one choice leaves the other.
        run(store.set_user_setting("tg", "alice", UserSetting::persona, ""));
        CHECK(run(store.user_settings("tg", "alice")).persona.empty());
        CHECK(run(store.user_settings("tg", "alice")).model == "small");
    }
    SqliteStore store(SqliteOptions{path});  // durable
    CHECK(run(store.user_settings("tg", "alice")).model == "small");
    CHECK(run(store.user_settings("tg", "bob")).persona == "teacher");
    // Clearing the last choice deletes the row.
    run(store.set_user_setting("tg", "bob", UserSetting::persona, ""));

    const AcceptResult request =
        run(store.accept_inbound(inbound(private_chat("alice"), "f1", "/forget")));
    run(store.forget_user("tg", "alice", request.inbox_id));
    CHECK(run(store.user_settings("tg", "alice")).model.empty());
    CHECK(run(store.user_settings("slack", "alice")).model == "big");  // another platform
    store.close();

    Database db(path, Database::Mode::read_only);
    auto rows = db.prepare("SELECT adapter_id, user_id FROM user_settings");
    REQUIRE(rows->step());
    CHECK(rows->column_text(0) == "slack");
    CHECK_FALSE(rows->step());
}

TEST_CASE("usage is counted once per reply, per day, and forgotten", "[store]") {
    TempDir dir;
    SqliteStore store(SqliteOptions{dir.file("bot.db")});
    const auto alice = private_chat("alice");
    auto answer = [&](const std::string& id, const std::string& day, int in, int out) {
        const AcceptResult accepted = run(store.accept_inbound(inbound(alice, id, "q")));
        Completion completion{accepted.inbox_id, alice, id, "q", "a", true};
        completion.usage = TokenUsage{.day = day, .prompt_tokens = in, .completion_tokens = out};
        run(store.complete(completion));
        return completion;
    };
    answer("m1", "2026-12-06", 100, 10);
    const Completion repeated = answer("m2", "2026-12-07", 50, 5);
    run(store.complete(repeated));  // recovery completing it again: not counted twice
    answer("m3", "2026-12-07", 20, 2);

    UsageReport report = run(store.usage("tg", "alice", "2026-12-07"));
    CHECK(report.today.messages == 2);
    CHECK(report.today.prompt_tokens == 70);
    CHECK(report.today.completion_tokens == 7);
    CHECK(report.total.messages == 3);
    CHECK(report.total.prompt_tokens == 170);
    CHECK(report.total.completion_tokens == 17);
    CHECK(run(store.usage("tg", "bob", "2026-12-07")).total.messages == 0);

    const AcceptResult request = run(store.accept_inbound(inbound(alice, "f", "/forget")));
    run(store.forget_user("tg", "alice", request.inbox_id));
    CHECK(run(store.usage("tg", "alice", "2026-12-07")).total.messages == 0);
}
