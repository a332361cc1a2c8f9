// The 5-second engine of the Official Account adapter. WeChat waits ~5 s for the answer to each
// push and tries a message 3 times in all; the answer is free and needs no permission only as
// the HTTP response to one of those pushes (a "passive reply"). The engine pairs the two
// sides: pushes of a MsgId wait for the reply part the outbox offers for that MsgId, and an
// offer waits for a push that can carry it.
//
//   push ──arrive()──► slot(MsgId) ◄──offer()── outbox (Adapter::send)
//          answer(): waits up to answer_within; then
//            reply   the offered text (or one a lost earlier response carried: WeChat retried)
//            drop    no answer yet and WeChat will try again: close without a response
//            final   last try: empty ack (the reply goes out by the customer-service API) or,
//                    in next-message mode, a notice
//   offer(): true when a push carried the text; false when no push can anymore (the caller
//            uses the customer-service API, or hold()).
//   hold():  keeps a text for the user's next message (accounts without the customer-service
//            API, or when its quota or 48 h window is spent); that message's push carries it.
#pragma once

#include "base/async.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace bot::adapters::wechat_mp {

struct EngineOptions {
    std::chrono::milliseconds platform_timeout{5000};  // WeChat's wait for each push
    std::chrono::milliseconds margin{500};             // answer this much before it ends
    int tries = 3;                                     // pushes per message
    std::size_t max_bytes = 2048;                      // one passive text, UTF-8 bytes
    std::string earlier_prefix;  // before a held text delivered with a later message
};

struct PushAnswer {
    enum class Kind { reply, ack, drop };
    Kind kind = Kind::ack;
    std::string text;                               // reply
    std::chrono::steady_clock::time_point drop_at;  // drop: when WeChat has given up
};

class PassiveEngine {
public:
    using Clock = std::chrono::steady_clock;
    struct Slot;

    PassiveEngine(net::any_io_executor executor, EngineOptions options);

    // A push of msg_id from user arrived. Call before submitting the message, so that a reply
    // produced at once finds the push waiting.
    // created: the message's CreateTime (epoch 0 if unknown), which tells which try this is
    // when the count kept in memory cannot (after a restart, or a try that never arrived).
    std::shared_ptr<Slot> arrive(const std::string& msg_id, const std::string& user,
                                 std::chrono::system_clock::time_point created = {});
    // What the push answers. final_notice: the last try's answer when no reply is ready
    // (empty: an empty ack).
    net::awaitable<PushAnswer> answer(std::shared_ptr<Slot> slot, std::string final_notice);

    // (Coroutines take their arguments by value: a caller may start one and let its strings go.)
    net::awaitable<bool> offer(std::string msg_id, std::string text);
    // The reply to msg_id, for user's next message; false only when the engine stops first.
    net::awaitable<bool> hold(std::string msg_id, std::string user, std::string text);
    void stop();

    std::size_t slots() const;
    std::size_t held() const;

private:
    struct Offer;
    PushAnswer reply_locked(Slot& slot, const std::string& own);
    void sweep_locked(Clock::time_point now);
    void take_held_locked(Slot& slot);
    bool carry_locked(Slot& slot, Offer& held);
    static std::size_t carried_bytes(const Slot& slot);
    bool push_expected_locked(const Slot& slot, Clock::time_point now) const;
    Clock::time_point next_try_by(Clock::time_point push) const;

    net::any_io_executor executor_;
    EngineOptions options_;
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<Slot>, std::less<>> slots_;
    std::deque<std::pair<Clock::time_point, std::string>> by_age_;
    std::map<std::string, std::deque<std::shared_ptr<Offer>>, std::less<>> held_;  // by user
    bool stopped_ = false;
};

}  // namespace bot::adapters::wechat_mp
