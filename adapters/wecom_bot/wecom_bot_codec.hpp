// WeCom AI bot (智能机器人) callbacks and replies as values (no I/O): the decrypted JSON of a
// callback becomes a BotCallback; stream frames and welcome texts become the JSON WeCom
// expects inside the encrypted envelope. See ../shared/reference/protocols.md §2b.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bot::adapters::wecom_bot {

struct BotCallback {
    enum class Kind { message, stream_refresh, event, other };
    Kind kind = Kind::other;
    std::string msgid;
    std::string aibotid;
    std::string chatid;  // group chats only
    bool is_group = false;
    std::string userid;
    std::string response_url;  // one-shot URL for a later active reply
    std::string msgtype;       // text, image, mixed, voice, file, stream, event
    std::string text;          // text messages (a group's leading @mention removed)
    std::string stream_id;     // stream refreshes
    std::string event_type;    // events: enter_chat, ...
};

// nullopt when the JSON is malformed or lacks msgtype.
std::optional<BotCallback> parse_callback(std::string_view json_text);

// {"msgtype":"stream","stream":{"id","finish","content"}}
std::string stream_frame(std::string_view stream_id, std::string_view content, bool finish);
// {"msgtype":"text","text":{"content"}}: the welcome reply to enter_chat.
std::string welcome_text(std::string_view content);
// The encrypted envelope of a reply: {"encrypt","msgsignature","timestamp","nonce"}.
std::string envelope(std::string_view encrypt, std::string_view signature,
                     std::string_view timestamp, std::string_view nonce);
// The body of an active reply to a response_url.
std::string markdown_message(std::string_view content);

}  // namespace bot::adapters::wecom_bot
