// Telegram Bot API, the pure part: Update JSON -> Inbound facts, API answers -> results, and
// how chats and messages are named inside contactbot. No I/O here, so fixtures test it.
#pragma once

#include "bot/adapter.hpp"

#include <boost/json/value.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bot::adapters::telegram {

// Who the bot is: its user id (the digits before ':' in the token) and @username (getMe).
struct BotIdentity {
    std::int64_t id = 0;
    std::string username;  // without '@'
};

// The bot's user id from its token ("123456:ABC..." -> 123456); nullopt for a malformed token.
std::optional<std::int64_t> bot_id_from_token(std::string_view token);

// A chat and, in forum supergroups, the topic: each topic is a conversation of its own.
struct ChatAddress {
    std::int64_t chat_id = 0;
    std::int64_t thread_id = 0;  // message_thread_id; 0 = none
};
std::string format_chat(ChatAddress address);  // "-100123" or "-100123/45"
// The parameters that address a send to the chat (and topic).
nlohmann::json chat_params(ChatAddress address);
std::optional<ChatAddress> parse_chat(std::string_view text);

// Message ids are unique per chat only; contactbot stores "<chat id>:<message id>", which stays
// stable when Telegram redelivers an update (the dedupe key).
std::string format_message_id(std::int64_t chat_id, std::int64_t message_id);
std::optional<std::int64_t> message_number(std::string_view stored_id);  // the part after ':'
// A sendMessage body (JSON text, written directly: it goes out with every reply). With a stored
// message id, the reply quotes that message (groups: who is answered), and is still sent when
// that message was deleted meanwhile.
// parse_mode: "HTML" for a part rendered in Telegram's HTML, empty for plain text.
std::string send_message_body(ChatAddress chat, std::string_view text,
                              std::string_view quoted_message_id = {},
                              std::string_view parse_mode = {});

struct ParsedUpdate {
    enum class Kind { message, ignored };
    Kind kind = Kind::ignored;
    std::string reason;  // ignored: why (for the debug log)
    std::int64_t update_id = 0;
    Inbound inbound;  // kind == message
};

// Reads one Update. Private chats: every message. Groups: mentions_me is set for an @mention
// of the bot (entity "mention" with its username, or "text_mention" of its id), a reply to one
// of its messages, or a command (a "/cmd@other_bot" is for another bot and does not count).
// The bot's own @mention is removed from the text. Media without text becomes `unsupported`;
// edits, service messages, channel posts and messages from bots are ignored.
ParsedUpdate parse_update(const boost::json::value& update, const BotIdentity& me,
                          const std::string& adapter_id);
// The same from a webhook body; nullopt when the body is not a JSON object. Boost.JSON into a
// stack buffer: a nlohmann tree of each incoming update cost ~25K instructions per message.
std::optional<ParsedUpdate> parse_update(std::string_view body, const BotIdentity& me,
                                         const std::string& adapter_id);

// The longest wait a 429 answer (parameters.retry_after or Retry-After) is taken to ask for.
inline constexpr std::chrono::seconds kMaxRetryAfter = std::chrono::hours(24);

// One Bot API answer: {"ok": true, "result": ...} or {"ok": false, "error_code", ...}.
struct ApiResult {
    bool ok = false;
    // The result, except when it is a Message (sendMessage, editMessageText): then only its
    // message_id is kept, below. Every reply is a sendMessage and a Message is a large object:
    // not building a tree for it saves most of the answer's parse.
    boost::json::value result;
    std::int64_t message_id = 0;
    int error_code = 0;  // Telegram's error_code (or the HTTP status); 0 = no answer at all
    std::string description;
    std::chrono::seconds retry_after{0};  // 429; 0 to kMaxRetryAfter
    std::int64_t migrate_to_chat_id = 0;  // 400: the group became a supergroup
};
ApiResult parse_api_answer(int http_status, std::string_view body,
                           std::string_view retry_after_header);

// An edit that changed nothing ("message is not modified"): as good as a success.
bool not_modified(const ApiResult& result);

// Telegram refused the markup of a parse_mode text (400 "can't parse entities: ..."): the
// part goes out again as plain text instead of failing.
bool cant_parse_entities(const ApiResult& result);

// How a failed send is retried by the outbox.
SendError to_send_error(const ApiResult& result);

}  // namespace bot::adapters::telegram
