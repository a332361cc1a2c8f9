// A Telegram webhook body or getUpdates entry (adapters/telegram/telegram_codec.*): parse_update
// declares no exception at all; a body that is not an object is nullopt.
#include "fuzz_support.hpp"
#include "telegram/telegram_codec.hpp"

namespace tg = bot::adapters::telegram;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The identity the fixtures (tests/adapters/testdata/telegram) are written for.
    static const tg::BotIdentity me{.id = 123456, .username = "contact_test_bot"};
    static const std::string adapter_id = "tg";
    const auto body = fuzz::as_text(data, size);
    auto parsed = tg::parse_update(body, me, adapter_id);
    if (!parsed || parsed->kind != tg::ParsedUpdate::Kind::message) return 0;
    const bot::Inbound& inbound = parsed->inbound;
    fuzz::require(!inbound.message_id.empty() && !inbound.chat.chat_id.empty(),
                  "a message without ids");
    fuzz::require(tg::parse_chat(inbound.chat.chat_id).has_value(), "chat id does not read back");
    fuzz::require(tg::message_number(inbound.message_id).has_value(),
                  "message id does not read back");
    // Boost.JSON accepts only valid UTF-8: removing mentions must not cut a character.
    fuzz::require(fuzz::valid_utf8(inbound.text), "text is not valid UTF-8");
    fuzz::require(inbound.text.empty() || inbound.unsupported.empty(), "text and unsupported");
    return 0;
}
