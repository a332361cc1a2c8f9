#include "bot/group_context.hpp"

#include "base/log.hpp"
#include "base/text_split.hpp"

#include <algorithm>

namespace bot {

namespace {

std::int64_t epoch_ms(std::chrono::system_clock::time_point at) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

std::int64_t now_ms() {
    return epoch_ms(std::chrono::system_clock::now());
}

std::string cut(std::string_view text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) return std::string(text);
    return std::string(text.substr(0, utf8_floor(text, max_bytes))) + "…";
}

// A name is one line: the model reads "Name: text".
std::string one_line(std::string name) {
    std::replace_if(
        name.begin(), name.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    return name;
}

}  // namespace

GroupContext::GroupContext(storage::Store& store, Logger& log,
                           std::map<std::string, GroupContextConfig> adapters,
                           std::string command_prefix)
    : store_(store),
      log_(log),
      adapters_(std::move(adapters)),
      command_prefix_(std::move(command_prefix)) {}

net::awaitable<void> GroupContext::observe(const Inbound& inbound, bool addressed) {
    auto config = adapters_.find(inbound.chat.adapter_id);
    if (config == adapters_.end() || !inbound.chat.is_group) co_return;
    // Photos and the like say nothing the model could read; commands are for the bot.
    if (!inbound.unsupported.empty() || inbound.text.empty()) co_return;
    if (addressed && inbound.text.starts_with(command_prefix_)) co_return;
    // When the bot saw it, by its own clock: platforms' clocks and test fakes' times vary, and
    // "recent" is what the bot heard recently.
    const std::int64_t now = now_ms();
    Line line{.message_id = inbound.message_id,
              .sender_id = inbound.sender_id,
              .sender_name = one_line(cut(inbound.sender_name, kMaxNameBytes)),
              .text = cut(inbound.text, kMaxTextBytes),
              .addressed = addressed,
              .at_ms = now};
    const auto max_age_ms = std::chrono::milliseconds(config->second.max_age).count();
    if (!config->second.stored) {
        remember(config->first, config->second, inbound.chat.chat_id, std::move(line));
        co_return;
    }
    storage::GroupMessage message{.chat_id = inbound.chat.chat_id,
                                  .sender_id = std::move(line.sender_id),
                                  .sender_name = std::move(line.sender_name),
                                  .text = std::move(line.text),
                                  .addressed = addressed,
                                  .at_ms = line.at_ms};
    std::string adapter_id = config->first;
    co_await store_.add_group_message(std::move(adapter_id), std::move(message),
                                      config->second.messages, now - max_age_ms);
}

void GroupContext::remember(const std::string& adapter_id, const GroupContextConfig& config,
                            const std::string& chat_id, Line line) {
    std::lock_guard lock(mutex_);
    Memory& memory = memory_[adapter_id];
    auto [found, added] = memory.chats.try_emplace(chat_id);
    Chat& chat = found->second;
    if (added) {
        memory.recent.push_front(chat_id);
        chat.recency = memory.recent.begin();
        // The least recently active chat makes room (its context is the stalest).
        if (memory.chats.size() > config.max_chats) {
            const std::string oldest = memory.recent.back();
            memory.recent.pop_back();
            memory.chats.erase(oldest);
        }
    } else {
        memory.recent.splice(memory.recent.begin(), memory.recent, chat.recency);
        // A platform's redelivery of a message already kept.
        for (const Line& kept : chat.lines) {
            if (!line.message_id.empty() && kept.message_id == line.message_id) return;
        }
    }
    chat.bytes += line.text.size() + line.sender_name.size();
    chat.lines.push_back(std::move(line));
    while (!chat.lines.empty() && (chat.lines.size() > static_cast<std::size_t>(config.messages) ||
                                   chat.bytes > kMaxChatBytes)) {
        chat.bytes -= chat.lines.front().text.size() + chat.lines.front().sender_name.size();
        chat.lines.pop_front();
    }
}

net::awaitable<std::vector<std::string>> GroupContext::lines_for(const Inbound& asking) {
    std::vector<std::string> out;
    auto config = adapters_.find(asking.chat.adapter_id);
    if (config == adapters_.end() || !asking.chat.is_group) co_return out;
    const std::int64_t not_before =
        now_ms() - std::chrono::milliseconds(config->second.max_age).count();
    auto shown = [&](const std::string& sender_id, bool addressed, std::int64_t at_ms) {
        return at_ms >= not_before && !(addressed && sender_id == asking.sender_id);
    };
    auto format = [](const std::string& name, const std::string& sender_id,
                     const std::string& text) {
        return (name.empty() ? sender_id : name) + ": " + text;
    };
    if (!config->second.stored) {
        std::lock_guard lock(mutex_);
        auto memory = memory_.find(config->first);
        if (memory == memory_.end()) co_return out;
        auto chat = memory->second.chats.find(asking.chat.chat_id);
        if (chat == memory->second.chats.end()) co_return out;
        for (const Line& line : chat->second.lines) {
            if (shown(line.sender_id, line.addressed, line.at_ms))
                out.push_back(format(line.sender_name, line.sender_id, line.text));
        }
        co_return out;
    }
    std::string adapter_id = config->first;
    std::string chat_id = asking.chat.chat_id;
    auto stored = co_await store_.group_messages(std::move(adapter_id), std::move(chat_id),
                                                 not_before, config->second.messages);
    for (const auto& message : stored) {
        if (shown(message.sender_id, message.addressed, message.at_ms))
            out.push_back(format(message.sender_name, message.sender_id, message.text));
    }
    co_return out;
}

void GroupContext::forget_sender(const std::string& adapter_id, const std::string& user_id) {
    std::lock_guard lock(mutex_);
    auto memory = memory_.find(adapter_id);
    if (memory == memory_.end()) return;
    for (auto& [chat_id, chat] : memory->second.chats) {
        std::erase_if(chat.lines, [&](const Line& line) {
            if (line.sender_id != user_id) return false;
            chat.bytes -= line.text.size() + line.sender_name.size();
            return true;
        });
    }
}

net::awaitable<void> GroupContext::purge() {
    const std::int64_t now = now_ms();
    {
        std::lock_guard lock(mutex_);
        for (auto& [adapter_id, memory] : memory_) {
            const std::int64_t before =
                now - std::chrono::milliseconds(adapters_.at(adapter_id).max_age).count();
            for (auto chat = memory.chats.begin(); chat != memory.chats.end();) {
                auto& lines = chat->second.lines;
                while (!lines.empty() && lines.front().at_ms < before) {
                    chat->second.bytes -=
                        lines.front().text.size() + lines.front().sender_name.size();
                    lines.pop_front();
                }
                if (lines.empty()) {
                    memory.recent.erase(chat->second.recency);
                    chat = memory.chats.erase(chat);
                } else {
                    ++chat;
                }
            }
        }
    }
    for (const auto& [adapter_id, config] : adapters_) {
        if (!config.stored) continue;
        std::string id = adapter_id;
        co_await store_.purge_group_messages(
            std::move(id), now - std::chrono::milliseconds(config.max_age).count());
    }
}

std::size_t GroupContext::chats_in_memory(const std::string& adapter_id) const {
    std::lock_guard lock(mutex_);
    auto memory = memory_.find(adapter_id);
    return memory == memory_.end() ? 0 : memory->second.chats.size();
}

}  // namespace bot
