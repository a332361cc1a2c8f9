// Recognising a command in a message's text, wherever the platform left it.
#pragma once

#include <optional>
#include <string_view>

namespace bot {

// The command word of text ("forget" of "/forget now" with prefix "/"), or nullopt when text
// is no command. Leading whitespace and leading @mentions are skipped first ("@bot /forget"):
// some platforms leave the bot's mention in a group message's text, or cannot tell it apart.
std::optional<std::string_view> command_word(std::string_view text, std::string_view prefix);

}  // namespace bot
