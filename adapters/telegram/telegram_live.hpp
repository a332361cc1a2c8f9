// What a Telegram user sees while the bot thinks: "typing…", then the reply growing as the LLM
// writes it (a draft in private chats, or an edited message), until the outbox sends the final
// text. All of it is cosmetic: it shares one budget of API calls per second and is skipped —
// never queued — when over it, so a crowd of replies cannot trip Telegram's limits or delay the
// real messages.
#pragma once

#include "base/rate_limit.hpp"
#include "base/string_map.hpp"
#include "bot/adapter.hpp"
#include "telegram/telegram_api.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace bot::adapters::telegram {

struct LiveOptions {
    enum class Streaming { off, automatic, draft, edit };
    Streaming streaming =
        Streaming::automatic;  // automatic: drafts in private chats, edits in groups
    std::chrono::milliseconds stream_interval{1000};  // between two updates of one reply
    bool typing = true;
    std::chrono::milliseconds typing_after{300};  // fast replies need no typing indicator
    double calls_per_second = 30;                 // typing + stream updates, all chats together
};

class LiveReplies {
public:
    LiveReplies(net::any_io_executor executor, BotApi& api, Logger& log, LiveOptions options);

    struct Reply;
    using Handle = std::shared_ptr<Reply>;

    // Registers a message about to be submitted, before the core can possibly answer it (so
    // finish() always finds it). Null when that message is already being followed (a
    // redelivery): the first one keeps its live reply.
    Handle expect(ChatAddress chat, bool is_group, const std::string& message_id);
    // Follows the reply to the accepted message (runs detached until it is done).
    void follow(Handle reply, ReplyWatch watch);
    // The message was not accepted (duplicate, ignored, failed): nothing to follow.
    void drop(const Handle& reply);

    // The final reply is about to be sent: the live reply followed for that message, now no
    // longer followed; null when there is none (then no coroutine is needed for it).
    Handle take(const std::string& message_id);
    // Stops a taken reply's live updates (waiting for one in flight) and returns the id of the
    // message streamed so far, to be edited into the final text; 0 when there is none.
    net::awaitable<std::int64_t> finish(Handle reply);

    std::size_t active() const;

private:
    net::awaitable<void> stream(std::shared_ptr<Reply> reply, ReplyWatch watch);
    net::awaitable<void> keep_typing(std::shared_ptr<Reply> reply);
    net::awaitable<void> show(Reply& reply, const std::string& text);

    net::any_io_executor executor_;
    BotApi& api_;
    Logger& log_;
    LiveOptions options_;
    CallBudget budget_;
    std::atomic<bool> drafts_unsupported_{false};
    std::atomic<std::int64_t> next_draft_id_;
    mutable std::mutex mutex_;
    StringMap<std::shared_ptr<Reply>> replies_;
};

}  // namespace bot::adapters::telegram
