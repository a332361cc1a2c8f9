// The flat XML documents of WeChat and WeCom callbacks: <xml><Name>value</Name>...</xml>, values
// as CDATA or plain text. pugixml parses them (no DTDs or external entities are ever loaded).
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace bot::adapters::wechat {

using XmlFields = std::map<std::string, std::string, std::less<>>;

// The root element's children by name; nullopt when the text is not well-formed XML.
std::optional<XmlFields> parse_xml_fields(std::string_view xml);

// Value of name, or "" when absent.
std::string_view field(const XmlFields& fields, std::string_view name);

struct XmlField {
    std::string_view name;
    std::string_view value;
    bool cdata = true;  // false: numbers (CreateTime, TimeStamp), written as plain text
};

// <xml><Name><![CDATA[value]]></Name>...</xml>; "]]>" inside a value is split safely.
std::string build_xml(std::initializer_list<XmlField> fields);

// The envelope of an encrypted passive reply (WeChat safe mode, WeCom apps).
std::string encrypted_reply_xml(std::string_view encrypt, std::string_view signature,
                                std::string_view timestamp, std::string_view nonce);

}  // namespace bot::adapters::wechat
