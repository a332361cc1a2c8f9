// A DingTalk Stream frame and the robot message inside it (adapters/dingtalk/dingtalk_codec.*):
// parse_frame and parse_robot_message never throw, on the input as a frame, as a message, and
// on a frame's data; a message they accept has ids, UTF-8 text or an unsupported kind, a chat
// that reads back, an http(s) webhook or none, and every reply body built for it is JSON; an
// ACK for any messageId is a JSON object echoing it; the send answers are classified whatever
// their body.
#include "dingtalk/dingtalk_codec.hpp"
#include "fuzz_support.hpp"

#include <boost/json/parse.hpp>

namespace dt = bot::adapters::dingtalk;

namespace {

bool is_json_object(const std::string& text) {
    boost::system::error_code error;
    auto parsed = boost::json::parse(text, error);
    return !error && parsed.is_object();
}

void check_message(std::string_view text) {
    auto parsed = dt::parse_robot_message(text);
    if (!parsed.message) {
        fuzz::require(!parsed.reason.empty(), "a refusal without a reason");
        return;
    }
    const auto& message = *parsed.message;
    fuzz::require(!message.msg_id.empty() && !message.sender_id.empty(), "a message without ids");
    fuzz::require(fuzz::valid_utf8(message.text), "text is not valid UTF-8");
    fuzz::require(!message.text.empty() || !message.unsupported.empty(),
                  "a message with neither text nor a kind");
    fuzz::require(message.session_webhook.empty() ||
                      message.session_webhook.starts_with("https://") ||
                      message.session_webhook.starts_with("http://"),
                  "a webhook that is not http(s)");
    auto inbound = dt::to_inbound(message, "dt");
    fuzz::require(!inbound.chat.chat_id.empty(), "no chat id");
    fuzz::require(inbound.chat.is_group == message.group && inbound.mentions_me == message.group,
                  "group facts do not read back");
    const std::string reply = message.text.empty() ? std::string("ok") : message.text;
    fuzz::require(is_json_object(dt::webhook_body(reply, message.group ? message.sender_id : "")),
                  "a webhook body is no JSON object");
    fuzz::require(is_json_object(dt::batch_send_body("robot", message.sender_id, reply)),
                  "a batchSend body is no JSON object");
    fuzz::require(is_json_object(dt::group_send_body("robot", inbound.chat.chat_id, reply)),
                  "a group send body is no JSON object");
    fuzz::require(!dt::markdown_title(reply).empty(), "an empty markdown title");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    if (auto frame = dt::parse_frame(text)) {
        fuzz::require(is_json_object(dt::callback_ack(frame->message_id)),
                      "an ACK is no JSON object");
        fuzz::require(is_json_object(dt::ack_frame(frame->message_id, frame->data)),
                      "a ping echo is no JSON object");
        check_message(frame->data);
    }
    check_message(text);
    (void)dt::parse_registration(text);
    (void)dt::parse_token(text);
    const int status = size > 0 ? 200 + (data[0] % 4) * 100 : 200;
    (void)dt::classify_webhook(status, text, text.substr(0, 3));
    auto outcome = dt::classify_api(status, text, text.substr(0, 3), "u1");
    if (outcome.kind == dt::SendOutcome::Kind::failed)
        fuzz::require(!outcome.error.detail.empty(), "a failure without detail");
    return 0;
}
