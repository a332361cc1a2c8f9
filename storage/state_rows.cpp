#include "storage/state_rows.hpp"

#include "storage/sqlite_db.hpp"

namespace bot::storage {

void write_state(Database& db, const std::string& adapter_id, const std::string& kind,
                 const std::string& key, const std::string& value, std::int64_t now_ms) {
    // The version is taken inside the write transaction, so two writers (this process and the
    // CLI) can never hand out the same one.
    db.run(R"sql(
INSERT INTO adapter_state (adapter_id, kind, key, value, version, updated_at)
VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(version), 0) + 1 FROM adapter_state), ?5)
ON CONFLICT (adapter_id, kind, key) DO UPDATE
    SET value = excluded.value, version = excluded.version, updated_at = excluded.updated_at)sql",
           adapter_id, kind, key, value, now_ms);
}

std::optional<std::string> read_state(Database& db, const std::string& adapter_id,
                                      const std::string& kind, const std::string& key) {
    auto query = db.prepare(
        "SELECT value FROM adapter_state WHERE adapter_id = ?1 AND kind = ?2 AND key = ?3");
    query->bind_all(adapter_id, kind, key);
    if (!query->step()) return std::nullopt;
    return query->column_text(0);
}

std::vector<StateEntry> read_state_changes(Database& db, const std::string& adapter_id,
                                           const std::string& kind, std::int64_t after_version) {
    auto query = db.prepare(
        "SELECT key, value, version FROM adapter_state"
        " WHERE adapter_id = ?1 AND kind = ?2 AND version > ?3 ORDER BY version");
    query->bind_all(adapter_id, kind, after_version);
    std::vector<StateEntry> entries;
    while (query->step()) {
        entries.push_back(StateEntry{.key = query->column_text(0),
                                     .value = query->column_text(1),
                                     .version = query->column_int64(2)});
    }
    return entries;
}

void erase_state_row(Database& db, const std::string& adapter_id, const std::string& kind,
                     const std::string& key) {
    db.run("DELETE FROM adapter_state WHERE adapter_id = ?1 AND kind = ?2 AND key = ?3", adapter_id,
           kind, key);
}

void write_sent(Database& db, const std::string& adapter_id, const std::string& chat_id,
                const std::vector<std::string>& message_ids, std::int64_t now_ms,
                std::int64_t purge_before_ms) {
    for (const auto& message_id : message_ids) {
        db.run(
            "INSERT INTO sent_messages (adapter_id, chat_id, message_id, sent_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (adapter_id, chat_id, message_id) "
            "DO UPDATE SET sent_at = excluded.sent_at",
            adapter_id, chat_id, message_id, now_ms);
    }
    // Usually deletes nothing: an index seek past the oldest row.
    db.run("DELETE FROM sent_messages WHERE sent_at < ?", purge_before_ms);
}

bool read_was_sent(Database& db, const std::string& adapter_id, const std::string& chat_id,
                   const std::string& message_id, std::int64_t not_before_ms) {
    auto query = db.prepare(
        "SELECT 1 FROM sent_messages WHERE adapter_id = ? AND chat_id = ? AND message_id = ? "
        "AND sent_at >= ?");
    query->bind_all(adapter_id, chat_id, message_id, not_before_ms);
    return query->step();
}

UserSettings read_user_settings(Database& db, const std::string& adapter_id,
                                const std::string& user_id) {
    auto query = db.prepare(
        "SELECT persona, model FROM user_settings WHERE adapter_id = ?1 AND user_id = ?2");
    query->bind_all(adapter_id, user_id);
    if (!query->step()) return {};
    return {.persona = query->column_text(0), .model = query->column_text(1)};
}

void write_user_setting(Database& db, const std::string& adapter_id, const std::string& user_id,
                        UserSetting which, const std::string& value, std::int64_t now_ms) {
    // One column only, so a /persona and a /model of the same user in two chats (each chat's
    // messages run in their own queue) never undo each other.
    const char* sql = which == UserSetting::persona ? R"sql(
INSERT INTO user_settings (adapter_id, user_id, persona, model, updated_at)
VALUES (?1, ?2, ?3, '', ?4)
ON CONFLICT (adapter_id, user_id) DO UPDATE
    SET persona = excluded.persona, updated_at = excluded.updated_at)sql"
                                                    : R"sql(
INSERT INTO user_settings (adapter_id, user_id, persona, model, updated_at)
VALUES (?1, ?2, '', ?3, ?4)
ON CONFLICT (adapter_id, user_id) DO UPDATE
    SET model = excluded.model, updated_at = excluded.updated_at)sql";
    db.run(sql, adapter_id, user_id, value, now_ms);
    if (value.empty()) {
        db.run(
            "DELETE FROM user_settings WHERE adapter_id = ?1 AND user_id = ?2 AND persona = '' "
            "AND model = ''",
            adapter_id, user_id);
    }
}

int erase_user_settings(Database& db, const std::string& adapter_id, const std::string& user_id) {
    return static_cast<int>(db.run(
        "DELETE FROM user_settings WHERE adapter_id = ?1 AND user_id = ?2", adapter_id, user_id));
}

void add_usage(Database& db, const std::string& adapter_id, const std::string& user_id,
               const TokenUsage& usage) {
    db.run(R"sql(
INSERT INTO usage_daily (adapter_id, user_id, day, messages, prompt_tokens, completion_tokens)
VALUES (?1, ?2, ?3, 1, ?4, ?5)
ON CONFLICT (adapter_id, user_id, day) DO UPDATE
    SET messages = messages + 1, prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens)sql",
           adapter_id, user_id, usage.day, usage.prompt_tokens, usage.completion_tokens);
}

UsageReport read_usage(Database& db, const std::string& adapter_id, const std::string& user_id,
                       const std::string& day) {
    auto query = db.prepare(R"sql(
SELECT coalesce(sum(CASE WHEN day = ?3 THEN messages END), 0),
       coalesce(sum(CASE WHEN day = ?3 THEN prompt_tokens END), 0),
       coalesce(sum(CASE WHEN day = ?3 THEN completion_tokens END), 0),
       coalesce(sum(messages), 0), coalesce(sum(prompt_tokens), 0),
       coalesce(sum(completion_tokens), 0)
FROM usage_daily WHERE adapter_id = ?1 AND user_id = ?2)sql");
    query->bind_all(adapter_id, user_id, day);
    UsageReport report;
    if (!query->step()) return report;
    report.today = {query->column_int64(0), query->column_int64(1), query->column_int64(2)};
    report.total = {query->column_int64(3), query->column_int64(4), query->column_int64(5)};
    return report;
}

void erase_usage(Database& db, const std::string& adapter_id, const std::string& user_id) {
    db.run("DELETE FROM usage_daily WHERE adapter_id = ?1 AND user_id = ?2", adapter_id, user_id);
}

}  // namespace bot::storage
