// Slack's wire formats, without I/O: the v0 request signature, Socket Mode envelopes, Events
// API bodies and the message events in them, message ids, Web API bodies and the mapping of
// Web API answers to SendError. Facts: protocols.md §6 and the SDK sources cited below.
// Nothing here throws on network input: unreadable input is a declared result with a reason.
#pragma once

#include "bot/adapter.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bot::adapters::slack {

// ---- Events API request signature (protocols.md §6; python-slack-sdk
// slack_sdk/signature/__init__.py l.59-75) ----

enum class SignCheck { ok, missing, stale, forged };
inline constexpr std::int64_t kSignatureWindowS = 300;  // |now - timestamp| > 300 s: refused
// "v0=" + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
std::string sign_v0(std::string_view secret, std::string_view timestamp, std::string_view body);
// The timestamp alone (checked before the body is read): missing, not a number, or stale.
SignCheck check_timestamp(std::string_view timestamp, std::int64_t now_s);
// The whole check on the raw body, in constant time over the signature.
SignCheck check_signature(std::string_view secret, std::string_view timestamp,
                          std::string_view signature, std::string_view body, std::int64_t now_s);

// ---- message ids ----

// The id the core stores for a user's message: "<channel>:<ts>", plus ":<thread_ts>" when the
// message is inside a thread. A channel's ts is unique, and the same message reaches us with
// the same channel and ts in Socket Mode and over HTTP, as an app_mention and as a
// message.channels event, and in Slack's retries (whose event_id repeats too): one key
// dedupes all of them. The thread rides along so send() knows where to answer without state.
struct MessageRef {
    std::string channel;
    std::string ts;
    std::string thread_ts;  // empty: not in a thread
};
std::string encode_message_id(const MessageRef& ref);
std::optional<MessageRef> decode_message_id(std::string_view id);

// ---- events ----

struct BotIdentity {
    std::string user_id;  // the bot user ("U..."), as <@U...> mentions it
    std::string bot_id;   // "B...", on the bot's own messages
    std::string team_id;
};

// One event_callback's event, read for the core.
struct ParsedEvent {
    enum class Kind { message, ignored, unreadable };
    Kind kind = Kind::ignored;
    std::string reason;  // ignored / unreadable: why (no user text)
    std::string event_id;
    Inbound inbound;  // message
};

// The body of an event_callback (the Events API's POST body, a Socket Mode events_api
// payload). DMs (message, channel_type im) and app_mention outside DMs become messages; the
// bot's own and other bots' messages, edits, deletions and every other event are ignored.
ParsedEvent parse_event_callback(std::string_view body, const BotIdentity& me,
                                 const std::string& adapter_id);

// What an Events API POST body is.
struct EventsBody {
    enum class Kind { url_verification, event_callback, rate_limited, other, unreadable };
    Kind kind = Kind::unreadable;
    std::string challenge;  // url_verification
    std::string type;       // other: the body's type
};
EventsBody classify_events_body(std::string_view body);

// Text as the LLM should read it: the bot's <@U...> mentions removed (with the blank after
// them), links shown as "label (url)", channels as "#name", and &amp; &lt; &gt; decoded
// (docs.slack.dev "Formatting text": Slack escapes exactly these three).
std::string readable_text(std::string_view text, std::string_view bot_user_id);

// ---- Socket Mode envelopes (python-slack-sdk socket_mode/request.py l.40-51) ----

struct Envelope {
    enum class Type { hello, disconnect, events_api, other, unreadable };
    Type type = Type::unreadable;
    std::string type_name;    // as sent (for the log)
    std::string envelope_id;  // to acknowledge; may be empty for hello / disconnect
    std::string reason;       // disconnect: "warning", "refresh_requested", ...
    ParsedEvent event;        // events_api: its payload, an event_callback
    std::int64_t retry_attempt = 0;
};
Envelope parse_envelope(std::string_view text, const BotIdentity& me,
                        const std::string& adapter_id);
// {"envelope_id":"..."} (socket_mode/response.py l.24-28).
std::string envelope_ack(std::string_view envelope_id);

// ---- Web API ----

std::string post_message_body(std::string_view channel, std::string_view text,
                              std::string_view thread_ts);
std::string update_body(std::string_view channel, std::string_view ts, std::string_view text);

// A Web API answer, classified once for every method.
struct ApiAnswer {
    bool ok = false;
    std::string error;  // Slack's error code ("channel_not_found"), or "HTTP 503"
    SendError failure;  // when !ok
    // Permanent until the operator acts (a token, a scope, an invitation): logged as an error
    // with this hint.
    std::string operator_fix;
    std::string ts;        // chat.postMessage / chat.update: the message's ts
    std::string url;       // apps.connections.open
    BotIdentity identity;  // auth.test
};
// status 0: no HTTP answer (transport error in transport_error).
ApiAnswer classify(int status, std::string_view body, std::string_view retry_after,
                   std::string_view transport_error = {});

}  // namespace bot::adapters::slack
