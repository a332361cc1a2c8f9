// streaming: "card" — what a Feishu user sees while the bot thinks: a card appears at once as
// the reply to their message ("…"), and its text grows as the LLM writes. The streamed
// updates are cosmetic and bounded (one per card per `interval`, and within a per-chat budget
// shared with every other call into that chat, under Feishu's 5 QPS per chat); the final text
// is written by the outbox through send() -> finish(), serialised with the updates and with a
// higher sequence, so a failed final update is retried like any send and never lost.
#pragma once

#include "base/rate_limit.hpp"
#include "base/string_map.hpp"
#include "bot/adapter.hpp"
#include "feishu/feishu_api.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace bot::adapters::feishu {

struct CardOptions {
    std::chrono::milliseconds interval{500};  // between two updates of one card
    double chat_calls_per_second = 5;         // all calls into one chat (reply.md: 5 QPS)
    TextLimit max_text;                       // the card shows the first part only
};

// Where a card is, for the final update (also read back from deps.state after a restart).
struct CardRef {
    std::string card_id;
    std::string message_id;     // the reply message carrying the card
    std::int64_t sequence = 0;  // the next sequence to use
};
std::string encode_card_ref(const CardRef& ref);
std::optional<CardRef> decode_card_ref(std::string_view text);

inline constexpr const char* kCardElement = "answer";
inline constexpr const char* kCardStateKind = "feishu_card";

class CardStreams {
public:
    CardStreams(net::any_io_executor executor, FeishuApi& api, AdapterState& state, Logger& log,
                std::string adapter_id, CardOptions options);

    struct Card;
    using Handle = std::shared_ptr<Card>;

    // Registers a message about to be submitted; null when it is already followed (a
    // redelivery).
    Handle expect(const std::string& chat_id, const std::string& message_id);
    // The message was accepted: shows the card and follows the reply (detached).
    void follow(Handle card, ReplyWatch watch);
    // Not accepted (duplicate, ignored, failed): nothing to show.
    void drop(const Handle& card);

    // For the final send of message_id's reply: stops the streamed updates (waiting for one in
    // flight and for the card's creation) and returns where the card is, with a sequence above
    // every streamed update; nullopt when there is no card (then reply with text).
    net::awaitable<std::optional<CardRef>> finish(const std::string& message_id);
    // The final text reached the card: forget it (and its durable record).
    net::awaitable<void> delivered(const std::string& message_id);

    // Counts the call against chat_id's budget; false when over it (cosmetic calls skip).
    bool try_take(const std::string& chat_id);
    void take(const std::string& chat_id);  // for calls that go anyway (the final text)

    std::size_t active() const;

private:
    net::awaitable<void> stream(Handle card, ReplyWatch watch);
    net::awaitable<bool> show_card(Card& card);
    net::awaitable<void> update(Card& card, const std::string& text);

    net::any_io_executor executor_;
    FeishuApi& api_;
    AdapterState& state_;
    Logger& log_;
    std::string id_;
    CardOptions options_;
    mutable std::mutex mutex_;
    StringMap<Handle> cards_;
    TokenBuckets budget_;  // under mutex_
};

}  // namespace bot::adapters::feishu
