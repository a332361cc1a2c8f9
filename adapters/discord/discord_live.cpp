#include "discord/discord_live.hpp"

#include "base/log.hpp"
#include "base/text_split.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace bot::adapters::discord {

namespace {

// The indicator lasts 10 s (channel.mdx lines 557-562): renewed a little before, and given up
// after two minutes (a stuck LLM should not type forever).
constexpr auto kTypingRepeat = std::chrono::seconds(8);
constexpr int kMaxTyping = 15;
// The preview must fit one message with its " …": 2,000 characters (message.mdx line 1080).
constexpr TextLimit kPreviewLimit{.max = 1990, .unit = TextLimit::Unit::code_points};

std::string preview_of(const std::string& text) {
    auto parts = split_text(text, kPreviewLimit);
    if (parts.empty()) return {};
    return parts.front().append(" …");
}

}  // namespace

struct LiveReplies::Reply {
    std::string channel;
    std::string message_id;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    AsyncSemaphore turn{1};             // one live call at a time, and none after finish()
    std::atomic<bool> finished{false};  // the final reply is being sent
    std::atomic<bool> done{false};      // the watch ended
    std::atomic<bool> shown{false};     // a preview is on screen: no more typing
    bool given_up = false;              // an edit failed: stop streaming this reply (under turn)
    std::string streamed_id;            // the preview message (under turn)
};

LiveReplies::LiveReplies(net::any_io_executor executor, DiscordApi& api, Logger& log,
                         LiveOptions options)
    : executor_(std::move(executor)),
      api_(api),
      log_(log),
      options_(options),
      budget_(options.calls_per_second) {}

LiveReplies::Handle LiveReplies::expect(const std::string& channel, const std::string& message_id) {
    auto reply = std::make_shared<Reply>();
    reply->channel = channel;
    reply->message_id = message_id;
    std::lock_guard lock(mutex_);
    if (!replies_.emplace(message_id, reply).second) return nullptr;
    return reply;
}

void LiveReplies::follow(Handle reply, ReplyWatch watch) {
    if (options_.typing) net::co_spawn(executor_, keep_typing(reply), net::detached);
    net::co_spawn(executor_, stream(std::move(reply), std::move(watch)), net::detached);
}

void LiveReplies::drop(const Handle& reply) {
    std::lock_guard lock(mutex_);
    auto it = replies_.find(reply->message_id);
    if (it != replies_.end() && it->second == reply) replies_.erase(it);
}

LiveReplies::Handle LiveReplies::take(const std::string& message_id) {
    std::lock_guard lock(mutex_);
    auto it = replies_.find(message_id);
    if (it == replies_.end()) return nullptr;
    Handle reply = std::move(it->second);
    replies_.erase(it);
    return reply;
}

std::size_t LiveReplies::active() const {
    std::lock_guard lock(mutex_);
    return replies_.size();
}

net::awaitable<std::string> LiveReplies::finish(Handle reply) {
    auto permit = co_await reply->turn.acquire();
    reply->finished = true;
    co_return reply->streamed_id;
}

net::awaitable<void> LiveReplies::stream(std::shared_ptr<Reply> reply, ReplyWatch watch) {
    std::string text;
    auto last_shown = reply->started;  // the first preview waits an interval too
    for (;;) {
        ReplyEvent event = co_await watch.next();
        if (event.kind == ReplyEvent::Kind::done) break;  // finish() comes next
        if (event.kind == ReplyEvent::Kind::timeout) {
            drop(reply);  // abandoned (shutdown) or longer than followed
            break;
        }
        text += event.text;
        if (!options_.streaming || reply->finished) continue;
        auto now = std::chrono::steady_clock::now();
        if (now - last_shown < options_.stream_interval) continue;
        last_shown = now;
        co_await show(*reply, text);
    }
    reply->done = true;
}

net::awaitable<void> LiveReplies::show(Reply& reply, const std::string& text) {
    const bool first = !reply.shown.load();
    auto route =
        first ? DiscordApi::messages_route(reply.channel) : DiscordApi::edit_route(reply.channel);
    if (api_.wait(route) > std::chrono::steady_clock::duration::zero() || !budget_.try_take())
        co_return;
    auto permit = co_await reply.turn.acquire();
    if (reply.finished || reply.given_up) co_return;
    std::string preview = preview_of(text);
    if (preview.empty()) co_return;
    SendResult result = SendError{};
    if (reply.streamed_id.empty()) {
        // The preview answers the user's message as the final first part will.
        result = co_await api_.create_message(reply.channel, preview, reply.message_id);
        if (result && !result->empty()) reply.streamed_id = *result;
    } else {
        result = co_await api_.edit_message(reply.channel, reply.streamed_id, preview);
    }
    if (result) {
        reply.shown = true;
        co_return;
    }
    log_.debug("discord", "a live update failed: ", result.error().detail);
    reply.given_up = true;  // the final message still comes
}

net::awaitable<void> LiveReplies::keep_typing(std::shared_ptr<Reply> reply) {
    co_await sleep_for(options_.typing_after);
    for (int sent = 0; sent < kMaxTyping && !reply->done && !reply->finished && !reply->shown;
         ++sent) {
        if (api_.wait(DiscordApi::typing_route(reply->channel)) <=
                std::chrono::steady_clock::duration::zero() &&
            budget_.try_take()) {
            // Under the turn: an indicator started after the final message would show
            // "typing" below the answer for 10 s.
            auto permit = co_await reply->turn.acquire();
            if (reply->finished) co_return;
            auto result = co_await api_.typing(reply->channel);
            if (!result) co_return;  // cosmetic: never insist
        }
        co_await sleep_for(kTypingRepeat);
    }
}

}  // namespace bot::adapters::discord
