#include "telegram/telegram_codec.hpp"

#include "base/json_fields.hpp"
#include "base/json_text.hpp"
#include "base/text_spans.hpp"
#include "bot/http/http_types.hpp"
#include "telegram/sent_message_id.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace bot::adapters::telegram {

namespace {

using nlohmann::json;
namespace bj = boost::json;

// Content kinds a message can carry instead of text.
constexpr std::string_view kMediaKinds[] = {
    "photo",     "sticker",  "voice", "audio",   "video", "video_note", "document",
    "animation", "location", "venue", "contact", "poll",  "dice",       "story"};

std::optional<std::int64_t> to_int(std::string_view text) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

std::string display_name(const bj::object& from) {
    std::string name = string_field(from, "first_name");
    std::string last = string_field(from, "last_name");
    if (!last.empty()) name += (name.empty() ? "" : " ") + last;
    if (name.empty()) name = string_field(from, "username");
    return name;
}

// What the entities of a text say about the bot; mentions of it are collected for removal.
struct Addressing {
    bool mentioned = false;
    bool command_for_me = false;
    bool command_for_other = false;
    std::vector<TextSpan> my_mentions;  // UTF-16 units, as Telegram counts
};

Addressing read_entities(const std::string& text, const bj::value* entities,
                         const BotIdentity& me) {
    Addressing out;
    if (!entities || !entities->is_array()) return out;
    for (const auto& item : entities->get_array()) {
        if (!item.is_object()) continue;
        const bj::object& entity = item.get_object();
        std::string type = string_field(entity, "type");
        auto offset =
            static_cast<std::size_t>(std::max<std::int64_t>(0, int_field(entity, "offset")));
        auto length =
            static_cast<std::size_t>(std::max<std::int64_t>(0, int_field(entity, "length")));
        constexpr auto kUnit = TextLimit::Unit::utf16_units;
        std::size_t begin = byte_offset(text, offset, kUnit);
        std::string_view value =
            std::string_view(text).substr(begin, byte_offset(text, offset + length, kUnit) - begin);
        if (type == "mention") {
            if (value.starts_with('@') && !me.username.empty() &&
                http::iequals(value.substr(1), me.username)) {
                out.mentioned = true;
                out.my_mentions.push_back({offset, length});
            }
        } else if (type == "text_mention") {
            if (const auto* user = object_field(entity, "user");
                user && int_field(*user, "id") == me.id) {
                out.mentioned = true;
            }
        } else if (type == "bot_command" && offset == 0) {
            auto at = value.find('@');
            if (at == std::string_view::npos || http::iequals(value.substr(at + 1), me.username)) {
                out.command_for_me = true;
            } else {
                out.command_for_other = true;
            }
        }
    }
    return out;
}

// The clock counts nanoseconds in 64 bits: a later date (after 2262) would overflow it.
constexpr std::int64_t kLatestDate =
    std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::time_point::max().time_since_epoch())
        .count();

// Waits the outbox can add to its clock; Telegram's real ones are seconds to minutes.
std::chrono::seconds bounded_wait(std::int64_t seconds) {
    return std::chrono::seconds(std::clamp<std::int64_t>(seconds, 0, kMaxRetryAfter.count()));
}

ParsedUpdate ignored(std::int64_t update_id, std::string reason) {
    ParsedUpdate out;
    out.update_id = update_id;
    out.reason = std::move(reason);
    return out;
}

}  // namespace

std::optional<std::int64_t> bot_id_from_token(std::string_view token) {
    auto colon = token.find(':');
    if (colon == std::string_view::npos || colon + 1 >= token.size()) return std::nullopt;
    auto id = to_int(token.substr(0, colon));
    if (!id || *id <= 0) return std::nullopt;
    return id;
}

std::string format_chat(ChatAddress address) {
    std::string out = std::to_string(address.chat_id);
    if (address.thread_id != 0) out.append("/").append(std::to_string(address.thread_id));
    return out;
}

json chat_params(ChatAddress address) {
    json params{{"chat_id", address.chat_id}};
    if (address.thread_id != 0) params["message_thread_id"] = address.thread_id;
    return params;
}

std::optional<ChatAddress> parse_chat(std::string_view text) {
    ChatAddress address;
    auto slash = text.find('/');
    auto chat = to_int(text.substr(0, slash));
    if (!chat) return std::nullopt;
    address.chat_id = *chat;
    if (slash != std::string_view::npos) {
        auto thread = to_int(text.substr(slash + 1));
        if (!thread) return std::nullopt;
        address.thread_id = *thread;
    }
    return address;
}

std::string format_message_id(std::int64_t chat_id, std::int64_t message_id) {
    return std::to_string(chat_id).append(":").append(std::to_string(message_id));
}

std::optional<std::int64_t> message_number(std::string_view stored_id) {
    auto colon = stored_id.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    return to_int(stored_id.substr(colon + 1));
}

std::string send_message_body(ChatAddress chat, std::string_view text,
                              std::string_view quoted_message_id, std::string_view parse_mode) {
    std::string body = std::string(R"({"chat_id":)").append(std::to_string(chat.chat_id));
    if (chat.thread_id != 0)
        body.append(R"(,"message_thread_id":)").append(std::to_string(chat.thread_id));
    body.append(R"(,"text":)");
    append_json_string(body, text);
    if (!parse_mode.empty()) {
        body.append(R"(,"parse_mode":)");
        append_json_string(body, parse_mode);
    }
    if (auto number = message_number(quoted_message_id)) {
        body.append(R"(,"reply_parameters":{"message_id":)")
            .append(std::to_string(*number))
            .append(R"(,"allow_sending_without_reply":true})");
    }
    return body.append("}");
}

ParsedUpdate parse_update(const bj::value& value, const BotIdentity& me,
                          const std::string& adapter_id) {
    const bj::object* update = value.if_object();
    if (!update) return ignored(0, "not an object");
    std::int64_t update_id = int_field(*update, "update_id");
    const auto* found = update->if_contains("message");
    if (!found) {
        // Edits are not answered again: the bot already replied to what was first written.
        if (update->contains("edited_message")) return ignored(update_id, "edited message");
        return ignored(update_id, "not a message");
    }
    const bj::object* message_object = found->if_object();
    if (!message_object) return ignored(update_id, "malformed message");
    const bj::object& message = *message_object;
    const bj::object* chat = object_field(message, "chat");
    const bj::object* from = object_field(message, "from");
    if (!chat) return ignored(update_id, "no chat");
    if (!from) return ignored(update_id, "no sender");
    if (bool_field(*from, "is_bot")) return ignored(update_id, "from a bot");

    std::string chat_type = string_field(*chat, "type");
    bool is_group = chat_type == "group" || chat_type == "supergroup";
    if (!is_group && chat_type != "private") return ignored(update_id, "chat type " + chat_type);

    std::int64_t chat_id = int_field(*chat, "id");
    std::int64_t message_number = int_field(message, "message_id");
    std::int64_t sender = int_field(*from, "id");
    if (chat_id == 0 || message_number == 0 || sender == 0) {
        return ignored(update_id, "missing ids");
    }

    const auto* text_value = message.if_contains("text");
    bool has_text = text_value && text_value->is_string();
    std::string unsupported;
    if (!has_text) {
        for (auto kind : kMediaKinds) {
            if (message.contains(kind)) {
                unsupported = kind;
                break;
            }
        }
        // Joins, leaves, pins, title changes...: nothing was said to the bot.
        if (unsupported.empty()) return ignored(update_id, "service message");
    }
    std::string text =
        has_text ? std::string(text_value->get_string()) : string_field(message, "caption");
    Addressing addressing =
        read_entities(text, message.if_contains(has_text ? "entities" : "caption_entities"), me);

    // A reply to the bot is addressed to it. Telegram says who wrote the quoted message, so
    // this holds also for the bot's messages the core has no record of. quotes_message_id (the
    // number send() returned) is for the core's own check, needed only where Telegram names
    // no author: a quote of someone else costs the core no lookup, and a command for another
    // bot is not turned into one for this bot by quoting it.
    bool reply_to_me = false;
    std::string quoted;
    if (const auto* replied = object_field(message, "reply_to_message")) {
        const auto* author = object_field(*replied, "from");
        reply_to_me = author && int_field(*author, "id") == me.id;
        auto number = int_field(*replied, "message_id");
        if (number > 0 && (!author || reply_to_me) && !addressing.command_for_other) {
            quoted = std::to_string(number);
        }
    }

    ParsedUpdate out;
    out.kind = ParsedUpdate::Kind::message;
    out.update_id = update_id;
    ChatAddress address{.chat_id = chat_id, .thread_id = 0};
    if (is_group && bool_field(message, "is_topic_message")) {
        address.thread_id = int_field(message, "message_thread_id");
    }
    Inbound& inbound = out.inbound;
    inbound.chat = {
        .adapter_id = adapter_id, .chat_id = format_chat(address), .is_group = is_group};
    inbound.sender_id = std::to_string(sender);
    inbound.sender_name = display_name(*from);
    inbound.message_id = format_message_id(chat_id, message_number);
    inbound.mentions_me = !addressing.command_for_other &&
                          (addressing.mentioned || addressing.command_for_me || reply_to_me);
    inbound.quotes_message_id = std::move(quoted);
    inbound.unsupported = std::move(unsupported);
    if (inbound.unsupported.empty()) {
        inbound.text = addressing.my_mentions.empty() ? std::move(text)
                                                      : without_spans(text, addressing.my_mentions,
                                                                      TextLimit::Unit::utf16_units);
    }
    if (auto date = int_field(message, "date"); date > 0 && date <= kLatestDate) {
        inbound.at = std::chrono::system_clock::time_point(std::chrono::seconds(date));
    }
    return out;
}

std::optional<ParsedUpdate> parse_update(std::string_view body, const BotIdentity& me,
                                         const std::string& adapter_id) {
    ScratchJson update;  // read once and dropped: the tree lives in this frame
    const bj::value* parsed = update.parse(body);
    if (!parsed || !parsed->is_object()) return std::nullopt;
    return parse_update(*parsed, me, adapter_id);
}

ApiResult parse_api_answer(int http_status, std::string_view body,
                           std::string_view retry_after_header) {
    ApiResult out;
    if (http_status >= 200 && http_status < 300) {
        if (auto message_id = sent_message_id(body)) {  // a reply sent: the usual answer
            out.ok = true;
            out.message_id = *message_id;
            return out;
        }
    }
    out.error_code = http_status;
    ScratchJson answer;
    if (const bj::object* object = answer.parse_object(body); !object) {
        out.description = http_status == 0 ? "no answer" : "HTTP " + std::to_string(http_status);
    } else {
        out.ok = bool_field(*object, "ok") && http_status >= 200 && http_status < 300;
        if (out.ok) {
            out.error_code = 0;
            const auto* result = object->if_contains("result");
            if (result && result->is_object() && result->get_object().contains("message_id")) {
                out.message_id = int_field(result->get_object(), "message_id");
            } else if (result) {
                out.result = bj::value(*result, bj::storage_ptr());  // out of the arena
            }
            return out;
        }
        if (int code = static_cast<int>(int_field(*object, "error_code")); code != 0) {
            out.error_code = code;
        }
        out.description = string_field(*object, "description");
        if (const auto* parameters = object_field(*object, "parameters")) {
            out.retry_after = bounded_wait(int_field(*parameters, "retry_after"));
            out.migrate_to_chat_id = int_field(*parameters, "migrate_to_chat_id");
        }
    }
    if (out.retry_after.count() == 0 && !retry_after_header.empty()) {
        out.retry_after = bounded_wait(to_int(retry_after_header).value_or(0));
    }
    if (out.description.empty()) out.description = "HTTP " + std::to_string(http_status);
    return out;
}

bool cant_parse_entities(const ApiResult& result) {
    return result.error_code == 400 &&
           result.description.find("can't parse entities") != std::string::npos;
}

bool not_modified(const ApiResult& result) {
    return result.description.find("message is not modified") != std::string::npos;
}

SendError to_send_error(const ApiResult& result) {
    SendError error;
    error.detail = "Telegram " + std::to_string(result.error_code) + ": " + result.description;
    switch (result.error_code) {
        case 429:
            error.kind = SendError::Kind::rate_limited;
            error.retry_after = std::max(result.retry_after, std::chrono::seconds(1));
            break;
        case 401:  // the token was revoked
        case 403:  // the user blocked the bot, or it was removed from the group
            error.kind = SendError::Kind::unauthorized;
            break;
        case 400:
        case 404:
            error.kind = SendError::Kind::bad_request;
            break;
        default:  // no answer, 5xx, 409 ...
            error.kind = SendError::Kind::transient;
    }
    return error;
}

}  // namespace bot::adapters::telegram
