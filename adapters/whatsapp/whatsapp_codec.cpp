#include "whatsapp/whatsapp_codec.hpp"

#include "base/crypto.hpp"
#include "base/json_fields.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <charconv>

namespace bot::adapters::whatsapp {

namespace {

using boost::json::object;

std::optional<std::int64_t> to_int(std::string_view text) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

// Timestamps are Unix seconds as strings ("1739321024"); beyond 2100 or before 2000 is not a
// real message time.
std::chrono::system_clock::time_point time_of(std::string_view seconds) {
    auto value = to_int(seconds);
    if (!value || *value < 946'684'800 || *value > 4'102'444'800)
        return std::chrono::system_clock::now();
    return std::chrono::system_clock::time_point(std::chrono::seconds(*value));
}

// Kinds the bot cannot read but the user meant as a message: the core answers a notice.
constexpr std::array<std::string_view, 7> kMedia{"image",   "audio",    "video",   "document",
                                                 "sticker", "location", "contacts"};

WaMessage skipped(WaMessage::Kind kind, std::string reason, std::string id = {}) {
    WaMessage message;
    message.kind = kind;
    message.reason = std::move(reason);
    message.id = std::move(id);
    return message;
}

std::string profile_name(const object& value, std::string_view wa_id) {
    const auto* contacts = array_field(value, "contacts");
    if (!contacts) return {};
    for (const auto& item : *contacts) {
        const object* contact = item.if_object();
        if (!contact || string_field(*contact, "wa_id") != wa_id) continue;
        const object* profile = object_field(*contact, "profile");
        return profile ? string_field(*profile, "name") : std::string();
    }
    return {};
}

WaMessage read_message(const object& message, const object& value, const std::string& adapter_id) {
    using Kind = WaMessage::Kind;
    std::string id = string_field(message, "id");
    if (id.empty() || id.size() > 256) return skipped(Kind::unreadable, "a message without an id");
    std::string from = string_field(message, "from");
    if (from.empty() || from.size() > 64)
        return skipped(Kind::unreadable, "a message without a sender", id);
    // Groups API messages carry group_id (webhooks/reference/messages/group): not answered
    // here (a reply would need the group as recipient).
    if (!string_field(message, "group_id").empty())
        return skipped(Kind::ignored, "a group message", id);
    const std::string type = string_field(message, "type");

    WaMessage parsed;
    parsed.kind = Kind::message;
    parsed.id = id;
    Inbound& inbound = parsed.inbound;
    inbound.chat.adapter_id = adapter_id;
    inbound.chat.chat_id = from;
    inbound.sender_id = from;
    inbound.sender_name = profile_name(value, from);
    inbound.message_id = id;
    inbound.at = time_of(string_field(message, "timestamp"));
    if (const object* context = object_field(message, "context"))
        inbound.quotes_message_id = string_field(*context, "id");
    if (type == "text") {
        const object* text = object_field(message, "text");
        inbound.text = text ? string_field(*text, "body") : std::string();
        if (inbound.text.empty())
            return skipped(Kind::unreadable, "a text message without a body", id);
        return parsed;
    }
    for (auto media : kMedia)
        if (type == media) {
            inbound.unsupported = type;
            return parsed;
        }
    // reaction, system, button, interactive, order, unsupported, request_welcome...
    return skipped(Kind::ignored, "message type " + type.substr(0, 32), id);
}

std::string dump(const nlohmann::json& body) {
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string sign(std::string_view app_secret, std::string_view body) {
    return "sha256=" + crypto::hex(crypto::hmac_sha256(app_secret, body));
}

bool signature_valid(std::string_view app_secret, std::string_view header, std::string_view body) {
    constexpr std::string_view kPrefix = "sha256=";
    if (app_secret.empty() || !header.starts_with(kPrefix)) return false;
    auto given = crypto::from_hex(header.substr(kPrefix.size()));
    if (!given || given->size() != 32) return false;
    return crypto::constant_time_equal(*given, crypto::hmac_sha256(app_secret, body));
}

bool subscription_valid(std::string_view mode, std::string_view token,
                        std::string_view verify_token) {
    if (verify_token.empty() || mode != "subscribe") return false;
    return crypto::constant_time_equal(token, verify_token);
}

WebhookBody parse_webhook(std::string_view body, std::string_view phone_number_id,
                          const std::string& adapter_id) {
    WebhookBody parsed;
    ScratchJson<16384> scratch;
    const object* root = scratch.parse_object(body);
    const auto* entries = root ? array_field(*root, "entry") : nullptr;
    if (!entries) return parsed;
    parsed.readable = true;
    std::size_t seen = 0;
    for (const auto& entry_value : *entries) {
        const object* entry = entry_value.if_object();
        const auto* changes = entry ? array_field(*entry, "changes") : nullptr;
        if (!changes) continue;
        for (const auto& change_value : *changes) {
            const object* change = change_value.if_object();
            if (!change || string_field(*change, "field") != "messages") continue;
            const object* value = object_field(*change, "value");
            if (!value) continue;
            const object* metadata = object_field(*value, "metadata");
            if (!metadata || string_field(*metadata, "phone_number_id") != phone_number_id) {
                ++parsed.foreign;
                continue;
            }
            if (const auto* statuses = array_field(*value, "statuses"))
                parsed.statuses += static_cast<int>(std::min<std::size_t>(statuses->size(), 1000));
            const auto* messages = array_field(*value, "messages");
            if (!messages) continue;
            for (const auto& item : *messages) {
                // WhatsApp batches a handful; more is hostile.
                if (++seen > 100) return parsed;
                const object* message = item.if_object();
                parsed.messages.push_back(message ? read_message(*message, *value, adapter_id)
                                                  : skipped(WaMessage::Kind::unreadable,
                                                            "a message that is not an object"));
            }
        }
    }
    return parsed;
}

std::string text_body(std::string_view to, std::string_view text) {
    // Nodejs-SDK src/api/messages.ts l.45-51 (messaging_product, recipient_type, to, type,
    // [type]: payload) and src/types/messages.ts l.288-291 (text: body, preview_url).
    return dump({{"messaging_product", "whatsapp"},
                 {"recipient_type", "individual"},
                 {"to", std::string(to)},
                 {"type", "text"},
                 {"text", {{"body", std::string(text)}, {"preview_url", false}}}});
}

std::string read_body(std::string_view message_id, bool typing) {
    // Nodejs-SDK src/api/messages.ts l.240-246 and src/types/messages.ts l.30-33 (status
    // "read", message_id); typing_indicator {"type":"text"}: developers.facebook.com
    // documentation/business-messaging/whatsapp/typing-indicators/ (request syntax).
    nlohmann::json body{{"messaging_product", "whatsapp"},
                        {"status", "read"},
                        {"message_id", std::string(message_id)}};
    if (typing) body["typing_indicator"] = {{"type", "text"}};
    return dump(body);
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
    if (status >= 200 && status < 300) {
        answer.ok = true;
        const auto* messages = root ? array_field(*root, "messages") : nullptr;
        if (messages && !messages->empty())
            if (const object* first = messages->front().if_object())
                answer.message_id = string_field(*first, "id");
        return answer;
    }
    // {"error":{"message","type","code","error_data":{"messaging_product","details"},
    // "fbtrace_id"}} (support/error-codes, "Error response syntax"): handle by code.
    const object* error = root ? object_field(*root, "error") : nullptr;
    std::string message = error ? string_field(*error, "message") : std::string();
    if (message.size() > 200) message.resize(200);
    answer.code = error ? int_field(*error, "code") : 0;
    answer.failure.detail = "HTTP " + std::to_string(status) +
                            (answer.code ? " code " + std::to_string(answer.code) : "") +
                            (message.empty() ? "" : " " + message);
    long long wait_s = 0;
    if (auto given = to_int(retry_after); given && *given >= 0 && *given <= 86400) wait_s = *given;
    auto limited = [&](std::chrono::seconds floor) {
        answer.failure.kind = Kind::rate_limited;
        answer.failure.retry_after = std::max(floor, std::chrono::seconds(wait_s));
    };
    switch (answer.code) {
        case 190:  // access token expired or invalid (401)
        case 0:
            if (answer.code == 190 || status == 401) {
                answer.failure.kind = Kind::unauthorized;
                answer.operator_fix =
                    "the access token was refused: create a permanent System User token "
                    "(Business settings > System users) with whatsapp_business_messaging and "
                    "set access_token";
                return answer;
            }
            break;
        case 10:  // permission denied
            answer.failure.kind = Kind::unauthorized;
            answer.operator_fix = "the token lacks whatsapp_business_messaging for this number";
            return answer;
        case 4:      // app-level call rate limit (hourly)
        case 80007:  // WhatsApp Business Account rate limit (hourly)
            limited(std::chrono::seconds(60));
            return answer;
        case 130429:  // Cloud API throughput reached
        case 131056:  // too many messages to the same recipient in a short time (pair rate)
            limited(std::chrono::seconds(1));
            return answer;
        case 131047:  // re-engagement: more than 24 h since the user's last message
            answer.outside_window = true;
            answer.failure.kind = Kind::bad_request;
            answer.failure.detail =
                "outside the 24-hour customer service window (" + answer.failure.detail + ")";
            return answer;
        case 131026:  // undeliverable (not on WhatsApp, old app, blocked...)
            answer.failure.kind = Kind::bad_request;
            return answer;
        case 1:       // API unknown
        case 2:       // API service: temporarily down or overloaded
        case 131000:  // something went wrong
        case 131016:  // service unavailable
        case 133004:  // server temporarily unavailable
            answer.failure.kind = Kind::transient;
            return answer;
        default:
            break;
    }
    if (status == 401 || status == 403) {
        answer.failure.kind = Kind::unauthorized;
        answer.operator_fix = "check access_token and its whatsapp_business_messaging permission";
    } else if (status == 429) {
        limited(std::chrono::seconds(1));
    } else if (status >= 500) {
        answer.failure.kind = Kind::transient;
    } else {
        answer.failure.kind = Kind::bad_request;
    }
    return answer;
}

}  // namespace bot::adapters::whatsapp
