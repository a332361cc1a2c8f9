// Slack's network bytes (adapters/slack/slack_codec.*): a Socket Mode envelope, an Events API
// body and the event_callback inside either never throw; a message they accept has a chat,
// a sender, a message id that decodes back to its channel (and no colon-splitting surprises),
// UTF-8 text or an unsupported kind, group facts that agree, and its reply bodies and the
// envelope's acknowledgement are JSON objects; the text the LLM reads never keeps the bot's
// mention; Web API answers are classified whatever their body, and the signature check
// refuses what it did not sign.
#include "fuzz_support.hpp"
#include "slack/slack_codec.hpp"

#include <boost/json/parse.hpp>

namespace sl = bot::adapters::slack;

namespace {

const sl::BotIdentity kMe{.user_id = "U111", .bot_id = "B111", .team_id = "T111"};

bool is_json_object(const std::string& text) {
    boost::system::error_code error;
    auto parsed = boost::json::parse(text, error);
    return !error && parsed.is_object();
}

void check_event(const sl::ParsedEvent& event) {
    if (event.kind != sl::ParsedEvent::Kind::message) {
        fuzz::require(!event.reason.empty(), "a skipped event without a reason");
        return;
    }
    const auto& in = event.inbound;
    fuzz::require(!in.chat.chat_id.empty() && !in.sender_id.empty(), "a message without ids");
    fuzz::require(in.chat.is_group == in.mentions_me, "group facts disagree");
    fuzz::require(fuzz::valid_utf8(in.text), "text is not valid UTF-8");
    fuzz::require(in.text.find("<@U111>") == std::string::npos, "the bot's mention was kept");
    auto ref = sl::decode_message_id(in.message_id);
    fuzz::require(ref.has_value(), "a message id that does not decode");
    fuzz::require(ref->channel == in.chat.chat_id, "the message id names another channel");
    fuzz::require(sl::encode_message_id(*ref) == in.message_id,
                  "the message id does not round-trip");
    const std::string reply = in.text.empty() ? std::string("ok") : in.text;
    fuzz::require(is_json_object(sl::post_message_body(ref->channel, reply, ref->thread_ts)),
                  "a chat.postMessage body is no JSON object");
    fuzz::require(is_json_object(sl::update_body(ref->channel, ref->ts, reply)),
                  "a chat.update body is no JSON object");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    auto envelope = sl::parse_envelope(text, kMe, "sl");
    if (envelope.type == sl::Envelope::Type::events_api) check_event(envelope.event);
    fuzz::require(is_json_object(sl::envelope_ack(envelope.envelope_id)),
                  "an acknowledgement is no JSON object");
    check_event(sl::parse_event_callback(text, kMe, "sl"));
    auto body = sl::classify_events_body(text);
    if (body.kind == sl::EventsBody::Kind::url_verification)
        fuzz::require(!body.challenge.empty(), "a url_verification without its challenge");
    (void)sl::readable_text(text, "U111");
    (void)sl::decode_message_id(text);
    const int status = size > 0 ? 200 + (data[0] % 4) * 100 : 200;
    auto answer = sl::classify(status, text, text.substr(0, 3));
    if (!answer.ok) fuzz::require(!answer.failure.detail.empty(), "a failure without detail");
    // A signature over other bytes never passes (the timestamp is "now").
    const std::string signature = sl::sign_v0("secret", "1700000000", "{}");
    if (text != "{}")
        fuzz::require(sl::check_signature("secret", "1700000000", signature, text, 1700000000) !=
                          sl::SignCheck::ok,
                      "a signature accepted for another body");
    return 0;
}
