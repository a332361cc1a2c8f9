#include "bot/dispatcher.hpp"

#include "base/log.hpp"
#include "base/random_id.hpp"
#include "bot/group_context.hpp"
#include "bot/outbox.hpp"
#include "bot/reply_tracker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <vector>

namespace bot {

namespace {

std::string random_message_id() {
    return "auto-" + random_hex(16);
}

std::int64_t epoch_ms(std::chrono::system_clock::time_point at) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

}  // namespace

Dispatcher::Dispatcher(net::any_io_executor executor, storage::Store& store, Pipeline& pipeline,
                       Outbox& outbox, ReplyTracker& tracker, Logger& log, std::size_t queue_limit,
                       GroupContext* group_context)
    : executor_(std::move(executor)),
      group_context_(group_context),
      store_(store),
      pipeline_(pipeline),
      outbox_(outbox),
      tracker_(tracker),
      log_(log),
      queue_limit_(queue_limit) {}

std::string Dispatcher::queue_key(const storage::ConversationKey& key) {
    std::string out = key.adapter_id;
    out.append(1, '\n').append(key.chat_id).append(1, '\n').append(key.user_id);
    return out;
}

net::awaitable<Submission> Dispatcher::submit(Inbound inbound, SubmitOptions options) {
    // Group policy: strangers talking among themselves are none of the bot's business (and
    // their words are not stored), unless the adapter keeps group context: then the message
    // joins the chat's recent lines (bounded; never the inbox or the LLM). A reply quoting one
    // of the bot's own messages in this chat is addressed to it, as an @mention is.
    if (inbound.chat.is_group && !inbound.mentions_me) {
        if (inbound.quotes_message_id.empty() ||
            !co_await store_.was_sent(inbound.chat.adapter_id, inbound.chat.chat_id,
                                      inbound.quotes_message_id)) {
            if (group_context_) co_await group_context_->observe(inbound, false);
            co_return Submission{
                .status = Submission::Status::ignored, .message_id = {}, .watch = {}};
        }
        inbound.mentions_me = true;
    }
    if (inbound.message_id.empty()) inbound.message_id = random_message_id();
    // Arguments of co_await expressions are named locals: g++ 12 miscompiles aggregate
    // temporaries there (it relocates them bitwise, breaking std::string).
    storage::InboundRecord record{.key = conversation_key(inbound),
                                  .message_id = inbound.message_id,
                                  .user_name = inbound.sender_name,
                                  .is_group = inbound.chat.is_group,
                                  .text = inbound.text,
                                  .received_at_ms = epoch_ms(inbound.at)};
    auto accepted = co_await store_.accept_inbound(std::move(record));

    auto tracker_key = ReplyTracker::key(inbound.chat.adapter_id, inbound.message_id);
    Submission submission{
        .status = Submission::Status::accepted, .message_id = inbound.message_id, .watch = {}};
    if (!accepted.duplicate) {
        if (group_context_ && inbound.chat.is_group)
            co_await group_context_->observe(inbound, true);
        ++in_flight_;
        tracker_.begin(tracker_key);
        if (options.wait.count() > 0) {
            submission.watch =
                tracker_.watch(tracker_key, options.wait, options.claim, options.deltas);
        }
        enqueue(Job{.inbox_id = accepted.inbox_id,
                    .inbound = std::move(inbound),
                    .stream_reply = options.wait.count() > 0 && options.deltas});
        co_return submission;
    }

    submission.status = Submission::Status::duplicate;
    log_.debug("dispatcher", accepted.forgotten ? "forgotten" : "duplicate", " message ",
               inbound.message_id, " on '", inbound.chat.adapter_id, "'");
    if (options.wait.count() == 0) co_return submission;
    if (accepted.forgotten) {
        // Answered before /forget, and nothing of the answer is left: an empty reply at once
        // rather than a wait for one that never comes.
        submission.watch = ReplyTracker::ready({}, {}, options.claim);
        co_return submission;
    }
    // Attach first, then look for a stored reply: whichever way the race with the running job
    // goes, the watcher sees the reply.
    auto watch = tracker_.watch(tracker_key, options.wait, options.claim, options.deltas);
    if (auto stored = co_await store_.reply_for(accepted.inbox_id)) {
        // The adapter delivers a stored reply itself when it answers in its own response
        // (claim), or when the outbox is done with it; a pending one the outbox still sends.
        bool deliver_here = options.claim || stored->state != storage::OutboxState::pending;
        submission.watch = ReplyTracker::ready(std::move(stored->text),
                                               std::move(stored->conversation_id), deliver_here);
    } else {
        submission.watch = std::move(watch);
    }
    co_return submission;
}

net::awaitable<std::vector<HistoryEntry>> Dispatcher::history(ChatRef chat, std::string user_id,
                                                              int max_turns) {
    storage::ConversationKey key{.adapter_id = std::move(chat.adapter_id),
                                 .chat_id = std::move(chat.chat_id),
                                 .user_id = std::move(user_id)};
    auto context = co_await store_.load_context(std::move(key), max_turns);
    std::vector<HistoryEntry> entries;
    entries.reserve(context.turns.size());
    for (auto& turn : context.turns) {
        entries.push_back({.role = std::move(turn.role), .text = std::move(turn.content)});
    }
    co_return entries;
}

void Dispatcher::enqueue(Job job) {
    auto key = queue_key(conversation_key(job.inbound));
    bool start = false, busy = false;
    {
        std::lock_guard lock(mutex_);
        auto [queue, idle] = queues_.try_emplace(key);
        if (idle) {
            start = true;  // nothing runs for this conversation: the job starts now
        } else if (queue->second.waiting.size() >= queue_limit_ && !job.redeliver) {
            busy = true;
        } else {
            queue->second.waiting.push_back(std::move(job));
        }
    }
    if (busy) {
        net::co_spawn(executor_, run_job(std::move(job), true), net::detached);
    } else if (start) {
        net::co_spawn(executor_, drain(std::move(key), std::move(job)), net::detached);
    }
}

net::awaitable<void> Dispatcher::drain(std::string key, Job job) {
    for (;;) {
        co_await run_job(std::move(job), false);
        std::lock_guard lock(mutex_);
        auto it = queues_.find(key);
        if (it->second.waiting.empty()) {
            queues_.erase(it);
            co_return;
        }
        job = std::move(it->second.waiting.front());
        it->second.waiting.pop_front();
    }
}

net::awaitable<void> Dispatcher::run_job(Job job, bool busy) {
    auto tracker_key = ReplyTracker::key(job.inbound.chat.adapter_id, job.inbound.message_id);
    auto inbox_id = job.inbox_id;
    try {
        if (job.redeliver) {
            co_await outbox_.deliver(std::move(*job.redeliver));
        } else if (busy) {
            co_await pipeline_.reply_busy(std::move(job));
        } else {
            co_await pipeline_.process(std::move(job));
        }
    } catch (const std::exception& e) {
        // The message stays "received" in the inbox and is retried at the next start.
        log_.error("dispatcher", "message ", inbox_id, " failed: ", e.what());
        tracker_.abandon(tracker_key);
    }
    --in_flight_;
}

net::awaitable<void> Dispatcher::recover() {
    auto undelivered = co_await store_.undelivered();
    auto unanswered = co_await store_.unanswered();
    if (!undelivered.empty() || !unanswered.empty()) {
        log_.info("dispatcher", "recovering ", unanswered.size(), " unanswered messages and ",
                  undelivered.size(), " undelivered replies");
    }
    // Each conversation's queue gets its undelivered replies first, then its unanswered
    // messages: replies go out in order, conversations in parallel.
    for (auto& row : undelivered) {
        Inbound inbound{.chat = {.adapter_id = row.key.adapter_id,
                                 .chat_id = row.key.chat_id,
                                 .is_group = row.is_group},
                        .sender_id = row.key.user_id,
                        .message_id = row.reply_to};
        ++in_flight_;
        enqueue(Job{
            .inbox_id = row.inbox_id, .inbound = std::move(inbound), .redeliver = std::move(row)});
    }
    for (auto& pending : unanswered) {
        Inbound inbound{.chat = {.adapter_id = pending.record.key.adapter_id,
                                 .chat_id = pending.record.key.chat_id,
                                 .is_group = pending.record.is_group},
                        .sender_id = pending.record.key.user_id,
                        .sender_name = pending.record.user_name,
                        .message_id = pending.record.message_id,
                        .text = pending.record.text,
                        .mentions_me = true,
                        .at = std::chrono::system_clock::time_point(
                            std::chrono::milliseconds(pending.record.received_at_ms))};
        ++in_flight_;
        tracker_.begin(ReplyTracker::key(inbound.chat.adapter_id, inbound.message_id));
        enqueue(Job{.inbox_id = pending.inbox_id, .inbound = std::move(inbound)});
    }
}

}  // namespace bot
