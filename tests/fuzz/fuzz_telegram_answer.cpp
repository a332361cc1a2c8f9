// A Bot API answer (adapters/telegram/telegram_codec.* parse_api_answer, sent_message_id.*):
// no exception. sent_message_id promises to read the message id as the tree would, so the two
// readers are checked against each other.
#include "base/json_fields.hpp"
#include "fuzz_support.hpp"
#include "telegram/sent_message_id.hpp"
#include "telegram/telegram_codec.hpp"

namespace tg = bot::adapters::telegram;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    static constexpr int kStatuses[] = {200, 400, 429, 500, 0, 201, 403, 302};
    const int status = kStatuses[data[0] & 7];
    const auto body = fuzz::as_text(data + 1, size - 1);
    auto answer = tg::parse_api_answer(status, body, (data[0] & 8) ? "7" : "");
    fuzz::require(answer.retry_after.count() >= 0 && answer.retry_after <= tg::kMaxRetryAfter,
                  "a retry_after out of bounds");
    (void)tg::to_send_error(answer);
    (void)tg::not_modified(answer);

    if (auto fast = tg::sent_message_id(body)) {
        bot::ScratchJson<> tree;
        const auto* object = tree.parse_object(body);
        fuzz::require(object != nullptr, "sent_message_id read something that is not an object");
        fuzz::require(bot::bool_field(*object, "ok"), "sent_message_id without ok: true");
        const auto* result = bot::object_field(*object, "result");
        fuzz::require(result != nullptr, "sent_message_id without a result object");
        fuzz::require(bot::int_field(*result, "message_id") == *fast,
                      "sent_message_id differs from the tree's message_id");
    }
    return 0;
}
