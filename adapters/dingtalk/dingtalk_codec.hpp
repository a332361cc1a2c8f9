// DingTalk's wire formats, pure (no I/O): Stream-mode frames and their acknowledgements, the
// robot message (the same JSON in Stream mode's CALLBACK data and in HTTP mode's body), the
// HTTP-mode signature, reply bodies for the session webhook and the robot OpenAPI, and the one
// place that maps DingTalk's answers to SendError. Facts and sources:
// /work/shared/reference/longconn-protocols.md §2 and protocols.md §4; cited per function in
// dingtalk_codec.cpp.
#pragma once

#include "bot/adapter.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bot::adapters::dingtalk {

// The robot message topic, subscribed as a CALLBACK.
inline constexpr std::string_view kBotMessageTopic = "/v1.0/im/bot/messages/get";

// One Stream frame (a JSON text websocket message).
struct StreamFrame {
    enum class Type { system, event, callback, unknown };
    Type type = Type::unknown;
    std::string topic;       // headers.topic: "ping", "disconnect", kBotMessageTopic...
    std::string message_id;  // headers.messageId: echoed in the ACK
    std::string data;        // the "data" string (itself JSON)
};
// nullopt: not a JSON object. A frame of another type, or without a messageId, is returned
// with what could be read (Type::unknown) so the caller can still log and ACK it.
std::optional<StreamFrame> parse_frame(std::string_view text);

// The ACK the SDKs send for every frame (dt-protocol l.177-205).
std::string ack_frame(std::string_view message_id, std::string_view data, int code = 200,
                      std::string_view message = "OK");
std::string callback_ack(std::string_view message_id);  // data {"response":null}
std::string event_ack(std::string_view message_id);     // data {"status":"SUCCESS",...}

// A robot message as this adapter uses it.
struct RobotMessage {
    std::string msg_id;
    std::string conversation_id;
    bool group = false;         // conversationType "2"
    std::string sender_id;      // senderStaffId when present, else senderId
    bool has_staff_id = false;  // senderStaffId was present
    std::string sender_nick;
    std::string text;                     // trimmed; empty for content we cannot read
    std::string unsupported;              // the msgtype we cannot read ("picture", ...)
    std::string session_webhook;          // empty when absent or not https/http
    std::int64_t webhook_expires_ms = 0;  // sessionWebhookExpiredTime (epoch ms)
    std::int64_t created_ms = 0;          // createAt
};
struct ParsedMessage {
    std::optional<RobotMessage> message;
    std::string reason;  // why not, for the log (no user text)
};
ParsedMessage parse_robot_message(std::string_view json);

// The chat a message belongs to: the conversation for groups, the sender for 1:1 (the
// OpenAPI's 1:1 send addresses users by their staff id).
ChatRef chat_of(const RobotMessage& message, const std::string& adapter_id);
Inbound to_inbound(const RobotMessage& message, const std::string& adapter_id);

// HTTP mode (protocols.md §4): sign = base64(HMAC-SHA256(secret, timestamp + "\n" + secret)),
// timestamp in ms within an hour of now.
std::string http_sign(std::string_view timestamp, std::string_view secret);
enum class SignCheck { ok, missing, stale, forged };
SignCheck check_http_sign(std::string_view timestamp, std::string_view sign,
                          std::string_view secret, std::int64_t now_ms);
inline constexpr std::chrono::hours kSignWindow{1};

// Markdown: a reply that uses markdown goes out as DingTalk's markdown type, which needs a
// title (the notification's preview).
bool looks_like_markdown(std::string_view text);
std::string markdown_title(std::string_view text);

// Session webhook body; at_user non-empty in groups: the sender is @-mentioned.
std::string webhook_body(std::string_view text, std::string_view at_user);
// Robot OpenAPI bodies (msgKey sampleText / sampleMarkdown).
std::string batch_send_body(std::string_view robot_code, std::string_view user_id,
                            std::string_view text);
std::string group_send_body(std::string_view robot_code, std::string_view conversation_id,
                            std::string_view text);

// gateway/connections/open.
std::string register_body(std::string_view client_id, std::string_view client_secret,
                          std::string_view user_agent);
struct Registration {
    std::string endpoint;
    std::string ticket;
};
// nullopt: not an answer with a ws(s) endpoint and a ticket.
std::optional<Registration> parse_registration(std::string_view body);
// endpoint?ticket=<percent-encoded ticket>.
std::string connect_url(const Registration& registration);

// oauth2/accessToken answer: {"accessToken","expireIn"}.
struct TokenAnswer {
    std::string token;
    std::chrono::seconds expires_in{7200};
};
std::optional<TokenAnswer> parse_token(std::string_view body);
std::string token_body(std::string_view app_key, std::string_view app_secret);

// What a send's answer means. One place for every DingTalk error.
struct SendOutcome {
    enum class Kind { delivered, session_gone, token_refused, failed };
    Kind kind = Kind::failed;
    std::string message_id;       // delivered through the OpenAPI: processQueryKey
    SendError error;              // failed
    bool needs_operator = false;  // a permission or credential problem: logged at error level
};
// The session webhook's answer: HTTP 200 {"errcode":0}; 300001 etc. when the session is gone.
SendOutcome classify_webhook(int status, std::string_view body, std::string_view retry_after);
// The robot OpenAPI's answer (api.dingtalk.com: HTTP status + {"code","message"} on errors).
// user_id: the addressee of a batchSend, checked against its invalid/flow-controlled lists.
SendOutcome classify_api(int status, std::string_view body, std::string_view retry_after,
                         std::string_view user_id = {});

}  // namespace bot::adapters::dingtalk
