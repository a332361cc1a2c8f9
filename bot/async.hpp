// Small thread-safe async primitives that coroutines on any executor can await:
// a multi-producer queue and a counting semaphore. Completions are always posted to the
// awaiting coroutine's executor, never run inline on the producer's thread.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace bot {
namespace net = boost::asio;

namespace detail {
// Turns a completion handler into a copyable callable that posts the completion to the
// handler's own executor (the awaiting coroutine's), never running it inline.
template <class... Args, class Handler>
std::function<void(Args...)> make_posting_completion(Handler handler) {
    auto executor = net::get_associated_executor(handler, net::system_executor());
    auto shared = std::make_shared<Handler>(std::move(handler));
    return [executor, shared](Args... args) {
        net::post(executor, [shared, ... a = std::move(args)]() mutable {
            std::move (*shared)(std::move(a)...);
        });
    };
}
}  // namespace detail

// Suspends the calling coroutine for duration (nothing when it is not positive).
inline net::awaitable<void> sleep_for(std::chrono::steady_clock::duration duration) {
    if (duration <= duration.zero()) co_return;
    net::steady_timer timer(co_await net::this_coro::executor, duration);
    co_await timer.async_wait(net::use_awaitable);
}

// The wait before retry number `attempt` (0-based): first * 2^attempt, at most `most`, then a
// random point in its upper half, so clients that failed together do not retry together.
std::chrono::milliseconds backoff_delay(std::chrono::milliseconds first,
                                        std::chrono::milliseconds most, int attempt);

// Unbounded queue; push() never blocks, so it may be called from callbacks on any thread.
// One consumer at a time awaits pop(); nullopt means closed and drained.
template <class T>
class AsyncQueue {
public:
    void push(T value) {
        std::unique_lock lock(mutex_);
        if (closed_) return;
        if (waiter_) {
            auto complete = std::exchange(waiter_, nullptr);
            lock.unlock();
            complete(std::optional<T>(std::move(value)));
            return;
        }
        items_.push_back(std::move(value));
    }

    // Like push, but an item still waiting in the queue may absorb the new one: merge(back,
    // value) returns true when it did. A slow consumer then gets one combined item instead
    // of one wake-up per item.
    template <class Merge>
    void push_or_merge(T value, Merge merge) {
        {
            std::lock_guard lock(mutex_);
            if (!items_.empty() && merge(items_.back(), value)) return;
        }
        push(std::move(value));
    }

    void close() {
        std::unique_lock lock(mutex_);
        closed_ = true;
        if (waiter_ && items_.empty()) {
            auto complete = std::exchange(waiter_, nullptr);
            lock.unlock();
            complete(std::nullopt);
        }
    }

    net::awaitable<std::optional<T>> pop() {
        return net::async_initiate<const net::use_awaitable_t<>, void(std::optional<T>)>(
            [this](auto handler) {
                auto complete =
                    detail::make_posting_completion<std::optional<T>>(std::move(handler));
                std::unique_lock lock(mutex_);
                if (!items_.empty()) {
                    std::optional<T> value(std::move(items_.front()));
                    items_.pop_front();
                    lock.unlock();
                    complete(std::move(value));
                } else if (closed_) {
                    lock.unlock();
                    complete(std::nullopt);
                } else {
                    waiter_ = std::move(complete);
                }
            },
            net::use_awaitable);
    }

private:
    std::mutex mutex_;
    std::deque<T> items_;
    std::function<void(std::optional<T>)> waiter_;
    bool closed_ = false;
};

// Counting semaphore; acquire() returns a permit that releases on destruction, so an
// exception or early co_return can never leak a slot.
class AsyncSemaphore {
public:
    explicit AsyncSemaphore(std::size_t permits) : available_(permits) {}

    class Permit {
    public:
        Permit() = default;
        explicit Permit(AsyncSemaphore* owner) : owner_(owner) {}
        Permit(Permit&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
        Permit& operator=(Permit&& other) noexcept {
            if (this != &other) {
                reset();
                owner_ = std::exchange(other.owner_, nullptr);
            }
            return *this;
        }
        ~Permit() { reset(); }
        void reset() {
            if (owner_) std::exchange(owner_, nullptr)->release();
        }

    private:
        AsyncSemaphore* owner_ = nullptr;
    };

    net::awaitable<Permit> acquire() {
        co_await net::async_initiate<const net::use_awaitable_t<>, void()>(
            [this](auto handler) {
                auto complete = detail::make_posting_completion<>(std::move(handler));
                std::unique_lock lock(mutex_);
                if (available_ > 0) {
                    --available_;
                    lock.unlock();
                    complete();
                } else {
                    waiters_.push_back(std::move(complete));
                }
            },
            net::use_awaitable);
        co_return Permit(this);
    }

private:
    void release() {
        std::unique_lock lock(mutex_);
        if (waiters_.empty()) {
            ++available_;
            return;
        }
        auto complete = std::move(waiters_.front());
        waiters_.pop_front();
        lock.unlock();
        complete();  // the permit passes straight on
    }

    mutable std::mutex mutex_;
    std::size_t available_;
    std::deque<std::function<void()>> waiters_;
};

}  // namespace bot
