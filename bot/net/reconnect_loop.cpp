#include "bot/net/reconnect_loop.hpp"

#include "base/log.hpp"

#include <algorithm>

namespace bot {

namespace {
using Clock = std::chrono::steady_clock;
constexpr int kGoingAway = 1001;
}  // namespace

ReconnectLoop::ReconnectLoop(net::any_io_executor executor, Logger& log, std::string name,
                             ReconnectOptions options)
    : log_(log),
      name_(std::move(name)),
      options_(options),
      max_delay_ms_(options.max_delay.count()),
      stop_(std::move(executor)) {}

void ReconnectLoop::set_max_delay(std::chrono::milliseconds max_delay) {
    max_delay_ms_ = std::max<std::int64_t>(max_delay.count(), options_.first_delay.count());
}

net::awaitable<void> ReconnectLoop::run(Session session) {
    ReconnectAttempt attempt;
    while (!stopped()) {
        const auto started = Clock::now();
        std::string error;
        try {
            co_await session(attempt);
        } catch (const std::exception& e) {
            error = e.what();
        }
        {
            std::lock_guard lock(mutex_);
            watched_.reset();
        }
        if (stopped()) break;
        const auto lasted = Clock::now() - started;
        const bool healthy = lasted >= options_.healthy_after;
        attempt.failures = healthy ? 0 : attempt.failures + 1;
        attempt.resume = healthy;
        attempt.previous_error = error;
        ++attempt.number;
        // Also after a healthy session: a peer that ends every session at once after its
        // healthy period is still not dialled in a spin.
        const auto delay =
            backoff_delay(options_.first_delay, std::chrono::milliseconds(max_delay_ms_.load()),
                          std::max(attempt.failures - 1, 0));
        const auto reason = error.empty() ? std::string("the connection ended") : error;
        if (healthy) {
            log_.info(name_, reason, "; reconnecting in ", delay.count(), " ms");
        } else {
            log_.warn(name_, reason, " (", attempt.failures, " in a row); reconnecting in ",
                      delay.count(), " ms");
        }
        if (co_await stop_.wait_until(Clock::now() + delay)) break;
    }
}

void ReconnectLoop::stop() {
    stop_.set();
    std::shared_ptr<WebSocketConnection> connection;
    {
        std::lock_guard lock(mutex_);
        connection = std::move(watched_);
    }
    if (connection) connection->close(kGoingAway, "stopping");
}

void ReconnectLoop::watch(std::shared_ptr<WebSocketConnection> connection) {
    {
        std::lock_guard lock(mutex_);
        if (!stopped()) {
            watched_ = std::move(connection);
            return;
        }
    }
    // stop() came first (it sets the flag before it takes the lock).
    if (connection) connection->close(kGoingAway, "stopping");
}

}  // namespace bot
