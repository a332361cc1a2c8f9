#include "wechat_common/wx_message.hpp"

#include "wechat_common/wx_xml.hpp"

#include <charconv>

namespace bot::adapters::wechat {

std::optional<PushedMessage> parse_pushed_message(std::string_view xml) {
    auto fields = parse_xml_fields(xml);
    if (!fields) return std::nullopt;
    PushedMessage message;
    message.to_user = field(*fields, "ToUserName");
    message.from_user = field(*fields, "FromUserName");
    message.msg_type = field(*fields, "MsgType");
    if (message.from_user.empty() || message.msg_type.empty()) return std::nullopt;
    auto time = field(*fields, "CreateTime");
    std::from_chars(time.data(), time.data() + time.size(), message.create_time);
    message.content = field(*fields, "Content");
    message.msg_id = field(*fields, "MsgId");
    message.event = field(*fields, "Event");
    message.recognition = field(*fields, "Recognition");
    message.agent_id = field(*fields, "AgentID");
    return message;
}

MessageContent content_of(const PushedMessage& message) {
    if (message.msg_type == "text") return {.text = message.content, .unsupported = {}};
    if (message.msg_type == "voice" && !message.recognition.empty()) {
        return {.text = message.recognition, .unsupported = {}};
    }
    return {.text = {}, .unsupported = message.msg_type};
}

}  // namespace bot::adapters::wechat
