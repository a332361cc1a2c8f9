#include "wechat_mp/passive_engine.hpp"

#include <optional>

namespace bot::adapters::wechat_mp {

namespace {

constexpr std::chrono::seconds kSlotLifetime{60};  // far beyond WeChat's ~15 s of retries
constexpr std::chrono::seconds kDecideWithin{2};   // a waiting push takes an offer at once
constexpr std::chrono::hours kHoldAtMost{24 * 365};
constexpr std::string_view kSeparator = "\n\n";

// The held text with the notice that it answers an earlier message, when both fit.
std::string with_prefix(const std::string& prefix, const std::string& text, std::size_t max_bytes) {
    return prefix.size() + text.size() <= max_bytes ? prefix + text : text;
}

}  // namespace

// WeChat's next try comes right after it gave up on the previous push: by then plus a fifth
// of its timeout (network delay), or not at all.
PassiveEngine::Clock::time_point PassiveEngine::next_try_by(Clock::time_point push) const {
    return push + options_.platform_timeout + options_.platform_timeout / 5;
}

struct PassiveEngine::Offer {
    Offer(net::any_io_executor executor, std::string t)
        : text(std::move(t)), decided(std::move(executor)) {}
    std::string text;
    AsyncEvent decided;
    bool taken = false;  // written under the engine's mutex before decided is set
};

struct PassiveEngine::Slot {
    std::string msg_id, user;
    int pushes = 0;
    Clock::time_point first_push, last_push;
    bool closed = false;                  // the last try was answered: no passive reply left
    int answering = 0;                    // pushes between arrive() and their answer
    std::optional<std::string> answered;  // what a push carried (a retry carries it again)
    std::vector<std::string> carry;       // held texts this message's answer delivers
    std::shared_ptr<AsyncEvent> waiting;  // a push waits for an offer
    std::shared_ptr<Offer> offer;         // an offer waits for a push
};

PassiveEngine::PassiveEngine(net::any_io_executor executor, EngineOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {}

void PassiveEngine::sweep_locked(Clock::time_point now) {
    while (!by_age_.empty() && now - by_age_.front().first > kSlotLifetime) {
        auto it = slots_.find(by_age_.front().second);
        if (it != slots_.end() && it->second->first_push == by_age_.front().first) slots_.erase(it);
        by_age_.pop_front();
    }
}

std::size_t PassiveEngine::carried_bytes(const Slot& slot) {
    std::size_t used = 0;
    for (const auto& text : slot.carry) used += text.size() + kSeparator.size();
    return used;
}

bool PassiveEngine::carry_locked(Slot& slot, Offer& held) {
    auto text = with_prefix(options_.earlier_prefix, held.text, options_.max_bytes);
    if (!slot.carry.empty() && carried_bytes(slot) + text.size() > options_.max_bytes) return false;
    slot.carry.push_back(std::move(text));
    // Taken now, not when the push answers: a held text blocks its conversation's queue, and
    // the message this push belongs to can only be answered once it is released.
    held.taken = true;
    held.decided.set();
    return true;
}

void PassiveEngine::take_held_locked(Slot& slot) {
    auto it = held_.find(slot.user);
    if (it == held_.end()) return;
    auto& queue = it->second;
    while (!queue.empty() && carry_locked(slot, *queue.front())) queue.pop_front();
    if (queue.empty()) held_.erase(it);
}

std::shared_ptr<PassiveEngine::Slot> PassiveEngine::arrive(
    const std::string& msg_id, const std::string& user,
    std::chrono::system_clock::time_point created) {
    std::lock_guard lock(mutex_);
    auto now = Clock::now();
    sweep_locked(now);
    auto& slot = slots_[msg_id];
    if (!slot) {
        slot = std::make_shared<Slot>();
        slot->msg_id = msg_id;
        slot->user = user;
        slot->first_push = now;
        by_age_.emplace_back(now, msg_id);
    }
    if (!slot->closed && !slot->answered) take_held_locked(*slot);
    // Counted here, and also told by the message's age (WeChat tries every platform_timeout):
    // a restart or a try that never reached us must not make the real last try look like an
    // earlier one, which would leave it unanswered and show the user an error.
    ++slot->pushes;
    ++slot->answering;
    if (created.time_since_epoch().count() > 0) {
        // CreateTime has whole seconds (the age reads up to 1 s long) and tries drift a little
        // (half a try either way is tolerated).
        auto age = std::chrono::system_clock::now() - created - std::chrono::seconds(1) +
                   options_.platform_timeout / 2;
        auto by_age = 1 + std::max<std::int64_t>(0, age / options_.platform_timeout);
        slot->pushes = std::max(slot->pushes,
                                static_cast<int>(std::min<std::int64_t>(by_age, options_.tries)));
    }
    slot->last_push = now;
    return slot;
}

PushAnswer PassiveEngine::reply_locked(Slot& slot, const std::string& own) {
    std::string text;
    for (const auto& held : slot.carry) {
        if (!text.empty()) text.append(kSeparator);
        text.append(held);
    }
    slot.carry.clear();
    if (!own.empty()) {
        if (!text.empty()) text.append(kSeparator);
        text.append(own);
    }
    slot.answered = text;
    return PushAnswer{.kind = PushAnswer::Kind::reply, .text = std::move(text), .drop_at = {}};
}

net::awaitable<PushAnswer> PassiveEngine::answer(std::shared_ptr<Slot> slot,
                                                 std::string final_notice) {
    auto take_offer = [&]() -> std::optional<PushAnswer> {
        if (!slot->offer) return std::nullopt;
        auto offer = std::exchange(slot->offer, nullptr);
        offer->taken = carried_bytes(*slot) + offer->text.size() <= options_.max_bytes;
        offer->decided.set();
        return reply_locked(*slot, offer->taken ? offer->text : std::string());
    };

    // (Declared before the locks below, so it runs after they are released.)
    struct Settled {
        PassiveEngine& engine;
        Slot& slot;
        ~Settled() {
            std::lock_guard lock(engine.mutex_);
            --slot.answering;
        }
    } settled{*this, *slot};

    std::shared_ptr<AsyncEvent> event;
    Clock::time_point arrived;
    int number = 0;
    {
        std::lock_guard lock(mutex_);
        if (slot->answered) {
            // WeChat tried again although a push already carried the reply: that response
            // was lost on the way, so this one carries it again.
            co_return PushAnswer{
                .kind = PushAnswer::Kind::reply, .text = *slot->answered, .drop_at = {}};
        }
        if (slot->closed) co_return PushAnswer{};
        if (auto answer = take_offer()) co_return *answer;
        event = std::make_shared<AsyncEvent>(executor_);
        slot->waiting = event;
        arrived = slot->last_push;
        number = slot->pushes;
    }
    co_await event->wait_until(arrived + options_.platform_timeout - options_.margin);

    std::lock_guard lock(mutex_);
    if (slot->waiting == event) slot->waiting.reset();
    if (slot->answered) {
        co_return PushAnswer{
            .kind = PushAnswer::Kind::reply, .text = *slot->answered, .drop_at = {}};
    }
    if (auto answer = take_offer()) co_return *answer;
    if (number < options_.tries && !slot->closed) {
        // WeChat will try again once it gives up on this connection; answering anything now
        // would end its retries.
        co_return PushAnswer{
            .kind = PushAnswer::Kind::drop, .text = {}, .drop_at = next_try_by(arrived)};
    }
    slot->closed = true;
    if (slot->carry.empty() && final_notice.empty()) co_return PushAnswer{};
    auto answer = reply_locked(*slot, {});
    if (!final_notice.empty() &&
        answer.text.size() + kSeparator.size() + final_notice.size() <= options_.max_bytes) {
        if (!answer.text.empty()) answer.text.append(kSeparator);
        answer.text.append(final_notice);
        slot->answered = answer.text;
    }
    co_return answer;
}

net::awaitable<bool> PassiveEngine::offer(std::string msg_id, std::string text) {
    std::shared_ptr<Slot> slot;
    std::shared_ptr<Offer> offer;
    Clock::time_point deadline;
    {
        std::lock_guard lock(mutex_);
        auto it = slots_.find(msg_id);
        if (stopped_ || it == slots_.end()) co_return false;
        slot = it->second;
        if (slot->closed || slot->answered) co_return false;
        auto now = Clock::now();
        if (slot->waiting) {
            deadline = now + kDecideWithin;
        } else if (slot->answering > 0) {
            deadline = next_try_by(slot->last_push);  // a push is on its way to answer()
        } else if (!push_expected_locked(*slot, now)) {
            co_return false;
        } else {
            deadline = next_try_by(slot->last_push);
        }
        offer = std::make_shared<Offer>(executor_, std::move(text));
        slot->offer = offer;
        if (slot->waiting) slot->waiting->set();
    }
    co_await offer->decided.wait_until(deadline);
    std::lock_guard lock(mutex_);
    if (slot->offer == offer) slot->offer.reset();
    co_return offer->taken;
}

bool PassiveEngine::push_expected_locked(const Slot& slot, Clock::time_point now) const {
    // WeChat tries again right after it gives up on the previous push, if it has tries left.
    return slot.pushes < options_.tries && now < next_try_by(slot.last_push);
}

net::awaitable<bool> PassiveEngine::hold(std::string msg_id, std::string user, std::string text) {
    std::shared_ptr<Offer> offer;
    {
        std::lock_guard lock(mutex_);
        if (stopped_) co_return false;
        offer = std::make_shared<Offer>(executor_, std::move(text));
        // A newer message of the user whose pushes are still to be answered carries it at
        // once: that message waits behind this one in the user's conversation.
        auto now = Clock::now();
        std::shared_ptr<Slot> newest;
        for (auto& [id, slot] : slots_) {
            bool live = !slot->closed && !slot->answered &&
                        (slot->waiting || slot->answering > 0 || push_expected_locked(*slot, now));
            if (id != msg_id && slot->user == user && live &&
                (!newest || slot->last_push > newest->last_push)) {
                newest = slot;
            }
        }
        if (newest && carry_locked(*newest, *offer)) co_return true;
        held_[user].push_back(offer);
    }
    co_await offer->decided.wait_until(Clock::now() + kHoldAtMost);
    std::lock_guard lock(mutex_);
    co_return offer->taken;
}

void PassiveEngine::stop() {
    std::vector<std::shared_ptr<Offer>> released;
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        for (auto& [user, queue] : held_) {
            released.insert(released.end(), queue.begin(), queue.end());
        }
        held_.clear();
    }
    for (auto& offer : released) offer->decided.set();
}

std::size_t PassiveEngine::slots() const {
    std::lock_guard lock(mutex_);
    return slots_.size();
}

std::size_t PassiveEngine::held() const {
    std::lock_guard lock(mutex_);
    std::size_t count = 0;
    for (const auto& [user, queue] : held_) count += queue.size();
    return count;
}

}  // namespace bot::adapters::wechat_mp
