#include "wechat_ilink/ilink_codec.hpp"

#include <algorithm>
#include <charconv>

namespace bot::adapters::wechat_ilink {

namespace {

enum ItemType { kText = 1, kImage = 2, kVoice = 3, kFile = 4, kVideo = 5 };

std::int64_t integer_of(const json& object, const char* key) {
    auto found = object.find(key);
    return found != object.end() && found->is_number_integer() ? found->get<std::int64_t>() : 0;
}

const json* payload(const json& item, const char* key) {
    auto found = item.find(key);
    return found != item.end() && found->is_object() ? &*found : nullptr;
}

// "earlier text" of a quote, as the user sees it quoted.
std::string quoted_text(const json& item) {
    const json* ref = payload(item, "ref_msg");
    if (!ref) return {};
    if (const json* quoted = payload(*ref, "message_item")) {
        if (const json* text = payload(*quoted, "text_item")) {
            std::string body = string_of(*text, "text");
            if (!body.empty()) return body;
        }
    }
    return string_of(*ref, "title");
}

}  // namespace

std::string string_of(const json& object, const char* key) {
    auto found = object.find(key);
    return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::optional<std::uint64_t> uint64_of(const json& value) {
    if (value.is_number_unsigned()) return value.get<std::uint64_t>();
    if (value.is_number_integer()) {
        auto signed_value = value.get<std::int64_t>();
        if (signed_value < 0) return std::nullopt;
        return static_cast<std::uint64_t>(signed_value);
    }
    if (value.is_string()) {
        const auto& text = value.get_ref<const std::string&>();
        std::uint64_t parsed = 0;
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
        if (error == std::errc{} && end == text.data() + text.size() && !text.empty())
            return parsed;
    }
    return std::nullopt;
}

IlinkMessage parse_message(const json& message) {
    IlinkMessage parsed;
    parsed.from = string_of(message, "from_user_id");
    parsed.message_type = static_cast<int>(integer_of(message, "message_type"));
    parsed.context_token = string_of(message, "context_token");
    parsed.create_time_ms = integer_of(message, "create_time_ms");
    if (auto id = message.find("message_id"); id != message.end()) {
        parsed.message_id = uint64_of(*id).value_or(0);
    }
    // Without an item list nothing is readable: that too ends as an unsupported "message".
    static const json kNoItems = json::array();
    auto items = message.find("item_list");
    const json& list = items != message.end() && items->is_array() ? *items : kNoItems;
    std::string voice_text;
    std::string media;
    for (const json& item : list) {
        if (!item.is_object()) continue;
        if (parsed.message_id == 0) {  // OCW falls back to the first item's msg_id
            if (auto id = item.find("msg_id"); id != item.end())
                parsed.message_id = uint64_of(*id).value_or(0);
        }
        switch (integer_of(item, "type")) {
            case kText:
                if (const json* text = payload(item, "text_item"); text && parsed.text.empty()) {
                    parsed.text = string_of(*text, "text");
                    if (auto quote = quoted_text(item); !quote.empty() && !parsed.text.empty())
                        parsed.text = "> " + quote + "\n" + parsed.text;
                }
                break;
            case kVoice:
                if (const json* voice = payload(item, "voice_item"))
                    voice_text = string_of(*voice, "text");
                if (voice_text.empty() && media.empty()) media = "voice";
                break;
            case kImage:
                media = "image";
                break;
            case kVideo:
                if (media != "image") media = "video";
                break;
            case kFile:
                if (media != "image" && media != "video") media = "file";
                break;
            default:
                break;
        }
    }
    if (parsed.text.empty()) parsed.text = voice_text;
    if (parsed.text.empty()) parsed.unsupported = media.empty() ? "message" : media;
    return parsed;
}

Updates parse_updates(const json& body) {
    Updates updates;
    updates.cursor = string_of(body, "get_updates_buf");
    updates.poll_timeout_ms =
        std::clamp<std::int64_t>(integer_of(body, "longpolling_timeout_ms"), 0, kMaxPollTimeoutMs);
    auto messages = body.find("msgs");
    updates.lapsed = messages == body.end() && updates.cursor.empty();
    if (messages == body.end() || !messages->is_array()) return updates;
    for (const json& message : *messages) {
        if (message.is_object()) updates.messages.push_back(parse_message(message));
    }
    return updates;
}

json text_message(const std::string& to, const std::string& client_id,
                  const std::string& context_token, const std::string& text) {
    return json{{"msg",
                 {{"from_user_id", ""},
                  {"to_user_id", to},
                  {"client_id", client_id},
                  {"message_type", 2},
                  {"message_state", 2},
                  {"item_list", json::array({{{"type", kText}, {"text_item", {{"text", text}}}}})},
                  {"context_token", context_token}}}};
}

}  // namespace bot::adapters::wechat_ilink
