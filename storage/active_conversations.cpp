#include "storage/active_conversations.hpp"

#include "storage/sqlite_db.hpp"

namespace bot::storage {

std::optional<ConversationRef> query_active_conversation(Database& db, const ConversationKey& key) {
    auto query = db.prepare(
        "SELECT id, public_id FROM conversations "
        "WHERE adapter_id = ? AND chat_id = ? AND user_id = ? AND active = 1");
    query->bind_all(key.adapter_id, key.chat_id, key.user_id);
    if (!query->step()) return std::nullopt;
    return ConversationRef{query->column_int64(0), query->column_text(1)};
}

std::optional<ConversationRef> ActiveConversations::find(Database& db, const ConversationKey& key) {
    if (auto known = known_.find(key); known != known_.end()) return known->second;
    std::optional<ConversationRef> found = query_active_conversation(db, key);
    if (found) remember(key, *found);
    return found;
}

void ActiveConversations::remember(const ConversationKey& key, ConversationRef conversation) {
    if (known_.size() >= kCapacity && !known_.contains(key)) known_.clear();
    known_.insert_or_assign(key, std::move(conversation));
}

}  // namespace bot::storage
