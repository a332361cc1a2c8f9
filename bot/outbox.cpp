#include "bot/outbox.hpp"

#include "base/log.hpp"
#include "base/text_split.hpp"

#include <algorithm>

namespace bot {

net::awaitable<void> Outbox::deliver(storage::OutboxRow row) {
    auto found = adapters_.find(row.key.adapter_id);
    if (found == adapters_.end()) {
        log_.error("outbox", "reply ", row.id, ": adapter '", row.key.adapter_id,
                   "' is not configured; reply marked failed");
        co_await store_.mark_attempt_failed(row.id, "adapter not configured", true);
        co_return;
    }
    Adapter& adapter = *found->second;
    auto parts = split_text(row.text, adapter.capabilities().max_text);
    if (parts.empty()) parts.emplace_back("…");  // never deliver nothing: the user waits for it
    const int total = static_cast<int>(parts.size());

    for (int index = std::clamp(row.parts_sent, 0, total); index < total; ++index) {
        int attempt = 0;
        for (;;) {
            Outbound message{.chat = {.adapter_id = row.key.adapter_id,
                                      .chat_id = row.key.chat_id,
                                      .is_group = row.is_group},
                             .user_id = row.key.user_id,
                             .reply_to = row.reply_to,
                             .text = parts[index],
                             .part = index + 1,
                             .parts = total};
            auto result = co_await adapter.send(std::move(message));
            if (result) break;
            const SendError& error = result.error();
            ++attempt;
            bool permanent = error.kind == SendError::Kind::unauthorized ||
                             error.kind == SendError::Kind::bad_request ||
                             attempt >= options_.max_attempts;
            log_.warn("outbox", "reply ", row.id, " part ", index + 1, "/", total, " via '",
                      row.key.adapter_id, "' failed (attempt ", attempt, "): ", error.detail,
                      permanent ? "; giving up" : "; will retry");
            co_await store_.mark_attempt_failed(row.id, error.detail, permanent);
            if (permanent) co_return;
            auto wait = backoff_delay(options_.first_backoff, options_.max_backoff, attempt - 1);
            if (error.kind == SendError::Kind::rate_limited) {
                wait = std::max<std::chrono::milliseconds>(wait, error.retry_after);
            }
            co_await sleep_for(wait);
        }
        if (index + 1 < total) co_await store_.mark_parts_sent(row.id, index + 1);
    }
    co_await store_.mark_delivered(row.id);
}

}  // namespace bot
