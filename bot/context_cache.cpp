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

std::size_t size_of(const ContextCache::Summary& summary) {
    return summary ? summary->capacity() : 0;
}

// Drops the turns a summary up to message id `through` covers (ids grow with time; 0 is a turn
// whose id is unknown, only ever a new one).
void drop_summarised(std::vector<storage::Turn>& turns, std::int64_t through) {
    std::erase_if(
        turns, [through](const storage::Turn& turn) { return turn.id != 0 && turn.id <= through; });
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
    return Entry{.conversation_id = found->second->conversation_id,
                 .turns = found->second->turns,
                 .summary = found->second->summary,
                 .through = found->second->through};
}

void ContextCache::put(const storage::ConversationKey& key, std::string conversation_id,
                       std::vector<storage::Turn> turns, std::uint64_t generation, Summary summary,
                       std::int64_t through) {
    if (max_bytes_ == 0) return;
    insert(key, key_of(key), std::move(conversation_id), std::move(turns), generation,
           std::move(summary), through);
}

void ContextCache::summarised(const storage::ConversationKey& key,
                              const std::string& conversation_id, Summary summary,
                              std::int64_t through) {
    std::lock_guard lock(mutex_);
    auto found = index_.find(key_of(key));
    if (found == index_.end()) return;
    Slot& slot = *found->second;
    if (slot.conversation_id != conversation_id || slot.through >= through) return;
    // A copy: a message being answered may hold the old vector as its snapshot.
    auto turns = std::make_shared<std::vector<storage::Turn>>(*slot.turns);
    drop_summarised(*turns, through);
    const std::size_t bytes = size_of(*turns) + size_of(summary) + 3 * slot.key.size() + 256;
    bytes_ = bytes_ - slot.bytes + bytes;
    slot.turns = std::move(turns);
    slot.summary = std::move(summary);
    slot.through = through;
    slot.bytes = bytes;
    evict_locked();
}

void ContextCache::append(const storage::ConversationKey& key, std::string conversation_id,
                          Turns used, std::vector<storage::Turn> added, std::uint64_t generation,
                          Summary summary, std::int64_t through) {
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
    insert(key, std::move(slot_key), std::move(conversation_id), std::move(turns), generation,
           std::move(summary), through);
}

void ContextCache::insert(const storage::ConversationKey& key, std::string slot_key,
                          std::string conversation_id, std::vector<storage::Turn> turns,
                          std::uint64_t generation, Summary summary, std::int64_t through) {
    if (turns.size() > max_turns_) {
        turns.erase(turns.begin(), turns.end() - static_cast<std::ptrdiff_t>(max_turns_));
    }
    // Measured outside the lock: it walks every turn.
    std::size_t bytes = size_of(turns) + size_of(summary) + 3 * slot_key.size() + 256;
    std::lock_guard lock(mutex_);
    auto found = index_.find(slot_key);
    if (found != index_.end()) {
        // The newest pointer wins (see the header): this context was read before the summary.
        if (found->second->conversation_id == conversation_id && found->second->through > through) {
            summary = found->second->summary;
            through = found->second->through;
            drop_summarised(turns, through);
            bytes = size_of(turns) + size_of(summary) + 3 * slot_key.size() + 256;
        }
        erase_locked(found->second);
    }
    if (generation != generation_ || bytes > max_bytes_) return;
    lru_.push_front(Slot{.key = std::move(slot_key),
                         .conversation = key,
                         .conversation_id = std::move(conversation_id),
                         .turns = std::make_shared<std::vector<storage::Turn>>(std::move(turns)),
                         .summary = std::move(summary),
                         .through = through,
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
