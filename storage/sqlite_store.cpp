#include "storage/sqlite_store.hpp"

#include "base/random_id.hpp"

#include "storage/active_conversations.hpp"
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

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Conversation ids are shown to users, so they must not be guessable: 128 random bits.
std::string random_public_id() {
    return random_hex(16);
}

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

// --- Operations. Each runs on a storage thread; writes inside the batch's transaction. ---

ConversationRef start_conversation(Database& db, const ConversationKey& key, std::int64_t now,
                                   std::string public_id = random_public_id()) {
    ConversationRef conversation{0, std::move(public_id)};
    db.run(
        "INSERT INTO conversations (public_id, adapter_id, chat_id, user_id, active, created_at) "
        "VALUES (?, ?, ?, ?, 1, ?)",
        conversation.public_id, key.adapter_id, key.chat_id, key.user_id, now);
    conversation.id = db.last_insert_rowid();
    return conversation;
}

void append_exchange(Database& db, std::int64_t conversation_id, const std::string& question,
                     const std::string& answer, std::int64_t inbox_id, std::int64_t now) {
    db.run(
        "INSERT INTO messages (conversation_id, role, content, inbox_id, created_at) "
        "VALUES (?1, 'user', ?2, ?4, ?5), (?1, 'assistant', ?3, ?4, ?5)",
        conversation_id, question, answer, inbox_id, now);
}

AcceptResult insert_inbound(Database& db, ForgottenMessages& forgotten,
                            const InboundRecord& record) {
    const std::int64_t now = now_ms();
    if (forgotten.contains(db, record.key.adapter_id, record.message_id, now)) {
        return {
            .inbox_id = 0, .duplicate = true, .state = InboxState::delivered, .forgotten = true};
    }
    const std::int64_t inserted = db.run(
        "INSERT INTO inbox (adapter_id, message_id, chat_id, user_id, user_name, is_group, text, "
        "state, received_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?) "
        "ON CONFLICT (adapter_id, message_id) DO NOTHING",
        record.key.adapter_id, record.message_id, record.key.chat_id, record.key.user_id,
        record.user_name, record.is_group, record.text, record.received_at_ms, now);
    if (inserted == 1) return {db.last_insert_rowid(), false, InboxState::received};

    // Delivery is recorded on the outbox row only (one write instead of two per message).
    auto existing = db.prepare(
        "SELECT inbox.id, CASE outbox.state WHEN 1 THEN 2 WHEN 2 THEN 3 ELSE inbox.state END "
        "FROM inbox LEFT JOIN outbox ON outbox.inbox_id = inbox.id "
        "WHERE inbox.adapter_id = ? AND inbox.message_id = ?");
    existing->bind_all(record.key.adapter_id, record.message_id);
    if (!existing->step()) throw std::logic_error("inbox insert ignored but no row conflicts");
    return {existing->column_int64(0), true, static_cast<InboxState>(existing->column_int(1))};
}

Context read_context(Database& db, const ConversationKey& key, int max_turns) {
    // Both queries see the same commit; the read transaction simply ends (rolls back) on return.
    Transaction snapshot(db, Transaction::Kind::deferred);
    Context context;
    const auto conversation = query_active_conversation(db, key);
    if (!conversation) return context;
    context.conversation_id = conversation->public_id;
    // The turns after the rolling summary (memory_rows.hpp), which stands for the older ones.
    read_summary(db, conversation->id, context);
    auto newest = db.prepare(
        "SELECT role, content, id FROM messages WHERE conversation_id = ? AND id > ? "
        "ORDER BY id DESC LIMIT ?");
    newest->bind_all(conversation->id, context.summarized_through, std::max(max_turns, 0));
    while (newest->step())
        context.turns.push_back(
            Turn{newest->column_text(0), newest->column_text(1), newest->column_int64(2)});
    std::reverse(context.turns.begin(), context.turns.end());
    return context;
}

CompletionResult write_completion(Database& db, ActiveConversations& conversations,
                                  const Completion& completion, const SqliteOptions& options) {
    const std::int64_t now = now_ms();
    const std::optional<ConversationRef> active = conversations.find(db, completion.key);
    // A conversation this reply starts is created only once the reply is known to be the first.
    const bool starts_conversation = completion.remember && !active;
    const std::string public_id = active                ? active->public_id
                                  : starts_conversation ? random_public_id()
                                                        : std::string();

    // Addressed from the inbox row: the reply goes back where the message came from. Recovery
    // may complete the same inbound twice; the first reply stands.
    const std::int64_t inserted = db.run(
        "INSERT INTO outbox (inbox_id, conversation_public_id, adapter_id, chat_id, user_id, "
        "is_group, reply_to, text, state, created_at, updated_at) "
        "SELECT id, ?, adapter_id, chat_id, user_id, is_group, ?, ?, 0, ?, ? "
        "FROM inbox WHERE id = ? ON CONFLICT (inbox_id) DO NOTHING",
        public_id, completion.reply_to, completion.reply, now, now, completion.inbox_id);
    if (inserted != 1) {
        auto existing =
            db.prepare("SELECT id, conversation_public_id FROM outbox WHERE inbox_id = ?");
        existing->bind_all(completion.inbox_id);
        if (existing->step()) return {existing->column_int64(0), existing->column_text(1), false};
        throw std::invalid_argument("complete: no inbox row " +
                                    std::to_string(completion.inbox_id));
    }
    const std::int64_t outbox_id = db.last_insert_rowid();

    std::int64_t first_message_id = 0;
    if (completion.remember) {
        std::int64_t conversation_id = active ? active->id : 0;
        if (starts_conversation) {
            ConversationRef started = start_conversation(db, completion.key, now, public_id);
            conversation_id = started.id;
            conversations.remember(completion.key, std::move(started));
        }
        append_exchange(db, conversation_id, completion.user_text, completion.reply,
                        completion.inbox_id, now);
        // One statement: the two rows got consecutive ids, the assistant's last.
        first_message_id = db.last_insert_rowid() - 1;
        if (options.recall_index) {
            index_turn(db, completion.key, first_message_id, completion.user_text,
                       options.recall_vectors);
        }
    }
    // Only here, after the outbox row was new: a repeated completion is not counted twice.
    if (completion.usage) {
        add_usage(db, completion.key.adapter_id, completion.key.user_id, *completion.usage);
    }
    db.run("UPDATE inbox SET state = 1, remembered = ?, updated_at = ? WHERE id = ? AND state = 0",
           completion.remember, now, completion.inbox_id);
    return {outbox_id, public_id, completion.remember, first_message_id};
}

std::optional<StoredReply> read_reply(Database& db, std::int64_t inbox_id) {
    auto query =
        db.prepare("SELECT id, text, conversation_public_id, state FROM outbox WHERE inbox_id = ?");
    query->bind_all(inbox_id);
    if (!query->step()) return std::nullopt;
    return StoredReply{query->column_int64(0), query->column_text(1), query->column_text(2),
                       static_cast<OutboxState>(query->column_int(3))};
}

// The outbox rows below may be gone after a /forget; updating nothing is then correct.
void write_parts_sent(Database& db, std::int64_t outbox_id, int parts_sent) {
    db.run("UPDATE outbox SET parts_sent = ?, updated_at = ? WHERE id = ?", parts_sent, now_ms(),
           outbox_id);
}

void write_delivered(Database& db, std::int64_t outbox_id) {
    db.run("UPDATE outbox SET state = 1, updated_at = ? WHERE id = ?", now_ms(), outbox_id);
}

void write_attempt_failed(Database& db, std::int64_t outbox_id, const std::string& error,
                          bool permanent) {
    // Only a pending row can fail for good: a late error must not undo a delivery.
    db.run(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, updated_at = ?, "
        "state = CASE WHEN ? AND state = 0 THEN 2 ELSE state END WHERE id = ?",
        error, now_ms(), permanent, outbox_id);
}

std::string write_reset(Database& db, ActiveConversations& conversations,
                        const ConversationKey& key) {
    const std::int64_t now = now_ms();
    db.run(
        "UPDATE conversations SET active = 0, ended_at = ? "
        "WHERE adapter_id = ? AND chat_id = ? AND user_id = ? AND active = 1",
        now, key.adapter_id, key.chat_id, key.user_id);
    ConversationRef started = start_conversation(db, key, now);
    std::string public_id = started.public_id;
    conversations.remember(key, std::move(started));
    return public_id;
}

ForgetResult write_forget(Database& db, ActiveConversations& conversations,
                          ForgottenMessages& forgotten, std::chrono::milliseconds keep_ids_for,
                          const std::string& adapter_id, const std::string& user_id,
                          std::int64_t keep_inbox_id) {
    // The user's conversations in every chat go; forgetting is rare enough to forget them all.
    conversations.forget_all();
    ForgetResult result;
    {
        // Counted first: cascaded deletes are not reported by changes().
        auto count = db.prepare(
            "SELECT count(*) FROM messages WHERE conversation_id IN "
            "(SELECT id FROM conversations WHERE adapter_id = ? AND user_id = ?)");
        count->bind_all(adapter_id, user_id);
        count->step();
        result.messages = static_cast<int>(count->column_int64(0));
    }
    // The user's inbox rows, found the three ways migration 5 describes; the remembered ones
    // before their turns go. Their outbox rows go with them (ON DELETE CASCADE). The kept
    // request keeps its outbox row too: that is the confirmation still to be sent.
    std::vector<std::string> deleted_ids;
    for (std::string_view sql : {
             "DELETE FROM inbox WHERE id IN (SELECT inbox_id FROM messages WHERE conversation_id "
             "IN (SELECT id FROM conversations WHERE adapter_id = ?1 AND user_id = ?2)) "
             "AND adapter_id = ?1 AND user_id = ?2 AND id <> ?3 RETURNING message_id",
             "DELETE FROM inbox INDEXED BY inbox_unremembered "
             "WHERE adapter_id = ?1 AND user_id = ?2 AND remembered = 0 AND id <> ?3 "
             "RETURNING message_id",
             "DELETE FROM inbox INDEXED BY inbox_pending "
             "WHERE state = 0 AND adapter_id = ?1 AND user_id = ?2 AND id <> ?3 "
             "RETURNING message_id",
         }) {
        auto statement = db.prepare(sql);
        statement->bind_all(adapter_id, user_id, keep_inbox_id);
        while (statement->step()) deleted_ids.push_back(statement->column_text(0));
    }
    result.inbox = static_cast<int>(deleted_ids.size());
    // The ids stay recognisable, so a redelivered or replayed message is not answered again.
    const std::int64_t now = now_ms();
    for (const std::string& message_id : deleted_ids)
        forgotten.add(db, adapter_id, message_id, now + keep_ids_for.count());
    ForgottenMessages::purge(db, now);
    erase_user_memory(db, adapter_id, user_id);  // before the conversations it refers to
    erase_recall(db, adapter_id, user_id);       // through the conversations: before they go
    result.conversations = static_cast<int>(db.run(
        "DELETE FROM conversations WHERE adapter_id = ? AND user_id = ?", adapter_id, user_id));
    erase_user_settings(db, adapter_id, user_id);
    erase_usage(db, adapter_id, user_id);
    erase_social(db, adapter_id, user_id);

    // Scoped to the same user, so a wrong keep id can never erase someone else's message.
    db.run(
        "UPDATE inbox SET text = '[forgotten]', user_name = '', updated_at = ? "
        "WHERE id = ? AND adapter_id = ? AND user_id = ?",
        now_ms(), keep_inbox_id, adapter_id, user_id);
    db.run(
        "UPDATE outbox SET conversation_public_id = '' "
        "WHERE inbox_id = ? AND adapter_id = ? AND user_id = ?",
        keep_inbox_id, adapter_id, user_id);
    return result;
}

std::vector<PendingInbound> read_unanswered(Database& db) {
    auto query = db.prepare(
        "SELECT id, adapter_id, chat_id, user_id, message_id, user_name, is_group, text, "
        "received_at FROM inbox WHERE state = 0 ORDER BY id");
    std::vector<PendingInbound> rows;
    while (query->step()) {
        PendingInbound& row = rows.emplace_back();
        row.inbox_id = query->column_int64(0);
        row.record.key = {query->column_text(1), query->column_text(2), query->column_text(3)};
        row.record.message_id = query->column_text(4);
        row.record.user_name = query->column_text(5);
        row.record.is_group = query->column_bool(6);
        row.record.text = query->column_text(7);
        row.record.received_at_ms = query->column_int64(8);
    }
    return rows;
}

std::vector<OutboxRow> read_undelivered(Database& db) {
    auto query = db.prepare(
        "SELECT id, inbox_id, adapter_id, chat_id, user_id, is_group, reply_to, text, "
        "parts_sent, attempts FROM outbox WHERE state = 0 ORDER BY id");
    std::vector<OutboxRow> rows;
    while (query->step()) {
        OutboxRow& row = rows.emplace_back();
        row.id = query->column_int64(0);
        row.inbox_id = query->column_int64(1);
        row.key = {query->column_text(2), query->column_text(3), query->column_text(4)};
        row.is_group = query->column_bool(5);
        row.reply_to = query->column_text(6);
        row.text = query->column_text(7);
        row.parts_sent = query->column_int(8);
        row.attempts = query->column_int(9);
    }
    return rows;
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
