// Delivers stored replies through their adapter: split to the adapter's size limit, parts
// sent in order, progress recorded so a restart never repeats a part, rate limits honoured,
// transient failures retried with backoff, permanent ones recorded. Only the outbox calls
// Adapter::send().
#pragma once

#include "bot/adapter.hpp"
#include "storage/store.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace bot {

class Logger;

using AdapterMap = std::map<std::string, std::unique_ptr<Adapter>, std::less<>>;

struct OutboxOptions {
    int max_attempts = 8;  // per part, before the reply is marked failed
    std::chrono::milliseconds first_backoff{500};
    std::chrono::milliseconds max_backoff{60000};
};

class Outbox {
public:
    Outbox(storage::Store& store, const AdapterMap& adapters, Logger& log, OutboxOptions options)
        : store_(store), adapters_(adapters), log_(log), options_(options) {}

    // Returns once the reply is delivered or has failed for good.
    net::awaitable<void> deliver(storage::OutboxRow row);

private:
    storage::Store& store_;
    const AdapterMap& adapters_;
    Logger& log_;
    OutboxOptions options_;
};

}  // namespace bot
