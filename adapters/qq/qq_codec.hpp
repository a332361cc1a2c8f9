// The official QQ bot (q.qq.com), the pure part: webhook signatures, pushed payloads -> facts,
// reply requests, token answers and API errors -> SendError. No I/O here, so fixtures test it.
// Facts: ../shared/reference/protocols.md §10, tencent-connect/botgo, tencent-connect/bot-docs.
#pragma once

#include "bot/adapter.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bot::adapters::qq {

// --- Signatures (botgo interaction/signature/interaction.go) -----------------------------

// The Ed25519 seed: the bot secret repeated until it has 32 bytes, cut there (getSeed, l.105).
// An empty secret has none: "".
std::string seed_from_secret(std::string_view secret);

// Whether the X-Signature-Ed25519 header has the shape of a signature: 128 hex digits whose
// last byte has none of the bits 224 set (decodeSigBuffer, l.98). The raw 64 bytes, or nullopt.
std::optional<std::string> decode_signature(std::string_view header);

// The signed message of a push: X-Signature-Timestamp followed by the raw body
// (genOriginalContent, l.63).
bool verify_push(std::string_view public_key, std::string_view timestamp, std::string_view body,
                 std::string_view signature_header);

// --- Pushes -------------------------------------------------------------------------------

// Opcodes of a push (botgo dto/websocket_opcode.go; webhook.go).
inline constexpr int kOpDispatch = 0;
inline constexpr int kOpHeartbeat = 1;
inline constexpr int kOpCallbackAck = 12;
inline constexpr int kOpValidation = 13;

// Where a message was written, which decides the reply endpoint and the passive window.
enum class Scene {
    c2c,       // C2C_MESSAGE_CREATE: a QQ user's private chat with the bot
    group,     // GROUP_AT_MESSAGE_CREATE: a QQ group, the bot @-mentioned
    channel,   // AT_MESSAGE_CREATE: a guild text channel, the bot @-mentioned
    guild_dm,  // DIRECT_MESSAGE_CREATE: a guild direct message
};

struct QqMessage {
    Scene scene = Scene::c2c;
    std::string id;         // d.id: the message id a passive reply names (msg_id)
    std::string author_id;  // user_openid, member_openid, or the guild user's id
    std::string author_name;
    std::string target;  // group_openid, channel_id or guild_id (c2c: the user_openid)
    std::string text;    // the mention of the bot removed, trimmed
    // The first attachment's kind ("image", "voice", "video", "file"), empty when none.
    std::string attachment;
    // d.timestamp (RFC 3339), when present and readable.
    std::optional<std::chrono::system_clock::time_point> at;
};

struct Push {
    enum class Kind { validation, message, heartbeat, other_dispatch, other_op };
    Kind kind = Kind::other_op;
    int op = -1;
    std::string event_type;  // t
    std::string event_id;    // the push's own id ("C2C_MESSAGE_CREATE:..."), may be empty
    // validation
    std::string plain_token;
    std::string event_ts;
    // heartbeat: d (the sequence to acknowledge)
    std::int64_t heartbeat_seq = 0;
    // message
    QqMessage message;
    std::string reason;  // other_dispatch: why it is skipped (for the log; no user text)
};

// Reads one push. nullopt: not a JSON object with a numeric op (not understood). A dispatch of
// an event this adapter does not handle, or a message event missing its ids, is other_dispatch.
std::optional<Push> parse_push(std::string_view body);

// The answer to an op 13 validation: {"plain_token", "signature": hex(sign(event_ts +
// plain_token))} (botgo webhook.go GenValidationACK, l.130).
std::string validation_answer(std::string_view seed, std::string_view plain_token,
                              std::string_view event_ts);
// {"op":12,"d":0} acknowledges a dispatch; d:1 asks QQ to push it again (webhook.go l.30).
std::string dispatch_ack(bool stored);
// {"op":11,"d":seq} (webhook.go l.24).
std::string heartbeat_ack(std::int64_t seq);

// "2024-10-15T16:33:15+08:00" (also with fractions of a second or "Z").
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// --- Chats and replies --------------------------------------------------------------------

// How a message's chat is named inside contactbot: c2c and group chats by their openid (the
// ids QQ hands out are hex and never contain ':'), guild ones with a prefix.
ChatRef chat_of(const QqMessage& message, const std::string& adapter_id);
std::optional<Scene> scene_of(const ChatRef& chat);
// The reply endpoint below api_base (send.md): /v2/users/{openid}/messages,
// /v2/groups/{group_openid}/messages, /channels/{channel_id}/messages, /dms/{guild_id}/messages.
std::string reply_path(const ChatRef& chat);

// How long after the user's message a passive reply is accepted (send.md l.16-34): 60 min in
// private chats, 5 min in groups, guild channels and guild direct messages.
std::chrono::minutes reply_window(Scene scene);
// At most 5 passive replies per user message (send.md l.18, l.21): Capabilities::max_parts,
// the outbox cuts longer replies.
inline constexpr int kMaxReplies = 5;

// A passive text reply: {"content", "msg_type": 0, "msg_id", "msg_seq"} (send.md l.71-84); the
// guild endpoints take the same body (botgo dto/message_create.go l.54-67, used for channels
// in openapi/v1/message.go l.63 and for direct messages in direct_message.go l.27).
std::string reply_body(std::string_view text, std::string_view msg_id, int msg_seq);

// --- Access token and API answers ---------------------------------------------------------

struct Token {
    std::string access_token;
    std::chrono::seconds expires_in{7200};
};
// getAppAccessToken's answer: {"access_token", "expires_in"}, expires_in a string ("7200", as
// the docs and botgo token/token_source.go l.50 have it) or a number; {"code", "message"} on
// failure. The error text never holds the token.
boost::system::result<Token, std::string> parse_token_answer(int status, std::string_view body);

// What a send's answer means.
struct SendOutcome {
    enum class Kind { delivered, token_refused, failed };
    Kind kind = Kind::failed;
    std::string message_id;  // delivered: the new message's id (may be empty)
    SendError error;         // failed
};
// Maps one answer of a message endpoint, in one place (openapi/error/error.md):
// - 2xx: delivered (202 with a review notice included);
// - 401, or the token codes 11241-11244: token_refused (refetch, try once more);
// - 40054005 "deduplicated, check msg_seq": this part went out before (a retry after a lost
//   answer): delivered;
// - 304027 (MSG_EXPIRE): the passive window closed: bad_request;
// - 429, 22009 and the other rate codes: rate_limited (Retry-After, else kDefaultRetryAfter);
// - 304049/304050 (guild DM daily allowances): quota_exhausted;
// - 5xx and the codes QQ calls retryable system errors: transient; other 4xx: bad_request.
SendOutcome classify_send(int status, std::string_view body, std::string_view retry_after);
// A 429 without Retry-After: QQ documents no window, so the guide's floor of 1 s, then the
// outbox's backoff (which also suits the 5-minute group window).
inline constexpr std::chrono::seconds kDefaultRetryAfter{1};

}  // namespace bot::adapters::qq
