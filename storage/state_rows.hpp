// The adapter_state table's statements, run on the store's writer or reader threads.
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

}  // namespace bot::storage
