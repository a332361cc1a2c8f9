// WeCom self-built app callbacks as values (no I/O): the outer envelope, the decrypted XML of
// a message as a WecomMessage, and what the core should see of it. See
// ../shared/reference/protocols.md §2a.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bot::adapters::wecom {

// The POST body before decryption: <xml><ToUserName/><Encrypt/><AgentID/></xml>.
struct Envelope {
    std::string to_user;  // the CorpID
    std::string encrypt;  // base64 ciphertext
    std::string agent_id;
};
// nullopt when the body is not XML; an empty encrypt is left to the signature check.
std::optional<Envelope> parse_envelope(std::string_view xml);

struct WecomMessage {
    std::string to_user;    // the CorpID
    std::string from_user;  // the member's UserID
    std::int64_t create_time = 0;
    std::string msg_type;  // text, image, voice, video, location, link, event, ...
    std::string content;
    std::string msg_id;    // empty for events
    std::string agent_id;  // the app the member wrote to
    std::string event;     // msg_type "event": subscribe, enter_agent, click, ...
};

// nullopt when the text is not XML or lacks FromUserName/MsgType.
std::optional<WecomMessage> parse_message(std::string_view xml);

// What a message means for the core: text to answer, or the kind of content the bot cannot
// read ("image", "voice", ...). Events are not messages: is_event() is handled by the adapter.
struct MessageContent {
    std::string text;
    std::string unsupported;
};
MessageContent content_of(const WecomMessage& message);
inline bool is_event(const WecomMessage& message) {
    return message.msg_type == "event";
}

// The id redeliveries of message share: MsgId, or (documented fallback) FromUserName +
// CreateTime when a message carries none.
std::string dedupe_id(const WecomMessage& message);

}  // namespace bot::adapters::wecom
