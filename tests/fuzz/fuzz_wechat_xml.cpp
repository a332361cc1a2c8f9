// The WeChat family's XML (adapters/wechat_common/wx_xml.*, wx_message.*, the wechat_mp and
// wecom codecs): a decrypted push or a WeCom envelope. Malformed XML is nullopt, never an
// exception; what build_xml writes reads back.
#include "fuzz_support.hpp"
#include "wechat_common/wx_xml.hpp"
#include "wechat_mp/wechat_mp_codec.hpp"
#include "wecom/wecom_codec.hpp"

namespace wx = bot::adapters::wechat;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto xml = fuzz::as_text(data, size);
    (void)wx::parse_xml_fields(xml);
    if (auto message = bot::adapters::wechat_mp::parse_message(xml)) {
        (void)wx::content_of(*message);
        auto reply = bot::adapters::wechat_mp::text_reply_xml(*message, "hi", 1);
        fuzz::require(wx::parse_xml_fields(reply).has_value(), "a reply that is not XML");
        fuzz::require(!bot::adapters::wecom::dedupe_id(*message).empty(), "an empty dedupe id");
    }
    (void)bot::adapters::wecom::parse_envelope(xml);

    // Text from users and the LLM goes into replies: it must come back out unchanged (pugixml
    // normalises CR and a NUL ends a C string: both are left out here).
    if (xml.find_first_of(std::string_view("\r\0", 2)) == std::string_view::npos) {
        auto built = wx::build_xml({{"Content", xml}, {"CreateTime", "1", false}});
        auto fields = wx::parse_xml_fields(built);
        fuzz::require(fields.has_value(), "build_xml wrote malformed XML");
        fuzz::require(wx::field(*fields, "Content") == xml, "build_xml does not read back");
    }
    return 0;
}
