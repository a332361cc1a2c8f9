#include "dingtalk/dingtalk_codec.hpp"

#include "base/crypto.hpp"
#include "base/json_fields.hpp"
#include "base/json_text.hpp"
#include "base/text_split.hpp"
#include "bot/http/http_types.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace bot::adapters::dingtalk {

namespace {

using nlohmann::json;

constexpr std::string_view kSpaces = " \t\r\n\f\v";

std::string_view trim(std::string_view text) {
    auto start = text.find_first_not_of(kSpaces);
    if (start == std::string_view::npos) return {};
    auto end = text.find_last_not_of(kSpaces);
    return text.substr(start, end - start + 1);
}

// DingTalk writes some numbers as JSON numbers and others as strings ("createAt" is a
// number, headers.time a string); read both.
std::int64_t int_or_string(const boost::json::object& object, std::string_view key) {
    const auto* found = object.if_contains(key);
    if (!found) return 0;
    if (found->is_string()) {
        const auto& text = found->get_string();
        std::int64_t value = 0;
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        return error == std::errc() && end == text.data() + text.size() ? value : 0;
    }
    return int_field(object, key);
}

std::optional<std::int64_t> parse_int(std::string_view text) {
    std::int64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || text.empty())
        return std::nullopt;
    return value;
}

// richText (a message mixing text and pictures): its text parts joined; the pictures cannot
// be read. dt-py chatbot.py `RichTextContent` reads content.richText[] items with "text" or
// "downloadCode".
std::string rich_text(const boost::json::object& message) {
    const auto* content = object_field(message, "content");
    const auto* items = content ? content->if_contains("richText") : nullptr;
    if (!items || !items->is_array()) return {};
    std::string text;
    for (const auto& item : items->get_array()) {
        const auto* object = item.if_object();
        if (!object) continue;
        auto part = string_field(*object, "text");
        if (part.empty()) continue;
        if (!text.empty() && text.back() != '\n') text += '\n';
        text += part;
    }
    return text;
}

bool http_url(std::string_view url) {
    return url.starts_with("https://") || url.starts_with("http://");
}

std::string app_json_headers(std::string_view message_id) {
    std::string out = R"({"messageId":)";
    append_json_string(out, message_id);
    out += R"(,"contentType":"application/json"})";
    return out;
}

// msgKey + msgParam of the robot OpenAPI (sampleText {"content"}, sampleMarkdown
// {"title","text"}).
std::pair<std::string, std::string> openapi_message(std::string_view text) {
    if (looks_like_markdown(text)) {
        return {"sampleMarkdown",
                dump_json({{"title", markdown_title(text)}, {"text", std::string(text)}})};
    }
    return {"sampleText", dump_json({{"content", std::string(text)}})};
}

bool contains(const boost::json::object& object, std::string_view key, std::string_view value) {
    const auto* list = object.if_contains(key);
    if (!list || !list->is_array() || value.empty()) return false;
    for (const auto& item : list->get_array()) {
        if (item.is_string() && item.get_string() == value) return true;
    }
    return false;
}

std::chrono::seconds retry_after_or_floor(std::string_view header) {
    // adapters/README.md: Retry-After when given, else a 1 s floor (DingTalk documents no
    // window for its robot API's flow control).
    if (auto seconds = parse_int(trim(header)); seconds && *seconds > 0)
        return std::chrono::seconds(std::min<std::int64_t>(*seconds, 3600));
    return std::chrono::seconds(1);
}

SendOutcome failed(SendError::Kind kind, std::string detail, bool needs_operator = false) {
    SendOutcome outcome;
    outcome.kind = SendOutcome::Kind::failed;
    outcome.error = SendError{.kind = kind, .detail = std::move(detail)};
    outcome.needs_operator = needs_operator;
    return outcome;
}

SendOutcome rate_limited(std::string detail, std::string_view retry_after) {
    auto outcome = failed(SendError::Kind::rate_limited, std::move(detail));
    outcome.error.retry_after = retry_after_or_floor(retry_after);
    return outcome;
}

// DingTalk's error texts are short and carry no user data; cut them anyway.
std::string excerpt(std::string_view text) {
    return std::string(text.substr(0, utf8_floor(text, 200)));
}

}  // namespace

std::optional<StreamFrame> parse_frame(std::string_view text) {
    // dt-protocol l.134-175; dt-go payload/data_frame.go l.23-29 (DataFrame).
    ScratchJson<4096> scratch;
    const auto* frame = scratch.parse_object(text);
    if (!frame) return std::nullopt;
    StreamFrame out;
    auto type = string_field(*frame, "type");
    if (type == "SYSTEM")
        out.type = StreamFrame::Type::system;
    else if (type == "EVENT")
        out.type = StreamFrame::Type::event;
    else if (type == "CALLBACK")
        out.type = StreamFrame::Type::callback;
    if (const auto* headers = object_field(*frame, "headers")) {
        out.topic = string_field(*headers, "topic");
        out.message_id = string_field(*headers, "messageId");
    }
    out.data = string_field(*frame, "data");
    return out;
}

std::string ack_frame(std::string_view message_id, std::string_view data, int code,
                      std::string_view message) {
    // dt-protocol l.177-205; dt-go client.go SendDataFrameResponse; dt-node client.mjs
    // socketCallBackResponse l.310-312.
    std::string out = R"({"code":)";
    out += std::to_string(code);
    out += R"(,"headers":)";
    out += app_json_headers(message_id);
    out += R"(,"message":)";
    append_json_string(out, message);
    out += R"(,"data":)";
    append_json_string(out, data);
    out += '}';
    return out;
}

std::string callback_ack(std::string_view message_id) {
    // A robot message's ACK carries a free response (dt-protocol l.228-246).
    return ack_frame(message_id, R"({"response":null})");
}

std::string event_ack(std::string_view message_id) {
    // EVENT ACKs must say SUCCESS or LATER, or the event is redelivered (dt-protocol
    // l.277-296). We subscribe to none; one that arrives anyway is acknowledged.
    return ack_frame(message_id, R"({"status":"SUCCESS","message":"success"})");
}

ParsedMessage parse_robot_message(std::string_view text) {
    // Fields: dt-protocol l.212-225; dt-py chatbot.py ChatbotMessage.from_dict.
    ScratchJson<8192> scratch;
    const auto* object = scratch.parse_object(text);
    if (!object) return {.reason = "not a JSON object"};
    RobotMessage message;
    message.msg_id = string_field(*object, "msgId");
    message.conversation_id = string_field(*object, "conversationId");
    if (message.msg_id.empty()) return {.reason = "no msgId"};
    auto type = string_field(*object, "conversationType");
    if (type == "1")
        message.group = false;
    else if (type == "2")
        message.group = true;
    else
        return {.reason = "conversationType is neither \"1\" nor \"2\""};
    if (message.group && message.conversation_id.empty())
        return {.reason = "a group message without conversationId"};
    auto staff = string_field(*object, "senderStaffId");
    message.has_staff_id = !staff.empty();
    message.sender_id = message.has_staff_id ? staff : string_field(*object, "senderId");
    if (message.sender_id.empty()) return {.reason = "no senderStaffId or senderId"};
    message.sender_nick = string_field(*object, "senderNick");
    auto webhook = string_field(*object, "sessionWebhook");
    if (http_url(webhook)) message.session_webhook = std::move(webhook);
    message.webhook_expires_ms = int_or_string(*object, "sessionWebhookExpiredTime");
    message.created_ms = int_or_string(*object, "createAt");

    auto msgtype = string_field(*object, "msgtype");
    if (msgtype == "text") {
        // Group @-messages arrive with the @name removed but a leading space left.
        if (const auto* content = object_field(*object, "text"))
            message.text = std::string(trim(string_field(*content, "content")));
        if (message.text.empty()) message.unsupported = "empty text";
    } else if (msgtype == "richText") {
        message.text = std::string(trim(rich_text(*object)));
        if (message.text.empty()) message.unsupported = "picture";
    } else {
        message.unsupported = msgtype.empty() ? std::string("unknown") : msgtype;
    }
    return {.message = std::move(message)};
}

ChatRef chat_of(const RobotMessage& message, const std::string& adapter_id) {
    return {.adapter_id = adapter_id,
            .chat_id = message.group ? message.conversation_id : message.sender_id,
            .is_group = message.group};
}

Inbound to_inbound(const RobotMessage& message, const std::string& adapter_id) {
    Inbound inbound{
        .chat = chat_of(message, adapter_id),
        .sender_id = message.sender_id,
        .sender_name = message.sender_nick.empty() ? message.sender_id : message.sender_nick,
        .message_id = message.msg_id,
        .text = message.text,
        // Groups deliver only the messages that @ the robot (protocols.md §4).
        .mentions_me = message.group};
    if (message.text.empty()) inbound.unsupported = message.unsupported;
    // A time ahead of ours (clock skew, or nonsense that would overflow the clock's
    // nanoseconds) counts as now.
    const auto now = std::chrono::system_clock::now();
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    inbound.at = now;
    if (message.created_ms > 0 && message.created_ms < now_ms) {
        inbound.at = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::milliseconds(message.created_ms)));
    }
    return inbound;
}

std::string http_sign(std::string_view timestamp, std::string_view secret) {
    std::string signed_text(timestamp);
    signed_text += '\n';
    signed_text += secret;
    return crypto::base64_encode(crypto::hmac_sha256(secret, signed_text));
}

SignCheck check_http_sign(std::string_view timestamp, std::string_view sign,
                          std::string_view secret, std::int64_t now_ms) {
    if (timestamp.empty() || sign.empty()) return SignCheck::missing;
    auto at = parse_int(timestamp);
    if (!at) return SignCheck::forged;
    const std::int64_t window = std::chrono::milliseconds(kSignWindow).count();
    if (*at > now_ms + window || *at < now_ms - window) return SignCheck::stale;
    return crypto::constant_time_equal(http_sign(timestamp, secret), sign) ? SignCheck::ok
                                                                           : SignCheck::forged;
}

bool looks_like_markdown(std::string_view text) {
    // What the LLM writes: headings, lists, quotes, fences, emphasis, links, tables.
    if (text.find("```") != std::string_view::npos) return true;
    if (text.find("**") != std::string_view::npos) return true;
    if (text.find("](") != std::string_view::npos && text.find('[') != std::string_view::npos)
        return true;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto end = text.find('\n', start);
        auto line =
            text.substr(start, end == std::string_view::npos ? text.size() - start : end - start);
        auto body = line.substr(std::min(line.find_first_not_of(' '), line.size()));
        if (body.starts_with("# ") || body.starts_with("## ") || body.starts_with("### ") ||
            body.starts_with("- ") || body.starts_with("* ") || body.starts_with("> ") ||
            (body.starts_with("|") && body.size() > 1 && body.back() == '|'))
            return true;
        if (auto dot = body.find(". "); dot > 0 && dot < 4 && dot != std::string_view::npos &&
                                        std::all_of(body.begin(), body.begin() + dot,
                                                    [](char c) { return c >= '0' && c <= '9'; }))
            return true;
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return false;
}

std::string markdown_title(std::string_view text) {
    // The first line that says something, without markdown marks, cut to 30 characters: the
    // title is what the chat list and the notification show (dt-py reply_markdown's "title").
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        auto line = text.substr(
            start, end == std::string_view::npos ? std::string_view::npos : end - start);
        std::string plain;
        for (char c : line) {
            if (c != '#' && c != '*' && c != '`' && c != '>' && c != '|' && c != '_') plain += c;
        }
        auto body = trim(plain);
        if (body.starts_with("- ")) body = trim(body.substr(2));
        if (!body.empty()) {
            auto cut = std::string(body);
            std::size_t bytes = 0, chars = 0;
            while (bytes < cut.size() && chars < 30) {
                auto c = static_cast<unsigned char>(cut[bytes]);
                bytes += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
                ++chars;
            }
            return bytes < cut.size() ? cut.substr(0, utf8_floor(cut, bytes)) + "…" : cut;
        }
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return "reply";
}

std::string webhook_body(std::string_view text, std::string_view at_user) {
    // dt-py chatbot.py reply_text / reply_markdown: {"msgtype","text"|"markdown","at"}. The
    // custom-robot message doc (open.dingtalk.com/document/robots/custom-robot-access, "at"
    // table: 在content里添加@人的userid) asks for "@<userId>" in the content for the @ to show.
    json body;
    json at = json::object();
    std::string content(text);
    if (!at_user.empty()) at["atUserIds"] = json::array({std::string(at_user)});
    if (looks_like_markdown(text)) {
        if (!at_user.empty()) content += "\n\n@" + std::string(at_user);
        body = {{"msgtype", "markdown"},
                {"markdown", {{"title", markdown_title(text)}, {"text", content}}}};
    } else {
        if (!at_user.empty()) content = "@" + std::string(at_user) + " " + content;
        body = {{"msgtype", "text"}, {"text", {{"content", content}}}};
    }
    if (!at_user.empty()) body["at"] = std::move(at);
    return dump_json(body);
}

std::string batch_send_body(std::string_view robot_code, std::string_view user_id,
                            std::string_view text) {
    // POST /v1.0/robot/oToMessages/batchSend: DingTalk's generated OpenAPI SDK
    // (alibabacloud_dingtalk robot_1_0 client.py, BatchSendOTO, 'x-acs-dingtalk-access-token';
    // read in a vendored copy, guohuadeng/odoo12-x64 runtime/python3/Lib/site-packages/...).
    auto [key, param] = openapi_message(text);
    return dump_json({{"robotCode", std::string(robot_code)},
                      {"userIds", json::array({std::string(user_id)})},
                      {"msgKey", key},
                      {"msgParam", param}});
}

std::string group_send_body(std::string_view robot_code, std::string_view conversation_id,
                            std::string_view text) {
    // POST /v1.0/robot/groupMessages/send (the same SDK: OrgGroupSend).
    auto [key, param] = openapi_message(text);
    return dump_json({{"robotCode", std::string(robot_code)},
                      {"openConversationId", std::string(conversation_id)},
                      {"msgKey", key},
                      {"msgParam", param}});
}

std::string register_body(std::string_view client_id, std::string_view client_secret,
                          std::string_view user_agent) {
    // dt-protocol l.33-73; dt-py stream.py open_connection. Only the robot topic: EVENT "*"
    // would have every org event pushed to us, each to be ACKed or redelivered.
    json subscriptions =
        json::array({{{"type", "CALLBACK"}, {"topic", std::string(kBotMessageTopic)}}});
    return dump_json({{"clientId", std::string(client_id)},
                      {"clientSecret", std::string(client_secret)},
                      {"subscriptions", std::move(subscriptions)},
                      {"ua", std::string(user_agent)},
                      {"localIp", ""}});
}

std::optional<Registration> parse_registration(std::string_view body) {
    ScratchJson<1024> scratch;
    const auto* object = scratch.parse_object(body);
    if (!object) return std::nullopt;
    Registration out{.endpoint = string_field(*object, "endpoint"),
                     .ticket = string_field(*object, "ticket")};
    if (out.ticket.empty() ||
        !(out.endpoint.starts_with("wss://") || out.endpoint.starts_with("ws://")))
        return std::nullopt;
    return out;
}

std::string connect_url(const Registration& registration) {
    // dt-py stream.py l.110 quote_plus()es the ticket; a UUID is unchanged by it.
    auto url = registration.endpoint;
    url += url.find('?') == std::string::npos ? '?' : '&';
    url += "ticket=";
    url += http::percent_encode(registration.ticket);
    return url;
}

std::optional<TokenAnswer> parse_token(std::string_view body) {
    // dt-py stream.py get_access_token: {"accessToken","expireIn"}.
    ScratchJson<1024> scratch;
    const auto* object = scratch.parse_object(body);
    if (!object) return std::nullopt;
    TokenAnswer out{.token = string_field(*object, "accessToken")};
    if (out.token.empty()) return std::nullopt;
    auto expires = int_or_string(*object, "expireIn");
    out.expires_in = std::chrono::seconds(expires > 0 ? expires : 7200);
    return out;
}

std::string token_body(std::string_view app_key, std::string_view app_secret) {
    return dump_json({{"appKey", std::string(app_key)}, {"appSecret", std::string(app_secret)}});
}

SendOutcome classify_webhook(int status, std::string_view body, std::string_view retry_after) {
    using Kind = SendError::Kind;
    if (status == 429) return rate_limited("session webhook: 429", retry_after);
    if (status >= 500)
        return failed(Kind::transient, "session webhook: HTTP " + std::to_string(status));
    if (status != 200) {
        // Not a documented answer; the OpenAPI path is the safe way on.
        SendOutcome gone;
        gone.kind = SendOutcome::Kind::session_gone;
        gone.error = {.kind = Kind::transient,
                      .detail = "session webhook: HTTP " + std::to_string(status)};
        return gone;
    }
    ScratchJson<1024> scratch;
    const auto* object = scratch.parse_object(body);
    auto errcode = object ? int_field(*object, "errcode") : 0;
    if (errcode == 0) return {.kind = SendOutcome::Kind::delivered};
    auto detail = "session webhook: errcode " + std::to_string(errcode) + " " +
                  excerpt(object ? string_field(*object, "errmsg") : std::string());
    // 130101: "send too fast" (the custom-robot doc's flow control).
    if (errcode == 130101) return rate_limited(std::move(detail), retry_after);
    if (errcode == -1) return failed(Kind::transient, std::move(detail));  // "system busy"
    // 300001 "session 不存在" / "token is not exist" once the webhook expired (second-hand:
    // agentscope-ai/agentscope#1318), and any other refusal: the session is not usable.
    SendOutcome gone;
    gone.kind = SendOutcome::Kind::session_gone;
    gone.error = {.kind = Kind::transient, .detail = std::move(detail)};
    return gone;
}

SendOutcome classify_api(int status, std::string_view body, std::string_view retry_after,
                         std::string_view user_id) {
    using Kind = SendError::Kind;
    ScratchJson<2048> scratch;
    const auto* object = scratch.parse_object(body);
    std::string code = object ? string_field(*object, "code") : std::string();
    std::string detail = "robot API: HTTP " + std::to_string(status) +
                         (code.empty() ? std::string() : " " + excerpt(code)) +
                         (object ? " " + excerpt(string_field(*object, "message")) : std::string());
    if (status == 200 && code.empty()) {
        if (object && contains(*object, "flowControlledStaffIdList", user_id))
            return rate_limited("robot API: the user is flow-controlled", retry_after);
        if (object && contains(*object, "invalidStaffIdList", user_id))
            return failed(Kind::bad_request, "robot API: not a staff id of this organisation");
        return {.kind = SendOutcome::Kind::delivered,
                .message_id = object ? string_field(*object, "processQueryKey") : std::string()};
    }
    // api.dingtalk.com errors: HTTP status + {"code","message","requestid"}.
    if (status == 401 || code == "InvalidAuthentication" ||
        code.find("AccessTokenExpired") != std::string::npos ||
        code.find("InvalidAccessToken") != std::string::npos) {
        return {.kind = SendOutcome::Kind::token_refused,
                .error = {.kind = Kind::transient, .detail = std::move(detail)}};
    }
    if (status == 429 || code.find("Throttling") != std::string::npos ||
        code.find("QpsLimit") != std::string::npos || code.find("FlowControl") != std::string::npos)
        return rate_limited(std::move(detail), retry_after);
    if (status == 403 || code.starts_with("Forbidden"))
        return failed(Kind::unauthorized, std::move(detail), true);
    if (status >= 500 || status == 408) return failed(Kind::transient, std::move(detail));
    if (status >= 400) return failed(Kind::bad_request, std::move(detail), status == 400);
    return failed(Kind::transient, std::move(detail));
}

}  // namespace bot::adapters::dingtalk
