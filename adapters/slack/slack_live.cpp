#include "slack/slack_live.hpp"

#include "base/log.hpp"
#include "base/markdown.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace bot::adapters::slack {

namespace {

constexpr auto kCallTimeout = std::chrono::seconds(10);

// The growing reply as Slack shows it (the deltas are the LLM's markdown), cut to one message
// (the outbox splits the final text) and marked as unfinished.
std::string preview_of(const std::string& text, TextLimit limit) {
    limit.max = limit.max > 2 ? limit.max - 2 : limit.max;  // room for " …"
    auto parts = markdown::split_markdown(markdown::render(text, TextFormat::slack_mrkdwn), limit);
    if (parts.empty() || parts.front().empty()) return {};
    return parts.front().append(" …");
}

}  // namespace

struct LiveReplies::Reply {
    std::string message_id;
    std::string channel;
    std::string thread_ts;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    AsyncSemaphore turn{1};             // one update at a time, and none after finish()
    std::atomic<bool> finished{false};  // the final text is being sent
    bool given_up = false;              // an update failed: no more for this reply (under turn)
    std::string streamed_ts;            // the message shown so far (under turn)
};

LiveReplies::LiveReplies(net::any_io_executor executor, SlackApi& api, Logger& log,
                         LiveOptions options)
    : executor_(std::move(executor)),
      api_(api),
      log_(log),
      options_(options),
      // One bucket (the workspace), a burst of a few calls.
      budget_(options.calls_per_minute, 5, 1) {}

LiveReplies::Handle LiveReplies::expect(const std::string& message_id, std::string channel,
                                        std::string thread_ts) {
    auto reply = std::make_shared<Reply>();
    reply->message_id = message_id;
    reply->channel = std::move(channel);
    reply->thread_ts = std::move(thread_ts);
    std::lock_guard lock(mutex_);
    if (!replies_.emplace(message_id, reply).second) return nullptr;
    return reply;
}

void LiveReplies::follow(Handle reply, ReplyWatch watch) {
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

void LiveReplies::restore(Handle reply) {
    std::lock_guard lock(mutex_);
    replies_.emplace(reply->message_id, std::move(reply));
}

net::awaitable<std::string> LiveReplies::finish(Handle reply) {
    auto permit = co_await reply->turn.acquire();
    reply->finished = true;
    co_return reply->streamed_ts;
}

std::size_t LiveReplies::active() const {
    std::lock_guard lock(mutex_);
    return replies_.size();
}

bool LiveReplies::try_take_budget() {
    std::lock_guard lock(mutex_);
    return budget_.try_take("", std::chrono::steady_clock::now());
}

net::awaitable<void> LiveReplies::stream(Handle reply, ReplyWatch watch) {
    std::string text;
    auto last_shown = reply->started;  // the first preview waits an interval too
    for (;;) {
        ReplyEvent event = co_await watch.next();
        if (event.kind == ReplyEvent::Kind::done) break;  // the outbox's send() takes it next
        if (event.kind == ReplyEvent::Kind::timeout) {
            drop(reply);  // abandoned (shutdown) or followed too long
            break;
        }
        text += event.text;
        if (reply->finished) continue;
        auto now = std::chrono::steady_clock::now();
        if (now - last_shown < options_.interval) continue;
        last_shown = now;
        co_await show(*reply, text);
    }
}

net::awaitable<void> LiveReplies::show(Reply& reply, const std::string& text) {
    if (!try_take_budget()) co_return;
    auto permit = co_await reply.turn.acquire();
    if (reply.finished || reply.given_up) co_return;
    std::string preview = preview_of(text, options_.max_text);
    if (preview.empty()) co_return;
    const bool first = reply.streamed_ts.empty();
    ApiAnswer answer;
    if (first) {
        std::string body = post_message_body(reply.channel, preview, reply.thread_ts);
        answer = co_await api_.post_message(std::move(body), kCallTimeout);
    } else {
        std::string body = update_body(reply.channel, reply.streamed_ts, preview);
        answer = co_await api_.update(std::move(body), kCallTimeout);
    }
    if (answer.ok) {
        if (first) reply.streamed_ts = answer.ts;
        co_return;
    }
    // 429 or worse: the final message still comes, through the outbox.
    log_.debug("slack", first ? "chat.postMessage" : "chat.update",
               " for a streamed reply failed: ", answer.failure.detail);
    reply.given_up = true;
}

}  // namespace bot::adapters::slack
