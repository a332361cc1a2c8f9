#include "wechat_common/wx_xml.hpp"

#include <pugixml.hpp>

#include <sstream>

namespace bot::adapters::wechat {

std::optional<XmlFields> parse_xml_fields(std::string_view xml) {
    pugi::xml_document document;
    auto parsed = document.load_buffer(xml.data(), xml.size(), pugi::parse_default);
    if (!parsed) return std::nullopt;
    auto root = document.document_element();
    if (!root) return std::nullopt;
    XmlFields fields;
    for (auto child : root.children()) {
        if (child.type() != pugi::node_element) continue;
        // A value may come in several CDATA sections (how "]]>" is escaped).
        std::string value;
        for (auto part : child.children()) {
            if (part.type() == pugi::node_pcdata || part.type() == pugi::node_cdata)
                value += part.value();
        }
        fields.insert_or_assign(child.name(), std::move(value));
    }
    return fields;
}

std::string_view field(const XmlFields& fields, std::string_view name) {
    auto it = fields.find(name);
    return it == fields.end() ? std::string_view{} : std::string_view(it->second);
}

std::string build_xml(std::initializer_list<XmlField> fields) {
    pugi::xml_document document;
    auto root = document.append_child("xml");
    for (const auto& f : fields) {
        auto element = root.append_child(std::string(f.name).c_str());
        element.append_child(f.cdata ? pugi::node_cdata : pugi::node_pcdata)
            .set_value(std::string(f.value).c_str());
    }
    std::ostringstream out;
    document.save(out, "", pugi::format_raw | pugi::format_no_declaration, pugi::encoding_utf8);
    return out.str();
}

std::string encrypted_reply_xml(std::string_view encrypt, std::string_view signature,
                                std::string_view timestamp, std::string_view nonce) {
    return build_xml({{"Encrypt", encrypt},
                      {"MsgSignature", signature},
                      {"TimeStamp", timestamp, false},
                      {"Nonce", nonce}});
}

}  // namespace bot::adapters::wechat
