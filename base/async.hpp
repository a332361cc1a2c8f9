// Small thread-safe async primitives that coroutines on any executor can await:
// a multi-producer queue, a counting semaphore and a one-shot event. Completions are always posted
// to the awaiting coroutine's executor, never run inline on the producer's thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
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

// A strand over the executor, type-erased. When the executor is an io_context's (it always
// is in the server), the strand is made over that concrete executor: it then fits inside
// any_io_executor's small buffer, where a strand over an any_io_executor does not and becomes
// a reference-counted heap object whose atomic count every asynchronous operation on the
// strand touches (perf: ~6 % of the server's CPU under load). An io_context made for one thread
// (concurrency hint 1) gets no strand at all: its handlers never run concurrently anyway.
net::any_io_executor make_io_strand(const net::any_io_executor& executor);

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

    // A free permit, or none: a caller on a hot path tries this first, since even an
    // acquire() that need not wait costs a coroutine frame.
    std::optional<Permit> try_acquire() {
        std::lock_guard lock(mutex_);
        if (available_ == 0) return std::nullopt;  // (then there may be waiters to go first)
        --available_;
        return Permit(this);
    }

    net::awaitable<Permit> acquire() {
        // A free permit is taken on the spot: no completion to allocate and post.
        if (auto permit = try_acquire()) co_return std::move(*permit);
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

// A one-shot flag that coroutines await with a deadline; set() may be called from any thread,
// before or during a wait. Copies share the flag.
class AsyncEvent {
public:
    explicit AsyncEvent(net::any_io_executor executor)
        : state_(std::make_shared<State>(std::move(executor))) {}

    void set() {
        std::unique_lock lock(state_->mutex);
        if (state_->set) return;
        state_->set = true;
        auto complete = std::exchange(state_->waiter, nullptr);
        lock.unlock();
        if (!complete) return;
        complete(true);
        // Cancelled on the timer's strand, after the wait that armed it (posted earlier).
        net::post(state_->timer.get_executor(), [state = state_] { state->timer.cancel(); });
    }

    bool is_set() const {
        std::lock_guard lock(state_->mutex);
        return state_->set;
    }

    // true once set; false when the deadline passed first. One waiter at a time.
    net::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline) {
        return net::async_initiate<const net::use_awaitable_t<>, void(bool)>(
            [state = state_, deadline](auto handler) {
                auto complete = detail::make_posting_completion<bool>(std::move(handler));
                std::unique_lock lock(state->mutex);
                if (state->set) {
                    lock.unlock();
                    complete(true);
                    return;
                }
                state->waiter = std::move(complete);
                net::post(state->timer.get_executor(), [state, deadline] {
                    state->timer.expires_at(deadline);
                    state->timer.async_wait([state](boost::system::error_code ec) {
                        if (ec) return;
                        std::unique_lock lock(state->mutex);
                        auto complete = std::exchange(state->waiter, nullptr);
                        lock.unlock();
                        if (complete) complete(false);
                    });
                });
            },
            net::use_awaitable);
    }

private:
    struct State {
        explicit State(net::any_io_executor executor) : timer(make_io_strand(executor)) {}
        mutable std::mutex mutex;
        bool set = false;
        std::function<void(bool)> waiter;
        net::steady_timer timer;  // on its own strand: arming and cancelling never race
    };
    std::shared_ptr<State> state_;
};

}  // namespace bot
