// The conversation, inbox and outbox rows: the operations behind SqliteStore's core methods.
#include "storage/conversation_rows.hpp"

#include "base/random_id.hpp"
#include "storage/active_conversations.hpp"
#include "storage/forgotten_messages.hpp"
#include "storage/memory_rows.hpp"
#include "storage/recall_index.hpp"
#include "storage/social_rows.hpp"
#include "storage/sqlite_db.hpp"
#include "storage/state_rows.hpp"

#include <algorithm>
#include <chrono>

namespace bot::storage {

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// --- Operations. Each runs on a storage thread; writes inside the batch's transaction. ---

namespace {

// Conversation ids are shown to users, so they must not be guessable: 128 random bits.
std::string random_public_id() {
    return random_hex(16);
}

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

}  // namespace

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

}  // namespace bot::storage
