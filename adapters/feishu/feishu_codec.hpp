// Feishu / Lark payloads, pure: events (webhook and long connection share the v2.0 schema),
// URL verification, the push signature and decryption, message content flattened to text,
// mentions, the long connection's endpoint answer and fragments, and one place that classifies
// every Open API answer. No I/O; never throws on network input.
// Facts: /work/shared/reference/protocols.md §3, longconn-protocols.md §1.
#pragma once

#include "bot/adapter.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bot::adapters::feishu {

// --- webhook security --------------------------------------------------------------------

// X-Lark-Signature: hex(sha256(timestamp + nonce + encrypt_key + raw body)), a plain SHA-256,
// not an HMAC (oapi-sdk-python lark_oapi/event/dispatcher_handler.py _verify_sign).
std::string push_signature(std::string_view timestamp, std::string_view nonce,
                           std::string_view encrypt_key, std::string_view body);
bool verify_push_signature(std::string_view timestamp, std::string_view nonce,
                           std::string_view encrypt_key, std::string_view body,
                           std::string_view signature);

// {"encrypt":"<base64>"}: key = SHA-256(encrypt_key), data = base64 decode, IV = data[0:16],
// AES-256-CBC over the rest with PKCS#7 (oapi-sdk-python lark_oapi/core/utils/decryptor.py).
std::optional<std::string> decrypt_push(std::string_view encrypt_key, std::string_view encrypted);
// The inverse, for the fake platform (iv: 16 bytes).
std::string encrypt_push(std::string_view encrypt_key, std::string_view plaintext,
                         std::string_view iv);
// The "encrypt" field of a body when it is {"encrypt": "..."}; nullopt otherwise.
std::optional<std::string> encrypted_field(std::string_view body);

// --- events ------------------------------------------------------------------------------

struct Mention {
    std::string key;  // "@_user_1"
    std::string open_id;
    std::string name;
};

struct FeishuMessage {
    std::string message_id;  // om_...
    std::string chat_id;     // oc_...
    bool is_group = false;   // chat_type "group" (and "topic_group"); "p2p" otherwise
    std::string sender_open_id;
    std::string sender_type;   // "user" | "app" | ...
    std::string parent_id;     // the message this one replies to
    std::string message_type;  // "text" | "post" | "image" | ...
    std::string text;          // flattened, mentions resolved (see resolve_mentions)
    std::vector<Mention> mentions;
    bool mentions_me = false;
    std::optional<std::chrono::system_clock::time_point> at;  // create_time (ms)
};

struct Event {
    enum class Kind { url_verification, message, other, invalid };
    Kind kind = Kind::invalid;
    std::string token;       // header.token (v2) or token (url_verification / v1)
    std::string challenge;   // url_verification
    std::string event_id;    // header.event_id
    std::string event_type;  // header.event_type
    FeishuMessage message;   // kind == message
    std::string reason;      // other / invalid: why, for the log (no user text)
};

// A decrypted (or plain) event document. bot_open_id: the bot's own open_id when known (empty:
// no mention is taken for the bot).
Event parse_event(std::string_view json, std::string_view bot_open_id);

// The text of a message's content (a JSON string): "text" -> its text; "post" -> its
// paragraphs flattened (text, links, @ placeholders, code), one line per paragraph, the title
// first. nullopt when the type carries no text (images, files...) or the content is malformed.
std::optional<std::string> content_text(std::string_view message_type, std::string_view content);

// The bot's @_user_n placeholder removed (with the blank after it), other users' replaced by
// "@name"; the result trimmed. mentions_me: set when a mention is the bot's.
std::string resolve_mentions(std::string_view text, const std::vector<Mention>& mentions,
                             std::string_view bot_open_id, bool& mentions_me);

// {"challenge":"..."}: the answer to a URL verification.
std::string challenge_answer(std::string_view challenge);

// --- Open API answers --------------------------------------------------------------------

struct ApiOutcome {
    enum class Kind { ok, token_refused, failed };
    Kind kind = Kind::failed;
    SendError error;  // failed
    std::int64_t code = 0;
    bool permission = false;  // failed for a permission the operator must grant (logged)
};
// The one place Feishu's answers are mapped: HTTP status + {"code","msg"} body (+ Retry-After
// or x-ogw-ratelimit-reset).
ApiOutcome classify(int status, std::string_view body, std::string_view retry_after);
// What the operator must do about a permission error, for the log.
std::string permission_fix(std::int64_t code);

// tenant_access_token answer: {code, msg, tenant_access_token, expire}.
struct TenantToken {
    std::string token;
    std::chrono::seconds expires_in{7200};
};
boost::system::result<TenantToken, std::string> parse_tenant_token(int status,
                                                                   std::string_view body);

// Feishu's answers carry their payload in "data"; these read the field a call needs.
std::string answer_data_string(std::string_view body, std::string_view key);
// GET /open-apis/bot/v3/info -> bot.open_id.
std::string parse_bot_open_id(std::string_view body);

// --- request bodies ----------------------------------------------------------------------

// A post message's content: the reply's markdown (TextFormat::feishu_markdown) in one "md"
// element, under zh_cn.
std::string post_content(std::string_view markdown);
// POST /im/v1/messages/:id/reply (and /im/v1/messages): msg_type post, content post_content;
// uuid dedupes a retried send for an hour (reply.md).
std::string post_reply_body(std::string_view markdown, std::string_view uuid);
std::string card_reply_body(std::string_view card_id, std::string_view uuid);
// POST /cardkit/v1/cards: a streaming card with one markdown element.
std::string create_card_body(std::string_view element_id, std::string_view placeholder);
// PUT /cardkit/v1/cards/:card_id/elements/:element_id/content
std::string card_content_body(std::string_view text, std::int64_t sequence, std::string_view uuid);
// PATCH /cardkit/v1/cards/:card_id/settings: streaming_mode off.
std::string card_finish_body(std::int64_t sequence, std::string_view uuid);

// --- long connection ---------------------------------------------------------------------

// ClientConfig, seconds (go-sdk ws/model.go; SDK defaults until the server sends its own).
struct ClientConfig {
    int reconnect_count = -1;
    int reconnect_interval_s = 120;
    int reconnect_nonce_s = 30;
    int ping_interval_s = 120;
};
// Overwrites the fields present (integers only; absurd values clamped).
void apply_client_config(ClientConfig& config, std::string_view json);

struct Endpoint {
    enum class Kind { ok, retry, operator_error };
    Kind kind = Kind::retry;
    std::string url;  // carries a ticket: never logged
    std::int32_t service_id = 0;
    std::string device_id;  // for logs
    ClientConfig config;
    std::int64_t code = 0;
    std::string reason;  // for the log (retry, operator_error)
};
// POST {domain}/callback/ws/endpoint's answer (go-sdk ws/client.go getConnURL, const.go).
Endpoint parse_endpoint(int status, std::string_view body, const ClientConfig& current);
std::string endpoint_body(std::string_view app_id, std::string_view app_secret);

// Payloads split over several data frames (headers message_id, sum, seq), put together in seq
// order. Bounded: at most kMaxSum fragments per message, kMaxPending incomplete messages and
// kMaxPendingBytes buffered; incomplete sets older than kMaxAge are dropped. Not thread-safe
// (one reader).
class Fragments {
public:
    static constexpr int kMaxSum = 64;
    static constexpr std::size_t kMaxPending = 64;
    static constexpr std::size_t kMaxPendingBytes = 8 << 20;
    static constexpr std::chrono::seconds kMaxAge{10};
    using Clock = std::chrono::steady_clock;

    struct Result {
        enum class Kind { complete, pending, refused };
        Kind kind = Kind::refused;
        std::string payload;  // complete
        std::string reason;   // refused
    };
    Result add(std::string_view message_id, std::string_view sum, std::string_view seq,
               std::string payload, Clock::time_point now);
    std::size_t pending() const { return sets_.size(); }
    std::size_t pending_bytes() const { return bytes_; }

private:
    struct Set {
        int sum = 0;
        int filled = 0;
        std::vector<std::optional<std::string>> parts;
        Clock::time_point first;
    };
    void sweep(Clock::time_point now);
    std::map<std::string, Set, std::less<>> sets_;
    std::size_t bytes_ = 0;
};

}  // namespace bot::adapters::feishu
