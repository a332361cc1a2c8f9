// The newest turns of recently active conversations, kept in memory so that answering a
// message does not read the history back from SQLite (a reader-thread round trip and a dozen
// page reads per message under load).
//
// Coherent because the pipeline is the only writer of turns and runs one message at a time per
// conversation: after a message's turns are committed, the pipeline stores exactly the context
// it used plus those turns. The one change from outside a conversation's order is /forget, which
// deletes a user's conversations in every chat; it bumps a generation first, and a put that
// started before it is dropped. Bounded in bytes, least recently used first out.
//
// An entry also carries the conversation's rolling summary and the id of the newest message it
// folds in (the pointer); its turns are those after the pointer. The summariser moves the
// pointer from outside the conversation's order, so the newest pointer wins: summarised()
// trims a cached entry to it, and a put with an older pointer (its context read before the
// summary was stored) takes the slot's newer summary and drops the turns it covers.
#pragma once

#include "storage/store.hpp"

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace bot {

class ContextCache {
public:
    using Turns = std::shared_ptr<const std::vector<storage::Turn>>;
    using Summary = std::shared_ptr<const std::string>;  // shared: not copied per message
    struct Entry {
        std::string conversation_id;
        Turns turns;  // oldest first, at most max_turns, all after `through`
        Summary summary;
        std::int64_t through = 0;  // message id the summary ends at (0: none)
    };

    // max_bytes = 0 disables the cache.
    ContextCache(std::size_t max_bytes, std::size_t max_turns);

    // Read before loading a context; pass it to put().
    std::uint64_t generation() const;
    std::optional<Entry> get(const storage::ConversationKey& key);
    // The conversation's context after a message, unless a /forget ran since `generation`.
    void put(const storage::ConversationKey& key, std::string conversation_id,
             std::vector<storage::Turn> turns, std::uint64_t generation, Summary summary = {},
             std::int64_t through = 0);
    // The same as put(key, id, *used + added, generation), but a long conversation's turns are
    // moved rather than copied when `used` is the snapshot get() returned and nobody else holds
    // it any more, which is the rule: one message at a time per conversation.
    void append(const storage::ConversationKey& key, std::string conversation_id, Turns used,
                std::vector<storage::Turn> added, std::uint64_t generation, Summary summary = {},
                std::int64_t through = 0);
    // The summariser stored `summary` up to message id `through`: a cached entry of that
    // conversation with an older pointer takes it and drops the turns it covers.
    void summarised(const storage::ConversationKey& key, const std::string& conversation_id,
                    Summary summary, std::int64_t through);
    void erase(const storage::ConversationKey& key);
    // Around /forget of (adapter, user): before the store deletes, and after it committed.
    void forget_user(const std::string& adapter_id, const std::string& user_id);

    std::size_t bytes() const;
    std::size_t size() const;

private:
    struct Slot {
        std::string key;
        storage::ConversationKey conversation;
        std::string conversation_id;
        // Not const here: append() may take a snapshot apart once it is the only owner.
        std::shared_ptr<std::vector<storage::Turn>> turns;
        Summary summary;
        std::int64_t through = 0;
        std::size_t bytes = 0;
    };
    // put() under the slot key it and append() computed: trims, replaces, evicts.
    void insert(const storage::ConversationKey& key, std::string slot_key,
                std::string conversation_id, std::vector<storage::Turn> turns,
                std::uint64_t generation, Summary summary, std::int64_t through);
    void evict_locked();
    void erase_locked(std::list<Slot>::iterator slot);

    const std::size_t max_bytes_;
    const std::size_t max_turns_;
    mutable std::mutex mutex_;
    std::uint64_t generation_ = 0;
    std::size_t bytes_ = 0;
    std::list<Slot> lru_;  // most recently used first
    std::unordered_map<std::string, std::list<Slot>::iterator> index_;
};

}  // namespace bot
