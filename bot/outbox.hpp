// Delivers stored replies through their adapter: split to the adapter's size limit (and part
// count), parts sent in order (or all at once to an adapter that sends whole replies), progress
// recorded so a restart never repeats a part, rate limits honoured, transient failures retried
// with backoff, permanent ones recorded. In groups the platform ids that send() returned are
// stored, so that a reply quoting one is recognised as addressed to the bot. Only the outbox
// calls Adapter::send() and send_all().
#pragma once

#include "bot/adapter.hpp"
#include "storage/store.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bot {

class Logger;

using AdapterMap = std::map<std::string, std::unique_ptr<Adapter>, std::less<>>;

struct OutboxOptions {
    int max_attempts = 8;  // per part (or whole reply), before the reply is marked failed
    std::chrono::milliseconds first_backoff{500};
    std::chrono::milliseconds max_backoff{60000};
};

// The parts of text (the LLM's markdown) as an adapter with these capabilities takes them:
// rendered in its text_format (base/markdown.hpp), then at most max_text each (Telegram's HTML:
// of visible text, every part valid HTML on its own),
// at most max_parts of them (the last then ends with "…", still within max_text), never none.
std::vector<std::string> reply_parts(std::string_view text, const Capabilities& capabilities);

// Outbound::delivery_key: a name-based UUID (RFC 4122 version 5, SHA-1) of the adapter id,
// the outbox row and the part number. The same for every retry and after a restart, since
// all three are stored; different for every other part.
std::string delivery_key(std::string_view adapter_id, std::int64_t outbox_id, int part);

class Outbox {
public:
    Outbox(storage::Store& store, const AdapterMap& adapters, Logger& log, OutboxOptions options)
        : store_(store), adapters_(adapters), log_(log), options_(options) {}

    // Returns once the reply is delivered or has failed for good.
    net::awaitable<void> deliver(storage::OutboxRow row);

private:
    // Sends parts [from, to) of the reply (one send(), or one send_all() for them all),
    // retrying as the error allows. Returns the platform id, or nullopt when the reply failed
    // for good (already recorded).
    net::awaitable<std::optional<std::string>> send_with_retries(
        const storage::OutboxRow& row, Adapter& adapter, const std::vector<std::string>& parts,
        int from, int to, bool whole);

    storage::Store& store_;
    const AdapterMap& adapters_;
    Logger& log_;
    OutboxOptions options_;
};

}  // namespace bot
