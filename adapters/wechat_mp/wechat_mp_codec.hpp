// Official Account pushes and passive replies as values (no I/O): the decrypted XML of a push
// becomes an MpMessage, and what the core should see of it; a reply text becomes the XML
// WeChat expects. See ../shared/reference/protocols.md §1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bot::adapters::wechat_mp {

struct MpMessage {
    std::string to_user;    // the account's original id (gh_...)
    std::string from_user;  // the user's OpenID
    std::int64_t create_time = 0;
    std::string msg_type;  // text, image, voice, video, shortvideo, location, link, event, ...
    std::string content;
    std::string msg_id;       // empty for events
    std::string event;        // msg_type "event": subscribe, unsubscribe, CLICK, ...
    std::string recognition;  // voice: WeChat's speech recognition, when enabled
};

// nullopt when the text is not XML or lacks FromUserName/MsgType.
std::optional<MpMessage> parse_message(std::string_view xml);

// What a message means for the core: text to answer, or the kind of content the bot cannot
// read ("image", "voice", ...). Events are not messages: is_event() is handled by the adapter.
struct MessageContent {
    std::string text;
    std::string unsupported;
};
MessageContent content_of(const MpMessage& message);
inline bool is_event(const MpMessage& message) {
    return message.msg_type == "event";
}

// The passive text reply to message (from the account to the user).
std::string text_reply_xml(const MpMessage& message, std::string_view text,
                           std::int64_t create_time);

}  // namespace bot::adapters::wechat_mp
