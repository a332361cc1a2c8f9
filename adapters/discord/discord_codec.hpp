// Discord, the pure part: gateway payloads in and out, MESSAGE_CREATE -> Inbound facts, REST
// bodies, the answer of a REST call -> SendError (one classify) and what a gateway close code
// means. No I/O here, so fixtures test it. Facts cite discord/discord-api-docs (commit c98d64b).
#pragma once

#include "bot/adapter.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bot::adapters::discord {

// developers/events/gateway.mdx lines 373, 388, 403 (MESSAGE_CONTENT is privileged, 487-492).
inline constexpr std::int64_t kGuildMessages = 1 << 9;
inline constexpr std::int64_t kDirectMessages = 1 << 12;
inline constexpr std::int64_t kMessageContent = 1 << 15;
inline constexpr std::int64_t kDefaultIntents = kGuildMessages | kDirectMessages | kMessageContent;

// Gateway opcodes (topics/opcodes-and-status-codes.mdx lines 14-28).
enum Op : int {
    op_dispatch = 0,
    op_heartbeat = 1,
    op_identify = 2,
    op_resume = 6,
    op_reconnect = 7,
    op_invalid_session = 9,
    op_hello = 10,
    op_heartbeat_ack = 11,
};

// The facts of a MESSAGE_CREATE the adapter needs (resources/message.mdx, gateway-events.mdx
// lines 1122-1134).
struct Message {
    std::string id;
    std::string channel_id;
    std::string guild_id;  // empty in DMs
    int type = 0;          // 0 DEFAULT, 19 REPLY (message.mdx lines 84, 102)
    std::string author_id;
    std::string author_name;  // global_name, else username
    bool author_bot = false;
    bool from_webhook = false;
    std::string content;
    struct Mention {
        std::string id;
        std::string name;
    };
    std::vector<Mention> mentions;
    std::string referenced_id;         // message_reference.message_id (type DEFAULT: a reply)
    std::string referenced_author_id;  // referenced_message.author.id, when sent
    std::string attachment_kind;       // "image", "file"...: the first attachment's
    bool has_stickers = false;
};

struct GatewayEvent {
    enum class Kind {
        hello,
        heartbeat_request,  // op 1 from Discord: beat now
        heartbeat_ack,
        ready,
        resumed,
        reconnect,
        invalid_session,
        message,  // MESSAGE_CREATE
        other,    // another dispatch (its seq still counts)
        malformed,
    };
    Kind kind = Kind::malformed;
    std::optional<std::int64_t> seq;                  // "s" of a dispatch
    std::string type;                                 // "t"
    std::string reason;                               // malformed / other: why, for the debug log
    std::chrono::milliseconds heartbeat_interval{0};  // hello
    bool resumable = false;                           // invalid_session: d
    // ready
    std::string session_id;
    std::string resume_gateway_url;
    std::string user_id;
    std::string user_name;
    Message message;  // message
};

// Reads one gateway payload {"op","d","s","t"} (gateway-events.mdx lines 27-36). Never throws.
GatewayEvent parse_gateway(std::string_view text);

// What addresses a guild message to the bot besides a mention or a reply to it.
struct AddressRules {
    std::string adapter_id;
    std::string bot_user_id;
    std::string prefix;  // "" = none
};

struct Addressed {
    bool accepted = false;
    std::string reason;  // not accepted: why (debug log; never the text)
    Inbound inbound;
};

// A MESSAGE_CREATE as the core sees it. DMs (no guild_id) always; guild messages only when
// addressed to the bot (its mention, a reply to its message, the prefix), which then sets
// mentions_me, and the mention or prefix is removed from the text; the bot's own and other
// bots' messages and system messages are skipped. chat_id = channel id, sender = author.
Addressed to_inbound(const Message& message, const AddressRules& rules);

// A snowflake id as text: 1-20 digits (reference.mdx "Snowflakes": a 64-bit integer).
bool is_snowflake(std::string_view text);

// --- sending on the gateway -----------------------------------------------------------------
std::string heartbeat_payload(std::optional<std::int64_t> seq);
std::string identify_payload(std::string_view token, std::int64_t intents);
std::string resume_payload(std::string_view token, std::string_view session_id, std::int64_t seq);

// What a close code asks of the client (opcodes-and-status-codes.mdx lines 36-51).
struct CloseAction {
    enum class Kind { resume, identify, stop };
    Kind kind = Kind::resume;
    std::string fix;  // stop: what the operator must do
};
CloseAction close_action(int code);

// "wss://gateway.discord.gg" -> "wss://gateway.discord.gg/?v=10&encoding=json" (gateway.mdx
// lines 107-115); a URL with a query is left as it is. Empty when not ws(s)://.
std::string gateway_url(std::string_view base);

// GET /gateway/bot (gateway.mdx lines 742-779).
struct GatewayBot {
    std::string url;
    std::int64_t total = 0;
    std::int64_t remaining = -1;  // -1: not given
    std::chrono::milliseconds reset_after{0};
    std::int64_t max_concurrency = 1;
};
std::optional<GatewayBot> parse_gateway_bot(std::string_view body);

// --- REST -------------------------------------------------------------------------------------
// POST /channels/{id}/messages body (message.mdx lines 1051-1100): the text, a reply to
// reply_to (fail_if_not_exists false: a deleted message does not lose the answer), and
// allowed_mentions {parse: []}: an LLM's "@everyone" or "<@id>" pings nobody.
std::string create_message_body(std::string_view text, std::string_view reply_to);
// PATCH /channels/{id}/messages/{id} body (message.mdx lines 1175-1200).
std::string edit_message_body(std::string_view text);
// The id of a message object in a 2xx answer; empty when absent.
std::string message_id_of(std::string_view body);

// The rate-limit headers and 429 body of one REST answer (topics/rate-limits.mdx lines 24-59).
struct RateInfo {
    std::string bucket;
    std::optional<int> remaining;
    std::optional<double> reset_after_s;
    std::optional<double> retry_after_s;  // 429: the body's retry_after, else Retry-After
    bool global = false;                  // 429 of the global limit
    std::string scope;                    // 429: user, global or shared
};
RateInfo rate_info(int status, const std::vector<http::Header>& headers, std::string_view body);

// Every REST failure mapped to the outbox's kinds in one place: 429 -> rate_limited with
// retry_after (at least 1 s); 401 -> unauthorized; 403 (missing permissions or access), 404
// (unknown channel or message), other 4xx -> bad_request with the operator's fix in the
// detail; 5xx and transport failures -> transient.
SendError classify(int status, std::string_view body, const RateInfo& rate);
// The same for a transport failure (no HTTP answer).
SendError transport_error(std::string_view what);

}  // namespace bot::adapters::discord
