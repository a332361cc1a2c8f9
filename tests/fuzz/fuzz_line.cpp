// LINE's network bytes (adapters/line/line_codec.*): a webhook body never throws; an event it
// accepts has an id that is also the message id, a chat and a sender, UTF-8 text or an
// unsupported kind (never both), a group flag that agrees with its source, no reply token on
// a redelivery, and reply / push bodies that are JSON objects; API answers are classified
// whatever their body, and the signature check refuses what it did not sign.
#include "fuzz_support.hpp"
#include "line/line_codec.hpp"

#include <boost/json/parse.hpp>

namespace ln = bot::adapters::line;

namespace {

bool is_json_object(const std::string& text) {
    boost::system::error_code error;
    auto parsed = boost::json::parse(text, error);
    return !error && parsed.is_object();
}

void check_event(const ln::LineEvent& event) {
    if (event.kind != ln::LineEvent::Kind::message) {
        fuzz::require(!event.reason.empty(), "a skipped event without a reason");
        return;
    }
    const auto& in = event.inbound;
    fuzz::require(!event.event_id.empty() && in.message_id == event.event_id,
                  "the message id is not the webhookEventId");
    fuzz::require(!in.chat.chat_id.empty() && !in.sender_id.empty(), "a message without ids");
    fuzz::require(in.chat.is_group != event.one_to_one, "group facts disagree");
    fuzz::require(!in.chat.is_group ? !in.mentions_me : true, "a mention in a 1:1 chat");
    fuzz::require(fuzz::valid_utf8(in.text), "text is not valid UTF-8");
    fuzz::require(in.text.empty() || in.unsupported.empty(), "text and unsupported together");
    fuzz::require(!event.redelivery || event.reply_token.empty(), "a redelivery's token kept");
    const std::string reply = in.text.empty() ? std::string("ok") : in.text;
    fuzz::require(is_json_object(ln::reply_body(event.reply_token, {reply})),
                  "a reply body is no JSON object");
    fuzz::require(is_json_object(ln::push_body(in.chat.chat_id, {reply, reply})),
                  "a push body is no JSON object");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    auto body = ln::parse_webhook(text, "ln");
    if (!body.readable) fuzz::require(body.events.empty(), "events from an unreadable body");
    for (const auto& event : body.events) check_event(event);
    const int status = size > 0 ? 200 + (data[0] % 4) * 100 + (data[0] % 30) : 200;
    auto answer = ln::classify(status, text, text.substr(0, 3));
    if (!answer.ok) fuzz::require(!answer.failure.detail.empty(), "a failure without detail");
    // A signature over other bytes never passes; a header made of the input neither.
    const std::string signature = ln::sign("secret", "{}");
    if (text != "{}")
        fuzz::require(!ln::signature_valid("secret", signature, text),
                      "a signature accepted for another body");
    fuzz::require(!ln::signature_valid("secret", text, "{}") || text == signature,
                  "a forged header accepted");
    return 0;
}
