#include "wecom/wecom_codec.hpp"

#include "wechat_common/wx_xml.hpp"

namespace bot::adapters::wecom {

using wechat::field;

std::optional<Envelope> parse_envelope(std::string_view xml) {
    auto fields = wechat::parse_xml_fields(xml);
    if (!fields) return std::nullopt;
    return Envelope{.to_user = std::string(field(*fields, "ToUserName")),
                    .encrypt = std::string(field(*fields, "Encrypt")),
                    .agent_id = std::string(field(*fields, "AgentID"))};
}

std::string dedupe_id(const WecomMessage& message) {
    if (!message.msg_id.empty()) return message.msg_id;
    return message.from_user + ":" + std::to_string(message.create_time);
}

}  // namespace bot::adapters::wecom
