// Work that runs concurrently across keys and in arrival order within a key: messages read from
// one socket that carries every user (OneBot, Feishu's long connection, DingTalk Stream) are
// stored side by side, but each sender's in the order they came, so the core answers a user's
// messages in the order the user sent them.
#pragma once

#include "base/async.hpp"

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace bot {

class KeyedOrder {
public:
    using Work = std::function<net::awaitable<void>()>;

    // limit: items admitted at once over all keys (add() waits beyond it, so a flood backs up
    // into the caller's socket, not into memory); per_key: items one key may have waiting.
    KeyedOrder(net::any_io_executor executor, std::size_t limit, std::size_t per_key)
        : executor_(std::move(executor)), slots_(limit), per_key_(per_key) {}

    // Queues work behind key's earlier work once a slot is free, and returns then (the work
    // runs later). false, with work not run: key already has per_key items waiting, so one
    // flooding sender cannot take every slot. Work handles its own errors: an exception out of
    // it is dropped, so the key's later work still runs.
    net::awaitable<bool> add(std::string key, Work work);

    std::size_t keys() const;  // keys with work queued or running

private:
    struct Item {
        Work work;
        AsyncSemaphore::Permit slot;
    };
    net::awaitable<void> drain(std::string key);

    net::any_io_executor executor_;
    AsyncSemaphore slots_;
    std::size_t per_key_;
    mutable std::mutex mutex_;
    std::map<std::string, std::deque<Item>> queues_;  // the front item is running
};

}  // namespace bot
