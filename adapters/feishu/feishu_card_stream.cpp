#include "feishu/feishu_card_stream.hpp"

#include "base/json_fields.hpp"
#include "base/json_text.hpp"
#include "base/log.hpp"
#include "base/text_split.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>

namespace bot::adapters::feishu {

namespace {

using Clock = std::chrono::steady_clock;

// A card nobody finished within this long (the reply failed for good) is forgotten.
constexpr std::chrono::hours kForgetAfter{2};
// After a restart the streamed updates since the card's record are unknown; they number at
// most one per interval for the watch's 10 minutes (1,200 at 500 ms). The final update jumps
// well above them.
constexpr std::int64_t kRestartSequenceJump = 1'000'000;
// Buckets of idle chats are forgotten; this bounds the map however many chats write.
constexpr std::size_t kBudgetChats = 100'000;

// Idempotency keys: Feishu takes at most 50 characters for a message uuid (reply.md).
std::string key_of(std::string_view prefix, std::string_view id) {
    return std::string(prefix).append(id.substr(0, 50 - prefix.size()));
}

}  // namespace

std::string encode_card_ref(const CardRef& ref) {
    return dump_json(
        {{"card_id", ref.card_id}, {"message_id", ref.message_id}, {"sequence", ref.sequence}});
}

std::optional<CardRef> decode_card_ref(std::string_view text) {
    ScratchJson<512> scratch;
    const auto* document = scratch.parse_object(text);
    if (!document) return std::nullopt;
    CardRef ref{.card_id = string_field(*document, "card_id"),
                .message_id = string_field(*document, "message_id"),
                .sequence = int_field(*document, "sequence")};
    if (ref.card_id.empty() || ref.sequence <= 0) return std::nullopt;
    return ref;
}

struct CardStreams::Card {
    std::string chat_id;
    std::string message_id;  // the user's message
    Clock::time_point started = Clock::now();
    AsyncSemaphore turn{1};             // one call on the card at a time
    std::atomic<bool> finished{false};  // the final text is being written (under turn)
    bool given_up = false;              // a streamed update failed: no more (under turn)
    bool persisted = false;             // its CardRef is in deps.state (under turn)
    std::string card_id;                // empty: no card (not yet, or creation failed)
    std::string card_message_id;
    std::int64_t sequence = 1;  // the next one (under turn)
    std::string shown;          // the text on the card (under turn)
    // The turn, taken in expect() (before the message is submitted) and held until the card is
    // shown or dropped: a final send racing ahead of stream() waits for the card.
    std::optional<AsyncSemaphore::Permit> creating;
};

CardStreams::CardStreams(net::any_io_executor executor, FeishuApi& api, AdapterState& state,
                         Logger& log, std::string adapter_id, CardOptions options)
    : executor_(std::move(executor)),
      api_(api),
      state_(state),
      log_(log),
      id_(std::move(adapter_id)),
      options_(options),
      budget_(options.chat_calls_per_second * 60, std::max(1.0, options.chat_calls_per_second),
              kBudgetChats) {}

CardStreams::Handle CardStreams::expect(const std::string& chat_id, const std::string& message_id) {
    auto card = std::make_shared<Card>();
    card->chat_id = chat_id;
    card->message_id = message_id;
    card->creating = card->turn.try_acquire();  // (a new card: always free)
    std::lock_guard lock(mutex_);
    if (cards_.size() >= 1024 && cards_.size() % 1024 == 0) {
        auto horizon = Clock::now() - kForgetAfter;
        std::erase_if(cards_, [&](const auto& entry) { return entry.second->started < horizon; });
    }
    if (!cards_.emplace(message_id, card).second) return nullptr;
    return card;
}

void CardStreams::follow(Handle card, ReplyWatch watch) {
    net::co_spawn(executor_, stream(std::move(card), std::move(watch)), net::detached);
}

void CardStreams::drop(const Handle& card) {
    card->creating.reset();
    std::lock_guard lock(mutex_);
    auto it = cards_.find(card->message_id);
    if (it != cards_.end() && it->second == card) cards_.erase(it);
}

std::size_t CardStreams::active() const {
    std::lock_guard lock(mutex_);
    return cards_.size();
}

bool CardStreams::try_take(const std::string& chat_id) {
    std::lock_guard lock(mutex_);
    return budget_.try_take(chat_id, Clock::now());
}

void CardStreams::take(const std::string& chat_id) {
    std::lock_guard lock(mutex_);
    budget_.take(chat_id, Clock::now());
}

net::awaitable<void> CardStreams::stream(Handle card, ReplyWatch watch) {
    {
        auto permit = std::move(card->creating);  // held since expect()
        if (!card->finished) co_await show_card(*card);
    }
    std::string text;
    auto last = Clock::now();
    for (;;) {
        ReplyEvent event = co_await watch.next();
        if (event.kind != ReplyEvent::Kind::delta) break;  // done or timeout: the outbox follows
        text += event.text;
        if (card->finished) continue;
        auto now = Clock::now();
        if (now - last < options_.interval) continue;
        last = now;
        co_await update(*card, text);
    }
}

// Under the card's turn: creates the card and replies with it, so the user sees at once that
// the bot is writing. Any failure leaves no card: the final text then goes as a text reply.
net::awaitable<bool> CardStreams::show_card(Card& card) {
    if (!try_take(card.chat_id)) co_return false;  // a busy chat: the text comes at the end
    auto created = co_await api_.create_card(create_card_body(kCardElement, "…"));
    if (!created) {
        log_.warn("feishu", "'", id_, "': no streaming card (", created.error().detail,
                  "); the reply comes as text");
        co_return false;
    }
    auto sent = co_await api_.reply(card.message_id,
                                    card_reply_body(*created, key_of("card-", card.message_id)));
    if (!sent) {
        log_.warn("feishu", "'", id_, "': the streaming card was not sent (", sent.error().detail,
                  "); the reply comes as text");
        co_return false;
    }
    card.card_id = std::move(*created);
    card.card_message_id = std::move(*sent);
    // Kept durably, so the final text still reaches this card after a restart.
    // (A named value: g++ 12 double-frees aggregate temporaries in co_await arguments.)
    const CardRef ref{
        .card_id = card.card_id, .message_id = card.card_message_id, .sequence = card.sequence};
    std::string record = encode_card_ref(ref);
    try {
        co_await state_.put(kCardStateKind, card.message_id, std::move(record));
        card.persisted = true;
    } catch (const std::exception& error) {
        log_.warn("feishu", "'", id_, "': could not record a card: ", error.what());
    }
    co_return true;
}

net::awaitable<void> CardStreams::update(Card& card, const std::string& text) {
    if (card.card_id.empty()) co_return;
    auto parts = split_text(text, options_.max_text);  // the card shows the first part
    if (parts.empty()) co_return;
    if (!try_take(card.chat_id)) co_return;  // cosmetic: skipped, never queued
    auto permit = co_await card.turn.acquire();
    if (card.finished || card.given_up || parts.front() == card.shown) co_return;
    std::int64_t sequence = card.sequence++;
    auto result = co_await api_.update_card_text(
        card.card_id, kCardElement,
        card_content_body(parts.front(), sequence,
                          key_of("s" + std::to_string(sequence) + "-", card.card_id)));
    if (!result) {
        log_.debug("feishu", "'", id_, "': a streamed card update failed (", result.error().detail,
                   "); the final text still comes");
        card.given_up = true;
        co_return;
    }
    card.shown = std::move(parts.front());
}

net::awaitable<std::optional<CardRef>> CardStreams::finish(const std::string& message_id) {
    Handle card;
    {
        std::lock_guard lock(mutex_);
        if (auto it = cards_.find(message_id); it != cards_.end()) card = it->second;
    }
    if (!card) {
        // After a restart: the card shown before it, if any.
        std::optional<std::string> stored;
        try {
            stored = co_await state_.get(kCardStateKind, message_id);
        } catch (const std::exception&) {
        }
        auto ref = stored ? decode_card_ref(*stored) : std::nullopt;
        if (!ref) co_return std::nullopt;
        card = std::make_shared<Card>();
        card->message_id = message_id;
        card->card_id = ref->card_id;
        card->card_message_id = ref->message_id;
        card->sequence = ref->sequence + kRestartSequenceJump;
        card->persisted = true;
        std::lock_guard lock(mutex_);
        card = cards_.emplace(message_id, card).first->second;
    }
    auto permit = co_await card->turn.acquire();
    card->finished = true;
    if (card->card_id.empty()) {
        drop(card);
        co_return std::nullopt;
    }
    CardRef ref{
        .card_id = card->card_id, .message_id = card->card_message_id, .sequence = card->sequence};
    card->sequence += 2;  // the text, then the settings; a retry goes above both
    co_return ref;
}

net::awaitable<void> CardStreams::delivered(const std::string& message_id) {
    Handle card;
    {
        std::lock_guard lock(mutex_);
        auto it = cards_.find(message_id);
        if (it == cards_.end()) co_return;
        card = std::move(it->second);
        cards_.erase(it);
    }
    if (!card->persisted) co_return;
    try {
        co_await state_.erase(kCardStateKind, message_id);
    } catch (const std::exception& error) {
        log_.debug("feishu", "'", id_, "': could not forget a card: ", error.what());
    }
}

}  // namespace bot::adapters::feishu
