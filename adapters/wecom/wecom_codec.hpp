// WeCom self-built app callbacks as values (no I/O): the outer envelope, the decrypted XML of
// a message as a WecomMessage, and what the core should see of it. See
// ../shared/reference/protocols.md §2a.
#pragma once

#include "wechat_common/wx_message.hpp"

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

// Self-built apps push the WeChat family's common message format.
using WecomMessage = wechat::PushedMessage;
using wechat::content_of;
using wechat::is_event;
using wechat::MessageContent;
inline std::optional<WecomMessage> parse_message(std::string_view xml) {
    return wechat::parse_pushed_message(xml);
}

// The id redeliveries of message share: MsgId, or (documented fallback) FromUserName +
// CreateTime when a message carries none.
std::string dedupe_id(const WecomMessage& message);

}  // namespace bot::adapters::wecom
