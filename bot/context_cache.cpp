#include "bot/context_cache.hpp"

#include <iterator>
#include <utility>

namespace bot {

namespace {

std::string key_of(const storage::ConversationKey& key) {
    std::string out;
    out.reserve(key.adapter_id.size() + key.chat_id.size() + key.user_id.size() + 2);
    out.append(key.adapter_id).append(1, '\n').append(key.chat_id).append(1, '\n');
    out.append(key.user_id);
    return out;
}

std::size_t size_of(const std::vector<storage::Turn>& turns) {
    std::size_t bytes = sizeof(turns) + turns.capacity() * sizeof(storage::Turn);
    for (const auto& turn : turns) bytes += turn.role.capacity() + turn.content.capacity();
    return bytes;
}

}  // namespace

ContextCache::ContextCache(std::size_t max_bytes, std::size_t max_turns)
    : max_bytes_(max_bytes), max_turns_(max_turns) {}

std::uint64_t ContextCache::generation() const {
    std::lock_guard lock(mutex_);
    return generation_;
}

std::optional<ContextCache::Entry> ContextCache::get(const storage::ConversationKey& key) {
    std::lock_guard lock(mutex_);
    auto found = index_.find(key_of(key));
    if (found == index_.end()) return std::nullopt;
    lru_.splice(lru_.begin(), lru_, found->second);
    return Entry{.conversation_id = found->second->conversation_id, .turns = found->second->turns};
}

void ContextCache::put(const storage::ConversationKey& key, std::string conversation_id,
                       std::vector<storage::Turn> turns, std::uint64_t generation) {
    if (max_bytes_ == 0) return;
    insert(key, key_of(key), std::move(conversation_id), std::move(turns), generation);
}

void ContextCache::append(const storage::ConversationKey& key, std::string conversation_id,
                          Turns used, std::vector<storage::Turn> added, std::uint64_t generation) {
    if (max_bytes_ == 0) return;
    std::string slot_key = key_of(key);
    std::shared_ptr<std::vector<storage::Turn>> own;  // the same vector as `used`, if cached
    {
        std::lock_guard lock(mutex_);
        auto found = index_.find(slot_key);
        if (found != index_.end() && used && found->second->turns.get() == used.get()) {
            own = std::move(found->second->turns);
            erase_locked(found->second);
        }
    }
    std::vector<storage::Turn> turns;
    if (own) {
        // Copies of a cached snapshot are taken from the cache only, under the lock: out of the
        // cache, a use count of one means no one else holds it or can take it.
        used.reset();
        turns = own.use_count() == 1 ? std::move(*own) : *own;
    } else if (used) {
        turns = *used;  // loaded from the store, or replaced in the cache meanwhile
    }
    turns.insert(turns.end(), std::make_move_iterator(added.begin()),
                 std::make_move_iterator(added.end()));
    insert(key, std::move(slot_key), std::move(conversation_id), std::move(turns), generation);
}

void ContextCache::insert(const storage::ConversationKey& key, std::string slot_key,
                          std::string conversation_id, std::vector<storage::Turn> turns,
                          std::uint64_t generation) {
    if (turns.size() > max_turns_) {
        turns.erase(turns.begin(), turns.end() - static_cast<std::ptrdiff_t>(max_turns_));
    }
    const std::size_t bytes = size_of(turns) + 3 * slot_key.size() + 256;
    std::lock_guard lock(mutex_);
    auto found = index_.find(slot_key);
    if (found != index_.end()) erase_locked(found->second);
    if (generation != generation_ || bytes > max_bytes_) return;
    lru_.push_front(Slot{.key = std::move(slot_key),
                         .conversation = key,
                         .conversation_id = std::move(conversation_id),
                         .turns = std::make_shared<std::vector<storage::Turn>>(std::move(turns)),
                         .bytes = bytes});
    index_.emplace(lru_.front().key, lru_.begin());
    bytes_ += bytes;
    evict_locked();
}

void ContextCache::erase(const storage::ConversationKey& key) {
    std::lock_guard lock(mutex_);
    if (auto found = index_.find(key_of(key)); found != index_.end()) erase_locked(found->second);
}

void ContextCache::forget_user(const std::string& adapter_id, const std::string& user_id) {
    std::lock_guard lock(mutex_);
    ++generation_;
    for (auto slot = lru_.begin(); slot != lru_.end();) {
        auto next = std::next(slot);
        if (slot->conversation.adapter_id == adapter_id && slot->conversation.user_id == user_id) {
            erase_locked(slot);
        }
        slot = next;
    }
}

std::size_t ContextCache::bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

std::size_t ContextCache::size() const {
    std::lock_guard lock(mutex_);
    return lru_.size();
}

void ContextCache::evict_locked() {
    while (bytes_ > max_bytes_ && !lru_.empty()) erase_locked(std::prev(lru_.end()));
}

void ContextCache::erase_locked(std::list<Slot>::iterator slot) {
    bytes_ -= slot->bytes;
    index_.erase(slot->key);
    lru_.erase(slot);
}

}  // namespace bot
