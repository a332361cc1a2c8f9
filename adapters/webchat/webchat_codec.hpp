// The web chat's websocket frames (JSON text messages), as pure functions. The protocol is
// documented in adapters/webchat/README.md.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace bot::adapters::webchat {

struct Hello {
    std::string user;  // the browser's anonymous id (>= 128 random bits, hex)
};
struct UserMessage {
    std::string id;  // client message id: a retry with the same id is answered once
    std::string text;
};
struct BadFrame {
    std::string reason;
};
using ClientFrame = std::variant<Hello, UserMessage, BadFrame>;

// Parses one client frame; never throws.
ClientFrame parse_client_frame(std::string_view text);

// Anonymous user ids: 32-128 lower-case hex digits.
bool valid_user_id(std::string_view id);
// Client message ids: 1-64 characters of [A-Za-z0-9_-].
bool valid_message_id(std::string_view id);

struct Turn {
    std::string role;  // "user" | "assistant"
    std::string text;
};

std::string render_ready(std::string_view greeting, const std::vector<Turn>& history);
std::string render_delta(std::string_view id, std::string_view text);
std::string render_done(std::string_view id, std::string_view text);
// code: "bad_frame", "too_long", "rate_limited", "unavailable", "not_ready"
std::string render_error(std::string_view id, std::string_view code, std::string_view message);

}  // namespace bot::adapters::webchat
