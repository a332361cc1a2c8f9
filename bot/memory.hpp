// The conversation memory of issue 24 that the pipeline owns (h/summary): the rolling summary
// of a conversation's older turns, durable facts per user, and the commands that show and edit
// them (/remember, /memory, /memory forget N).
//
// Summaries are made off the reply path: the pipeline only calls consider() after building a
// prompt, which queues the conversation (bounded, deduplicated) for a background worker (one by
// default, memory.summary.workers; never two on one conversation) that
// asks the summary provider to fold the oldest unsummarised turns into the summary (and, in the
// same call, to list durable facts), then stores summary, pointer and facts in one transaction
// with a compare-and-set on the previous pointer. The job is recorded in SQLite before the LLM
// is asked and deleted with the commit, so a failure (backoff: retry, doubling up to 1 h) or a
// crash leaves it to be found again by the sweep (at start and every retry interval).
//
// Trigger: when the conversation's unsummarised turns reach after_turns (default
// bot.history_turns) or no longer all fit the token budget, everything but the newest half of
// what fits (at most after_turns / 2) is summarised: one extra LLM call per ~after_turns / 4
// exchanges.
#pragma once

#include "bot/context_cache.hpp"
#include "llm/llm_backend.hpp"
#include "storage/store.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace bot {
namespace net = boost::asio;

class Logger;
struct MemoryNotes;

struct MemoryOptions {
    // memory.summary: a null backend turns summaries off.
    llm::LlmBackend* summary_backend = nullptr;
    std::string summary_prompt;  // empty: kDefaultSummaryPrompt
    int after_turns = 100;       // resolved (bot.history_turns when the key is 0)
    int summary_tokens = 800;    // what one summary may take (also capped by the prompt's share)
    int max_turns_per_request = 200;
    std::chrono::seconds retry{60};
    int workers = 1;                 // summaries made at the same time
    std::size_t queue_limit = 1000;  // conversations waiting for a worker; more are dropped
    // memory.facts
    bool facts = true;
    int max_facts = 50;
    std::size_t max_fact_chars = 300;
};

class Memory {
public:
    Memory(storage::Store& store, ContextCache& cache, Logger& log, MemoryOptions options);

    bool summaries_enabled() const { return options_.summary_backend != nullptr; }
    bool facts_enabled() const { return options_.facts; }

    // Starts the sweep (recorded jobs, then every retry interval) on executor.
    void start(net::any_io_executor executor);
    // No new LLM calls; a failure from now on is the shutdown, not counted.
    void stop();
    // The worker or the sweep is between steps that use the store or the LLM.
    int busy() const { return busy_.load(); }

    // The facts for the prompt (the user's own first, then the newest taken from chats). Kept
    // in memory per user after the first read (a store round trip per message otherwise);
    // every write of facts drops the user's entry after it committed, and a read that started
    // before a write is not kept.
    net::awaitable<void> fill_facts(const storage::ConversationKey& key, MemoryNotes& notes);
    // After /forget of (adapter, user) committed.
    void forgot_user(const std::string& adapter_id, const std::string& user_id);
    // After a prompt was built from `turns` unsummarised turns of which those from first_turn
    // fit: queues a summary when the rule above says so. Never waits.
    void consider(const storage::ConversationKey& key, const std::string& conversation_id,
                  std::size_t turns, std::size_t first_turn);

    // /remember TEXT, /memory, /memory forget N (`rest`: everything after the command word).
    net::awaitable<std::string> answer(const storage::ConversationKey& key,
                                       std::string_view command, std::string_view rest,
                                       const std::string& prefix);
    std::string help_lines(const std::string& prefix) const;

private:
    struct Item {
        storage::ConversationKey key;
        std::string conversation_id;
        std::int64_t row = 0;  // known when the sweep found it recorded
        int keep_turns = 0;
    };

    void enqueue(Item item);
    net::awaitable<void> drain();
    net::awaitable<void> summarise(Item item);
    // One LLM call and its commit; false when the job should wait (failure, or nothing to do).
    net::awaitable<bool> summarise_once(std::int64_t row);
    net::awaitable<void> sweep();
    std::vector<llm::ChatMessage> request_messages(const storage::SummaryInput& input,
                                                   std::string& system, std::string& user) const;

    using FactList = std::shared_ptr<const std::vector<std::string>>;
    void facts_changed(const std::string& adapter_id, const std::string& user_id);

    storage::Store& store_;
    ContextCache& cache_;
    Logger& log_;
    MemoryOptions options_;
    net::any_io_executor executor_;

    std::mutex mutex_;
    std::deque<Item> queue_;
    std::unordered_set<std::string> queued_;  // conversation ids queued or being summarised
    int workers_ = 0;
    bool started_ = false;
    std::atomic<bool> stopping_{false};

    static constexpr std::size_t kCachedUsers = 20000;  // past it the cache starts over
    std::mutex facts_mutex_;
    std::unordered_map<std::string, FactList> facts_cache_;  // "adapter\nuser" -> prompt order
    std::uint64_t facts_generation_ = 0;
    std::atomic<int> busy_{0};
};

// "/remember@bot my cat is Turing" -> "my cat is Turing": the text after the command word (and
// a bot name glued to it).
std::string_view command_rest(std::string_view text, std::string_view command);

}  // namespace bot
