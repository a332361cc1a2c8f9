#include "slack/slack_codec.hpp"

#include "base/crypto.hpp"
#include "base/json_fields.hpp"
#include "base/json_text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace bot::adapters::slack {

namespace {

using boost::json::object;

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
    return text;
}

std::optional<std::int64_t> to_int(std::string_view text) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

// Slack escapes exactly &, < and > in message text (docs.slack.dev "Formatting text for app
// surfaces", Escaping text).
void append_decoded(std::string& out, std::string_view text) {
    static constexpr std::array<std::pair<std::string_view, char>, 3> kEntities{
        {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}}};
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '&') {
            auto rest = text.substr(i);
            auto found = std::find_if(kEntities.begin(), kEntities.end(), [&](const auto& entity) {
                return rest.starts_with(entity.first);
            });
            if (found != kEntities.end()) {
                out += found->second;
                i += found->first.size() - 1;
                continue;
            }
        }
        out += text[i];
    }
}

// A ts is "<seconds>.<micros>" (digits and one dot); anything else is not a message of ours.
bool valid_ts(std::string_view ts) {
    if (ts.empty() || ts.size() > 32) return false;
    int dots = 0;
    for (char c : ts) {
        if (c == '.')
            ++dots;
        else if (c < '0' || c > '9')
            return false;
    }
    return dots <= 1 && ts.front() != '.';
}

// Channel ids (C, D, G...) are short upper-case alphanumerics; ':' would break the message id.
bool valid_channel(std::string_view channel) {
    return !channel.empty() && channel.size() <= 64 &&
           std::all_of(channel.begin(), channel.end(), [](char c) {
               return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                      c == '_' || c == '-';
           });
}

std::chrono::system_clock::time_point time_of(std::string_view ts) {
    // Beyond 2100 (or before 1970) is not a real message time, and would overflow the
    // clock's nanoseconds well before 2262.
    constexpr std::int64_t kLatest = 4'102'444'800;
    auto seconds = to_int(ts.substr(0, ts.find('.')));
    if (!seconds || *seconds <= 0 || *seconds > kLatest) return std::chrono::system_clock::now();
    return std::chrono::system_clock::time_point(std::chrono::seconds(*seconds));
}

ParsedEvent ignored(std::string reason, std::string event_id = {}) {
    ParsedEvent parsed;
    parsed.kind = ParsedEvent::Kind::ignored;
    parsed.reason = std::move(reason);
    parsed.event_id = std::move(event_id);
    return parsed;
}

ParsedEvent unreadable(std::string reason, std::string event_id = {}) {
    ParsedEvent parsed = ignored(std::move(reason), std::move(event_id));
    parsed.kind = ParsedEvent::Kind::unreadable;
    return parsed;
}

ParsedEvent read_event_callback(const object& body, const BotIdentity& me,
                                const std::string& adapter_id) {
    if (string_field(body, "type") != "event_callback")
        return ignored("not an event_callback (" + string_field(body, "type") + ")");
    std::string event_id = string_field(body, "event_id");
    const object* event = object_field(body, "event");
    if (!event) return unreadable("an event_callback without an event", event_id);
    const std::string type = string_field(*event, "type");
    const bool mention = type == "app_mention";
    if (type != "message" && !mention) return ignored("event " + type, event_id);

    // bolt-js src/middleware/builtin.ts ignoreSelf (l.312-340): the bot's own messages come
    // with its bot_id or its user id. Other bots are ignored too: two bots answering each
    // other would never stop.
    if (!string_field(*event, "bot_id").empty()) return ignored("a bot's message", event_id);
    const std::string subtype = string_field(*event, "subtype");
    // Edits (message_changed), deletions, joins, bot_message...: not something said to us.
    // file_share carries the user's text with the files; thread_broadcast is a thread reply
    // also shown in the channel.
    if (!subtype.empty() && subtype != "file_share" && subtype != "thread_broadcast")
        return ignored("message subtype " + subtype, event_id);
    if (bool_field(*event, "hidden")) return ignored("a hidden message", event_id);
    const std::string user = string_field(*event, "user");
    if (user.empty()) return ignored("a message without a user", event_id);
    if (!me.user_id.empty() && user == me.user_id)
        return ignored("the bot's own message", event_id);

    MessageRef ref{.channel = string_field(*event, "channel"), .ts = string_field(*event, "ts")};
    if (!valid_channel(ref.channel) || !valid_ts(ref.ts))
        return unreadable("a message without a valid channel and ts", event_id);
    std::string thread_ts = string_field(*event, "thread_ts");
    if (!thread_ts.empty() && thread_ts != ref.ts) {
        if (!valid_ts(thread_ts)) return unreadable("a malformed thread_ts", event_id);
        ref.thread_ts = std::move(thread_ts);
    }

    const std::string channel_type = string_field(*event, "channel_type");
    const bool direct = channel_type == "im" || (channel_type.empty() && ref.channel[0] == 'D');
    if (mention && direct) {
        // A mention inside a DM also arrives as message.im: that one answers it.
        return ignored("app_mention in a DM", event_id);
    }
    if (!mention && !direct) {
        // Channel messages are answered through their app_mention (with message.channels
        // subscribed too, both arrive for one mention: only one may answer).
        return ignored("a channel message that is not an app_mention", event_id);
    }

    ParsedEvent parsed;
    parsed.kind = ParsedEvent::Kind::message;
    parsed.event_id = std::move(event_id);
    Inbound& in = parsed.inbound;
    in.chat = {.adapter_id = adapter_id, .chat_id = ref.channel, .is_group = mention};
    in.sender_id = user;
    in.mentions_me = mention;
    in.text = readable_text(string_field(*event, "text"), me.user_id);
    in.at = time_of(ref.ts);
    const auto* files = event->if_contains("files");
    if (in.text.empty() && files && files->is_array() && !files->get_array().empty())
        in.unsupported = "file";  // (a bare mention stays blank text: the core answers it)
    in.message_id = encode_message_id(ref);
    return parsed;
}

std::string retry_after_text(std::string_view header) {
    return std::string(trimmed(header));
}

}  // namespace

// ---- signature ----

std::string sign_v0(std::string_view secret, std::string_view timestamp, std::string_view body) {
    std::string base;
    base.reserve(timestamp.size() + body.size() + 4);
    base.append("v0:").append(timestamp).append(":").append(body);
    return "v0=" + crypto::hex(crypto::hmac_sha256(secret, base));
}

SignCheck check_timestamp(std::string_view timestamp, std::int64_t now_s) {
    if (timestamp.empty()) return SignCheck::missing;
    auto value = to_int(trimmed(timestamp));
    if (!value) return SignCheck::forged;
    // (A difference that overflows is stale too.)
    if (*value < now_s - kSignatureWindowS || *value > now_s + kSignatureWindowS)
        return SignCheck::stale;
    return SignCheck::ok;
}

SignCheck check_signature(std::string_view secret, std::string_view timestamp,
                          std::string_view signature, std::string_view body, std::int64_t now_s) {
    if (timestamp.empty() || signature.empty()) return SignCheck::missing;
    auto time = check_timestamp(timestamp, now_s);
    if (time != SignCheck::ok) return time;
    const std::string expected = sign_v0(secret, trimmed(timestamp), body);
    return crypto::constant_time_equal(expected, trimmed(signature)) ? SignCheck::ok
                                                                     : SignCheck::forged;
}

// ---- message ids ----

std::string encode_message_id(const MessageRef& ref) {
    std::string id = ref.channel + ":" + ref.ts;
    if (!ref.thread_ts.empty()) id.append(":").append(ref.thread_ts);
    return id;
}

std::optional<MessageRef> decode_message_id(std::string_view id) {
    auto first = id.find(':');
    if (first == std::string_view::npos) return std::nullopt;
    MessageRef ref;
    ref.channel = std::string(id.substr(0, first));
    auto rest = id.substr(first + 1);
    auto second = rest.find(':');
    ref.ts = std::string(rest.substr(0, second));
    if (second != std::string_view::npos) ref.thread_ts = std::string(rest.substr(second + 1));
    if (!valid_channel(ref.channel) || !valid_ts(ref.ts) ||
        (second != std::string_view::npos && !valid_ts(ref.thread_ts)))
        return std::nullopt;
    return ref;
}

// ---- events ----

ParsedEvent parse_event_callback(std::string_view body, const BotIdentity& me,
                                 const std::string& adapter_id) {
    ScratchJson<8192> json;
    const object* root = json.parse_object(body);
    if (!root) return unreadable("not a JSON object");
    return read_event_callback(*root, me, adapter_id);
}

EventsBody classify_events_body(std::string_view body) {
    EventsBody result;
    ScratchJson<4096> json;
    const object* root = json.parse_object(body);
    if (!root) return result;
    result.type = string_field(*root, "type");
    if (result.type == "url_verification") {
        result.challenge = string_field(*root, "challenge");
        result.kind = result.challenge.empty() ? EventsBody::Kind::unreadable
                                               : EventsBody::Kind::url_verification;
    } else if (result.type == "event_callback") {
        result.kind = EventsBody::Kind::event_callback;
    } else if (result.type == "app_rate_limited") {
        result.kind = EventsBody::Kind::rate_limited;
    } else {
        result.kind = EventsBody::Kind::other;
    }
    return result;
}

std::string readable_text(std::string_view text, std::string_view bot_user_id) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        auto open = text.find('<', i);
        auto close = open == std::string_view::npos ? open : text.find('>', open);
        if (close == std::string_view::npos) {
            append_decoded(out, text.substr(i));
            break;
        }
        append_decoded(out, text.substr(i, open - i));
        std::string_view token = text.substr(open + 1, close - open - 1);
        i = close + 1;
        auto bar = token.find('|');
        std::string_view target = token.substr(0, bar);
        std::string_view label = bar == std::string_view::npos ? "" : token.substr(bar + 1);
        if (target.starts_with('@')) {
            if (!bot_user_id.empty() && target.substr(1) == bot_user_id) {
                while (i < text.size() && is_blank(text[i])) ++i;  // "<@BOT> hi" -> "hi"
                continue;
            }
            out += '<';
            append_decoded(out, target);
            out += '>';
        } else if (target.starts_with('#')) {
            if (!label.empty()) {
                out += '#';
                append_decoded(out, label);
            } else {
                out += '<';
                append_decoded(out, target);
                out += '>';
            }
        } else if (target.starts_with('!')) {
            // <!here>, <!channel>, <!subteam^ID|@team>, <!date^...|fallback>
            if (!label.empty()) {
                append_decoded(out, label);
            } else {
                out += '@';
                append_decoded(out, target.substr(1, target.find('^') - 1));
            }
        } else if (!label.empty() && label != target) {
            append_decoded(out, label);
            out += " (";
            append_decoded(out, target);
            out += ')';
        } else {
            append_decoded(out, target);
        }
    }
    return std::string(trimmed(out));
}

// ---- Socket Mode ----

Envelope parse_envelope(std::string_view text, const BotIdentity& me,
                        const std::string& adapter_id) {
    Envelope envelope;
    ScratchJson<8192> json;
    const object* root = json.parse_object(text);
    if (!root) return envelope;
    envelope.type_name = string_field(*root, "type");
    envelope.envelope_id = string_field(*root, "envelope_id");
    if (envelope.type_name == "hello") {
        envelope.type = Envelope::Type::hello;
    } else if (envelope.type_name == "disconnect") {
        envelope.type = Envelope::Type::disconnect;
        envelope.reason = string_field(*root, "reason");
    } else if (envelope.type_name == "events_api") {
        envelope.type = Envelope::Type::events_api;
        envelope.retry_attempt = int_field(*root, "retry_attempt");
        const object* payload = object_field(*root, "payload");
        envelope.event = payload ? read_event_callback(*payload, me, adapter_id)
                                 : unreadable("an events_api envelope without a payload");
    } else if (!envelope.type_name.empty()) {
        envelope.type = Envelope::Type::other;
    }
    return envelope;
}

std::string envelope_ack(std::string_view envelope_id) {
    std::string out = "{\"envelope_id\":";
    append_json_string(out, envelope_id);
    out += '}';
    return out;
}

// ---- Web API ----

std::string post_message_body(std::string_view channel, std::string_view text,
                              std::string_view thread_ts) {
    // docs.slack.dev/reference/methods/chat.postMessage (python-slack-sdk web/client.py
    // chat_postMessage): mrkdwn is on by default; said explicitly since the outbox renders it.
    nlohmann::json body{{"channel", channel}, {"text", text}, {"mrkdwn", true}};
    if (!thread_ts.empty()) body["thread_ts"] = thread_ts;
    return dump_json(body);
}

std::string update_body(std::string_view channel, std::string_view ts, std::string_view text) {
    return dump_json(nlohmann::json{{"channel", channel}, {"ts", ts}, {"text", text}});
}

ApiAnswer classify(int status, std::string_view body, std::string_view retry_after,
                   std::string_view transport_error) {
    using Kind = SendError::Kind;
    ApiAnswer answer;
    auto fail = [&](Kind kind, std::string detail, std::string fix = {}) {
        answer.ok = false;
        answer.failure = SendError{.kind = kind, .detail = std::move(detail)};
        answer.operator_fix = std::move(fix);
        return answer;
    };
    auto wait = [&] {
        auto seconds = to_int(retry_after_text(retry_after));
        // Slack sends Retry-After with every 429 (docs.slack.dev "Rate limits"); without one,
        // a floor of 1 s and the outbox's backoff.
        return std::chrono::seconds(seconds && *seconds > 0 ? std::min<std::int64_t>(*seconds, 3600)
                                                            : 1);
    };
    if (status == 0) {
        answer.error = "no answer";
        return fail(Kind::transient, "Slack Web API: " + std::string(transport_error));
    }
    ScratchJson<4096> json;
    const object* root = json.parse_object(body);
    answer.error = root ? string_field(*root, "error") : std::string();
    if (status == 429 || answer.error == "ratelimited" || answer.error == "rate_limited") {
        answer.error = answer.error.empty() ? "ratelimited" : answer.error;
        fail(Kind::rate_limited, "Slack: ratelimited");
        answer.failure.retry_after = wait();
        return answer;
    }
    if (status >= 500) {
        answer.error = "HTTP " + std::to_string(status);
        return fail(Kind::transient, "Slack: " + answer.error);
    }
    if (!root) {
        answer.error = "HTTP " + std::to_string(status);
        if (status == 401 || status == 403)
            return fail(Kind::unauthorized, "Slack: " + answer.error, "check the tokens");
        return fail(status == 200 ? Kind::transient : Kind::bad_request,
                    "Slack: " + answer.error + " without a JSON answer");
    }
    if (bool_field(*root, "ok")) {
        answer.ok = true;
        answer.ts = string_field(*root, "ts");
        answer.url = string_field(*root, "url");
        answer.identity = {.user_id = string_field(*root, "user_id"),
                           .bot_id = string_field(*root, "bot_id"),
                           .team_id = string_field(*root, "team_id")};
        return answer;
    }
    const std::string& error = answer.error;
    const std::string detail = "Slack: " + (error.empty() ? "ok:false" : error);
    // Tokens: node-slack-sdk socket-mode UnrecoverableSocketModeStartError lists the
    // authentication errors no retry fixes (not_authed, invalid_auth, account_inactive...).
    if (error == "invalid_auth" || error == "not_authed" || error == "account_inactive" ||
        error == "token_revoked" || error == "token_expired" || error == "user_removed_from_team" ||
        error == "team_disabled" || error == "not_allowed_token_type" ||
        error == "ekm_access_denied" || error == "team_access_not_granted" ||
        error == "no_permission" || error == "access_denied") {
        return fail(Kind::unauthorized, detail,
                    "check bot_token (xoxb-...) and, in Socket Mode, app_token (xapp-... with "
                    "connections:write), and that the app is still installed in the workspace");
    }
    if (error == "missing_scope") {
        std::string needed = string_field(*root, "needed");
        return fail(Kind::unauthorized, detail,
                    "add the bot scope " + (needed.empty() ? std::string("chat:write") : needed) +
                        " under OAuth & Permissions and reinstall the app");
    }
    if (error == "channel_not_found" || error == "not_in_channel" || error == "is_archived" ||
        error.starts_with("restricted_action")) {
        return fail(Kind::bad_request, detail,
                    "invite the app to the channel (/invite @<app>) and check that it may post "
                    "there");
    }
    if (error == "internal_error" || error == "fatal_error" || error == "service_unavailable" ||
        error == "request_timeout" || error == "team_added_to_org" || error.empty()) {
        return fail(Kind::transient, detail);
    }
    if (error == "msg_too_long" || error == "no_text" || error.starts_with("invalid_") ||
        error == "too_many_attachments" || error == "message_not_found" ||
        error == "cant_update_message" || error == "edit_window_closed" ||
        error == "json_not_object" || error == "duplicate_message_not_found" ||
        error == "thread_reply_not_available" || error == "msg_blocks_too_long") {
        return fail(Kind::bad_request, detail);
    }
    // Undocumented codes: retried (a bounded number of times) rather than dropped at once.
    return fail(Kind::transient, detail);
}

}  // namespace bot::adapters::slack
