// Config of issue 24's social features: adapters.<id>.group_context (recent group messages not
// addressed to the bot, shown to the LLM when a member asks it) and server.public_url (where
// users reach the built-in web server: /export links and /share pages). Parsed here, apart
// from bot/config.cpp, so the memory branches merge cleanly.
#pragma once

#include "base/config_reader.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace bot {

struct GroupContextConfig {
    int messages = 20;                   // newest messages kept (and shown) per chat
    std::chrono::seconds max_age{3600};  // older ones are dropped, in memory and stored
    bool stored = false;                 // "store": "sqlite": kept across restarts
    std::size_t max_chats = 2000;  // memory: least recently active chats go first (16 KiB each)
};

// Reads and removes adapters.<id>.group_context from section (a core key, accepted by every
// adapter type; App refuses it for adapters that never see unaddressed group messages).
// nullopt when the key is absent (group context is off) or wrong (reported to errors).
std::optional<GroupContextConfig> take_group_context(nlohmann::json& section,
                                                     const std::string& adapter_path,
                                                     ConfigErrors& errors);

}  // namespace bot
