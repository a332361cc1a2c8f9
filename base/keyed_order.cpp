#include "base/keyed_order.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace bot {

net::awaitable<bool> KeyedOrder::add(std::string key, Work work) {
    {
        std::lock_guard lock(mutex_);
        auto queue = queues_.find(key);
        if (queue != queues_.end() && queue->second.size() >= per_key_) co_return false;
    }
    auto slot = co_await slots_.acquire();
    {
        std::lock_guard lock(mutex_);
        auto [queue, idle] = queues_.try_emplace(key);
        queue->second.push_back({std::move(work), std::move(slot)});
        if (!idle) co_return true;  // the running drain takes it
    }
    net::co_spawn(executor_, drain(std::move(key)), net::detached);
    co_return true;
}

net::awaitable<void> KeyedOrder::drain(std::string key) {
    for (;;) {
        Work work;
        {
            std::lock_guard lock(mutex_);
            work = std::move(queues_.at(key).front().work);
        }
        try {
            co_await work();
        } catch (...) {
            // The work's own failure; the key's later items must still run.
        }
        std::lock_guard lock(mutex_);
        auto it = queues_.find(key);
        it->second.pop_front();  // frees its slot
        if (it->second.empty()) {
            queues_.erase(it);
            co_return;
        }
    }
}

std::size_t KeyedOrder::keys() const {
    std::lock_guard lock(mutex_);
    return queues_.size();
}

}  // namespace bot
