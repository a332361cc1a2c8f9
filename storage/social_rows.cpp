#include "storage/social_rows.hpp"

#include "storage/memory_rows.hpp"
#include "storage/sqlite_db.hpp"
#include "storage/state_rows.hpp"

#include <algorithm>

namespace bot::storage {

void write_group_message(Database& db, const std::string& adapter_id, const GroupMessage& message,
                         int keep_per_chat, std::int64_t purge_before_ms) {
    db.run(
        "INSERT INTO group_messages (adapter_id, chat_id, sender_id, sender_name, text, "
        "addressed, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        adapter_id, message.chat_id, message.sender_id, message.sender_name, message.text,
        message.addressed, message.at_ms);
    // The chat's rows beyond its newest keep_per_chat: an index range of at most one row in
    // the steady state.
    const std::int64_t keep = keep_per_chat;
    db.run(
        "DELETE FROM group_messages WHERE adapter_id = ?1 AND chat_id = ?2 AND id <= "
        "(SELECT id FROM group_messages WHERE adapter_id = ?1 AND chat_id = ?2 "
        "ORDER BY id DESC LIMIT 1 OFFSET ?3)",
        adapter_id, message.chat_id, keep);
    purge_group_messages(db, adapter_id, purge_before_ms);
}

std::vector<GroupMessage> read_group_messages(Database& db, const std::string& adapter_id,
                                              const std::string& chat_id,
                                              std::int64_t not_before_ms, int limit) {
    auto query = db.prepare(
        "SELECT sender_id, sender_name, text, addressed, seen_at FROM group_messages "
        "WHERE adapter_id = ?1 AND chat_id = ?2 AND seen_at >= ?3 ORDER BY id DESC LIMIT ?4");
    const std::int64_t rows = limit;
    query->bind_all(adapter_id, chat_id, not_before_ms, rows);
    std::vector<GroupMessage> messages;
    while (query->step()) {
        messages.push_back(GroupMessage{.chat_id = chat_id,
                                        .sender_id = query->column_text(0),
                                        .sender_name = query->column_text(1),
                                        .text = query->column_text(2),
                                        .addressed = query->column_bool(3),
                                        .at_ms = query->column_int64(4)});
    }
    std::reverse(messages.begin(), messages.end());
    return messages;
}

void purge_group_messages(Database& db, const std::string& adapter_id, std::int64_t before_ms) {
    // Usually deletes nothing: an index seek past the adapter's oldest row.
    db.run("DELETE FROM group_messages WHERE adapter_id = ? AND seen_at < ?", adapter_id,
           before_ms);
}

bool write_share(Database& db, const ShareRecord& share) {
    auto newest = db.prepare(
        "SELECT c.id, max(m.id) FROM conversations c JOIN messages m ON m.conversation_id = c.id "
        "WHERE c.adapter_id = ?1 AND c.chat_id = ?2 AND c.user_id = ?3 AND c.active = 1");
    newest->bind_all(share.key.adapter_id, share.key.chat_id, share.key.user_id);
    if (!newest->step() || newest->column_is_null(0)) return false;
    const std::int64_t conversation = newest->column_int64(0);
    const std::int64_t last_message = newest->column_int64(1);
    newest->reset();
    db.run(
        "INSERT INTO shares (token_digest, adapter_id, user_id, conversation_id, "
        "last_message_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        share.token_digest, share.key.adapter_id, share.key.user_id, conversation, last_message,
        share.created_at_ms);
    return true;
}

std::optional<SharedConversation> read_share(Database& db, const std::string& token_digest) {
    auto share = db.prepare(
        "SELECT conversation_id, last_message_id, created_at FROM shares WHERE token_digest = ?");
    share->bind_all(token_digest);
    if (!share->step()) return std::nullopt;
    SharedConversation shared;
    const std::int64_t conversation = share->column_int64(0);
    const std::int64_t last_message = share->column_int64(1);
    shared.created_at_ms = share->column_int64(2);
    share->reset();
    auto turns = db.prepare(
        "SELECT role, content FROM messages WHERE conversation_id = ? AND id <= ? ORDER BY id");
    turns->bind_all(conversation, last_message);
    while (turns->step()) shared.turns.push_back({turns->column_text(0), turns->column_text(1)});
    return shared;
}

int erase_shares(Database& db, const std::string& adapter_id, const std::string& user_id) {
    return static_cast<int>(
        db.run("DELETE FROM shares WHERE adapter_id = ? AND user_id = ?", adapter_id, user_id));
}

UserExport read_user_export(Database& db, const std::string& adapter_id,
                            const std::string& user_id) {
    UserExport out;
    auto conversations = db.prepare(
        "SELECT id, public_id, chat_id, active, created_at, coalesce(ended_at, 0) "
        "FROM conversations WHERE adapter_id = ? AND user_id = ? ORDER BY id");
    conversations->bind_all(adapter_id, user_id);
    std::vector<std::int64_t> rowids;
    while (conversations->step()) {
        rowids.push_back(conversations->column_int64(0));
        out.conversations.push_back(
            ExportedConversation{.id = conversations->column_text(1),
                                 .chat_id = conversations->column_text(2),
                                 .active = conversations->column_bool(3),
                                 .created_at_ms = conversations->column_int64(4),
                                 .ended_at_ms = conversations->column_int64(5),
                                 .turns = {}});
    }
    conversations->reset();
    auto turns = db.prepare(
        "SELECT role, content, created_at FROM messages WHERE conversation_id = ? ORDER BY id");
    for (std::size_t i = 0; i < rowids.size(); ++i) {
        turns->bind_all(rowids[i]);
        while (turns->step()) {
            out.conversations[i].turns.push_back({.role = turns->column_text(0),
                                                  .content = turns->column_text(1),
                                                  .at_ms = turns->column_int64(2)});
        }
        turns->reset();
    }
    for (std::size_t i = 0; i < rowids.size(); ++i) {  // h/summary
        Context summary;
        read_summary(db, rowids[i], summary);
        out.conversations[i].summary = std::move(summary.summary);
    }
    out.facts = read_facts(db, adapter_id, user_id);
    out.settings = read_user_settings(db, adapter_id, user_id);
    auto usage = db.prepare(
        "SELECT day, messages, prompt_tokens, completion_tokens FROM usage_daily "
        "WHERE adapter_id = ? AND user_id = ? ORDER BY day");
    usage->bind_all(adapter_id, user_id);
    while (usage->step()) {
        out.usage.push_back({.day = usage->column_text(0),
                             .counts = {.messages = usage->column_int64(1),
                                        .prompt_tokens = usage->column_int64(2),
                                        .completion_tokens = usage->column_int64(3)}});
    }
    usage->reset();
    auto lines = db.prepare(
        "SELECT chat_id, sender_name, text, addressed, seen_at FROM group_messages "
        "WHERE adapter_id = ? AND sender_id = ? ORDER BY id");
    lines->bind_all(adapter_id, user_id);
    while (lines->step()) {
        out.group_messages.push_back(GroupMessage{.chat_id = lines->column_text(0),
                                                  .sender_id = user_id,
                                                  .sender_name = lines->column_text(1),
                                                  .text = lines->column_text(2),
                                                  .addressed = lines->column_bool(3),
                                                  .at_ms = lines->column_int64(4)});
    }
    lines->reset();
    auto shares = db.prepare("SELECT count(*) FROM shares WHERE adapter_id = ? AND user_id = ?");
    shares->bind_all(adapter_id, user_id);
    if (shares->step()) out.shares = shares->column_int(0);
    return out;
}

void erase_social(Database& db, const std::string& adapter_id, const std::string& user_id) {
    erase_shares(db, adapter_id, user_id);
    db.run("DELETE FROM group_messages WHERE adapter_id = ? AND sender_id = ?", adapter_id,
           user_id);
}

}  // namespace bot::storage
