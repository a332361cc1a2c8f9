#include "discord/discord_codec.hpp"

#include "base/json_fields.hpp"
#include "base/json_text.hpp"
#include "base/text_spans.hpp"

#include <boost/json/value.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace bot::adapters::discord {

namespace {

namespace json = boost::json;

// Snowflakes are strings in JSON (reference.mdx "Snowflakes"); a number is read as its digits
// too, so a client or proxy that converts them does not lose the id.
std::string id_field(const json::object& object, std::string_view key) {
    const auto* found = object.if_contains(key);
    if (!found) return {};
    if (const auto* text = found->if_string()) return std::string(*text);
    if (const auto* number = found->if_uint64()) return std::to_string(*number);
    if (const auto* number = found->if_int64(); number && *number >= 0)
        return std::to_string(*number);
    return {};
}

std::string user_name(const json::object& user) {
    auto name = string_field(user, "global_name");  // ?string: null reads as ""
    return name.empty() ? string_field(user, "username") : name;
}

bool all_digits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string attachment_kind(const json::object& attachment) {
    auto type = string_field(attachment, "content_type");
    for (std::string_view kind : {"image", "video", "audio"})
        if (type.starts_with(std::string(kind) + "/")) return std::string(kind);
    return "file";
}

Message read_message(const json::object& d) {
    Message message;
    message.id = id_field(d, "id");
    message.channel_id = id_field(d, "channel_id");
    message.guild_id = id_field(d, "guild_id");
    message.type = static_cast<int>(std::clamp<std::int64_t>(int_field(d, "type"), -1, 1000));
    if (const auto* author = object_field(d, "author")) {
        message.author_id = id_field(*author, "id");
        message.author_name = user_name(*author);
        message.author_bot = bool_field(*author, "bot");
    }
    message.from_webhook = !id_field(d, "webhook_id").empty();
    message.content = string_field(d, "content");
    if (const auto* found = d.if_contains("mentions"); found && found->is_array()) {
        for (const auto& item : found->get_array()) {
            const auto* user = item.if_object();
            if (!user) continue;
            auto id = id_field(*user, "id");
            if (!id.empty()) message.mentions.push_back({std::move(id), user_name(*user)});
        }
    }
    if (const auto* reference = object_field(d, "message_reference")) {
        // Only a DEFAULT reference is a reply; FORWARD (1) quotes another chat's message
        // (message.mdx lines 329-346, 386-391).
        if (int_field(*reference, "type") == 0)
            message.referenced_id = id_field(*reference, "message_id");
    }
    if (const auto* referenced = object_field(d, "referenced_message")) {
        if (const auto* author = object_field(*referenced, "author"))
            message.referenced_author_id = id_field(*author, "id");
    }
    if (const auto* found = d.if_contains("attachments"); found && found->is_array()) {
        for (const auto& item : found->get_array()) {
            if (const auto* attachment = item.if_object()) {
                message.attachment_kind = attachment_kind(*attachment);
                break;
            }
        }
    }
    if (const auto* found = d.if_contains("sticker_items"); found && found->is_array())
        message.has_stickers = !found->get_array().empty();
    return message;
}

// Byte spans of "<@id>" and "<@!id>" in text (message formatting, reference.mdx "Message
// Formatting": User <@USER_ID>, User (Nickname) <@!USER_ID>).
std::vector<TextSpan> mention_spans(std::string_view text, std::string_view id) {
    std::vector<TextSpan> spans;
    if (id.empty()) return spans;
    for (std::string_view open : {"<@", "<@!"}) {
        std::string token = std::string(open) + std::string(id) + ">";
        for (auto at = text.find(token); at != std::string_view::npos;
             at = text.find(token, at + token.size())) {
            spans.push_back({at, token.size()});
        }
    }
    return spans;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
}

std::string_view trim_left(std::string_view text) {
    auto start = text.find_first_not_of(" \t\r\n");
    return start == std::string_view::npos ? std::string_view() : text.substr(start);
}

std::optional<double> number_text(std::string_view text) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) ||
        value < 0 || value > 1e7) {
        return std::nullopt;
    }
    return value;
}

std::optional<double> number_field(const json::object& object, std::string_view key) {
    const auto* found = object.if_contains(key);
    if (!found || !found->is_number()) return std::nullopt;
    double value = found->to_number<double>();
    if (!std::isfinite(value) || value < 0 || value > 1e7) return std::nullopt;
    return value;
}

std::string dump(const nlohmann::json& value) {
    return dump_json(value);
}

}  // namespace

bool is_snowflake(std::string_view text) {
    return text.size() <= 20 && all_digits(text);
}

GatewayEvent parse_gateway(std::string_view text) {
    GatewayEvent event;
    ScratchJson<8192> scratch;
    const auto* root = scratch.parse_object(text);
    if (!root) {
        event.reason = "not a JSON object";
        return event;
    }
    const auto* op_value = root->if_contains("op");
    if (!op_value || !(op_value->is_int64() || op_value->is_uint64())) {
        event.reason = "no op";
        return event;
    }
    const std::int64_t op = int_field(*root, "op");
    const auto* d_value = root->if_contains("d");
    const json::object* d = d_value ? d_value->if_object() : nullptr;
    switch (op) {
        case op_hello: {
            auto interval = d ? int_field(*d, "heartbeat_interval") : 0;
            // A zero, negative or absurd interval would spin or never beat.
            if (interval < 100 || interval > 600'000) {
                event.reason = "hello without a usable heartbeat_interval";
                return event;
            }
            event.kind = GatewayEvent::Kind::hello;
            event.heartbeat_interval = std::chrono::milliseconds(interval);
            return event;
        }
        case op_heartbeat:
            event.kind = GatewayEvent::Kind::heartbeat_request;
            return event;
        case op_heartbeat_ack:
            event.kind = GatewayEvent::Kind::heartbeat_ack;
            return event;
        case op_reconnect:
            event.kind = GatewayEvent::Kind::reconnect;
            return event;
        case op_invalid_session:
            event.kind = GatewayEvent::Kind::invalid_session;
            event.resumable = d_value && d_value->is_bool() && d_value->get_bool();
            return event;
        case op_dispatch:
            break;
        default:
            event.reason = "op " + std::to_string(op);
            return event;
    }
    if (const auto* s = root->if_contains("s"); s && (s->is_int64() || s->is_uint64())) {
        auto seq = int_field(*root, "s");
        if (seq > 0) event.seq = seq;
    }
    event.type = string_field(*root, "t");
    event.type.resize(std::min<std::size_t>(event.type.size(), 64));
    if (!d) {
        event.kind = GatewayEvent::Kind::other;
        event.reason = "dispatch without an object";
        return event;
    }
    if (event.type == "READY") {
        event.session_id = string_field(*d, "session_id");
        event.resume_gateway_url = string_field(*d, "resume_gateway_url");
        if (const auto* user = object_field(*d, "user")) {
            event.user_id = id_field(*user, "id");
            event.user_name = user_name(*user);
        }
        if (event.session_id.empty() || event.user_id.empty()) {
            event.kind = GatewayEvent::Kind::malformed;
            event.reason = "READY without session_id or user";
            return event;
        }
        event.kind = GatewayEvent::Kind::ready;
        return event;
    }
    if (event.type == "RESUMED") {
        event.kind = GatewayEvent::Kind::resumed;
        return event;
    }
    if (event.type == "MESSAGE_CREATE") {
        event.kind = GatewayEvent::Kind::message;
        event.message = read_message(*d);
        return event;
    }
    event.kind = GatewayEvent::Kind::other;
    event.reason = event.type.empty() ? "dispatch without t" : event.type;
    return event;
}

Addressed to_inbound(const Message& message, const AddressRules& rules) {
    Addressed out;
    // Ids go into REST paths ("/channels/{id}/messages"): digits only.
    if (!is_snowflake(message.id) || !is_snowflake(message.channel_id) ||
        !is_snowflake(message.author_id)) {
        out.reason = "a message without a valid id, channel or author";
        return out;
    }
    if (!rules.bot_user_id.empty() && message.author_id == rules.bot_user_id) {
        out.reason = "the bot's own message";
        return out;
    }
    if (message.author_bot || message.from_webhook) {
        out.reason = "a message from another bot or a webhook";
        return out;
    }
    // DEFAULT and REPLY are what people write; joins, pins, boosts... are the system's
    // (message.mdx lines 84-102, 350).
    if (message.type != 0 && message.type != 19) {
        out.reason = "a system message of type " + std::to_string(message.type);
        return out;
    }
    const bool in_guild = !message.guild_id.empty();
    auto spans = mention_spans(message.content, rules.bot_user_id);
    const bool mentioned =
        !spans.empty() ||
        (!rules.bot_user_id.empty() &&
         std::any_of(message.mentions.begin(), message.mentions.end(),
                     [&](const Message::Mention& m) { return m.id == rules.bot_user_id; }));
    const bool replies_to_bot =
        !rules.bot_user_id.empty() && message.referenced_author_id == rules.bot_user_id;
    std::string text = without_spans(message.content, spans, TextLimit::Unit::utf8_bytes);
    bool prefixed = false;
    if (in_guild && !rules.prefix.empty()) {
        auto rest = trim_left(text);
        if (rest.starts_with(rules.prefix)) {
            prefixed = true;
            text = std::string(trim_left(rest.substr(rules.prefix.size())));
        }
    }
    // A guild message that neither mentions the bot, replies to it nor has the prefix can
    // still reply to one of the bot's messages whose author Discord did not send: the core
    // knows the ids it sent (quotes_message_id). Everything else is not for the bot.
    if (in_guild && !mentioned && !replies_to_bot && !prefixed && message.referenced_id.empty()) {
        out.reason = "a guild message not addressed to the bot";
        return out;
    }
    // Other people's mentions read as "@name" rather than "<@123>".
    for (const auto& mention : message.mentions) {
        if (mention.id == rules.bot_user_id || mention.name.empty() || !all_digits(mention.id))
            continue;
        replace_all(text, "<@" + mention.id + ">", "@" + mention.name);
        replace_all(text, "<@!" + mention.id + ">", "@" + mention.name);
    }
    Inbound& inbound = out.inbound;
    inbound.chat = {
        .adapter_id = rules.adapter_id, .chat_id = message.channel_id, .is_group = in_guild};
    inbound.sender_id = message.author_id;
    inbound.sender_name = message.author_name.empty() ? message.author_id : message.author_name;
    inbound.message_id = message.id;  // the same in a replay after a Resume: the core dedupes
    inbound.text = std::move(text);
    inbound.mentions_me = in_guild && (mentioned || replies_to_bot || prefixed);
    if (is_snowflake(message.referenced_id)) inbound.quotes_message_id = message.referenced_id;
    if (inbound.text.empty()) {
        if (!message.attachment_kind.empty()) {
            inbound.unsupported = message.attachment_kind;
        } else if (message.has_stickers) {
            inbound.unsupported = "sticker";
        } else {
            out.reason = "an empty message";
            return out;
        }
    }
    out.accepted = true;
    return out;
}

std::string heartbeat_payload(std::optional<std::int64_t> seq) {
    // gateway-events.mdx "Heartbeat": d is the last sequence number, or null.
    return seq ? "{\"op\":1,\"d\":" + std::to_string(*seq) + "}" : "{\"op\":1,\"d\":null}";
}

std::string identify_payload(std::string_view token, std::int64_t intents) {
    // gateway.mdx lines 190-212 (minimal Identify), gateway-events.mdx lines 71-95.
    nlohmann::json d{
        {"token", token},
        {"intents", intents},
        {"properties", {{"os", "linux"}, {"browser", "contactbot"}, {"device", "contactbot"}}}};
    return dump(nlohmann::json{{"op", op_identify}, {"d", std::move(d)}});
}

std::string resume_payload(std::string_view token, std::string_view session_id, std::int64_t seq) {
    // gateway.mdx lines 277-290.
    nlohmann::json d{{"token", token}, {"session_id", session_id}, {"seq", seq}};
    return dump(nlohmann::json{{"op", op_resume}, {"d", std::move(d)}});
}

CloseAction close_action(int code) {
    switch (code) {
        case 4004:
            return {CloseAction::Kind::stop,
                    "Discord refused bot_token (4004 Authentication failed): copy the token from "
                    "the Developer Portal (your app > Bot > Reset Token)"};
        case 4010:
        case 4011:
            return {CloseAction::Kind::stop,
                    "Discord requires sharding (" + std::to_string(code) +
                        "): the bot is in too many servers for one connection, which contactbot "
                        "does not support yet"};
        case 4012:
            return {CloseAction::Kind::stop,
                    "Discord refused the gateway version (4012): keep api_base at /api/v10"};
        case 4013:
            return {CloseAction::Kind::stop,
                    "Discord refused the intents (4013 Invalid intents): fix or remove the "
                    "intents key"};
        case 4014:
            return {CloseAction::Kind::stop,
                    "Discord refused a privileged intent (4014 Disallowed intents): enable "
                    "\"Message Content Intent\" in the Developer Portal (your app > Bot > "
                    "Privileged Gateway Intents), or remove MESSAGE_CONTENT (32768) from intents"};
        case 4007:  // invalid seq: "Reconnect and start a new session"
        case 4009:  // session timed out: "Reconnect and start a new one"
            return {CloseAction::Kind::identify, {}};
        default:
            return {CloseAction::Kind::resume, {}};
    }
}

std::string gateway_url(std::string_view base) {
    if (!base.starts_with("wss://") && !base.starts_with("ws://")) return {};
    if (base.find_first_of(" \t\r\n") != std::string_view::npos) return {};
    if (base.find('?') != std::string_view::npos) return std::string(base);
    while (base.ends_with('/')) base.remove_suffix(1);
    return std::string(base) + "/?v=10&encoding=json";
}

std::optional<GatewayBot> parse_gateway_bot(std::string_view body) {
    ScratchJson<1024> scratch;
    const auto* root = scratch.parse_object(body);
    if (!root) return std::nullopt;
    GatewayBot out;
    out.url = string_field(*root, "url");
    if (gateway_url(out.url).empty()) return std::nullopt;
    if (const auto* limit = object_field(*root, "session_start_limit")) {
        out.total = int_field(*limit, "total");
        if (const auto* r = limit->if_contains("remaining"); r && r->is_number())
            out.remaining = int_field(*limit, "remaining");
        out.reset_after = std::chrono::milliseconds(
            std::clamp<std::int64_t>(int_field(*limit, "reset_after"), 0, 86'400'000));
        out.max_concurrency = std::clamp<std::int64_t>(int_field(*limit, "max_concurrency"), 1, 64);
    }
    return out;
}

std::string create_message_body(std::string_view text, std::string_view reply_to) {
    nlohmann::json body{{"content", text},
                        {"allowed_mentions", {{"parse", nlohmann::json::array()}}}};
    if (!reply_to.empty()) {
        body["message_reference"] = {{"message_id", reply_to}, {"fail_if_not_exists", false}};
    }
    return dump(body);
}

std::string edit_message_body(std::string_view text) {
    return dump(nlohmann::json{{"content", text},
                               {"allowed_mentions", {{"parse", nlohmann::json::array()}}}});
}

std::string message_id_of(std::string_view body) {
    ScratchJson<4096> scratch;
    const auto* root = scratch.parse_object(body);
    return root ? id_field(*root, "id") : std::string();
}

RateInfo rate_info(int status, const std::vector<http::Header>& headers, std::string_view body) {
    RateInfo info;
    info.bucket = std::string(http::find_header(headers, "X-RateLimit-Bucket")).substr(0, 128);
    if (auto remaining = number_text(http::find_header(headers, "X-RateLimit-Remaining")))
        info.remaining = static_cast<int>(*remaining);
    info.reset_after_s = number_text(http::find_header(headers, "X-RateLimit-Reset-After"));
    if (status != 429) return info;
    info.scope = std::string(http::find_header(headers, "X-RateLimit-Scope")).substr(0, 16);
    info.global =
        http::find_header(headers, "X-RateLimit-Global") == "true" || info.scope == "global";
    ScratchJson<1024> scratch;
    if (const auto* root = scratch.parse_object(body)) {
        info.retry_after_s = number_field(*root, "retry_after");
        info.global = info.global || bool_field(*root, "global");
    }
    if (!info.retry_after_s)
        info.retry_after_s = number_text(http::find_header(headers, "Retry-After"));
    return info;
}

SendError classify(int status, std::string_view body, const RateInfo& rate) {
    std::int64_t code = 0;
    std::string message;
    {
        ScratchJson<1024> scratch;
        if (const auto* root = scratch.parse_object(body)) {
            code = int_field(*root, "code");
            message = string_field(*root, "message").substr(0, 200);
        }
    }
    std::string detail = "HTTP " + std::to_string(status);
    if (code != 0)
        detail += " (" + std::to_string(code) + (message.empty() ? "" : " " + message) + ")";
    if (status == 429) {
        // rate-limits.mdx lines 47-59: retry_after (float seconds), else Retry-After. Without
        // either, the outbox's floor of 1 s and its backoff.
        double seconds = rate.retry_after_s.value_or(rate.reset_after_s.value_or(1.0));
        auto whole = static_cast<std::int64_t>(std::ceil(std::clamp(seconds, 1.0, 3600.0)));
        return {.kind = SendError::Kind::rate_limited,
                .detail = detail + (rate.global ? " global rate limit" : " rate limited"),
                .retry_after = std::chrono::seconds(whole)};
    }
    if (status == 401) {
        return {
            .kind = SendError::Kind::unauthorized,
            .detail = detail + ": Discord refused bot_token (reset it in the Developer Portal)"};
    }
    if (status == 403) {
        // opcodes-and-status-codes.mdx lines 259-271, 340.
        std::string fix = code == 50007 ? "the user does not accept direct messages from the bot"
                          : code == 160002
                              ? "give the bot Read Message History in this channel to reply"
                          : code == 50001 ? "the bot cannot see this channel: give it View Channel"
                                          : "give the bot Send Messages (and Read Message History) "
                                            "in this channel or server";
        return {.kind = SendError::Kind::bad_request, .detail = detail + ": " + fix};
    }
    if (status == 404) {
        return {.kind = SendError::Kind::bad_request,
                .detail = detail + ": the channel or message no longer exists (or the bot left)"};
    }
    if (status >= 500 || status == 408)
        return {.kind = SendError::Kind::transient, .detail = detail};
    return {.kind = SendError::Kind::bad_request, .detail = detail};
}

SendError transport_error(std::string_view what) {
    return {.kind = SendError::Kind::transient, .detail = "Discord API: " + std::string(what)};
}

}  // namespace bot::adapters::discord
