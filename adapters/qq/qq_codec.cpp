#include "qq/qq_codec.hpp"

#include "base/crypto.hpp"
#include "base/json_fields.hpp"
#include "base/json_text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <set>

namespace bot::adapters::qq {

namespace {

namespace json = boost::json;
using Kind = SendError::Kind;

constexpr std::size_t kSeedSize = 32;
constexpr std::string_view kChannelPrefix = "channel:";
constexpr std::string_view kGuildDmPrefix = "dms:";

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string trimmed(std::string_view text) {
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return std::string(text);
}

// Pushed content has '&', '<' and '>' escaped (message_format.md "转义内容", l.19-28).
std::string unescape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t at = 0; at < text.size();) {
        if (text[at] == '&') {
            if (text.substr(at, 5) == "&amp;") {
                out += '&', at += 5;
                continue;
            }
            if (text.substr(at, 4) == "&lt;") {
                out += '<', at += 4;
                continue;
            }
            if (text.substr(at, 4) == "&gt;") {
                out += '>', at += 4;
                continue;
            }
        }
        out += text[at++];
    }
    return out;
}

// Removes the bot's <@!id> / <@id> tags (message_format.md l.14) from guild content: those of
// the ids d.mentions marks as bots, or, without such marks, a tag the text starts with.
std::string without_bot_mentions(std::string_view content, const std::set<std::string>& bots) {
    std::string out;
    std::size_t at = 0;
    bool leading = true;
    while (at < content.size()) {
        if (content.compare(at, 2, "<@") == 0) {
            auto close = content.find('>', at);
            if (close != std::string_view::npos) {
                auto id = content.substr(at + 2, close - at - 2);
                if (!id.empty() && id.front() == '!') id.remove_prefix(1);
                bool digits = !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
                    return c >= '0' && c <= '9';
                });
                if (digits && (bots.contains(std::string(id)) || (bots.empty() && leading))) {
                    at = close + 1;
                    leading = false;
                    continue;
                }
            }
        }
        if (!is_space(content[at])) leading = false;
        out += content[at++];
    }
    return out;
}

std::set<std::string> bot_mentions(const json::object& d) {
    std::set<std::string> ids;
    const auto* mentions = d.if_contains("mentions");
    const auto* list = mentions ? mentions->if_array() : nullptr;
    if (!list) return ids;
    for (const auto& mention : *list) {
        const auto* user = mention.if_object();
        if (user && bool_field(*user, "bot")) ids.insert(string_field(*user, "id"));
    }
    return ids;
}

// attachments[].content_type: "image/jpeg", "image/png", "image/gif", "file", "video/mp4",
// "voice" (event.md l.56).
std::string attachment_kind(const json::object& d) {
    const auto* found = d.if_contains("attachments");
    const auto* list = found ? found->if_array() : nullptr;
    if (!list || list->empty()) return {};
    const auto* first = list->front().if_object();
    std::string type = first ? string_field(*first, "content_type") : std::string();
    if (type.starts_with("image")) return "image";
    if (type.starts_with("voice") || type.starts_with("audio")) return "voice";
    if (type.starts_with("video")) return "video";
    return "file";
}

std::optional<QqMessage> parse_message(std::string_view type, const json::object& d) {
    QqMessage message;
    const json::object* author = object_field(d, "author");
    auto author_field = [&](std::string_view key) {
        return author ? string_field(*author, key) : std::string();
    };
    message.id = string_field(d, "id");
    if (type == "C2C_MESSAGE_CREATE") {
        message.scene = Scene::c2c;
        message.author_id = author_field("user_openid");
        message.target = message.author_id;
    } else if (type == "GROUP_AT_MESSAGE_CREATE") {
        message.scene = Scene::group;
        message.author_id = author_field("member_openid");
        message.target = string_field(d, "group_openid");
    } else if (type == "AT_MESSAGE_CREATE") {
        message.scene = Scene::channel;
        message.author_id = author_field("id");
        message.author_name = author_field("username");
        message.target = string_field(d, "channel_id");
    } else {  // DIRECT_MESSAGE_CREATE
        message.scene = Scene::guild_dm;
        message.author_id = author_field("id");
        message.author_name = author_field("username");
        message.target = string_field(d, "guild_id");  // the direct-message session's guild
    }
    // QQ's ids are hex or decimal; one with ':' would not read back from its chat id (chat_of),
    // and its reply would go nowhere: not understood, like a missing id (found by fuzz_qq).
    if (message.id.empty() || message.author_id.empty() || message.target.empty() ||
        message.target.find(':') != std::string::npos) {
        return std::nullopt;
    }
    std::string content = unescape(string_field(d, "content"));
    if (message.scene == Scene::channel) content = without_bot_mentions(content, bot_mentions(d));
    message.text = trimmed(content);
    message.attachment = attachment_kind(d);
    message.at = parse_rfc3339(string_field(d, "timestamp"));
    return message;
}

bool parse_digits(std::string_view text, std::size_t at, std::size_t count, int& out) {
    if (at + count > text.size()) return false;
    auto first = text.data() + at, last = first + count;
    if (!std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; })) return false;
    std::from_chars(first, last, out);
    return true;
}

// The error body of the openapi: {"code", "message"} (also "err_code"); 0 when absent.
std::int64_t error_code(std::string_view body) {
    ScratchJson<1024> scratch;
    const auto* answer = scratch.parse_object(body);
    if (!answer) return 0;
    if (auto code = int_field(*answer, "code")) return code;
    return int_field(*answer, "err_code");
}

std::string describe(int status, std::int64_t code, std::string_view body) {
    std::string text = "HTTP " + std::to_string(status);
    if (code != 0) text += ", code " + std::to_string(code);
    ScratchJson<1024> scratch;
    if (const auto* answer = scratch.parse_object(body)) {
        auto message = string_field(*answer, "message");
        if (!message.empty()) text += " (" + message.substr(0, 200) + ")";
    }
    return text;
}

std::chrono::seconds retry_after_of(std::string_view header) {
    long long seconds = 0;
    auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
    if (ec != std::errc() || seconds <= 0) return kDefaultRetryAfter;
    return std::chrono::seconds(std::min<long long>(seconds, 3600));
}

}  // namespace

std::string seed_from_secret(std::string_view secret) {
    if (secret.empty()) return {};
    // The secret repeated to the seed's size: what getSeed's doubling gives. Byte by byte:
    // g++ 12 misreads the doubling's string copies as overflows (-Warray-bounds).
    std::string seed(kSeedSize, '\0');
    for (std::size_t i = 0; i < kSeedSize; ++i) seed[i] = secret[i % secret.size()];
    return seed;
}

std::optional<std::string> decode_signature(std::string_view header) {
    if (header.size() != 128) return std::nullopt;
    auto raw = crypto::from_hex(header);
    if (!raw || raw->size() != 64) return std::nullopt;
    if ((static_cast<unsigned char>((*raw)[63]) & 224) != 0) return std::nullopt;
    return raw;
}

bool verify_push(std::string_view public_key, std::string_view timestamp, std::string_view body,
                 std::string_view signature_header) {
    if (timestamp.empty()) return false;
    auto signature = decode_signature(signature_header);
    if (!signature) return false;
    std::string message;
    message.reserve(timestamp.size() + body.size());
    message.append(timestamp).append(body);
    return crypto::ed25519_verify(public_key, message, *signature);
}

std::optional<Push> parse_push(std::string_view body) {
    ScratchJson<8192> scratch;
    const auto* root = scratch.parse_object(body);
    if (!root) return std::nullopt;
    const auto* op = root->if_contains("op");
    if (!op || !(op->is_int64() || op->is_uint64())) return std::nullopt;
    Push push;
    push.op = static_cast<int>(int_field(*root, "op"));
    push.event_type = string_field(*root, "t");
    push.event_id = string_field(*root, "id");
    const auto* d = object_field(*root, "d");
    switch (push.op) {
        case kOpValidation: {
            const auto* token = d ? d->if_contains("plain_token") : nullptr;
            const auto* ts = d ? d->if_contains("event_ts") : nullptr;
            if (!token || !token->is_string() || !ts || !ts->is_string()) {
                push.reason = "a validation without plain_token and event_ts";
                return push;
            }
            push.kind = Push::Kind::validation;
            push.plain_token = std::string(token->get_string());
            push.event_ts = std::string(ts->get_string());
            return push;
        }
        case kOpHeartbeat:
            push.kind = Push::Kind::heartbeat;
            push.heartbeat_seq = int_field(*root, "d");
            return push;
        case kOpDispatch: {
            push.kind = Push::Kind::other_dispatch;
            const auto& t = push.event_type;
            if (t != "C2C_MESSAGE_CREATE" && t != "GROUP_AT_MESSAGE_CREATE" &&
                t != "AT_MESSAGE_CREATE" && t != "DIRECT_MESSAGE_CREATE") {
                push.reason = "event not handled";
                return push;
            }
            auto message = d ? parse_message(t, *d) : std::nullopt;
            if (!message) {
                push.reason = "message without its ids";
                return push;
            }
            push.kind = Push::Kind::message;
            push.message = std::move(*message);
            return push;
        }
        default:
            push.reason = "opcode not handled";
            return push;
    }
}

std::string validation_answer(std::string_view seed, std::string_view plain_token,
                              std::string_view event_ts) {
    std::string message(event_ts);
    message.append(plain_token);
    nlohmann::json answer{{"plain_token", plain_token},
                          {"signature", crypto::hex(crypto::ed25519_sign(seed, message))}};
    return dump_json(answer);
}

std::string dispatch_ack(bool stored) {
    return stored ? R"({"op":12,"d":0})" : R"({"op":12,"d":1})";
}

std::string heartbeat_ack(std::int64_t seq) {
    return R"({"op":11,"d":)" + std::to_string(seq) + "}";
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
        (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || text[13] != ':' ||
        text[16] != ':') {
        return std::nullopt;
    }
    if (!parse_digits(text, 0, 4, y) || !parse_digits(text, 5, 2, mo) ||
        !parse_digits(text, 8, 2, d) || !parse_digits(text, 11, 2, h) ||
        !parse_digits(text, 14, 2, mi) || !parse_digits(text, 17, 2, s)) {
        return std::nullopt;
    }
    std::size_t at = 19;
    if (text[at] == '.') {
        ++at;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
    }
    std::chrono::minutes offset{0};
    if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
        ++at;
    } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
        int oh = 0, om = 0;
        if (at + 6 > text.size() || text[at + 3] != ':' || !parse_digits(text, at + 1, 2, oh) ||
            !parse_digits(text, at + 4, 2, om)) {
            return std::nullopt;
        }
        offset = std::chrono::hours(oh) + std::chrono::minutes(om);
        if (text[at] == '-') offset = -offset;
        at += 6;
    } else {
        return std::nullopt;
    }
    // system_clock counts nanoseconds: years far from now overflow it (found by fuzz_qq).
    if (at != text.size() || h > 23 || mi > 59 || s > 60 || y < 1970 || y > 2200) {
        return std::nullopt;
    }
    std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(mo),
                                     std::chrono::day(d)};
    if (!date.ok()) return std::nullopt;
    auto local = std::chrono::sys_days(date) + std::chrono::hours(h) + std::chrono::minutes(mi) +
                 std::chrono::seconds(s);
    return std::chrono::time_point_cast<std::chrono::system_clock::duration>(local - offset);
}

ChatRef chat_of(const QqMessage& message, const std::string& adapter_id) {
    switch (message.scene) {
        case Scene::c2c:
            return {adapter_id, message.target, false};
        case Scene::group:
            return {adapter_id, message.target, true};
        case Scene::channel:
            return {adapter_id, std::string(kChannelPrefix) + message.target, true};
        case Scene::guild_dm:
            return {adapter_id, std::string(kGuildDmPrefix) + message.target, false};
    }
    return {adapter_id, message.target, false};
}

std::optional<Scene> scene_of(const ChatRef& chat) {
    std::string_view id = chat.chat_id;
    if (id.starts_with(kChannelPrefix)) return Scene::channel;
    if (id.starts_with(kGuildDmPrefix)) return Scene::guild_dm;
    if (id.empty() || id.find(':') != std::string_view::npos) return std::nullopt;
    return chat.is_group ? Scene::group : Scene::c2c;
}

std::string reply_path(const ChatRef& chat) {
    auto scene = scene_of(chat);
    if (!scene) return {};
    std::string_view id = chat.chat_id;
    switch (*scene) {
        case Scene::c2c:
            return "/v2/users/" + http::percent_encode(id) + "/messages";
        case Scene::group:
            return "/v2/groups/" + http::percent_encode(id) + "/messages";
        case Scene::channel:
            id.remove_prefix(kChannelPrefix.size());
            return "/channels/" + http::percent_encode(id) + "/messages";
        case Scene::guild_dm:
            id.remove_prefix(kGuildDmPrefix.size());
            return "/dms/" + http::percent_encode(id) + "/messages";
    }
    return {};
}

std::chrono::minutes reply_window(Scene scene) {
    return scene == Scene::c2c ? std::chrono::minutes(60) : std::chrono::minutes(5);
}

std::string reply_body(std::string_view text, std::string_view msg_id, int msg_seq) {
    // dump_json: reply text with invalid UTF-8 is sent with U+FFFD, not thrown out of send().
    return dump_json(
        {{"content", text}, {"msg_type", 0}, {"msg_id", msg_id}, {"msg_seq", msg_seq}});
}

boost::system::result<Token, std::string> parse_token_answer(int status, std::string_view body) {
    using Result = boost::system::result<Token, std::string>;
    auto failure = [](std::string why) { return Result(boost::system::in_place_error, why); };
    ScratchJson<1024> scratch;
    const auto* answer = scratch.parse_object(body);
    if (!answer) return failure("HTTP " + std::to_string(status) + ", not a JSON object");
    Token token;
    token.access_token = string_field(*answer, "access_token");
    if (status < 200 || status >= 300 || token.access_token.empty()) {
        return failure(describe(status, int_field(*answer, "code"), body));
    }
    long long seconds = 0;
    if (const auto* expires = answer->if_contains("expires_in")) {
        if (const auto* text = expires->if_string()) {
            std::from_chars(text->data(), text->data() + text->size(), seconds);
        } else {
            seconds = int_field(*answer, "expires_in");
        }
    }
    if (seconds > 0) token.expires_in = std::chrono::seconds(seconds);
    return token;
}

SendOutcome classify_send(int status, std::string_view body, std::string_view retry_after) {
    auto code = error_code(body);
    if (status >= 200 && status < 300) {
        ScratchJson<1024> scratch;
        const auto* answer = scratch.parse_object(body);
        return {.kind = SendOutcome::Kind::delivered,
                .message_id = answer ? string_field(*answer, "id") : std::string()};
    }
    auto failed = [&](Kind kind, std::chrono::seconds wait = {}) {
        return SendOutcome{
            .kind = SendOutcome::Kind::failed,
            .error = {.kind = kind, .detail = describe(status, code, body), .retry_after = wait}};
    };
    // Token codes: 11241 missing, 11242 check failed (retry once), 11243 wrong (error.md
    // l.46-48), 11244 expired or unknown (botgo errs/err.go l.63).
    if (status == 401 || (code >= 11241 && code <= 11244)) {
        return {.kind = SendOutcome::Kind::token_refused};
    }
    switch (code) {
        case 40054005:  // "消息被去重，请检查请求msgseq": this msg_id + msg_seq went out before
            return {.kind = SendOutcome::Kind::delivered};
        case 304027: {  // MSG_EXPIRE (error.md l.139)
            auto outcome = failed(Kind::bad_request);
            outcome.error.detail = "passive reply window closed (" + outcome.error.detail + ")";
            return outcome;
        }
        case 22009:    // msg limit exceed (send.md l.102)
        case 20028:    // channel write rate limit
        case 304045:   // channel active messages rate limit
        case 1100100:  // security: message rate limited
        case 1100308:  // guild rate limit
            return failed(Kind::rate_limited, retry_after_of(retry_after));
        case 304049:  // guild DMs: active messages per user per day (send.md l.31)
        case 304050:  // guild DMs: active messages per bot per day (send.md l.32)
            return failed(Kind::quota_exhausted);
        case 11252:  // "system error, usually fine when retried once" (error.md l.38, 43, 47)
        case 11263:
        case 11281:
        case 1100300:  // internal system error
            return failed(Kind::transient);
        default:
            break;
    }
    if (status == 429) return failed(Kind::rate_limited, retry_after_of(retry_after));
    if (status >= 500 || status == 0) return failed(Kind::transient);
    if (status == 403) return failed(Kind::unauthorized);
    return failed(Kind::bad_request);
}

}  // namespace bot::adapters::qq
