// What the adapter keeps in its AdapterState (the core's database, a file only its owner can
// read): bound accounts, their poll cursors, and the latest context_token per user (§3.3, §4.5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace bot::adapters::wechat_ilink {

// AdapterState kinds. Accounts and cursors are keyed by bot id, contexts by chat id.
inline constexpr const char* kAccountKind = "account";
inline constexpr const char* kCursorKind = "cursor";
inline constexpr const char* kContextKind = "context";

struct BoundAccount {
    enum class Status { active, expired, replaced };
    std::string bot_id;  // "…@im.bot"
    std::string token;   // the Bearer credential: never logged, never shown again
    std::string base_url;
    std::string owner;  // the WeChat user who scanned ("…@im.wechat")
    std::int64_t bound_at_ms = 0;
    Status status = Status::active;
    std::string status_detail;  // why it stopped, for the operator

    bool active() const { return status == Status::active; }
};

std::string encode_account(const BoundAccount& account);
std::optional<BoundAccount> decode_account(std::string_view text);
std::string_view status_name(BoundAccount::Status status);

// The latest reply context of one user: the token to echo and when it opened the window.
struct ReplyContext {
    std::string token;
    std::int64_t received_at_ms = 0;   // our clock, when the message carrying it arrived
    std::int64_t message_time_ms = 0;  // the message's create_time_ms: newer tokens win
};

std::string encode_context(const ReplyContext& context);
std::optional<ReplyContext> decode_context(std::string_view text);

// A chat is one user of one bound account: "<bot id>/<user id>" (neither contains '/').
std::string chat_id_of(std::string_view bot_id, std::string_view user);
std::optional<std::pair<std::string, std::string>> parse_chat_id(std::string_view chat_id);

}  // namespace bot::adapters::wechat_ilink
