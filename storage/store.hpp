// The storage extension point: conversation memory, inbox and outbox. SQLite is the default
// implementation (storage/sqlite_store.hpp); a PostgreSQL store would implement the same.
//
// Every operation is awaitable and never blocks the caller's thread. Writes complete only once
// durably committed, so "accepted" and "answered" mean what they say after a crash.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bot::storage {
namespace net = boost::asio;

// An inbound message moves received -> answered -> delivered (or failed when the reply could
// not be delivered for good). The inbox row stores the first two; the last two are its outbox
// row's state, so delivering writes one row.
enum class InboxState { received = 0, answered = 1, delivered = 2, failed = 3 };
enum class OutboxState { pending = 0, delivered = 1, failed = 2 };

// Who a conversation belongs to: (adapter id, chat id, user id). In a private chat the chat id
// is usually the user id; in a group each member has their own conversation.
struct ConversationKey {
    std::string adapter_id;
    std::string chat_id;
    std::string user_id;
};

struct InboundRecord {
    ConversationKey key;
    std::string message_id;  // unique per adapter: the dedupe key
    std::string user_name;
    bool is_group = false;
    std::string text;
    std::int64_t received_at_ms = 0;  // unix epoch milliseconds
};

struct AcceptResult {
    std::int64_t inbox_id = 0;
    bool duplicate = false;
    InboxState state = InboxState::received;  // of the existing row when duplicate
    // A duplicate of a message that /forget deleted: nothing of it is stored (inbox_id 0), and
    // it must not be answered again.
    bool forgotten = false;
};

struct Turn {
    std::string role;  // "user" | "assistant"
    std::string content;
    std::int64_t id = 0;  // the stored message's id (ordered as the turns are); 0 if unknown
};

struct Context {
    std::string conversation_id;  // empty when the user has no active conversation yet
    std::vector<Turn> turns;      // oldest first, all after summarized_through
    // The rolling summary of the turns up to message id summarized_through (0: none).
    std::string summary;
    std::int64_t summarized_through = 0;
};

// The tokens one LLM answer used, counted into its user's usage of day (UTC, "YYYY-MM-DD").
struct TokenUsage {
    std::string day;
    int prompt_tokens = 0;
    int completion_tokens = 0;
};

// The result of processing one inbound message, written in one transaction: the user and
// assistant turns (when remember is set), the outbox row, and the inbox state "answered".
struct Completion {
    std::int64_t inbox_id = 0;
    ConversationKey key;
    std::string reply_to;  // the inbound message id
    std::string user_text;
    std::string reply;
    bool remember = true;             // false for command answers, apologies and busy replies
    std::optional<TokenUsage> usage;  // answers from the LLM: counted once, with the reply
};

struct CompletionResult {
    std::int64_t outbox_id = 0;
    std::string conversation_id;  // the active conversation after this completion ("" if none)
    bool appended = false;        // the turns were added (false: remember off, or a repeat)
    std::int64_t first_message_id = 0;  // when appended: the user turn's id (the reply's is +1)
};

struct StoredReply {
    std::int64_t outbox_id = 0;
    std::string text;
    std::string conversation_id;
    OutboxState state = OutboxState::pending;
};

struct PendingInbound {
    std::int64_t inbox_id = 0;
    InboundRecord record;
};

struct OutboxRow {
    std::int64_t id = 0;
    std::int64_t inbox_id = 0;
    ConversationKey key;
    bool is_group = false;
    std::string reply_to;
    std::string text;
    int parts_sent = 0;  // parts already delivered, so a resend never repeats them
    int attempts = 0;
};

// A small piece of durable adapter state (accounts, cursors, tokens): opaque text under
// (adapter id, kind, key). version grows with every write to the table, so "what changed since
// version v" is one indexed query, also for writes made by another process (the CLI).
struct StateEntry {
    std::string key;
    std::string value;
    std::int64_t version = 0;
};

// What a user chose with /persona and /model, per (adapter id, user id): in a group the member,
// like conversations. Empty: the default.
struct UserSettings {
    std::string persona;
    std::string model;
};
enum class UserSetting { persona, model };

struct UsageCounts {
    std::int64_t messages = 0;  // answered by the LLM
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
};
struct UsageReport {
    UsageCounts today;
    UsageCounts total;
};

// --- Memory: rolling summaries and facts (issue 24, h/summary; storage/memory_rows.hpp) ---

// A summary to make, as stored (summary_jobs). conversation is the conversation's row id.
struct SummaryJob {
    std::int64_t conversation = 0;
    ConversationKey key;
    std::string conversation_id;  // public id
    int keep_turns = 0;
    int attempts = 0;
};

// What a summary is made from: the stored summary and the oldest turns after it, leaving out
// the newest keep_turns (at most max_turns of them; more says that more are left after those).
struct SummaryInput {
    bool found = false;  // a job for an active conversation
    SummaryJob job;
    std::string summary;
    std::int64_t through = 0;
    std::vector<Turn> turns;
    bool more = false;
    std::int64_t not_before_ms = 0;
};

// Replaces the summary if it still ends at expected_through (compare-and-set) and adds the
// facts found (deduplicated, at most max_facts per user), in one transaction.
struct SummaryUpdate {
    std::int64_t conversation = 0;
    std::int64_t expected_through = 0;
    std::int64_t through = 0;
    std::string summary;
    std::vector<std::string> facts;
    int max_facts = 0;
    // The conversation's public id (SummaryJob::conversation_id): row ids are reused once /forget
    // deleted the newest conversation, public ids never are.
    std::string public_id;
};
struct SummaryCommit {
    bool stored = false;  // false: the pointer moved or the conversation is gone
    bool done = false;    // no turns beyond keep_turns are left: the job was deleted
};

struct Fact {
    std::int64_t id = 0;
    std::string text;
    bool from_user = false;  // /remember, not taken from the conversation
};
enum class RememberResult { added, duplicate, full };
// --- issue 24, h/social: group context, shares, export -------------------------------------
// A group message seen by the bot (adapters.<id>.group_context with "store": "sqlite").
struct GroupMessage {
    std::string chat_id;
    std::string sender_id;
    std::string sender_name;
    std::string text;
    bool addressed = false;  // to the bot: also a turn of the sender's own conversation
    std::int64_t at_ms = 0;  // when the bot saw it
};

// A /share: the token's digest (never the token) and the conversation shared, up to its newest
// turn at the time (a snapshot by reference: later turns are not shown).
struct ShareRecord {
    std::string token_digest;
    ConversationKey key;
    std::int64_t created_at_ms = 0;
};
struct SharedConversation {
    std::vector<Turn> turns;  // oldest first
    std::int64_t created_at_ms = 0;
};

// Everything stored about one (adapter, user), for /export. Other branches add their tables'
// rows here (summaries, facts) and to the JSON in bot/user_pages.cpp.
struct ExportedTurn {
    std::string role;
    std::string content;
    std::int64_t at_ms = 0;
};
struct ExportedConversation {
    std::string id;  // the public id
    std::string chat_id;
    bool active = false;
    std::int64_t created_at_ms = 0;
    std::int64_t ended_at_ms = 0;  // 0: still active
    std::vector<ExportedTurn> turns;
    std::string summary;  // h/summary: the rolling summary of its older turns, if any
};
struct UsageDay {
    std::string day;
    UsageCounts counts;
};
struct UserExport {
    std::vector<ExportedConversation> conversations;
    UserSettings settings;
    std::vector<UsageDay> usage;
    std::vector<GroupMessage> group_messages;  // the user's own lines kept as group context
    int shares = 0;                            // pages shared with /share and not revoked
    std::vector<Fact> facts;                   // h/summary: what the bot remembers (/memory)
};

// --- Recall (issue 24, h/recall): older turns of a user's own history that match a message. ---
// Scoped to (adapter, chat, user): every conversation of that user in that chat, /reset or not,
// never another chat (a private chat's turns must not surface in a group's answers) and never
// another user.
struct RecallQuery {
    ConversationKey key;
    std::string text;        // the new message
    int limit = 3;           // excerpts wanted
    int exclude_newest = 0;  // the active conversation's newest turns: already in the context
    // The message's embedding (memory.embeddings), empty for keyword search only. Candidates
    // are then the keyword matches and the user's newest vectors, ranked by cosine similarity.
    std::vector<float> vector;
    int vector_candidates = 200;  // the user's newest vectors compared
    double min_similarity = 0.3;  // below it, a vector-only candidate is no match
};

struct RecalledTurn {
    std::int64_t message_id = 0;  // the user's turn
    std::string user_text;
    std::string reply;  // the assistant's answer to it ("" if none)
    std::int64_t at_ms = 0;
    double score = 0;  // higher is better
};

// A user turn whose embedding is still to be computed (memory.embeddings), and then its vector.
struct PendingVector {
    std::int64_t message_id = 0;
    std::string text;
    std::vector<float> vector;  // filled by the embedding worker for put_vectors
};

struct ForgetResult {
    int conversations = 0;
    int messages = 0;
    int inbox = 0;
};

class Store {
public:
    virtual ~Store() = default;

    // Inserts the inbound message, or reports the existing row when (adapter, message id)
    // was seen before. Ids that forget_user deleted are still reported as duplicates
    // (forgotten) for a while, so a redelivered or replayed message is not answered again.
    virtual net::awaitable<AcceptResult> accept_inbound(InboundRecord record) = 0;

    // The active conversation's newest max_turns turns.
    virtual net::awaitable<Context> load_context(ConversationKey key, int max_turns) = 0;

    // Creates the active conversation if there is none (when remember is set).
    virtual net::awaitable<CompletionResult> complete(Completion completion) = 0;

    // The reply recorded for an inbound message, if it has been answered.
    virtual net::awaitable<std::optional<StoredReply>> reply_for(std::int64_t inbox_id) = 0;

    virtual net::awaitable<void> mark_parts_sent(std::int64_t outbox_id, int parts_sent) = 0;
    // Outbox row delivered (its inbound message counts as delivered from then on).
    virtual net::awaitable<void> mark_delivered(std::int64_t outbox_id) = 0;
    // Counts a failed attempt; with permanent set the row is failed for good.
    virtual net::awaitable<void> mark_attempt_failed(std::int64_t outbox_id, std::string error,
                                                     bool permanent) = 0;

    // The platform ids of the bot's own messages in a group chat (what send() returned), so a
    // reply quoting one of them is recognised as addressed to the bot. Kept for a while
    // (SqliteOptions::sent_ids_kept_for), like the platforms' own limits on quoting.
    virtual net::awaitable<void> remember_sent(std::string adapter_id, std::string chat_id,
                                               std::vector<std::string> message_ids) = 0;
    virtual net::awaitable<bool> was_sent(std::string adapter_id, std::string chat_id,
                                          std::string message_id) = 0;

    // Ends the active conversation (its turns stay stored but are no longer context) and
    // starts a new one; returns the new conversation id.
    virtual net::awaitable<std::string> reset_conversation(ConversationKey key) = 0;

    // Deletes every conversation (with its summary and summary job), turn, inbox and outbox row,
    // the facts, the settings, the usage counts and the recall index entries and embeddings of
    // (adapter, user)
    // in all chats,
    // except the inbox row keep_inbox_id (the /forget request itself, with its text erased).
    // The deleted message ids stay recognisable, as keyed hashes only (see accept_inbound).
    virtual net::awaitable<ForgetResult> forget_user(std::string adapter_id, std::string user_id,
                                                     std::int64_t keep_inbox_id) = 0;
    // Once the /forget request's confirmation is out (delivered, or failed for good), its own
    // inbox and outbox rows go too, and its id is kept as a keyed hash like the others: nothing
    // of the user is left. While the confirmation is pending, nothing happens.
    virtual net::awaitable<void> erase_forget_request(std::string adapter_id, std::string user_id,
                                                      std::int64_t inbox_id) = 0;

    // --- Memory (issue 24, h/summary): rolling summaries and facts ---

    // Records that the active conversation conversation_id of key needs a summary leaving out
    // its newest keep_turns turns (kept if one is recorded already, with its backoff); returns
    // its row id, or nullopt when that conversation is no longer active.
    virtual net::awaitable<std::optional<std::int64_t>> queue_summary(ConversationKey key,
                                                                      std::string conversation_id,
                                                                      int keep_turns) = 0;
    // Recorded jobs whose backoff ended by now_ms, oldest first (start-up and retries).
    virtual net::awaitable<std::vector<SummaryJob>> due_summaries(std::int64_t now_ms) = 0;
    virtual net::awaitable<SummaryInput> summary_input(std::int64_t conversation,
                                                       int max_turns) = 0;
    virtual net::awaitable<SummaryCommit> commit_summary(SummaryUpdate update) = 0;
    // A failed attempt: counted, and not retried before not_before_ms.
    virtual net::awaitable<void> summary_failed(std::int64_t conversation,
                                                std::int64_t not_before_ms) = 0;
    virtual net::awaitable<void> drop_summary_job(std::int64_t conversation) = 0;

    // The user's facts, oldest first (the numbering /memory shows).
    virtual net::awaitable<std::vector<Fact>> facts(std::string adapter_id,
                                                    std::string user_id) = 0;
    // Adds a fact unless its normalised text is known; past max_facts the oldest fact taken
    // from the conversation makes room, and when all are the user's own it is full.
    virtual net::awaitable<RememberResult> remember_fact(std::string adapter_id,
                                                         std::string user_id, std::string text,
                                                         int max_facts) = 0;
    // Removes the position-th fact (1-based, as /memory numbers them); false if none.
    virtual net::awaitable<bool> forget_fact(std::string adapter_id, std::string user_id,
                                             int position) = 0;

    // A user's choices; a missing row reads as all defaults.
    virtual net::awaitable<UserSettings> user_settings(std::string adapter_id,
                                                       std::string user_id) = 0;
    // Sets one choice, leaving the other as it is; an empty value clears it (a row with no
    // choice left is deleted). forget_user deletes the row too.
    virtual net::awaitable<void> set_user_setting(std::string adapter_id, std::string user_id,
                                                  UserSetting which, std::string value) = 0;

    // What (adapter, user) used on day ("YYYY-MM-DD", as in TokenUsage) and in total.
    virtual net::awaitable<UsageReport> usage(std::string adapter_id, std::string user_id,
                                              std::string day) = 0;

    // Adapter state: put replaces the value (and gives it a new version).
    virtual net::awaitable<void> put_state(std::string adapter_id, std::string kind,
                                           std::string key, std::string value) = 0;
    virtual net::awaitable<std::optional<std::string>> get_state(std::string adapter_id,
                                                                 std::string kind,
                                                                 std::string key) = 0;
    // Entries of kind written after version (0: all), oldest write first.
    virtual net::awaitable<std::vector<StateEntry>> list_state(std::string adapter_id,
                                                               std::string kind,
                                                               std::int64_t after_version) = 0;
    virtual net::awaitable<void> erase_state(std::string adapter_id, std::string kind,
                                             std::string key) = 0;

    // --- issue 24, h/social ------------------------------------------------------------------
    // Adds a group message, keeps the chat's newest keep_per_chat and deletes the adapter's
    // older than purge_before_ms. forget_user deletes the user's own (by sender).
    virtual net::awaitable<void> add_group_message(std::string adapter_id, GroupMessage message,
                                                   int keep_per_chat,
                                                   std::int64_t purge_before_ms) = 0;
    // The chat's newest `limit` messages seen at or after not_before_ms, oldest first.
    virtual net::awaitable<std::vector<GroupMessage>> group_messages(std::string adapter_id,
                                                                     std::string chat_id,
                                                                     std::int64_t not_before_ms,
                                                                     int limit) = 0;
    // Deletes the adapter's group messages older than before_ms (the retention).
    virtual net::awaitable<void> purge_group_messages(std::string adapter_id,
                                                      std::int64_t before_ms) = 0;
    // Shares the key's active conversation up to its newest turn; false when it has no turns.
    virtual net::awaitable<bool> create_share(ShareRecord share) = 0;
    virtual net::awaitable<std::optional<SharedConversation>> shared_conversation(
        std::string token_digest) = 0;
    // Revokes every share of (adapter, user); returns how many. forget_user does it too.
    virtual net::awaitable<int> erase_shares(std::string adapter_id, std::string user_id) = 0;
    virtual net::awaitable<UserExport> export_user(std::string adapter_id, std::string user_id) = 0;

    // --- Recall (issue 24, h/recall) ---
    // The best matches of query.text among the user's older turns, best first (one read
    // transaction). Empty when recall indexing is off (SqliteOptions::recall_index).
    virtual net::awaitable<std::vector<RecalledTurn>> recall(RecallQuery query) = 0;
    // Up to limit user turns without an embedding yet, oldest first (the background worker's
    // durable to-do list).
    virtual net::awaitable<std::vector<PendingVector>> pending_vectors(int limit) = 0;
    // Stores the vectors of turns listed by pending_vectors. A turn deleted meanwhile (/forget)
    // is skipped, also when a new turn has taken its id: its text must still be the same.
    virtual net::awaitable<void> put_vectors(std::vector<PendingVector> vectors) = 0;

    // For start-up recovery, oldest first.
    virtual net::awaitable<std::vector<PendingInbound>> unanswered() = 0;
    virtual net::awaitable<std::vector<OutboxRow>> undelivered() = 0;

    // Finishes queued writes and closes the database. Further calls throw.
    virtual void close() = 0;
};

}  // namespace bot::storage
