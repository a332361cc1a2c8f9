// streaming: "update" — what a Slack user sees while the bot thinks: after stream_interval the
// reply appears in its thread as the LLM writes it, and grows by chat.update at most once per
// interval. The updates are cosmetic and bounded: they share one budget per workspace (below
// chat.update's Tier 3, 50+ a minute) and are skipped, never queued, when over it. The final
// text is written by the outbox through send(), which first stops the updates (waiting for
// one in flight) under the same turn, so a stale update can never land after the final text.
// Model: adapters/telegram/telegram_live.* (edit mode).
#pragma once

#include "base/async.hpp"
#include "base/rate_limit.hpp"
#include "base/string_map.hpp"
#include "bot/adapter.hpp"
#include "slack/slack_api.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace bot::adapters::slack {

struct LiveOptions {
    std::chrono::milliseconds interval{1500};  // the first preview and between two updates
    double calls_per_minute = 40;              // previews and updates, all chats together
    TextLimit max_text;                        // the preview shows the first part only
};

class LiveReplies {
public:
    LiveReplies(net::any_io_executor executor, SlackApi& api, Logger& log, LiveOptions options);

    struct Reply;
    using Handle = std::shared_ptr<Reply>;

    // Registers a message about to be submitted (so take() finds it however fast the core
    // answers); null when that message is already followed (a redelivery).
    Handle expect(const std::string& message_id, std::string channel, std::string thread_ts);
    void follow(Handle reply, ReplyWatch watch);  // accepted: follows it (detached)
    void drop(const Handle& reply);               // not accepted: nothing to follow

    // For the final send: the reply followed for message_id, no longer followed; null if none.
    Handle take(const std::string& message_id);
    // Stops its updates (waiting for one in flight); the ts of the message streamed so far,
    // to be updated into the final text; "" when nothing was shown.
    net::awaitable<std::string> finish(Handle reply);
    // The final update failed and will be retried: the next take() finds the reply again.
    void restore(Handle reply);

    std::size_t active() const;

private:
    net::awaitable<void> stream(Handle reply, ReplyWatch watch);
    net::awaitable<void> show(Reply& reply, const std::string& text);
    bool try_take_budget();

    net::any_io_executor executor_;
    SlackApi& api_;
    Logger& log_;
    LiveOptions options_;
    mutable std::mutex mutex_;
    StringMap<Handle> replies_;
    TokenBuckets budget_;  // under mutex_
};

}  // namespace bot::adapters::slack
