// Tracks replies being produced, so the adapter that received a message can watch its reply
// grow (streaming) and -- for platforms with a passive-reply window -- deliver it itself.
// Platform retries of a message attach to the job already running: the LLM runs once.
#pragma once

#include "base/string_map.hpp"
#include "bot/adapter.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace bot {

class ReplyTracker {
public:
    explicit ReplyTracker(net::any_io_executor executor) : executor_(std::move(executor)) {}
    // Closes every open watch: a coroutine still waiting on one (shutdown) is released with
    // its io_context instead of being kept alive by its own channel forever.
    ~ReplyTracker();

    static std::string key(std::string_view adapter_id, std::string_view message_id);

    // A job for key starts (or is re-run after a restart).
    void begin(const std::string& key);
    // New reply text for key's watchers.
    void delta(const std::string& key, std::string_view text);
    // The reply is durably stored: watchers get done. Returns true when a watcher that asked to
    // claim the reply took it (the adapter delivers it; the outbox must not send it).
    bool finish(const std::string& key, const std::string& reply,
                const std::string& conversation_id);
    // The job ended without a reply (shutdown): watchers get timeout.
    void abandon(const std::string& key);

    // Watches key for up to wait. With deltas, the first event repeats the text produced so
    // far, if any; deltas the watcher has not consumed yet are merged into one.
    ReplyWatch watch(const std::string& key, std::chrono::milliseconds wait, bool claim,
                     bool deltas = true);
    // A watch whose only event is done with an already stored reply; claimed tells the adapter
    // to deliver it itself.
    static ReplyWatch ready(std::string reply, std::string conversation_id, bool claimed);

    std::size_t active() const;

private:
    struct Watcher;
    struct Entry {
        bool running = false;
        std::string text;
        std::vector<std::shared_ptr<Watcher>> watchers;
    };

    void expire(const std::string& key, const std::shared_ptr<Watcher>& watcher);
    void end(const std::string& key, ReplyEvent final_event, bool claimable, bool* claimed);

    net::any_io_executor executor_;
    mutable std::mutex mutex_;
    StringMap<Entry> entries_;
};

}  // namespace bot
