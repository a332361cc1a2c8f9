#include "webchat/webchat_codec.hpp"
#include "base/json_text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace bot::adapters::webchat {

namespace {
using nlohmann::json;

bool all_of(std::string_view text, bool (*allowed)(char)) {
    return std::all_of(text.begin(), text.end(), allowed);
}
}  // namespace

bool valid_user_id(std::string_view id) {
    return id.size() >= 32 && id.size() <= 128 &&
           all_of(id, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool valid_message_id(std::string_view id) {
    return !id.empty() && id.size() <= 64 && all_of(id, [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '-' || c == '_';
    });
}

ClientFrame parse_client_frame(std::string_view text) {
    json frame = json::parse(text, nullptr, false);
    if (frame.is_discarded() || !frame.is_object()) return BadFrame{"not a JSON object"};
    auto string_at = [&](const char* key) -> const std::string* {
        auto it = frame.find(key);
        return it != frame.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
    };
    const std::string* type = string_at("type");
    if (!type) return BadFrame{"missing \"type\""};
    if (*type == "hello") {
        const std::string* user = string_at("user");
        if (!user || !valid_user_id(*user)) return BadFrame{"\"user\" must be 32-128 hex digits"};
        return Hello{*user};
    }
    if (*type == "message") {
        const std::string* id = string_at("id");
        const std::string* body = string_at("text");
        if (!id || !valid_message_id(*id)) return BadFrame{"\"id\" must be 1-64 of [A-Za-z0-9_-]"};
        if (!body) return BadFrame{"\"text\" must be a string"};
        return UserMessage{*id, *body};
    }
    return BadFrame{"unknown type \"" + type->substr(0, 32) + "\""};
}

std::string render_ready(std::string_view greeting, const std::vector<Turn>& history) {
    json turns = json::array();
    for (const auto& turn : history) turns.push_back({{"role", turn.role}, {"text", turn.text}});
    return bot::dump_json(
        {{"type", "ready"}, {"greeting", greeting}, {"history", std::move(turns)}});
}

std::string render_delta(std::string_view id, std::string_view text) {
    return bot::dump_json({{"type", "delta"}, {"id", id}, {"text", text}});
}

std::string render_done(std::string_view id, std::string_view text) {
    return bot::dump_json({{"type", "done"}, {"id", id}, {"text", text}});
}

std::string render_error(std::string_view id, std::string_view code, std::string_view message) {
    json frame{{"type", "error"}, {"code", code}, {"error", message}};
    if (!id.empty()) frame["id"] = id;
    return bot::dump_json(frame);
}

}  // namespace bot::adapters::webchat
