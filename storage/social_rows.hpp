// The group_messages and shares tables' statements (migration 12) and the reads behind /export,
// run on the store's writer or reader threads.
#pragma once

#include "storage/store.hpp"

namespace bot::storage {

class Database;

void write_group_message(Database& db, const std::string& adapter_id, const GroupMessage& message,
                         int keep_per_chat, std::int64_t purge_before_ms);
std::vector<GroupMessage> read_group_messages(Database& db, const std::string& adapter_id,
                                              const std::string& chat_id,
                                              std::int64_t not_before_ms, int limit);
void purge_group_messages(Database& db, const std::string& adapter_id, std::int64_t before_ms);

bool write_share(Database& db, const ShareRecord& share);
std::optional<SharedConversation> read_share(Database& db, const std::string& token_digest);
// Returns the shares deleted.
int erase_shares(Database& db, const std::string& adapter_id, const std::string& user_id);

UserExport read_user_export(Database& db, const std::string& adapter_id,
                            const std::string& user_id);

// /forget: every row of migration 12 about (adapter, user): their shares and their own lines.
void erase_social(Database& db, const std::string& adapter_id, const std::string& user_id);

}  // namespace bot::storage
