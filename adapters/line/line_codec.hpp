// LINE Messaging API wire formats, without I/O: the x-line-signature check, webhook bodies and
// their events, the reply / push / loading bodies, and the mapping of API answers to SendError.
// Facts: protocols.md §8 (line-openapi webhook.yml, messaging-api.yml; line-bot-sdk-python).
// Nothing here throws on network input: unreadable input is a declared result with a reason.
#pragma once

#include "bot/adapter.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace bot::adapters::line {

// base64(HMAC-SHA256(channel_secret, raw_body)) (line-bot-sdk-python linebot/signature.py).
std::string sign(std::string_view channel_secret, std::string_view body);
// The header checked on the raw body, in constant time; a missing or non-base64 header fails.
bool signature_valid(std::string_view channel_secret, std::string_view header,
                     std::string_view body);

// One webhook event, read for the core.
struct LineEvent {
    enum class Kind { message, ignored, unreadable };
    Kind kind = Kind::ignored;
    std::string reason;       // ignored / unreadable: why (no user text)
    std::string event_id;     // webhookEventId (a ULID): the core's message id
    std::string reply_token;  // "" when none or a redelivery (its token is not usable)
    bool redelivery = false;  // deliveryContext.isRedelivery
    bool one_to_one = false;  // source.type "user": the loading animation may be shown
    Inbound inbound;          // message
};

struct WebhookBody {
    bool readable = false;  // a JSON object with an events array (possibly empty)
    std::vector<LineEvent> events;
};

// {"destination":"U…","events":[…]}. Text messages from users, groups and rooms become
// messages; in groups and rooms mentions_me is set when a mentionee isSelf, and those
// mentions are removed from the text (index/length in UTF-16 units). Other message types are
// reported as unsupported (the core answers a notice); other events are ignored.
WebhookBody parse_webhook(std::string_view body, const std::string& adapter_id);

// Messages of one call (reply or push): at most 5.
inline constexpr std::size_t kMaxMessagesPerCall = 5;
std::string reply_body(std::string_view reply_token, const std::vector<std::string>& texts);
std::string push_body(std::string_view to, const std::vector<std::string>& texts);
std::string loading_body(std::string_view chat_id, int seconds);

// An API answer, classified once for every call.
struct ApiAnswer {
    bool ok = false;
    SendError failure;         // when !ok
    std::string operator_fix;  // permanent until the operator acts: logged as an error
    // 400 "Invalid reply token": expired or used; the reply goes by push instead.
    bool invalid_reply_token = false;
    // 409 to a push carrying an X-Line-Retry-Key already accepted: the messages were sent.
    bool already_accepted = false;
    std::string last_sent_id;  // sentMessages[-1].id, when given
};
// status 0: no HTTP answer (transport error in transport_error).
ApiAnswer classify(int status, std::string_view body, std::string_view retry_after,
                   std::string_view transport_error = {});

}  // namespace bot::adapters::line
