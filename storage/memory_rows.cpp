#include "storage/memory_rows.hpp"

#include "storage/sqlite_db.hpp"

#include <algorithm>

namespace bot::storage {

std::string normalize_fact(std::string_view text) {
    std::string out;
    bool space = false;
    for (char c : text) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    // "My cat is Turing." and "my cat is Turing" are the same fact.
    while (!out.empty() && std::string_view(".!?;,").find(out.back()) != std::string_view::npos)
        out.pop_back();
    return out;
}

void read_summary(Database& db, std::int64_t conversation, Context& context) {
    auto query = db.prepare(
        "SELECT summary, through_message_id FROM conversation_summaries WHERE conversation_id = ?");
    query->bind_all(conversation);
    if (!query->step()) return;
    context.summary = query->column_text(0);
    context.summarized_through = query->column_int64(1);
}

std::optional<std::int64_t> write_summary_job(Database& db, const ConversationKey& key,
                                              const std::string& conversation_id, int keep_turns,
                                              std::int64_t now_ms) {
    auto active = db.prepare(
        "SELECT id FROM conversations WHERE public_id = ? AND adapter_id = ? AND chat_id = ? "
        "AND user_id = ? AND active = 1");
    active->bind_all(conversation_id, key.adapter_id, key.chat_id, key.user_id);
    if (!active->step()) return std::nullopt;
    const std::int64_t id = active->column_int64(0);
    // An existing job keeps its attempts and backoff: a new message does not undo a backoff.
    db.run(
        "INSERT INTO summary_jobs (conversation_id, keep_turns, attempts, not_before, created_at) "
        "VALUES (?1, ?2, 0, ?3, ?3) ON CONFLICT (conversation_id) DO UPDATE "
        "SET keep_turns = excluded.keep_turns",
        id, keep_turns, now_ms);
    return id;
}

std::vector<SummaryJob> read_due_summaries(Database& db, std::int64_t now_ms) {
    auto query = db.prepare(
        "SELECT j.conversation_id, c.adapter_id, c.chat_id, c.user_id, c.public_id, "
        "j.keep_turns, j.attempts FROM summary_jobs j JOIN conversations c "
        "ON c.id = j.conversation_id WHERE j.not_before <= ? ORDER BY j.created_at");
    query->bind_all(now_ms);
    std::vector<SummaryJob> jobs;
    while (query->step()) {
        jobs.push_back(
            SummaryJob{.conversation = query->column_int64(0),
                       .key = {query->column_text(1), query->column_text(2), query->column_text(3)},
                       .conversation_id = query->column_text(4),
                       .keep_turns = query->column_int(5),
                       .attempts = query->column_int(6)});
    }
    return jobs;
}

SummaryInput read_summary_input(Database& db, std::int64_t conversation, int max_turns) {
    Transaction snapshot(db, Transaction::Kind::deferred);
    SummaryInput input;
    auto job = db.prepare(
        "SELECT c.adapter_id, c.chat_id, c.user_id, c.public_id, j.keep_turns, j.attempts, "
        "j.not_before FROM summary_jobs j JOIN conversations c ON c.id = j.conversation_id "
        "WHERE j.conversation_id = ? AND c.active = 1");
    job->bind_all(conversation);
    if (!job->step()) return input;
    input.found = true;
    input.job = SummaryJob{.conversation = conversation,
                           .key = {job->column_text(0), job->column_text(1), job->column_text(2)},
                           .conversation_id = job->column_text(3),
                           .keep_turns = job->column_int(4),
                           .attempts = job->column_int(5)};
    input.not_before_ms = job->column_int64(6);
    Context context;
    read_summary(db, conversation, context);
    input.summary = std::move(context.summary);
    input.through = context.summarized_through;

    auto count = db.prepare("SELECT count(*) FROM messages WHERE conversation_id = ? AND id > ?");
    count->bind_all(conversation, input.through);
    count->step();
    const std::int64_t after = count->column_int64(0);
    const std::int64_t to_fold = after - std::max(input.job.keep_turns, 0);
    if (to_fold <= 0) return input;
    const std::int64_t take = std::min<std::int64_t>(to_fold, std::max(max_turns, 1));
    input.more = take < to_fold;
    auto turns = db.prepare(
        "SELECT role, content, id FROM messages WHERE conversation_id = ? AND id > ? "
        "ORDER BY id LIMIT ?");
    turns->bind_all(conversation, input.through, take);
    while (turns->step())
        input.turns.push_back(
            Turn{turns->column_text(0), turns->column_text(1), turns->column_int64(2)});
    return input;
}

SummaryCommit write_summary(Database& db, const SummaryUpdate& update, std::int64_t now_ms) {
    SummaryCommit result;
    // The public id too: /forget may have freed the row id for another user's conversation.
    auto owner =
        db.prepare("SELECT adapter_id, user_id FROM conversations WHERE id = ? AND public_id = ?");
    owner->bind_all(update.conversation, update.public_id);
    if (!owner->step()) return result;  // forgotten meanwhile: nothing of it may come back
    const std::string adapter_id = owner->column_text(0);
    const std::string user_id = owner->column_text(1);
    // The compare-and-set: only over the pointer this summary was made from.
    const std::int64_t changed =
        update.expected_through == 0
            ? db.run(
                  "INSERT INTO conversation_summaries (conversation_id, summary, "
                  "through_message_id, updated_at) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT (conversation_id) DO NOTHING",
                  update.conversation, update.summary, update.through, now_ms)
            : db.run(
                  "UPDATE conversation_summaries SET summary = ?, through_message_id = ?, "
                  "updated_at = ? WHERE conversation_id = ? AND through_message_id = ?",
                  update.summary, update.through, now_ms, update.conversation,
                  update.expected_through);
    if (changed != 1) return result;
    result.stored = true;
    for (const auto& fact : update.facts)
        write_fact(db, adapter_id, user_id, fact, false, update.max_facts, now_ms);

    auto left = db.prepare(
        "SELECT (SELECT count(*) FROM messages WHERE conversation_id = ?1 AND id > ?2) "
        "> coalesce((SELECT keep_turns FROM summary_jobs WHERE conversation_id = ?1), 0)");
    left->bind_all(update.conversation, update.through);
    left->step();
    if (!left->column_bool(0)) {
        erase_summary_job(db, update.conversation);
        result.done = true;
    } else {
        db.run("UPDATE summary_jobs SET attempts = 0 WHERE conversation_id = ?",
               update.conversation);
    }
    return result;
}

void write_summary_failed(Database& db, std::int64_t conversation, std::int64_t not_before_ms) {
    db.run(
        "UPDATE summary_jobs SET attempts = attempts + 1, not_before = ? WHERE conversation_id = ?",
        not_before_ms, conversation);
}

void erase_summary_job(Database& db, std::int64_t conversation) {
    db.run("DELETE FROM summary_jobs WHERE conversation_id = ?", conversation);
}

std::vector<Fact> read_facts(Database& db, const std::string& adapter_id,
                             const std::string& user_id) {
    auto query = db.prepare(
        "SELECT id, text, from_user FROM user_facts WHERE adapter_id = ? AND user_id = ? "
        "ORDER BY id");
    query->bind_all(adapter_id, user_id);
    std::vector<Fact> facts;
    while (query->step())
        facts.push_back(Fact{.id = query->column_int64(0),
                             .text = query->column_text(1),
                             .from_user = query->column_bool(2)});
    return facts;
}

RememberResult write_fact(Database& db, const std::string& adapter_id, const std::string& user_id,
                          const std::string& text, bool from_user, int max_facts,
                          std::int64_t now_ms) {
    const std::string normalized = normalize_fact(text);
    if (normalized.empty()) return RememberResult::duplicate;
    auto known = db.prepare(
        "SELECT 1 FROM user_facts WHERE adapter_id = ? AND user_id = ? AND normalized = ?");
    known->bind_all(adapter_id, user_id, normalized);
    if (known->step()) {
        // Said again by the user: it is theirs now, kept even when room is needed.
        if (from_user)
            db.run(
                "UPDATE user_facts SET from_user = 1 WHERE adapter_id = ? AND user_id = ? "
                "AND normalized = ?",
                adapter_id, user_id, normalized);
        return RememberResult::duplicate;
    }
    auto count = db.prepare("SELECT count(*) FROM user_facts WHERE adapter_id = ? AND user_id = ?");
    count->bind_all(adapter_id, user_id);
    count->step();
    if (count->column_int64(0) >= max_facts) {
        // Room is made by the oldest fact taken from the conversation; the user's own stay.
        const std::int64_t evicted = db.run(
            "DELETE FROM user_facts WHERE id = (SELECT id FROM user_facts WHERE adapter_id = ? "
            "AND user_id = ? AND from_user = 0 ORDER BY id LIMIT 1)",
            adapter_id, user_id);
        if (evicted == 0) return RememberResult::full;
    }
    db.run(
        "INSERT INTO user_facts (adapter_id, user_id, text, normalized, from_user, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        adapter_id, user_id, text, normalized, from_user, now_ms);
    return RememberResult::added;
}

bool erase_fact(Database& db, const std::string& adapter_id, const std::string& user_id,
                int position) {
    if (position < 1) return false;
    return db.run(
               "DELETE FROM user_facts WHERE id = (SELECT id FROM user_facts WHERE "
               "adapter_id = ? AND user_id = ? ORDER BY id LIMIT 1 OFFSET ?)",
               adapter_id, user_id, position - 1) == 1;
}

void erase_user_memory(Database& db, const std::string& adapter_id, const std::string& user_id) {
    db.run("DELETE FROM user_facts WHERE adapter_id = ? AND user_id = ?", adapter_id, user_id);
    // Also removed by the conversations' ON DELETE CASCADE; said here so it never depends on it.
    for (std::string_view table : {"conversation_summaries", "summary_jobs"}) {
        db.run(std::string("DELETE FROM ") + std::string(table) +
                   " WHERE conversation_id IN (SELECT id FROM conversations WHERE adapter_id = ? "
                   "AND user_id = ?)",
               adapter_id, user_id);
    }
}

}  // namespace bot::storage
