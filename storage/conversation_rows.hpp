// The conversation, inbox and outbox rows behind SqliteStore's core methods, as free functions
// over a Database (like state_rows.hpp): each runs on a storage thread, writes inside the
// writer's batch transaction.
#pragma once

#include "storage/sqlite_store.hpp"
#include "storage/store.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bot::storage {

class ActiveConversations;
class Database;
class ForgottenMessages;

std::int64_t now_ms();  // unix epoch milliseconds

AcceptResult insert_inbound(Database& db, ForgottenMessages& forgotten,
                            const InboundRecord& record);
Context read_context(Database& db, const ConversationKey& key, int max_turns);
CompletionResult write_completion(Database& db, ActiveConversations& conversations,
                                  const Completion& completion, const SqliteOptions& options);
std::optional<StoredReply> read_reply(Database& db, std::int64_t inbox_id);
void write_parts_sent(Database& db, std::int64_t outbox_id, int parts_sent);
void write_delivered(Database& db, std::int64_t outbox_id);
void write_attempt_failed(Database& db, std::int64_t outbox_id, const std::string& error,
                          bool permanent);
std::string write_reset(Database& db, ActiveConversations& conversations,
                        const ConversationKey& key);
ForgetResult write_forget(Database& db, ActiveConversations& conversations,
                          ForgottenMessages& forgotten, std::chrono::milliseconds keep_ids_for,
                          const std::string& adapter_id, const std::string& user_id,
                          std::int64_t keep_inbox_id);
std::vector<PendingInbound> read_unanswered(Database& db);
std::vector<OutboxRow> read_undelivered(Database& db);

}  // namespace bot::storage
