// The WhatsApp Business Cloud API's wire formats, without I/O: the webhook's GET verification
// and X-Hub-Signature-256, webhook bodies and the messages in them, the send and read bodies,
// and the mapping of Graph API errors to SendError. Sources (Meta's own): the
// WhatsApp/WhatsApp-Nodejs-SDK (src/api/webhooks.ts, src/utils.ts, src/api/messages.ts,
// src/types/messages.ts) and developers.facebook.com/documentation/business-messaging/whatsapp
// (webhooks/reference/messages, typing-indicators, support/error-codes), cited where used.
// Nothing here throws on network input: unreadable input is a declared result with a reason.
#pragma once

#include "bot/adapter.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bot::adapters::whatsapp {

// "sha256=" + hex(HMAC-SHA256(app_secret, raw body)) (Nodejs-SDK src/utils.ts l.78-83,
// src/api/webhooks.ts l.80-104).
std::string sign(std::string_view app_secret, std::string_view body);
// The header checked on the raw body, in constant time; anything but "sha256=<64 hex>" fails.
bool signature_valid(std::string_view app_secret, std::string_view header, std::string_view body);

// GET verification (Nodejs-SDK src/api/webhooks.ts l.52-58): hub.mode "subscribe" and
// hub.verify_token equal to ours (constant time) -> answer hub.challenge as is.
bool subscription_valid(std::string_view mode, std::string_view token,
                        std::string_view verify_token);

// One entry of value.messages[], read for the core.
struct WaMessage {
    enum class Kind { message, ignored, unreadable };
    Kind kind = Kind::ignored;
    std::string reason;  // ignored / unreadable: why (no user text)
    std::string id;      // wamid...: the core's message id
    Inbound inbound;     // message: 1:1, chat id = sender's wa_id
};

struct WebhookBody {
    bool readable = false;  // a JSON object with an entry array
    std::vector<WaMessage> messages;
    int statuses = 0;  // sent/delivered/read/failed reports on our messages: ignored
    int foreign = 0;   // changes for another phone number of the same account: ignored
};

// {"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":
// {"metadata":{"phone_number_id"},"contacts":[...],"messages":[...],"statuses":[...]}}]}]}.
// Only changes for phone_number_id count. Text messages become messages; media (image,
// audio, video, document, sticker, location, contacts) are reported unsupported (the core
// answers a notice); reactions, system notices, group messages and the rest are ignored.
WebhookBody parse_webhook(std::string_view body, std::string_view phone_number_id,
                          const std::string& adapter_id);

// POST /{phone_number_id}/messages bodies.
std::string text_body(std::string_view to, std::string_view text);
// Marks message_id (and the ones before it) read; typing also shows "typing..." until the
// reply or 25 s (developers.facebook.com/.../whatsapp/typing-indicators/).
std::string read_body(std::string_view message_id, bool typing);

// A Graph API answer, classified once for every call.
struct ApiAnswer {
    bool ok = false;
    SendError failure;            // when !ok
    std::string operator_fix;     // permanent until the operator acts: logged as an error
    bool outside_window = false;  // 131047: more than 24 h since the user's last message
    std::int64_t code = 0;        // error.code, when given
    std::string message_id;       // messages[0].id on success
};
// status 0: no HTTP answer (transport error in transport_error).
ApiAnswer classify(int status, std::string_view body, std::string_view retry_after,
                   std::string_view transport_error = {});

// The customer-service window: free-form messages only within 24 h of the user's last
// message (error 131047 "Re-engagement message" otherwise).
inline constexpr std::chrono::hours kServiceWindow{24};

}  // namespace bot::adapters::whatsapp
