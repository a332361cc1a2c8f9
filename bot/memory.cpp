#include "bot/memory.hpp"

#include "base/async.hpp"
#include "base/log.hpp"
#include "base/text_split.hpp"
#include "bot/config.hpp"
#include "bot/memory_reply.hpp"
#include "bot/prompt.hpp"
#include "bot/token_budget.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <charconv>

namespace bot {

namespace {

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

constexpr std::string_view kFormatWithFacts =
    "\n\nAnswer with one JSON object and nothing else: {\"summary\": \"the new summary\", "
    "\"facts\": [\"...\"]}. facts: durable facts about the user that are worth remembering "
    "for months (name, family, preferences, ongoing matters), each a short sentence, only what "
    "the user said about themselves; [] when there are none.";
constexpr std::string_view kFormatSummaryOnly =
    "\n\nAnswer with one JSON object and nothing else: {\"summary\": \"the new summary\"}.";

// Counts the worker or the sweep as busy for a scope, however it ends.
struct Busy {
    explicit Busy(std::atomic<int>& count) : count(count) { ++count; }
    ~Busy() { --count; }
    std::atomic<int>& count;
};

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

std::string_view command_rest(std::string_view text, std::string_view command) {
    auto rest =
        text.substr(static_cast<std::size_t>(command.data() - text.data()) + command.size());
    if (rest.starts_with('@'))
        rest.remove_prefix(std::min(rest.find_first_of(" \t\r\n"), rest.size()));
    return trim(rest);
}

Memory::Memory(storage::Store& store, ContextCache& cache, Logger& log, MemoryOptions options)
    : store_(store), cache_(cache), log_(log), options_(std::move(options)) {
    if (options_.summary_prompt.empty()) options_.summary_prompt = kDefaultSummaryPrompt;
}

void Memory::start(net::any_io_executor executor) {
    {
        std::lock_guard lock(mutex_);
        executor_ = executor;
        started_ = true;
    }
    if (summaries_enabled()) net::co_spawn(executor, sweep(), net::detached);
}

void Memory::stop() {
    stopping_ = true;
}

net::awaitable<void> Memory::fill_facts(const storage::ConversationKey& key, MemoryNotes& notes) {
    if (!options_.facts) co_return;
    const std::string user = key.adapter_id + '\n' + key.user_id;
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(facts_mutex_);
        if (auto found = facts_cache_.find(user); found != facts_cache_.end()) {
            notes.facts = *found->second;
            co_return;
        }
        generation = facts_generation_;
    }
    auto facts = co_await store_.facts(key.adapter_id, key.user_id);
    auto list = std::make_shared<std::vector<std::string>>();
    for (auto& fact : facts)
        if (fact.from_user) list->push_back(std::move(fact.text));
    for (auto fact = facts.rbegin(); fact != facts.rend(); ++fact)
        if (!fact->from_user) list->push_back(std::move(fact->text));
    notes.facts = *list;
    std::lock_guard lock(facts_mutex_);
    if (generation != facts_generation_) co_return;  // a write since: this read may be stale
    if (facts_cache_.size() >= kCachedUsers) facts_cache_.clear();
    facts_cache_.insert_or_assign(user, std::move(list));
}

void Memory::facts_changed(const std::string& adapter_id, const std::string& user_id) {
    std::lock_guard lock(facts_mutex_);
    ++facts_generation_;
    facts_cache_.erase(adapter_id + '\n' + user_id);
}

void Memory::forgot_user(const std::string& adapter_id, const std::string& user_id) {
    facts_changed(adapter_id, user_id);
}

void Memory::consider(const storage::ConversationKey& key, const std::string& conversation_id,
                      std::size_t turns, std::size_t first_turn) {
    if (!summaries_enabled() || conversation_id.empty() || stopping_) return;
    const auto after = static_cast<std::size_t>(options_.after_turns);
    if (first_turn == 0 && turns < after) return;
    // Keep the newest half of what fits (whole exchanges), so the next summary is far off.
    const std::size_t fitting = turns - std::min(first_turn, turns);
    const int keep = static_cast<int>(std::min(fitting, after) / 4 * 2);
    enqueue(Item{.key = key, .conversation_id = conversation_id, .row = 0, .keep_turns = keep});
}

void Memory::enqueue(Item item) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || !started_ || queued_.contains(item.conversation_id)) return;
        if (queue_.size() >= options_.queue_limit) return;  // the next message asks again
        queued_.insert(item.conversation_id);
        queue_.push_back(std::move(item));
        if (workers_ >= options_.workers) return;  // one of them takes it
        ++workers_;
        ++busy_;
    }
    // Posted: co_spawn would start the worker inline, on the reply's own turn.
    net::post(executor_, [this] { net::co_spawn(executor_, drain(), net::detached); });
}

net::awaitable<void> Memory::drain() {
    for (;;) {
        Item item;
        {
            std::lock_guard lock(mutex_);
            if (queue_.empty() || stopping_) {
                queue_.clear();
                queued_.clear();
                --workers_;
                --busy_;
                co_return;
            }
            item = std::move(queue_.front());
            queue_.pop_front();
        }
        try {
            co_await summarise(item);
        } catch (const std::exception& e) {
            log_.error("memory", "summary failed: ", e.what());
        }
        std::lock_guard lock(mutex_);
        queued_.erase(item.conversation_id);
    }
}

net::awaitable<void> Memory::summarise(Item item) {
    std::int64_t row = item.row;
    if (row == 0) {
        // Recorded before the LLM is asked: a crash from here on leaves it for the sweep.
        auto queued =
            co_await store_.queue_summary(item.key, item.conversation_id, item.keep_turns);
        if (!queued) co_return;  // no longer the active conversation
        row = *queued;
    }
    // A long backlog (a slow provider, or turns from before summaries were on) takes several
    // calls; bounded so one conversation cannot hold the worker for ever.
    for (int round = 0; round < 16 && !stopping_; ++round) {
        if (!co_await summarise_once(row)) co_return;
    }
}

std::vector<llm::ChatMessage> Memory::request_messages(const storage::SummaryInput& input,
                                                       std::string& system,
                                                       std::string& user) const {
    system = options_.summary_prompt;
    system += " Keep it under about " + std::to_string(options_.summary_tokens * 3 / 5) + " words.";
    system += options_.facts ? kFormatWithFacts : kFormatSummaryOnly;
    user = "Summary so far:\n";
    user += input.summary.empty() ? std::string("(none yet)") : input.summary;
    user += "\n\nNew messages, oldest first:\n";
    for (const auto& turn : input.turns) {
        user += turn.role == "assistant" ? "Assistant: " : "User: ";
        user += turn.content;
        user += '\n';
    }
    return {{"system", system}, {"user", user}};
}

net::awaitable<bool> Memory::summarise_once(std::int64_t row) {
    Busy busy(busy_);
    storage::SummaryInput input =
        co_await store_.summary_input(row, options_.max_turns_per_request);
    if (!input.found) {  // ended by /reset, or forgotten: no summary is needed any more
        co_await store_.drop_summary_job(row);
        co_return false;
    }
    if (input.not_before_ms > now_ms()) co_return false;  // backing off; the sweep comes back
    const auto& key = input.job.key;
    if (input.turns.empty()) {
        co_await store_.drop_summary_job(row);
        // A cached context read before the last summary was stored catches up here.
        if (input.through > 0) {
            cache_.summarised(key, input.job.conversation_id,
                              std::make_shared<const std::string>(input.summary), input.through);
        }
        co_return false;
    }
    llm::LlmBackend& backend = *options_.summary_backend;
    // As many of the oldest turns as the summary provider's window takes, whole exchanges.
    const int budget = backend.context_tokens() - options_.summary_tokens -
                       estimate_tokens(options_.summary_prompt) - estimate_tokens(input.summary) -
                       256;
    std::size_t take = 0;
    for (int used = 0; take < input.turns.size(); ++take) {
        used += estimate_message_tokens(input.turns[take].content);
        if (used > budget && take > 0) break;
    }
    if (take < input.turns.size() && take > 1 && input.turns[take - 1].role == "user") --take;
    input.turns.resize(take);

    std::string system;
    std::string user;
    llm::ChatRequest request;
    request.messages = request_messages(input, system, user);
    request.max_tokens = options_.summary_tokens;
    request.stream = false;
    auto result = co_await backend.complete(std::move(request), [](std::string_view) {});
    std::optional<MemoryReply> reply;
    if (result) {
        reply = parse_memory_reply(
            result->text,
            MemoryReplyLimits{
                .max_summary_bytes = static_cast<std::size_t>(options_.summary_tokens) * 4,
                .max_fact_chars = options_.max_fact_chars,
                .max_facts = options_.max_facts});
    }
    if (!reply) {
        if (stopping_) co_return false;  // the shutdown cancelled it: the next start retries
        const int attempt = std::min(input.job.attempts, 6);
        const auto wait =
            std::min<std::chrono::seconds>(options_.retry * (1 << attempt), std::chrono::hours(1));
        log_.warn("memory", "summary of a conversation on '", key.adapter_id, "' failed (",
                  result ? std::string("unusable answer") : result.error().detail,
                  "); retrying in ", wait.count(), " s");
        co_await store_.summary_failed(row, now_ms() + wait.count() * 1000);
        co_return false;
    }
    // Within its share of a reply's prompt, which would otherwise leave it out whole.
    for (int tokens = estimate_tokens(reply->summary); tokens > options_.summary_tokens;
         tokens = estimate_tokens(reply->summary)) {
        const auto size = reply->summary.size() *
                          static_cast<std::size_t>(options_.summary_tokens) /
                          static_cast<std::size_t>(tokens + 1);
        reply->summary.resize(utf8_floor(reply->summary, size));
    }
    const std::int64_t through = input.turns.back().id;
    storage::SummaryUpdate update{.conversation = row,
                                  .expected_through = input.through,
                                  .through = through,
                                  .summary = reply->summary,
                                  .facts = {},
                                  .max_facts = options_.max_facts,
                                  .public_id = input.job.conversation_id};
    if (options_.facts) update.facts = std::move(reply->facts);
    const storage::SummaryCommit commit = co_await store_.commit_summary(std::move(update));
    if (!commit.stored) {
        // The pointer moved (another writer) or the conversation is gone: read again.
        log_.debug("memory", "summary not stored: the conversation changed meanwhile");
        co_return !stopping_;
    }
    if (options_.facts) facts_changed(key.adapter_id, key.user_id);
    cache_.summarised(key, input.job.conversation_id,
                      std::make_shared<const std::string>(std::move(reply->summary)), through);
    log_.debug("memory", "summarised ", input.turns.size(), " turns on '", key.adapter_id, "'");
    co_return !commit.done;
}

net::awaitable<void> Memory::sweep() {
    while (!stopping_) {
        std::vector<storage::SummaryJob> jobs;
        try {
            Busy busy(busy_);
            jobs = co_await store_.due_summaries(now_ms());
        } catch (const std::exception& e) {
            log_.error("memory", "cannot read the summaries to make: ", e.what());
        }
        for (auto& job : jobs) {
            enqueue(Item{.key = std::move(job.key),
                         .conversation_id = std::move(job.conversation_id),
                         .row = job.conversation,
                         .keep_turns = job.keep_turns});
        }
        co_await sleep_for(options_.retry);
    }
}

net::awaitable<std::string> Memory::answer(const storage::ConversationKey& key,
                                           std::string_view command, std::string_view rest,
                                           const std::string& prefix) {
    const int max = options_.max_facts;
    if (command == "remember") {
        std::string fact = one_line(rest);
        if (fact.empty()) co_return "Tell me what to remember: " + prefix + "remember TEXT";
        if (utf8_length(fact) > options_.max_fact_chars) {
            co_return "That is too long for me to remember (at most " +
                std::to_string(options_.max_fact_chars) + " characters).";
        }
        const auto result =
            co_await store_.remember_fact(key.adapter_id, key.user_id, std::move(fact), max);
        facts_changed(key.adapter_id, key.user_id);
        switch (result) {
            case storage::RememberResult::added:
                co_return std::string("OK, I will remember that.");
            case storage::RememberResult::duplicate:
                co_return std::string("I know that already.");
            case storage::RememberResult::full:
                co_return "My memory of you is full (" + std::to_string(max) +
                    " facts). Remove one with " + prefix + "memory forget N first.";
        }
        co_return std::string();
    }
    std::string_view argument = rest;
    if (argument.empty()) {
        auto facts = co_await store_.facts(key.adapter_id, key.user_id);
        if (facts.empty()) {
            co_return "I don't remember anything about you yet. Tell me with " + prefix +
                "remember TEXT.";
        }
        std::string text = "What I remember about you:";
        for (std::size_t i = 0; i < facts.size(); ++i)
            text += "\n" + std::to_string(i + 1) + ". " + facts[i].text;
        co_return text + "\n" + prefix + "memory forget N removes one; " + prefix +
            "forget deletes everything stored about you.";
    }
    std::string_view word = argument.substr(0, argument.find_first_of(" \t\r\n"));
    std::string_view number = trim(argument.substr(word.size()));
    int position = 0;
    const auto parsed = std::from_chars(number.data(), number.data() + number.size(), position);
    if (word != "forget" || number.empty() || parsed.ec != std::errc() ||
        parsed.ptr != number.data() + number.size() || position < 1) {
        co_return "Use " + prefix + "memory to see what I remember about you and " + prefix +
            "memory forget N to remove one of them.";
    }
    const bool forgotten = co_await store_.forget_fact(key.adapter_id, key.user_id, position);
    facts_changed(key.adapter_id, key.user_id);
    if (!forgotten) {
        co_return "There is no fact " + std::to_string(position) + ". " + prefix +
            "memory lists them.";
    }
    co_return "Done: I forgot fact " + std::to_string(position) + ".";
}

std::string Memory::help_lines(const std::string& prefix) const {
    if (!options_.facts) return {};
    return prefix + "remember TEXT - make me remember something about you\n" + prefix +
           "memory - what I remember about you (" + prefix + "memory forget N removes one)\n";
}

}  // namespace bot
