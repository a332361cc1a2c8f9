#include "wechat_mp/wechat_mp_codec.hpp"

#include "wechat_common/wx_xml.hpp"

namespace bot::adapters::wechat_mp {

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
