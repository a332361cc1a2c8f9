// A OneBot v11 frame (adapters/onebot/onebot_codec.*): parse_frame never throws, for events
// with segment arrays or CQ strings and for action answers; a message it returns has ids that
// read back as the adapter reads them (its id and quote as "<self_id>:<id>", its chat as a
// number), valid UTF-8 text, and a reply to it builds a JSON action; an ok answer's id reads
// back too. CQ escaping round-trips any bytes, and escaped text parses as that text alone.
#include "fuzz_support.hpp"
#include "onebot/onebot_codec.hpp"

#include <boost/json/parse.hpp>

namespace onebot = bot::adapters::onebot;

namespace {

void check_message(const onebot::Frame& frame) {
    const auto& inbound = frame.inbound;
    fuzz::require(frame.self_id > 0, "a message without its account");
    fuzz::require(
        !inbound.message_id.empty() && !inbound.sender_id.empty() && !inbound.chat.chat_id.empty(),
        "a message without ids");
    fuzz::require(fuzz::valid_utf8(inbound.text), "text is not valid UTF-8");
    fuzz::require(!inbound.text.empty() || !inbound.unsupported.empty(),
                  "a message with neither text nor media");
    fuzz::require(!inbound.mentions_me || inbound.chat.is_group, "mentions_me outside a group");
    auto id = onebot::parse_stored_id(inbound.message_id);
    fuzz::require(id && id->self_id == frame.self_id, "the message id does not read back");
    if (!inbound.quotes_message_id.empty()) {
        auto quoted = onebot::parse_stored_id(inbound.quotes_message_id);
        fuzz::require(quoted && quoted->self_id == frame.self_id, "the quote does not read back");
    }
    fuzz::require(onebot::chat_target(inbound.chat.chat_id).has_value(),
                  "the chat id names no QQ number or group");

    bot::Outbound reply{.chat = inbound.chat,
                        .user_id = inbound.sender_id,
                        .reply_to = inbound.message_id,
                        .text = inbound.text.empty() ? std::string("ok") : inbound.text};
    auto action = onebot::send_action(reply, "echo-1");
    fuzz::require(action.has_value(), "no action for a reply to a message");
    boost::system::error_code error;
    auto parsed = boost::json::parse(*action, error);
    fuzz::require(!error && parsed.is_object(), "a reply's action is no JSON object");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto body = fuzz::as_text(data, size);
    const onebot::AddressRules rules{.adapter_id = "napcat", .command_prefix = "/"};
    // A reverse connection knows its account; a forward one learns it from the events.
    const auto frame = onebot::parse_frame(body, size % 2 ? 10001000 : 0, rules);
    if (frame.kind == onebot::Frame::Kind::message) check_message(frame);
    if (frame.kind == onebot::Frame::Kind::answer) {
        auto result = onebot::to_send_result(frame.answer, 10001000);
        if (result && !result->empty())
            fuzz::require(onebot::parse_stored_id(*result).has_value(),
                          "a sent id does not read back");
    }

    for (bool in_param : {false, true}) {
        auto escaped = onebot::cq_escape(body, in_param);
        fuzz::require(onebot::cq_unescape(escaped) == body, "CQ escaping does not round-trip");
    }
    std::string text;
    for (const auto& segment : onebot::parse_cq_string(onebot::cq_escape(body))) {
        fuzz::require(segment.type == "text", "escaped text parses as a CQ code");
        text.append(segment.get("text"));
    }
    fuzz::require(text == body, "escaped text does not parse back as itself");
    (void)onebot::parse_cq_string(body);
    return 0;
}
