// Official Account pushes and passive replies as values (no I/O): the decrypted XML of a push
// becomes an MpMessage (the family's common format, wechat_common/wx_message.hpp); a reply
// text becomes the XML WeChat expects. See ../shared/reference/protocols.md §1.
#pragma once

#include "wechat_common/wx_message.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bot::adapters::wechat_mp {

// Official Accounts push the WeChat family's common message format.
using MpMessage = wechat::PushedMessage;
using wechat::content_of;
using wechat::is_event;
using wechat::MessageContent;
inline std::optional<MpMessage> parse_message(std::string_view xml) {
    return wechat::parse_pushed_message(xml);
}

// The passive text reply to message (from the account to the user).
std::string text_reply_xml(const MpMessage& message, std::string_view text,
                           std::int64_t create_time);

}  // namespace bot::adapters::wechat_mp
