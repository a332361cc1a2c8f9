#include "wecom_bot/wecom_bot_codec.hpp"
#include "base/json_text.hpp"

#include <nlohmann/json.hpp>

namespace bot::adapters::wecom_bot {

namespace {

using nlohmann::json;

std::string string_at(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& object_at(const json& object, const char* key) {
    static const json empty = json::object();
    auto it = object.find(key);
    return it != object.end() && it->is_object() ? *it : empty;
}

// "@RobotA hello" -> "hello": in groups WeCom only delivers messages that @-mention the bot,
// and the mention itself is noise for the LLM.
std::string without_leading_mention(std::string text) {
    if (!text.starts_with('@')) return text;
    auto space = text.find_first_of(" \n");
    if (space == std::string::npos) return {};
    auto rest = text.find_first_not_of(" \n", space);
    return rest == std::string::npos ? std::string() : text.substr(rest);
}

}  // namespace

std::optional<BotCallback> parse_callback(std::string_view json_text) {
    json body = json::parse(json_text, nullptr, false);
    if (!body.is_object()) return std::nullopt;
    BotCallback callback;
    callback.msgtype = string_at(body, "msgtype");
    if (callback.msgtype.empty()) return std::nullopt;
    callback.msgid = string_at(body, "msgid");
    callback.aibotid = string_at(body, "aibotid");
    callback.chatid = string_at(body, "chatid");
    callback.is_group = string_at(body, "chattype") == "group";
    callback.userid = string_at(object_at(body, "from"), "userid");
    callback.response_url = string_at(body, "response_url");
    if (callback.msgtype == "stream") {
        callback.kind = BotCallback::Kind::stream_refresh;
        callback.stream_id = string_at(object_at(body, "stream"), "id");
    } else if (callback.msgtype == "event") {
        callback.kind = BotCallback::Kind::event;
        callback.event_type = string_at(object_at(body, "event"), "eventtype");
    } else {
        callback.kind = BotCallback::Kind::message;
        if (callback.msgtype == "text") {
            callback.text = string_at(object_at(body, "text"), "content");
            if (callback.is_group) callback.text = without_leading_mention(callback.text);
        }
    }
    return callback;
}

std::string stream_frame(std::string_view stream_id, std::string_view content, bool finish) {
    return bot::dump_json(
        {{"msgtype", "stream"},
         {"stream", {{"id", stream_id}, {"finish", finish}, {"content", content}}}});
}

std::string welcome_text(std::string_view content) {
    return bot::dump_json({{"msgtype", "text"}, {"text", {{"content", content}}}});
}

std::string envelope(std::string_view encrypt, std::string_view signature,
                     std::string_view timestamp, std::string_view nonce) {
    // The official template writes the timestamp as a string.
    return bot::dump_json({{"encrypt", encrypt},
                           {"msgsignature", signature},
                           {"timestamp", timestamp},
                           {"nonce", nonce}});
}

std::string markdown_message(std::string_view content) {
    return bot::dump_json({{"msgtype", "markdown"}, {"markdown", {{"content", content}}}});
}

}  // namespace bot::adapters::wecom_bot
