#include "wecom/wecom_codec.hpp"

#include "wechat_common/wx_xml.hpp"

#include <charconv>

namespace bot::adapters::wecom {

using wechat::field;

std::optional<Envelope> parse_envelope(std::string_view xml) {
    auto fields = wechat::parse_xml_fields(xml);
    if (!fields) return std::nullopt;
    return Envelope{.to_user = std::string(field(*fields, "ToUserName")),
                    .encrypt = std::string(field(*fields, "Encrypt")),
                    .agent_id = std::string(field(*fields, "AgentID"))};
}

std::optional<WecomMessage> parse_message(std::string_view xml) {
    auto fields = wechat::parse_xml_fields(xml);
    if (!fields) return std::nullopt;
    WecomMessage message;
    message.to_user = field(*fields, "ToUserName");
    message.from_user = field(*fields, "FromUserName");
    message.msg_type = field(*fields, "MsgType");
    if (message.from_user.empty() || message.msg_type.empty()) return std::nullopt;
    auto time = field(*fields, "CreateTime");
    std::from_chars(time.data(), time.data() + time.size(), message.create_time);
    message.content = field(*fields, "Content");
    message.msg_id = field(*fields, "MsgId");
    message.agent_id = field(*fields, "AgentID");
    message.event = field(*fields, "Event");
    return message;
}

MessageContent content_of(const WecomMessage& message) {
    if (message.msg_type == "text") return {.text = message.content, .unsupported = {}};
    return {.text = {}, .unsupported = message.msg_type};
}

std::string dedupe_id(const WecomMessage& message) {
    if (!message.msg_id.empty()) return message.msg_id;
    return message.from_user + ":" + std::to_string(message.create_time);
}

}  // namespace bot::adapters::wecom
