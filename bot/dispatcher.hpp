// The core's InboundSink: stores each inbound message (recognising platform redeliveries),
// then runs it through the pipeline in its conversation's FIFO. Conversations run in parallel;
// messages within one conversation strictly in order. Each queue is bounded: overflow gets a
// "busy" reply, never silent loss.
#pragma once

#include "base/string_map.hpp"
#include "bot/adapter.hpp"
#include "bot/pipeline.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <list>
#include <mutex>
#include <string>

namespace bot {

class GroupContext;
class Logger;
class Outbox;
class ReplyTracker;

class Dispatcher final : public InboundSink {
public:
    Dispatcher(net::any_io_executor executor, storage::Store& store, Pipeline& pipeline,
               Outbox& outbox, ReplyTracker& tracker, Logger& log, std::size_t queue_limit,
               GroupContext* group_context = nullptr);

    net::awaitable<Submission> submit(Inbound inbound, SubmitOptions options) override;
    net::awaitable<std::vector<HistoryEntry>> history(ChatRef chat, std::string user_id,
                                                      int max_turns) override;

    // Start-up recovery: re-send undelivered replies, re-run unanswered messages.
    net::awaitable<void> recover();

    // Messages accepted but not yet answered and delivered (for graceful shutdown).
    std::size_t in_flight() const { return in_flight_.load(); }

private:
    // A conversation's messages waiting behind the one running. It exists while one runs; a
    // list, unlike a deque, allocates nothing while nothing waits, which is the usual case.
    struct Queue {
        std::list<Job> waiting;
    };

    static std::string queue_key(const storage::ConversationKey& key);
    void enqueue(Job job);
    net::awaitable<void> drain(std::string key, Job first);
    net::awaitable<void> run_job(Job job, bool busy);

    net::any_io_executor executor_;
    GroupContext* group_context_;  // null: no adapter keeps group context
    storage::Store& store_;
    Pipeline& pipeline_;
    Outbox& outbox_;
    ReplyTracker& tracker_;
    Logger& log_;
    std::size_t queue_limit_;
    std::mutex mutex_;
    StringMap<Queue> queues_;
    std::atomic<std::size_t> in_flight_{0};
};

}  // namespace bot
