// The adapter_state, sent_messages, user_settings and usage_daily tables' statements, run on the
// store's writer or reader threads.
#pragma once

#include "storage/store.hpp"

namespace bot::storage {

class Database;

void write_state(Database& db, const std::string& adapter_id, const std::string& kind,
                 const std::string& key, const std::string& value, std::int64_t now_ms);
std::optional<std::string> read_state(Database& db, const std::string& adapter_id,
                                      const std::string& kind, const std::string& key);
std::vector<StateEntry> read_state_changes(Database& db, const std::string& adapter_id,
                                           const std::string& kind, std::int64_t after_version);
void erase_state_row(Database& db, const std::string& adapter_id, const std::string& kind,
                     const std::string& key);

// Adds the ids (a repeat is kept once) and purges those sent before purge_before_ms.
void write_sent(Database& db, const std::string& adapter_id, const std::string& chat_id,
                const std::vector<std::string>& message_ids, std::int64_t now_ms,
                std::int64_t purge_before_ms);
bool read_was_sent(Database& db, const std::string& adapter_id, const std::string& chat_id,
                   const std::string& message_id, std::int64_t not_before_ms);

UserSettings read_user_settings(Database& db, const std::string& adapter_id,
                                const std::string& user_id);
void write_user_setting(Database& db, const std::string& adapter_id, const std::string& user_id,
                        UserSetting which, const std::string& value, std::int64_t now_ms);
// Returns the rows deleted (0 or 1).
int erase_user_settings(Database& db, const std::string& adapter_id, const std::string& user_id);

void add_usage(Database& db, const std::string& adapter_id, const std::string& user_id,
               const TokenUsage& usage);
UsageReport read_usage(Database& db, const std::string& adapter_id, const std::string& user_id,
                       const std::string& day);
void erase_usage(Database& db, const std::string& adapter_id, const std::string& user_id);

}  // namespace bot::storage
