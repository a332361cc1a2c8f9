// WhatsApp Cloud API network bytes (adapters/whatsapp/whatsapp_codec.*): a webhook body never
// throws; a message it accepts is for our phone number, has its wamid as message id, a 1:1
// chat that is its sender, UTF-8 text or an unsupported kind (never both), and a JSON send
// body; Graph API answers are classified whatever their body; the X-Hub-Signature-256 check
// refuses what it did not sign.
#include "fuzz_support.hpp"
#include "whatsapp/whatsapp_codec.hpp"

#include <boost/json/parse.hpp>

namespace wa = bot::adapters::whatsapp;

namespace {

bool is_json_object(const std::string& text) {
    boost::system::error_code error;
    auto parsed = boost::json::parse(text, error);
    return !error && parsed.is_object();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    auto body = wa::parse_webhook(text, "106540352242922", "wa");
    if (!body.readable) fuzz::require(body.messages.empty(), "messages from an unreadable body");
    for (const auto& message : body.messages) {
        if (message.kind != wa::WaMessage::Kind::message) {
            fuzz::require(!message.reason.empty(), "a skipped message without a reason");
            continue;
        }
        const auto& in = message.inbound;
        fuzz::require(!message.id.empty() && in.message_id == message.id, "message id != wamid");
        fuzz::require(!in.chat.chat_id.empty() && in.chat.chat_id == in.sender_id,
                      "a chat that is not its sender");
        fuzz::require(!in.chat.is_group && !in.mentions_me, "group facts on a 1:1 message");
        fuzz::require(fuzz::valid_utf8(in.text), "text is not valid UTF-8");
        fuzz::require(in.text.empty() != in.unsupported.empty(), "neither or both text and kind");
        fuzz::require(
            is_json_object(wa::text_body(in.chat.chat_id, in.text.empty() ? "ok" : in.text)),
            "a send body is no JSON object");
        fuzz::require(is_json_object(wa::read_body(message.id, true)),
                      "a read body is no JSON object");
    }
    const int status = size > 0 ? 200 + (data[0] % 4) * 100 + (data[0] % 30) : 200;
    auto answer = wa::classify(status, text, text.substr(0, 3));
    if (!answer.ok) fuzz::require(!answer.failure.detail.empty(), "a failure without detail");
    const std::string signature = wa::sign("secret", "{}");
    if (text != "{}")
        fuzz::require(!wa::signature_valid("secret", signature, text),
                      "a signature accepted for another body");
    fuzz::require(!wa::signature_valid("secret", text, "{}") || text == signature,
                  "a forged header accepted");
    fuzz::require(
        !wa::subscription_valid("subscribe", text, "verify-token") || text == "verify-token",
        "a wrong verify token accepted");
    return 0;
}
