#include "line/line_codec.hpp"

#include "base/crypto.hpp"
#include "base/json_fields.hpp"
#include "base/text_spans.hpp"

#include <nlohmann/json.hpp>

#include <charconv>

namespace bot::adapters::line {

namespace {

using boost::json::object;

// Beyond 2100 (or before 2000) is not a real event time.
std::chrono::system_clock::time_point time_of(std::int64_t ms) {
    constexpr std::int64_t kEarliest = 946'684'800'000;
    constexpr std::int64_t kLatest = 4'102'444'800'000;
    if (ms < kEarliest || ms > kLatest) return std::chrono::system_clock::now();
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

LineEvent ignored(std::string reason, std::string event_id = {}) {
    LineEvent event;
    event.kind = LineEvent::Kind::ignored;
    event.reason = std::move(reason);
    event.event_id = std::move(event_id);
    return event;
}

LineEvent unreadable(std::string reason, std::string event_id = {}) {
    LineEvent event = ignored(std::move(reason), std::move(event_id));
    event.kind = LineEvent::Kind::unreadable;
    return event;
}

// The bot's own mentions (mentionees[].isSelf), as spans in UTF-16 units.
std::vector<TextSpan> self_mentions(const object& message) {
    std::vector<TextSpan> spans;
    const object* mention = object_field(message, "mention");
    const auto* list = mention ? mention->if_contains("mentionees") : nullptr;
    const auto* mentionees = list ? list->if_array() : nullptr;
    if (!mentionees) return spans;
    for (const auto& item : *mentionees) {
        const object* mentionee = item.if_object();
        if (!mentionee || !bool_field(*mentionee, "isSelf")) continue;
        // A position of the wrong type is not a position (int_field would read it as 0).
        const auto* at = mentionee->if_contains("index");
        if (!at || !(at->is_int64() || at->is_uint64())) continue;
        auto index = int_field(*mentionee, "index");
        auto length = int_field(*mentionee, "length");
        if (index < 0 || length <= 0) continue;
        spans.push_back({static_cast<std::size_t>(index), static_cast<std::size_t>(length)});
        if (spans.size() >= 64) break;  // more is hostile; the first ones are enough
    }
    return spans;
}

LineEvent read_event(const object& event, const std::string& adapter_id) {
    std::string event_id = string_field(event, "webhookEventId");
    if (event_id.empty() || event_id.size() > 64) return unreadable("an event without an id");
    const std::string type = string_field(event, "type");
    if (type != "message") return ignored("event " + type, event_id);
    // standby: another channel (a chat module) owns the conversation; not ours to answer.
    if (string_field(event, "mode") == "standby") return ignored("standby mode", event_id);
    const object* source = object_field(event, "source");
    const object* message = object_field(event, "message");
    if (!source || !message)
        return unreadable("a message event without source or message", event_id);

    LineEvent parsed;
    parsed.kind = LineEvent::Kind::message;
    parsed.event_id = event_id;
    if (const object* delivery = object_field(event, "deliveryContext"))
        parsed.redelivery = bool_field(*delivery, "isRedelivery");
    if (!parsed.redelivery) parsed.reply_token = string_field(event, "replyToken");

    const std::string source_type = string_field(*source, "type");
    Inbound& inbound = parsed.inbound;
    inbound.chat.adapter_id = adapter_id;
    inbound.sender_id = string_field(*source, "userId");
    if (source_type == "user") {
        inbound.chat.chat_id = inbound.sender_id;
        parsed.one_to_one = true;
    } else if (source_type == "group") {
        inbound.chat.chat_id = string_field(*source, "groupId");
        inbound.chat.is_group = true;
    } else if (source_type == "room") {
        inbound.chat.chat_id = string_field(*source, "roomId");
        inbound.chat.is_group = true;
    } else {
        return unreadable("source type " + source_type, event_id);
    }
    // A group member who has not agreed to share their profile comes without userId.
    if (inbound.sender_id.empty())
        inbound.sender_id = inbound.chat.is_group ? "anonymous:" + inbound.chat.chat_id : "";
    if (inbound.chat.chat_id.empty() || inbound.sender_id.empty())
        return unreadable("a message without its chat or sender", event_id);
    inbound.message_id = event_id;
    inbound.at = time_of(int_field(event, "timestamp"));
    inbound.quotes_message_id = string_field(*message, "quotedMessageId");

    const std::string message_type = string_field(*message, "type");
    if (message_type != "text") {
        inbound.unsupported = message_type.empty() ? "message" : message_type;
        return parsed;
    }
    std::string text = string_field(*message, "text");
    // Mentions mean something only where several people talk.
    auto spans = inbound.chat.is_group ? self_mentions(*message) : std::vector<TextSpan>{};
    if (!spans.empty()) {
        inbound.mentions_me = true;
        text = without_spans(text, spans, TextLimit::Unit::utf16_units);
    }
    inbound.text = std::move(text);
    return parsed;
}

std::string messages_body(std::string_view key, std::string_view value,
                          const std::vector<std::string>& texts) {
    nlohmann::json messages = nlohmann::json::array();
    for (const auto& text : texts) messages.push_back({{"type", "text"}, {"text", text}});
    nlohmann::json body{{std::string(key), std::string(value)}, {"messages", std::move(messages)}};
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::chrono::seconds seconds_of(std::string_view text, std::chrono::seconds fallback) {
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > 86400)
        return fallback;
    return std::chrono::seconds(value);
}

}  // namespace

std::string sign(std::string_view channel_secret, std::string_view body) {
    return crypto::base64_encode(crypto::hmac_sha256(channel_secret, body));
}

bool signature_valid(std::string_view channel_secret, std::string_view header,
                     std::string_view body) {
    if (header.empty() || channel_secret.empty()) return false;
    auto given = crypto::base64_decode(header);
    if (!given || given->size() != 32) return false;
    return crypto::constant_time_equal(*given, crypto::hmac_sha256(channel_secret, body));
}

WebhookBody parse_webhook(std::string_view body, const std::string& adapter_id) {
    WebhookBody parsed;
    ScratchJson<16384> scratch;
    const object* root = scratch.parse_object(body);
    if (!root) return parsed;
    const auto* list = root->if_contains("events");
    const auto* events = list ? list->if_array() : nullptr;
    if (!events) return parsed;
    parsed.readable = true;
    for (const auto& item : *events) {
        const object* event = item.if_object();
        parsed.events.push_back(event ? read_event(*event, adapter_id)
                                      : unreadable("an event that is not an object"));
        if (parsed.events.size() >= 100) break;  // LINE sends a handful; more is hostile
    }
    return parsed;
}

std::string reply_body(std::string_view reply_token, const std::vector<std::string>& texts) {
    return messages_body("replyToken", reply_token, texts);
}

std::string push_body(std::string_view to, const std::vector<std::string>& texts) {
    return messages_body("to", to, texts);
}

std::string loading_body(std::string_view chat_id, int seconds) {
    return nlohmann::json{{"chatId", std::string(chat_id)}, {"loadingSeconds", seconds}}.dump();
}

ApiAnswer classify(int status, std::string_view body, std::string_view retry_after,
                   std::string_view transport_error) {
    using Kind = SendError::Kind;
    ApiAnswer answer;
    if (status == 0) {
        answer.failure = {.kind = Kind::transient, .detail = std::string(transport_error)};
        return answer;
    }
    ScratchJson<4096> scratch;
    const object* root = scratch.parse_object(body);
    // Errors are {"message": "...", "details": [...]} (messaging-api.yml ErrorResponse).
    std::string message = root ? string_field(*root, "message") : std::string();
    if (message.size() > 200) message.resize(200);
    if (status >= 200 && status < 300) {
        answer.ok = true;
        const auto* list = root ? root->if_contains("sentMessages") : nullptr;
        const auto* sent = list ? list->if_array() : nullptr;
        if (sent && !sent->empty())
            if (const object* last = sent->back().if_object())
                answer.last_sent_id = string_field(*last, "id");
        return answer;
    }
    std::string detail = "HTTP " + std::to_string(status) + (message.empty() ? "" : " " + message);
    answer.failure.detail = detail;
    if (status == 409) {
        // messaging-api.yml push: 409 "The retry key is already accepted".
        answer.already_accepted = true;
        answer.failure.kind = Kind::transient;
    } else if (status == 401 || status == 403) {
        answer.failure.kind = Kind::unauthorized;
        answer.operator_fix =
            status == 401 ? "issue a long-lived channel access token (LINE Developers console, "
                            "Messaging API tab) and set channel_access_token"
                          : "the channel may not use this API (plan or permission)";
    } else if (status == 429) {
        // 429 is both the rate limit and the monthly message quota ("You have reached your
        // monthly limit."): the latter is not retried.
        if (message.find("monthly limit") != std::string::npos) {
            answer.failure.kind = Kind::quota_exhausted;
            answer.operator_fix =
                "the channel's monthly message quota is used up: raise the plan "
                "in LINE Official Account Manager";
        } else {
            answer.failure.kind = Kind::rate_limited;
            answer.failure.retry_after = seconds_of(retry_after, std::chrono::seconds(1));
        }
    } else if (status >= 500) {
        answer.failure.kind = Kind::transient;
    } else {
        answer.failure.kind = Kind::bad_request;
        answer.invalid_reply_token = status == 400 && message == "Invalid reply token";
    }
    return answer;
}

}  // namespace bot::adapters::line
