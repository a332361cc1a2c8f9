#include "storage/sqlite_store.hpp"

#include "storage/active_conversations.hpp"
#include "storage/conversation_rows.hpp"
#include "storage/forgotten_messages.hpp"
#include "storage/job_queue.hpp"
#include "storage/memory_rows.hpp"
#include "storage/migrations.hpp"
#include "storage/recall_index.hpp"
#include "storage/social_rows.hpp"
#include "storage/sqlite_db.hpp"
#include "storage/state_rows.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace bot::storage {

namespace {

struct BatchOutcome {
    bool committed = false;
    std::vector<std::exception_ptr> errors;  // per job; null for success
};

// One group commit with every job in its own savepoint inside one IMMEDIATE transaction, so a
// failed job leaves the others stored. A failed COMMIT fails every job, since none was stored.
// Whatever rolls back may have started conversations the writer remembers: it forgets them all.
BatchOutcome commit_isolated(Database& db, ActiveConversations& conversations,
                             std::vector<detail::JobPtr>& batch) {
    BatchOutcome outcome{false, std::vector<std::exception_ptr>(batch.size())};
    try {
        Transaction transaction(db, Transaction::Kind::immediate);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            Savepoint savepoint(db);
            try {
                batch[i]->run(db);
                savepoint.release();
            } catch (...) {
                outcome.errors[i] = std::current_exception();
                // If even this fails, SQLite has aborted the transaction (disk full, I/O error):
                // the outer handler then fails the whole batch.
                savepoint.rollback();
                conversations.forget_all();
            }
        }
        transaction.commit();
        outcome.committed = true;
    } catch (...) {
        conversations.forget_all();
        const std::exception_ptr batch_error = std::current_exception();
        for (auto& error : outcome.errors)
            if (!error) error = batch_error;
    }
    return outcome;
}

// A group commit. Jobs fail only on bugs and storage errors, so the batch first runs without
// savepoints: a savepoint per job made SQLite copy every page that an earlier job of the batch
// had changed into its statement journal (in 64 KiB chunks), ~3 times per message. If any job
// fails, the whole batch is rolled back and run again isolated (commit_isolated). Jobs only
// compute their result from the database, so running one twice is harmless.
BatchOutcome commit_batch(Database& db, ActiveConversations& conversations,
                          std::vector<detail::JobPtr>& batch) {
    try {
        Transaction transaction(db, Transaction::Kind::immediate);
        for (auto& job : batch) job->run(db);
        transaction.commit();
        return {true, std::vector<std::exception_ptr>(batch.size())};
    } catch (...) {
        // Rolled back by the Transaction; the isolated run reports what failed.
        conversations.forget_all();
    }
    return commit_isolated(db, conversations, batch);
}

}  // namespace

// --- SqliteStore ---

SqliteStore::SqliteStore(SqliteOptions options)
    : options_(std::move(options)),
      writes_(std::make_unique<detail::JobQueue>()),
      reads_(std::make_unique<detail::JobQueue>()) {
    try {
        if (options_.path.empty()) throw std::invalid_argument("no path configured");
        if (options_.readers < 1) throw std::invalid_argument("readers must be at least 1");
        open_connections();
    } catch (const std::exception& error) {
        throw std::runtime_error("cannot open database " + options_.path + ": " + error.what());
    }
    start_threads();
}

SqliteStore::~SqliteStore() {
    try {
        close();
    } catch (...) {
        // A destructor must not throw; close() only fails if joining a thread fails.
    }
}

void SqliteStore::open_connections() {
    create_private_file(options_.path);
    writer_db_ = std::make_unique<Database>(options_.path, Database::Mode::read_write_create);
    Database& db = *writer_db_;
    db.set_busy_timeout(options_.busy_timeout_ms);
    {
        Statement journal(db.handle(), "PRAGMA journal_mode = WAL", false);
        if (!journal.step() || journal.column_text(0) != "wal")
            throw std::runtime_error("WAL journal mode is not available on this file system");
    }
    db.exec(options_.synchronous_full ? "PRAGMA synchronous = FULL"
                                      : "PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("PRAGMA journal_size_limit = 67108864");  // a burst must not leave a huge WAL behind
    // Deleted rows (/forget, /memory forget) are overwritten with zeros where that costs no
    // extra I/O, instead of lingering in free space until the page is reused.
    db.exec("PRAGMA secure_delete = FAST");
    migrate(db);
    restrict_to_owner(options_.path);  // the -wal and -shm files exist by now
    forgotten_ = std::make_unique<ForgottenMessages>(db);
    ForgottenMessages::purge(db, now_ms());  // also expired while no /forget came

    // Opened after the writer, so the -shm file that read-only connections need exists.
    for (int i = 0; i < options_.readers; ++i) {
        auto reader = std::make_unique<Database>(options_.path, Database::Mode::read_only);
        reader->set_busy_timeout(options_.busy_timeout_ms);
        // A reader's page cache starts cold whenever the writer committed since its last
        // read (WAL), which under load is every time: a small one is as good as a big one.
        reader->exec("PRAGMA cache_size = -512");
        reader_dbs_.push_back(std::move(reader));
    }
}

void SqliteStore::start_threads() {
    try {
        writer_ = std::thread([this] { writer_loop(); });
        for (auto& db : reader_dbs_) readers_.emplace_back([this, &db = *db] { reader_loop(db); });
    } catch (...) {
        close();  // joins whatever did start; the members could not be destroyed otherwise
        throw;
    }
}

void SqliteStore::writer_loop() {
    std::vector<detail::JobPtr> batch;
    while (writes_->take_all(batch)) {
        BatchOutcome outcome = commit_batch(*writer_db_, active_conversations_, batch);
        if (outcome.committed) commits_.fetch_add(1, std::memory_order_relaxed);
        for (std::size_t i = 0; i < batch.size(); ++i)
            batch[i]->finish(std::move(outcome.errors[i]));
        batch.clear();
    }
}

void SqliteStore::reader_loop(Database& db) {
    while (detail::JobPtr job = reads_->take_one()) {
        std::exception_ptr error;
        try {
            job->run(db);
        } catch (...) {
            error = std::current_exception();
        }
        job->finish(std::move(error));
    }
}

void SqliteStore::close() {
    std::lock_guard lock(close_mutex_);
    writes_->close();
    reads_->close();
    if (writer_.joinable()) writer_.join();
    for (auto& reader : readers_) reader.join();
    readers_.clear();
    // Readers first: the last connection to close checkpoints the WAL into the database and
    // removes it, which takes the read-write connection.
    reader_dbs_.clear();
    writer_db_.reset();
}

template <class T, class Work>
net::awaitable<T> SqliteStore::submit(detail::JobQueue& queue, Work&& work) {
    using Signature = detail::SignatureFor<T>;
    using Op = detail::Operation<T, std::decay_t<Work>>;
    // The operation is made first and only its pointer travels through async_initiate, which
    // moves its arguments several times: the work holds a message's texts.
    auto operation = std::make_unique<Op>(std::forward<Work>(work));
    return net::async_initiate<const net::use_awaitable_t<>, Signature>(
        [&queue](net::any_completion_handler<Signature> handler, std::unique_ptr<Op> operation) {
            operation->complete_with(std::move(handler));
            queue.push(std::move(operation));
        },
        net::use_awaitable, std::move(operation));
}

net::awaitable<AcceptResult> SqliteStore::accept_inbound(InboundRecord record) {
    return submit<AcceptResult>(*writes_, [this, record = std::move(record)](Database& db) {
        return insert_inbound(db, *forgotten_, record);
    });
}

net::awaitable<Context> SqliteStore::load_context(ConversationKey key, int max_turns) {
    return submit<Context>(*reads_, [key = std::move(key), max_turns](Database& db) {
        return read_context(db, key, max_turns);
    });
}

net::awaitable<CompletionResult> SqliteStore::complete(Completion completion) {
    return submit<CompletionResult>(
        *writes_, [this, completion = std::move(completion)](Database& db) {
            return write_completion(db, active_conversations_, completion, options_);
        });
}

net::awaitable<std::optional<StoredReply>> SqliteStore::reply_for(std::int64_t inbox_id) {
    return submit<std::optional<StoredReply>>(
        *reads_, [inbox_id](Database& db) { return read_reply(db, inbox_id); });
}

net::awaitable<void> SqliteStore::mark_parts_sent(std::int64_t outbox_id, int parts_sent) {
    return submit<void>(*writes_, [outbox_id, parts_sent](Database& db) {
        write_parts_sent(db, outbox_id, parts_sent);
    });
}

net::awaitable<void> SqliteStore::mark_delivered(std::int64_t outbox_id) {
    return submit<void>(*writes_, [outbox_id](Database& db) { write_delivered(db, outbox_id); });
}

net::awaitable<void> SqliteStore::mark_attempt_failed(std::int64_t outbox_id, std::string error,
                                                      bool permanent) {
    return submit<void>(*writes_, [outbox_id, error = std::move(error), permanent](Database& db) {
        write_attempt_failed(db, outbox_id, error, permanent);
    });
}

net::awaitable<void> SqliteStore::remember_sent(std::string adapter_id, std::string chat_id,
                                                std::vector<std::string> message_ids) {
    return submit<void>(*writes_,
                        [this, adapter_id = std::move(adapter_id), chat_id = std::move(chat_id),
                         message_ids = std::move(message_ids)](Database& db) {
                            const std::int64_t now = now_ms();
                            write_sent(db, adapter_id, chat_id, message_ids, now,
                                       now - options_.sent_ids_kept_for.count());
                        });
}

net::awaitable<bool> SqliteStore::was_sent(std::string adapter_id, std::string chat_id,
                                           std::string message_id) {
    return submit<bool>(*reads_,
                        [this, adapter_id = std::move(adapter_id), chat_id = std::move(chat_id),
                         message_id = std::move(message_id)](Database& db) {
                            return read_was_sent(db, adapter_id, chat_id, message_id,
                                                 now_ms() - options_.sent_ids_kept_for.count());
                        });
}

net::awaitable<std::string> SqliteStore::reset_conversation(ConversationKey key) {
    return submit<std::string>(*writes_, [this, key = std::move(key)](Database& db) {
        return write_reset(db, active_conversations_, key);
    });
}

net::awaitable<ForgetResult> SqliteStore::forget_user(std::string adapter_id, std::string user_id,
                                                      std::int64_t keep_inbox_id) {
    return submit<ForgetResult>(*writes_, [this, adapter_id = std::move(adapter_id),
                                           user_id = std::move(user_id),
                                           keep_inbox_id](Database& db) {
        return write_forget(db, active_conversations_, *forgotten_, options_.forgotten_ids_kept_for,
                            adapter_id, user_id, keep_inbox_id);
    });
}

net::awaitable<void> SqliteStore::erase_forget_request(std::string adapter_id, std::string user_id,
                                                       std::int64_t inbox_id) {
    return submit<void>(*writes_, [this, adapter_id = std::move(adapter_id),
                                   user_id = std::move(user_id), inbox_id](Database& db) {
        const std::int64_t now = now_ms();
        storage::erase_forget_request(db, *forgotten_, adapter_id, user_id, inbox_id,
                                      now + options_.forgotten_ids_kept_for.count());
    });
}

// --- Memory (h/summary) ---

net::awaitable<std::optional<std::int64_t>> SqliteStore::queue_summary(ConversationKey key,
                                                                       std::string conversation_id,
                                                                       int keep_turns) {
    return submit<std::optional<std::int64_t>>(
        *writes_, [key = std::move(key), conversation_id = std::move(conversation_id),
                   keep_turns](Database& db) {
            return write_summary_job(db, key, conversation_id, keep_turns, now_ms());
        });
}

net::awaitable<std::vector<SummaryJob>> SqliteStore::due_summaries(std::int64_t now) {
    return submit<std::vector<SummaryJob>>(
        *reads_, [now](Database& db) { return read_due_summaries(db, now); });
}

net::awaitable<SummaryInput> SqliteStore::summary_input(std::int64_t conversation, int max_turns) {
    return submit<SummaryInput>(*reads_, [conversation, max_turns](Database& db) {
        return read_summary_input(db, conversation, max_turns);
    });
}

net::awaitable<SummaryCommit> SqliteStore::commit_summary(SummaryUpdate update) {
    return submit<SummaryCommit>(*writes_, [update = std::move(update)](Database& db) {
        return write_summary(db, update, now_ms());
    });
}

net::awaitable<void> SqliteStore::summary_failed(std::int64_t conversation,
                                                 std::int64_t not_before_ms) {
    return submit<void>(*writes_, [conversation, not_before_ms](Database& db) {
        write_summary_failed(db, conversation, not_before_ms);
    });
}

net::awaitable<void> SqliteStore::drop_summary_job(std::int64_t conversation) {
    return submit<void>(*writes_,
                        [conversation](Database& db) { erase_summary_job(db, conversation); });
}

net::awaitable<std::vector<Fact>> SqliteStore::facts(std::string adapter_id, std::string user_id) {
    return submit<std::vector<Fact>>(
        *reads_, [adapter_id = std::move(adapter_id), user_id = std::move(user_id)](Database& db) {
            return read_facts(db, adapter_id, user_id);
        });
}

net::awaitable<RememberResult> SqliteStore::remember_fact(std::string adapter_id,
                                                          std::string user_id, std::string text,
                                                          int max_facts) {
    return submit<RememberResult>(
        *writes_, [adapter_id = std::move(adapter_id), user_id = std::move(user_id),
                   text = std::move(text), max_facts](Database& db) {
            return write_fact(db, adapter_id, user_id, text, true, max_facts, now_ms());
        });
}

net::awaitable<bool> SqliteStore::forget_fact(std::string adapter_id, std::string user_id,
                                              int position) {
    return submit<bool>(
        *writes_, [adapter_id = std::move(adapter_id), user_id = std::move(user_id), position](
                      Database& db) { return erase_fact(db, adapter_id, user_id, position); });
}

net::awaitable<UserSettings> SqliteStore::user_settings(std::string adapter_id,
                                                        std::string user_id) {
    return submit<UserSettings>(
        *reads_, [adapter_id = std::move(adapter_id), user_id = std::move(user_id)](Database& db) {
            return read_user_settings(db, adapter_id, user_id);
        });
}

net::awaitable<void> SqliteStore::set_user_setting(std::string adapter_id, std::string user_id,
                                                   UserSetting which, std::string value) {
    return submit<void>(*writes_, [adapter_id = std::move(adapter_id), user_id = std::move(user_id),
                                   which, value = std::move(value)](Database& db) {
        write_user_setting(db, adapter_id, user_id, which, value, now_ms());
    });
}

net::awaitable<UsageReport> SqliteStore::usage(std::string adapter_id, std::string user_id,
                                               std::string day) {
    return submit<UsageReport>(
        *reads_,
        [adapter_id = std::move(adapter_id), user_id = std::move(user_id),
         day = std::move(day)](Database& db) { return read_usage(db, adapter_id, user_id, day); });
}

net::awaitable<void> SqliteStore::put_state(std::string adapter_id, std::string kind,
                                            std::string key, std::string value) {
    return submit<void>(*writes_, [adapter_id = std::move(adapter_id), kind = std::move(kind),
                                   key = std::move(key), value = std::move(value)](Database& db) {
        write_state(db, adapter_id, kind, key, value, now_ms());
    });
}

net::awaitable<std::optional<std::string>> SqliteStore::get_state(std::string adapter_id,
                                                                  std::string kind,
                                                                  std::string key) {
    return submit<std::optional<std::string>>(
        *reads_, [adapter_id = std::move(adapter_id), kind = std::move(kind), key = std::move(key)](
                     Database& db) { return read_state(db, adapter_id, kind, key); });
}

net::awaitable<std::vector<StateEntry>> SqliteStore::list_state(std::string adapter_id,
                                                                std::string kind,
                                                                std::int64_t after_version) {
    return submit<std::vector<StateEntry>>(
        *reads_,
        [adapter_id = std::move(adapter_id), kind = std::move(kind), after_version](Database& db) {
            return read_state_changes(db, adapter_id, kind, after_version);
        });
}

net::awaitable<void> SqliteStore::erase_state(std::string adapter_id, std::string kind,
                                              std::string key) {
    return submit<void>(*writes_, [adapter_id = std::move(adapter_id), kind = std::move(kind),
                                   key = std::move(key)](Database& db) {
        erase_state_row(db, adapter_id, kind, key);
    });
}

net::awaitable<std::vector<RecalledTurn>> SqliteStore::recall(RecallQuery query) {
    return submit<std::vector<RecalledTurn>>(
        *reads_, [this, query = std::move(query)](Database& db) {
            return options_.recall_index ? read_recall(db, query) : std::vector<RecalledTurn>{};
        });
}

net::awaitable<std::vector<PendingVector>> SqliteStore::pending_vectors(int limit) {
    return submit<std::vector<PendingVector>>(
        *reads_, [limit](Database& db) { return read_pending_vectors(db, limit); });
}

net::awaitable<void> SqliteStore::put_vectors(std::vector<PendingVector> vectors) {
    return submit<void>(
        *writes_, [vectors = std::move(vectors)](Database& db) { write_vectors(db, vectors); });
}

net::awaitable<std::vector<PendingInbound>> SqliteStore::unanswered() {
    return submit<std::vector<PendingInbound>>(*reads_, read_unanswered);
}

net::awaitable<std::vector<OutboxRow>> SqliteStore::undelivered() {
    return submit<std::vector<OutboxRow>>(*reads_, read_undelivered);
}

// --- issue 24, h/social: thin wrappers over storage/social_rows.cpp ---
net::awaitable<void> SqliteStore::add_group_message(std::string adapter_id, GroupMessage message,
                                                    int keep_per_chat,
                                                    std::int64_t purge_before_ms) {
    return submit<void>(*writes_, [adapter_id = std::move(adapter_id), message = std::move(message),
                                   keep_per_chat, purge_before_ms](Database& db) {
        write_group_message(db, adapter_id, message, keep_per_chat, purge_before_ms);
    });
}

net::awaitable<std::vector<GroupMessage>> SqliteStore::group_messages(std::string adapter_id,
                                                                      std::string chat_id,
                                                                      std::int64_t not_before_ms,
                                                                      int limit) {
    return submit<std::vector<GroupMessage>>(
        *reads_, [adapter_id = std::move(adapter_id), chat_id = std::move(chat_id), not_before_ms,
                  limit](Database& db) {
            return read_group_messages(db, adapter_id, chat_id, not_before_ms, limit);
        });
}

net::awaitable<void> SqliteStore::purge_group_messages(std::string adapter_id,
                                                       std::int64_t before_ms) {
    return submit<void>(*writes_, [adapter_id = std::move(adapter_id), before_ms](Database& db) {
        storage::purge_group_messages(db, adapter_id, before_ms);
    });
}

net::awaitable<bool> SqliteStore::create_share(ShareRecord share) {
    return submit<bool>(
        *writes_, [share = std::move(share)](Database& db) { return write_share(db, share); });
}

net::awaitable<std::optional<SharedConversation>> SqliteStore::shared_conversation(
    std::string token_digest) {
    return submit<std::optional<SharedConversation>>(
        *reads_, [token_digest = std::move(token_digest)](Database& db) {
            return read_share(db, token_digest);
        });
}

net::awaitable<int> SqliteStore::erase_shares(std::string adapter_id, std::string user_id) {
    return submit<int>(
        *writes_, [adapter_id = std::move(adapter_id), user_id = std::move(user_id)](Database& db) {
            return storage::erase_shares(db, adapter_id, user_id);
        });
}

net::awaitable<UserExport> SqliteStore::export_user(std::string adapter_id, std::string user_id) {
    return submit<UserExport>(
        *reads_, [adapter_id = std::move(adapter_id), user_id = std::move(user_id)](Database& db) {
            return read_user_export(db, adapter_id, user_id);
        });
}

}  // namespace bot::storage
