#include "storage/migrations.hpp"

#include "storage/sqlite_db.hpp"

#include <array>
#include <stdexcept>
#include <string>

namespace bot::storage {
namespace {

struct Migration {
    int version;
    const char* sql;
};

// Append only: a released migration is never edited, because files in the field already ran it.
// Times are unix epoch milliseconds. States are the integer values of InboxState/OutboxState.
constexpr std::array migrations{
    Migration{1, R"sql(
CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY,
    public_id   TEXT NOT NULL UNIQUE,   -- shown to users: random, never the rowid
    adapter_id  TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    ended_at    INTEGER
);
-- At most one active conversation per key; ended ones stay for history.
CREATE UNIQUE INDEX conversations_active_key
    ON conversations (adapter_id, chat_id, user_id) WHERE active = 1;
CREATE INDEX conversations_user ON conversations (adapter_id, user_id);

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role             TEXT NOT NULL,
    content          TEXT NOT NULL,
    inbox_id         INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY,
    adapter_id   TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    chat_id      TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    user_name    TEXT NOT NULL DEFAULT '',
    is_group     INTEGER NOT NULL DEFAULT 0,
    text         TEXT NOT NULL,
    state        INTEGER NOT NULL DEFAULT 0,
    received_at  INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (adapter_id, message_id)
);
CREATE INDEX inbox_state ON inbox (state, id);
CREATE INDEX inbox_user ON inbox (adapter_id, user_id);

CREATE TABLE outbox (
    id                      INTEGER PRIMARY KEY,
    inbox_id                INTEGER NOT NULL UNIQUE REFERENCES inbox (id) ON DELETE CASCADE,
    conversation_public_id  TEXT NOT NULL DEFAULT '',  -- active when the reply was written
    adapter_id              TEXT NOT NULL,
    chat_id                 TEXT NOT NULL,
    user_id                 TEXT NOT NULL,
    is_group                INTEGER NOT NULL DEFAULT 0,
    reply_to                TEXT NOT NULL DEFAULT '',
    text                    TEXT NOT NULL,
    state                   INTEGER NOT NULL DEFAULT 0,
    parts_sent              INTEGER NOT NULL DEFAULT 0,
    attempts                INTEGER NOT NULL DEFAULT 0,
    last_error              TEXT,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
CREATE INDEX outbox_state ON outbox (state, id);
CREATE INDEX outbox_user ON outbox (adapter_id, user_id);
)sql"},
    Migration{2, R"sql(
CREATE TABLE adapter_state (
    adapter_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    version     INTEGER NOT NULL,   -- max(version) + 1 at each write: "changed since" queries
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (adapter_id, kind, key)
) WITHOUT ROWID;
CREATE INDEX adapter_state_changes ON adapter_state (adapter_id, kind, version);
CREATE INDEX adapter_state_version ON adapter_state (version);
)sql"},
    Migration{3, R"sql(
-- Rows are looked up by state only while pending (state 0, recovery at start-up). Partial
-- indexes hold just those: answering or delivering a message removes an entry instead of moving
-- it to another key, and the indexes stay as small as the backlog. An inbound message's later
-- states (delivered, failed) are read from its outbox row.
DROP INDEX inbox_state;
CREATE INDEX inbox_pending ON inbox (state) WHERE state = 0;
DROP INDEX outbox_state;
CREATE INDEX outbox_pending ON outbox (state) WHERE state = 0;
)sql"},
    Migration{4, R"sql(
-- An outbox row is removed with its inbox row (ON DELETE CASCADE), which is how forgetting a
-- user finds it; an index by user on the outbox cost every reply an insert into a leaf chosen
-- by user (a page of its own in each commit) and served no query.
DROP INDEX outbox_user;
)sql"},
    Migration{5, R"sql(
-- The index by user cost every message an insert into a leaf chosen by user: a WAL frame of its
-- own in each commit, for /forget alone. /forget now finds a user's inbox rows three ways:
-- remembered ones through their turns (messages.inbox_id), unanswered ones through
-- inbox_pending, and only those answered without being remembered (commands, apologies) through
-- a partial index by user. remembered is 1 until an answer says otherwise.
ALTER TABLE inbox ADD COLUMN remembered INTEGER NOT NULL DEFAULT 1;
UPDATE inbox SET remembered = 0
    WHERE state <> 0 AND id NOT IN (SELECT inbox_id FROM messages WHERE inbox_id IS NOT NULL);
DROP INDEX inbox_user;
CREATE INDEX inbox_unremembered ON inbox (adapter_id, user_id) WHERE remembered = 0;
)sql"},
    Migration{6, R"sql(
-- /forget deletes a user's inbox rows, which are what recognises a redelivered or replayed
-- message. Their ids are kept here for a while (SqliteOptions::forgotten_ids_kept_for) as
-- HMAC-SHA256(installation key, adapter id and message id): no id, user or text in clear
-- (storage/forgotten_messages.hpp).
CREATE TABLE forgotten_messages (
    digest      BLOB PRIMARY KEY,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX forgotten_messages_expiry ON forgotten_messages (expires_at);
-- Random secrets of this installation, made on first use (the key of forgotten_messages).
CREATE TABLE installation_secrets (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
)sql"},
    Migration{7, R"sql(
-- The platform ids of the bot's own messages in group chats (Store::remember_sent): a member's
-- reply quoting one of them is addressed to the bot. Rows older than
-- SqliteOptions::sent_ids_kept_for are purged as new ones are added.
CREATE TABLE sent_messages (
    adapter_id  TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    sent_at     INTEGER NOT NULL,
    PRIMARY KEY (adapter_id, chat_id, message_id)
) WITHOUT ROWID;
CREATE INDEX sent_messages_age ON sent_messages (sent_at);
)sql"},
    Migration{8, R"sql(
-- What a user chose with /persona and /model (Store::user_settings), per adapter and user: in a
-- group the member, like conversations. '' is the default; a row with neither is deleted.
-- /forget deletes the user's row.
CREATE TABLE user_settings (
    adapter_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    persona     TEXT NOT NULL DEFAULT '',
    model       TEXT NOT NULL DEFAULT '',
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (adapter_id, user_id)
) WITHOUT ROWID;
)sql"},
    Migration{9, R"sql(
-- What each user used, per UTC day (/usage): messages answered by the LLM and their tokens
-- (the provider's counts, estimated when it sends none). Written in the reply's transaction;
-- /forget deletes the user's rows.
CREATE TABLE usage_daily (
    adapter_id         TEXT NOT NULL,
    user_id            TEXT NOT NULL,
    day                TEXT NOT NULL,   -- YYYY-MM-DD, UTC
    messages           INTEGER NOT NULL,
    prompt_tokens      INTEGER NOT NULL,
    completion_tokens  INTEGER NOT NULL,
    PRIMARY KEY (adapter_id, user_id, day)
) WITHOUT ROWID;
)sql"},
    Migration{10, R"sql(
-- Memory (issue 24): the rolling summary of a conversation's older turns, the durable "to do" of
-- summaries still to make, and durable facts per user. See storage/memory_rows.hpp.
-- The summary of a conversation folds in every turn up to through_message_id (messages.id);
-- the context is this summary plus the turns after it. Replaced by compare-and-set on the
-- pointer, so no turn is summarised twice or skipped. Goes with its conversation.
CREATE TABLE conversation_summaries (
    conversation_id     INTEGER PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    summary             TEXT NOT NULL,
    through_message_id  INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
-- A summary to make (or retry): written before the LLM is asked, deleted in the transaction
-- that stores the summary, so a crash or a failure leaves it to be found again.
CREATE TABLE summary_jobs (
    conversation_id  INTEGER PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    keep_turns       INTEGER NOT NULL,  -- the newest turns left out of the summary
    attempts         INTEGER NOT NULL DEFAULT 0,
    not_before       INTEGER NOT NULL,  -- unix ms: backoff after a failure
    created_at       INTEGER NOT NULL
);
CREATE INDEX summary_jobs_due ON summary_jobs (not_before);
-- What the bot knows about a user (/remember, /memory, and taken from conversations), per
-- adapter and user: in a group the member. normalized is the dedupe key. /forget deletes them.
CREATE TABLE user_facts (
    id          INTEGER PRIMARY KEY,
    adapter_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    text        TEXT NOT NULL,
    normalized  TEXT NOT NULL,
    from_user   INTEGER NOT NULL,  -- 1: /remember; 0: taken from the conversation
    created_at  INTEGER NOT NULL,
    UNIQUE (adapter_id, user_id, normalized)
);
)sql"},
    Migration{11, R"sql(
-- Recall (storage/recall_index.hpp): a user's older turns found again by their words. Each
-- (adapter, chat, user) has a random salt; the index holds each term of the user's turns as a
-- salted hash (no word, no id in clear), so every query is its owner's alone. /forget deletes
-- the user's rows here in its transaction; /reset leaves them (recall spans conversations).
CREATE TABLE recall_owners (
    id          INTEGER PRIMARY KEY,
    adapter_id  TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    salt        BLOB NOT NULL,
    UNIQUE (adapter_id, chat_id, user_id)
);
CREATE INDEX recall_owners_user ON recall_owners (adapter_id, user_id);
-- rowid = messages.id of a user turn; terms = its hashed terms. detail=none: no positions
-- (recall needs no phrases), the smallest index; bm25 still ranks.
CREATE VIRTUAL TABLE recall_fts USING fts5 (terms, tokenize = 'ascii', detail = 'none');
-- Embeddings of user turns (memory.embeddings), float32 little-endian; NULL: still to compute
-- (the background worker's durable to-do list).
CREATE TABLE recall_vectors (
    owner_id    INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    vector      BLOB,
    PRIMARY KEY (owner_id, message_id)
) WITHOUT ROWID;
CREATE INDEX recall_vectors_pending ON recall_vectors (message_id) WHERE vector IS NULL;
)sql"},
    Migration{12, R"sql(
-- Issue 24, social. group_messages: recent group messages not addressed to the bot (and those
-- that were), kept only when an adapter's group_context says "store": "sqlite"; rows beyond the
-- chat's newest N or older than max_age_s are deleted. /forget deletes the user's own lines.
CREATE TABLE group_messages (
    id           INTEGER PRIMARY KEY,
    adapter_id   TEXT NOT NULL,
    chat_id      TEXT NOT NULL,
    sender_id    TEXT NOT NULL,
    sender_name  TEXT NOT NULL,
    text         TEXT NOT NULL,
    addressed    INTEGER NOT NULL,
    seen_at      INTEGER NOT NULL
);
CREATE INDEX group_messages_chat ON group_messages (adapter_id, chat_id, id);
CREATE INDEX group_messages_age ON group_messages (adapter_id, seen_at);
CREATE INDEX group_messages_sender ON group_messages (adapter_id, sender_id);
-- /share pages: the SHA-256 of the token (hex; the URL's token is never stored), the shared
-- conversation and its newest turn then (a snapshot). /unshare and /forget delete the rows;
-- deleting the conversation deletes them too.
CREATE TABLE shares (
    token_digest     TEXT PRIMARY KEY,
    adapter_id       TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    last_message_id  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX shares_user ON shares (adapter_id, user_id);
CREATE INDEX shares_conversation ON shares (conversation_id);
)sql"},
};

}  // namespace

int latest_schema_version() {
    return migrations.back().version;
}

int schema_version(Database& db) {
    auto query = db.prepare("PRAGMA user_version");
    return query->step() ? query->column_int(0) : 0;
}

void migrate(Database& db) {
    const int found = schema_version(db);
    if (found > latest_schema_version())
        throw std::runtime_error("schema version " + std::to_string(found) +
                                 " is newer than this build supports (" +
                                 std::to_string(latest_schema_version()) + ")");
    for (const Migration& migration : migrations) {
        if (migration.version <= found) continue;
        Transaction transaction(db, Transaction::Kind::immediate);
        // Re-check under the write lock: another process may have migrated in the meantime.
        if (schema_version(db) < migration.version) {
            try {
                db.exec(migration.sql);
                db.exec("PRAGMA user_version = " + std::to_string(migration.version));
            } catch (const std::exception& error) {
                throw std::runtime_error("migration " + std::to_string(migration.version) +
                                         " failed: " + error.what());
            }
        }
        transaction.commit();
    }
}

}  // namespace bot::storage
