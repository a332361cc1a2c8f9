// What a Discord user sees while the bot thinks: "<bot> is typing…" (renewed every 8 s, at
// most for two minutes), then the reply growing in one message, edited at a bounded rate,
// which the outbox's first part finally edits into the finished text. All of it is cosmetic:
// it shares one budget of calls per second, is skipped (never queued) when over it or when
// the route's Discord bucket is empty, and is serialised with the final send (finish()), so a
// stale edit can never land after the final text. Modelled on telegram/telegram_live.*.
#pragma once

#include "base/rate_limit.hpp"
#include "base/string_map.hpp"
#include "bot/adapter.hpp"
#include "discord/discord_api.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace bot::adapters::discord {

struct LiveOptions {
    bool streaming = true;
    std::chrono::milliseconds stream_interval{1500};  // between two edits of one reply
    bool typing = true;
    std::chrono::milliseconds typing_after{300};  // fast replies need no typing indicator
    double calls_per_second = 5;                  // typing + edits, all channels together
};

class LiveReplies {
public:
    LiveReplies(net::any_io_executor executor, DiscordApi& api, Logger& log, LiveOptions options);

    struct Reply;
    using Handle = std::shared_ptr<Reply>;

    // Registers a message about to be submitted (before the core can answer it). Null when the
    // message is already followed (a replay after a Resume): the first keeps its live reply.
    Handle expect(const std::string& channel, const std::string& message_id);
    void follow(Handle reply, ReplyWatch watch);  // the message was accepted
    void drop(const Handle& reply);               // it was not: nothing to follow

    // The final reply is about to be sent: the live reply for that message, no longer
    // followed; null when there is none.
    Handle take(const std::string& message_id);
    // Ends a taken reply's updates (waiting for one in flight); the id of the message streamed
    // so far, to be edited into the final text, or "" when nothing was shown.
    net::awaitable<std::string> finish(Handle reply);

    std::size_t active() const;

private:
    net::awaitable<void> stream(std::shared_ptr<Reply> reply, ReplyWatch watch);
    net::awaitable<void> keep_typing(std::shared_ptr<Reply> reply);
    net::awaitable<void> show(Reply& reply, const std::string& text);

    net::any_io_executor executor_;
    DiscordApi& api_;
    Logger& log_;
    LiveOptions options_;
    CallBudget budget_;
    mutable std::mutex mutex_;
    StringMap<std::shared_ptr<Reply>> replies_;
};

}  // namespace bot::adapters::discord
