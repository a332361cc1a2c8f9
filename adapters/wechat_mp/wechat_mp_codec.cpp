#include "wechat_mp/wechat_mp_codec.hpp"

#include "wechat_common/wx_xml.hpp"

#include <charconv>

namespace bot::adapters::wechat_mp {

using wechat::field;

std::optional<MpMessage> parse_message(std::string_view xml) {
    auto fields = wechat::parse_xml_fields(xml);
    if (!fields) return std::nullopt;
    MpMessage message;
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
    return message;
}

MessageContent content_of(const MpMessage& message) {
    if (message.msg_type == "text") return {.text = message.content, .unsupported = {}};
    if (message.msg_type == "voice" && !message.recognition.empty()) {
        return {.text = message.recognition, .unsupported = {}};
    }
    return {.text = {}, .unsupported = message.msg_type};
}

std::string text_reply_xml(const MpMessage& message, std::string_view text,
                           std::int64_t create_time) {
    auto time = std::to_string(create_time);
    return wechat::build_xml({{"ToUserName", message.from_user},
                              {"FromUserName", message.to_user},
                              {"CreateTime", time, false},
                              {"MsgType", "text"},
                              {"Content", text}});
}

}  // namespace bot::adapters::wechat_mp
