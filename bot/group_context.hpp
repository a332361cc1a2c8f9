// Recent group messages, for adapters with group_context: what members said in a group (to the
// bot or not), so that a member who asks the bot about "what Alice just said" gets an answer
// that knows it. Bounded per chat (the newest `messages`, none older than max_age_s, bytes),
// and in memory by a cap on chats; or stored in SQLite ("store": "sqlite") and deleted after
// max_age_s. Only the asking member's chat is ever read.
//
// Which lines a member sees: every message of the chat but their own messages to the bot
// (those are already turns of their own conversation) and commands. Other members' messages
// to the bot count: they were said in front of the whole group, and "what did Bob just ask
// you?" is a fair question there. The bot's replies to other members do not: they belong to
// those members' conversations.
#pragma once

#include "bot/adapter.hpp"
#include "bot/social_config.hpp"
#include "storage/store.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace bot {

class Logger;

class GroupContext {
public:
    // Longest text and name kept of one message (bytes, cut at a character boundary), and the
    // most bytes one chat keeps in memory.
    static constexpr std::size_t kMaxTextBytes = 1000;
    static constexpr std::size_t kMaxNameBytes = 64;
    static constexpr std::size_t kMaxChatBytes = 16 << 10;

    GroupContext(storage::Store& store, Logger& log,
                 std::map<std::string, GroupContextConfig> adapters, std::string command_prefix);

    bool enabled(const std::string& adapter_id) const { return adapters_.contains(adapter_id); }
    bool any() const { return !adapters_.empty(); }

    // A group message the core received on an adapter with group_context; addressed: to the
    // bot. Never through the inbox or the LLM.
    net::awaitable<void> observe(const Inbound& inbound, bool addressed);
    // "Name: text" lines, oldest first, for the reply to asking (a group message).
    net::awaitable<std::vector<std::string>> lines_for(const Inbound& asking);
    // /forget: the user's own lines in memory (the stored ones go with Store::forget_user).
    void forget_sender(const std::string& adapter_id, const std::string& user_id);
    // Drops lines past their adapter's max_age_s, in memory (and chats left empty) and stored.
    // App runs it every minute, so the retention holds in quiet groups too.
    net::awaitable<void> purge();

    std::size_t chats_in_memory(const std::string& adapter_id) const;

private:
    struct Line {
        std::string message_id;
        std::string sender_id;
        std::string sender_name;
        std::string text;
        bool addressed = false;
        std::int64_t at_ms = 0;
    };
    struct Chat {
        std::deque<Line> lines;
        std::size_t bytes = 0;
        std::list<std::string>::iterator recency;  // in Memory::recent
    };
    struct Memory {
        std::unordered_map<std::string, Chat> chats;
        std::list<std::string> recent;  // chat ids, most recently active first
    };

    void remember(const std::string& adapter_id, const GroupContextConfig& config,
                  const std::string& chat_id, Line line);

    storage::Store& store_;
    Logger& log_;
    const std::map<std::string, GroupContextConfig> adapters_;
    const std::string command_prefix_;
    mutable std::mutex mutex_;
    std::map<std::string, Memory> memory_;  // by adapter id
};

}  // namespace bot
