// Writing JSON string literals into a body being built by hand (LLM requests carry the whole
// conversation, so this runs over every turn of every message).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>

namespace bot {

// Appends text as a quoted JSON string, byte for byte what nlohmann::json's serializer writes
// without ensure_ascii and with error_handler_t::replace: valid UTF-8 is copied as it is, the
// quote, the backslash and control characters are escaped, and invalid UTF-8 (chat text comes
// from users and platforms) is replaced with U+FFFD rather than being an error.
void append_json_string(std::string& out, std::string_view text);

// A whole value as compact JSON text, with the same replacement of invalid UTF-8: what every
// body, frame and event built as a nlohmann value is sent as.
std::string dump_json(const nlohmann::json& value);

}  // namespace bot
