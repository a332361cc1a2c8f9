#include "telegram/telegram_live.hpp"
#include "base/json_text.hpp"

#include "base/log.hpp"
#include "base/text_split.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>

namespace bot::adapters::telegram {

namespace {

using nlohmann::json;

constexpr auto kTypingRepeat = std::chrono::milliseconds(4500);  // the action lasts 5 s
constexpr auto kCallTimeout = std::chrono::seconds(10);

// The part of a growing reply that fits one message (the outbox splits the final text).
std::string preview_of(const std::string& text, std::string_view suffix) {
    auto parts = split_text(text, TextLimit{.max = 4000, .unit = TextLimit::Unit::utf16_units});
    if (parts.empty()) return {};
    return parts.front().append(suffix);
}

}  // namespace

struct LiveReplies::Reply {
    ChatAddress chat;
    bool is_group = false;
    std::string message_id;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    AsyncSemaphore turn{1};                // one live update at a time, and none after finish()
    std::atomic<bool> finished{false};     // the final reply is being sent
    std::atomic<bool> done{false};         // the watch ended
    std::atomic<bool> shown{false};        // some text is on screen: no more typing
    bool given_up = false;                 // an update failed: stop streaming this reply
    std::int64_t streamed_message_id = 0;  // edit mode (under turn)
    std::int64_t draft_id = 0;
};

LiveReplies::LiveReplies(net::any_io_executor executor, BotApi& api, Logger& log,
                         LiveOptions options)
    : executor_(std::move(executor)),
      api_(api),
      log_(log),
      options_(options),
      budget_(options.calls_per_second),
      next_draft_id_(1) {}

LiveReplies::Handle LiveReplies::expect(ChatAddress chat, bool is_group,
                                        const std::string& message_id) {
    auto reply = std::make_shared<Reply>();
    reply->chat = chat;
    reply->is_group = is_group;
    reply->message_id = message_id;
    reply->draft_id = next_draft_id_++;
    std::lock_guard lock(mutex_);
    if (!replies_.emplace(message_id, reply).second) return nullptr;
    return reply;
}

void LiveReplies::follow(Handle reply, ReplyWatch watch) {
    if (options_.typing) net::co_spawn(executor_, keep_typing(reply), net::detached);
    net::co_spawn(executor_, stream(std::move(reply), std::move(watch)), net::detached);
}

std::size_t LiveReplies::active() const {
    std::lock_guard lock(mutex_);
    return replies_.size();
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

net::awaitable<std::int64_t> LiveReplies::finish(Handle reply) {
    auto permit = co_await reply->turn.acquire();
    reply->finished = true;
    co_return reply->streamed_message_id;
}

net::awaitable<void> LiveReplies::stream(std::shared_ptr<Reply> reply, ReplyWatch watch) {
    std::string text;
    auto last_shown = reply->started;  // the first update waits an interval too
    for (;;) {
        ReplyEvent event = co_await watch.next();
        if (event.kind == ReplyEvent::Kind::done) break;  // finish() comes next and forgets it
        if (event.kind == ReplyEvent::Kind::timeout) {
            drop(reply);  // abandoned (shutdown) or longer than followed: no finish() to wait for
            break;
        }
        text += event.text;
        if (options_.streaming == LiveOptions::Streaming::off || reply->finished) continue;
        auto now = std::chrono::steady_clock::now();
        if (now - last_shown < options_.stream_interval) continue;
        last_shown = now;
        co_await show(*reply, text);
    }
    reply->done = true;
}

net::awaitable<void> LiveReplies::show(Reply& reply, const std::string& text) {
    if (!budget_.try_take()) co_return;
    auto permit = co_await reply.turn.acquire();
    if (reply.finished || reply.given_up) co_return;

    bool draft = !drafts_unsupported_ &&
                 (options_.streaming == LiveOptions::Streaming::draft ||
                  (options_.streaming == LiveOptions::Streaming::automatic && !reply.is_group));
    std::string preview = preview_of(text, draft ? "" : " …");
    if (preview.empty()) co_return;
    std::string method;
    std::string body;
    if (!draft && reply.streamed_message_id == 0) {
        method = "sendMessage";
        body = send_message_body(reply.chat, preview,
                                 reply.is_group ? std::string_view(reply.message_id) : "");
    } else {
        json params = chat_params(reply.chat);
        params["text"] = std::move(preview);
        if (draft) {
            method = "sendMessageDraft";
            params["draft_id"] = reply.draft_id;
        } else {
            method = "editMessageText";
            params["message_id"] = reply.streamed_message_id;
        }
        body = dump_json(params);
    }
    auto result = co_await api_.call_with_body(method, std::move(body), kCallTimeout);
    if (result.ok) {
        if (method == "sendMessage") reply.streamed_message_id = result.message_id;
        reply.shown = true;
        co_return;
    }
    if (not_modified(result)) co_return;
    if (draft && (result.error_code == 400 || result.error_code == 404) &&
        !drafts_unsupported_.exchange(true)) {
        // Older Bot API servers, or chats where drafts are not allowed: edit messages instead.
        log_.warn("telegram", "sendMessageDraft refused (", result.description,
                  "); streaming by editing messages from now on");
        co_return;
    }
    log_.debug("telegram", method, " for a live reply failed: ", result.description);
    reply.given_up = true;  // 429 or worse: the final message still comes
}

net::awaitable<void> LiveReplies::keep_typing(std::shared_ptr<Reply> reply) {
    co_await sleep_for(options_.typing_after);
    while (!reply->done && !reply->finished && !reply->shown) {
        if (budget_.try_take()) {
            // Under the turn: an action arriving after the final message would show "typing"
            // below the answer.
            auto permit = co_await reply->turn.acquire();
            if (reply->finished) co_return;
            json params = chat_params(reply->chat);
            params["action"] = "typing";
            auto result = co_await api_.call("sendChatAction", std::move(params), kCallTimeout);
            if (!result.ok) co_return;  // cosmetic: never insist
        }
        co_await sleep_for(kTypingRepeat);
    }
}

}  // namespace bot::adapters::telegram
