// getupdates responses in, sendmessage bodies out (ilink.md §4, §5.1). Pure functions over
// JSON, tested with the §9.5 fixtures.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bot::adapters::wechat_ilink {

using nlohmann::json;

// One inbound WeixinMessage, reduced to what the bot uses.
struct IlinkMessage {
    std::uint64_t message_id = 0;  // the dedupe key; 0 when the message had none
    std::string from;              // "…@im.wechat"
    int message_type = 0;          // 1 user, 2 bot (our own echo)
    std::string text;              // the text item, else the voice transcript
    std::string unsupported;       // "image", "video", "file", "voice" when there is no text
    std::string context_token;     // to echo on replies
    std::int64_t create_time_ms = 0;
};

// The longest long poll the server may ask for (it asks 35 s): a timeout the clock can hold.
inline constexpr std::int64_t kMaxPollTimeoutMs = 10 * 60 * 1000;

struct Updates {
    std::vector<IlinkMessage> messages;
    std::string cursor;                // get_updates_buf; empty: keep the old one
    std::int64_t poll_timeout_ms = 0;  // longpolling_timeout_ms (bounded); 0: keep the old one
    bool lapsed = false;  // no "msgs" and no cursor at all: a login lapsing silently ([user] §3.3)
};

// A string field of an answer; "" when absent or not a string (never an exception: iLink's
// answers are input from the network like any other).
std::string string_of(const json& object, const char* key);

// A uint64 that may arrive as a JSON number or as a decimal string, never through a double.
std::optional<std::uint64_t> uint64_of(const json& value);

Updates parse_updates(const json& body);
IlinkMessage parse_message(const json& message);

// The sendmessage body (without base_info): one TEXT item.
json text_message(const std::string& to, const std::string& client_id,
                  const std::string& context_token, const std::string& text);

}  // namespace bot::adapters::wechat_ilink
