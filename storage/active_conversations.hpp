// The writer's memory of which conversation is active for a key, so that a reply does not look
// it up with a query (~8K instructions a message). Only the writer creates and ends
// conversations, so what it remembers stays true, as long as it forgets everything whenever a
// transaction or savepoint rolls back (what it learnt inside may be undone) and when a user is
// forgotten. Used on the writer thread only.
#pragma once

#include "storage/store.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bot::storage {

class Database;

struct ConversationRef {
    std::int64_t id = 0;
    std::string public_id;
};

// The active conversation of a key, from the database: what the cache is filled from, and how
// readers (which keep no cache) find it.
std::optional<ConversationRef> query_active_conversation(Database& db, const ConversationKey& key);

class ActiveConversations {
public:
    // Bounds the memory: ~200 bytes a key. Past it the cache starts over, which costs a query
    // per key again and nothing else.
    static constexpr std::size_t kCapacity = 10'000;

    std::optional<ConversationRef> find(Database& db, const ConversationKey& key);
    void remember(const ConversationKey& key, ConversationRef conversation);
    void forget_all() noexcept { known_.clear(); }
    std::size_t size() const noexcept { return known_.size(); }

private:
    struct KeyHash {
        std::size_t operator()(const ConversationKey& key) const noexcept {
            std::hash<std::string_view> hash;
            std::size_t h = hash(key.adapter_id);
            h = h * 31 + hash(key.chat_id);
            return h * 31 + hash(key.user_id);
        }
    };
    struct KeyEqual {
        bool operator()(const ConversationKey& a, const ConversationKey& b) const noexcept {
            return a.user_id == b.user_id && a.chat_id == b.chat_id && a.adapter_id == b.adapter_id;
        }
    };

    std::unordered_map<ConversationKey, ConversationRef, KeyHash, KeyEqual> known_;
};

}  // namespace bot::storage
