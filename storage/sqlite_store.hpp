// The default Store: one SQLite file in WAL mode.
//
// No SQLite call runs on the caller's thread. One writer thread owns the only write connection
// and group-commits: it takes every queued write, runs them in one transaction (if one fails,
// the batch runs again with a savepoint per operation, so that it rolls back alone), and
// completes the callers only after COMMIT. It also remembers each key's active conversation.
// Reads run on a small pool of threads, each with its own read-only connection, which WAL lets
// proceed while the writer commits. Completions are posted to each awaiting coroutine's
// executor.
#pragma once

#include "storage/active_conversations.hpp"
#include "storage/store.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bot::storage {

class Database;
class ForgottenMessages;
namespace detail {
class JobQueue;
}

struct SqliteOptions {
    std::string path;  // parent directories are created (mode 0700)
    // FULL also survives power loss; NORMAL (WAL) may lose the newest commits then, but never
    // corrupts the file, and costs no fsync per commit.
    bool synchronous_full = false;
    int readers = 2;  // read threads, each with its own connection
    int busy_timeout_ms = 5000;
    // How long after /forget the deleted message ids are still recognised as duplicates (as
    // keyed hashes). Inbox rows are otherwise kept for good; a week is far beyond any
    // platform's redelivery, and the WeChat family's signed timestamps refuse older replays.
    std::chrono::milliseconds forgotten_ids_kept_for = std::chrono::days(7);
    // How long the ids of the bot's own group messages are kept (remember_sent): a reply
    // quoting an older one needs an @mention again.
    std::chrono::milliseconds sent_ids_kept_for = std::chrono::days(30);
    // memory.recall.enabled: user turns are indexed for recall as they are stored (in the same
    // transaction); off, recall() finds nothing.
    bool recall_index = false;
    // memory.embeddings is set: indexed turns also wait for an embedding (pending_vectors).
    bool recall_vectors = false;
};

class SqliteStore final : public Store {
public:
    // Opens or creates the file (mode 0600, also its -wal/-shm), migrates the schema and starts
    // the threads. Throws std::runtime_error naming the path and the reason.
    explicit SqliteStore(SqliteOptions options);
    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    net::awaitable<AcceptResult> accept_inbound(InboundRecord record) override;
    net::awaitable<Context> load_context(ConversationKey key, int max_turns) override;
    net::awaitable<CompletionResult> complete(Completion completion) override;
    net::awaitable<std::optional<StoredReply>> reply_for(std::int64_t inbox_id) override;
    net::awaitable<void> mark_parts_sent(std::int64_t outbox_id, int parts_sent) override;
    net::awaitable<void> mark_delivered(std::int64_t outbox_id) override;
    net::awaitable<void> mark_attempt_failed(std::int64_t outbox_id, std::string error,
                                             bool permanent) override;
    net::awaitable<void> remember_sent(std::string adapter_id, std::string chat_id,
                                       std::vector<std::string> message_ids) override;
    net::awaitable<bool> was_sent(std::string adapter_id, std::string chat_id,
                                  std::string message_id) override;
    net::awaitable<std::string> reset_conversation(ConversationKey key) override;
    net::awaitable<ForgetResult> forget_user(std::string adapter_id, std::string user_id,
                                             std::int64_t keep_inbox_id) override;
    net::awaitable<void> erase_forget_request(std::string adapter_id, std::string user_id,
                                              std::int64_t inbox_id) override;
    // Memory (h/summary): SQL in storage/memory_rows.cpp.
    net::awaitable<std::optional<std::int64_t>> queue_summary(ConversationKey key,
                                                              std::string conversation_id,
                                                              int keep_turns) override;
    net::awaitable<std::vector<SummaryJob>> due_summaries(std::int64_t now_ms) override;
    net::awaitable<SummaryInput> summary_input(std::int64_t conversation, int max_turns) override;
    net::awaitable<SummaryCommit> commit_summary(SummaryUpdate update) override;
    net::awaitable<void> summary_failed(std::int64_t conversation,
                                        std::int64_t not_before_ms) override;
    net::awaitable<void> drop_summary_job(std::int64_t conversation) override;
    net::awaitable<std::vector<Fact>> facts(std::string adapter_id, std::string user_id) override;
    net::awaitable<RememberResult> remember_fact(std::string adapter_id, std::string user_id,
                                                 std::string text, int max_facts) override;
    net::awaitable<bool> forget_fact(std::string adapter_id, std::string user_id,
                                     int position) override;
    net::awaitable<UserSettings> user_settings(std::string adapter_id,
                                               std::string user_id) override;
    net::awaitable<void> set_user_setting(std::string adapter_id, std::string user_id,
                                          UserSetting which, std::string value) override;
    net::awaitable<UsageReport> usage(std::string adapter_id, std::string user_id,
                                      std::string day) override;
    net::awaitable<void> put_state(std::string adapter_id, std::string kind, std::string key,
                                   std::string value) override;
    net::awaitable<std::optional<std::string>> get_state(std::string adapter_id, std::string kind,
                                                         std::string key) override;
    net::awaitable<std::vector<StateEntry>> list_state(std::string adapter_id, std::string kind,
                                                       std::int64_t after_version) override;
    net::awaitable<void> erase_state(std::string adapter_id, std::string kind,
                                     std::string key) override;
    // issue 24, h/social (storage/social_rows.cpp)
    net::awaitable<void> add_group_message(std::string adapter_id, GroupMessage message,
                                           int keep_per_chat,
                                           std::int64_t purge_before_ms) override;
    net::awaitable<std::vector<GroupMessage>> group_messages(std::string adapter_id,
                                                             std::string chat_id,
                                                             std::int64_t not_before_ms,
                                                             int limit) override;
    net::awaitable<void> purge_group_messages(std::string adapter_id,
                                              std::int64_t before_ms) override;
    net::awaitable<bool> create_share(ShareRecord share) override;
    net::awaitable<std::optional<SharedConversation>> shared_conversation(
        std::string token_digest) override;
    net::awaitable<int> erase_shares(std::string adapter_id, std::string user_id) override;
    net::awaitable<UserExport> export_user(std::string adapter_id, std::string user_id) override;
    net::awaitable<std::vector<RecalledTurn>> recall(RecallQuery query) override;
    net::awaitable<std::vector<PendingVector>> pending_vectors(int limit) override;
    net::awaitable<void> put_vectors(std::vector<PendingVector> vectors) override;
    net::awaitable<std::vector<PendingInbound>> unanswered() override;
    net::awaitable<std::vector<OutboxRow>> undelivered() override;

    // Stops accepting work, finishes every queued operation, joins the threads and closes the
    // connections (the last close checkpoints the WAL). Idempotent.
    void close() override;

    // Write transactions committed so far. With group commit it grows slower than the number
    // of writes under load, which is the point; tests and metrics read it.
    std::uint64_t commits() const noexcept { return commits_.load(std::memory_order_relaxed); }

private:
    // Queues work(Database&) -> T on the writer or the reader pool and awaits its result.
    template <class T, class Work>
    net::awaitable<T> submit(detail::JobQueue& queue, Work&& work);

    void open_connections();
    void start_threads();
    void writer_loop();
    void reader_loop(Database& db);

    SqliteOptions options_;
    std::unique_ptr<Database> writer_db_;
    ActiveConversations active_conversations_;      // the writer thread's only
    std::unique_ptr<ForgottenMessages> forgotten_;  // the writer thread's only
    std::vector<std::unique_ptr<Database>> reader_dbs_;
    std::unique_ptr<detail::JobQueue> writes_;
    std::unique_ptr<detail::JobQueue> reads_;
    std::thread writer_;
    std::vector<std::thread> readers_;
    std::mutex close_mutex_;  // close() from two threads must not join twice
    std::atomic<std::uint64_t> commits_{0};
};

}  // namespace bot::storage
