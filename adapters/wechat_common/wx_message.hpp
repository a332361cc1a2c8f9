// A message or event as WeChat Official Accounts and WeCom self-built apps push it (the XML
// inside the encrypted envelope): both use the same flat format. Pure values, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bot::adapters::wechat {

struct PushedMessage {
    std::string to_user;    // the account's original id (gh_...) or the CorpID
    std::string from_user;  // the user's OpenID or the member's UserID
    std::int64_t create_time = 0;
    std::string msg_type;  // text, image, voice, video, location, link, event, ...
    std::string content;
    std::string msg_id;       // empty for events
    std::string event;        // msg_type "event": subscribe, enter_agent, CLICK, ...
    std::string recognition;  // voice: WeChat's speech recognition, when enabled
    std::string agent_id;     // WeCom: the app the member wrote to
};

// nullopt when the text is not XML or lacks FromUserName/MsgType.
std::optional<PushedMessage> parse_pushed_message(std::string_view xml);

// What a message means for the core: text to answer, or the kind of content the bot cannot
// read ("image", "voice", ...). Events are not messages: is_event() is for the adapter.
struct MessageContent {
    std::string text;
    std::string unsupported;
};
MessageContent content_of(const PushedMessage& message);
inline bool is_event(const PushedMessage& message) {
    return message.msg_type == "event";
}

}  // namespace bot::adapters::wechat
