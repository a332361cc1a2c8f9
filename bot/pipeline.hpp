// What happens to one accepted message, in its conversation's turn: commands, or context +
// LLM; then the reply is stored together with the turns and handed to its watcher or the
// outbox. Runs strictly one message at a time per conversation (the Dispatcher sees to it).
#pragma once

#include "bot/adapter.hpp"
#include "bot/context_cache.hpp"
#include "bot/memory.hpp"
#include "bot/recall.hpp"
#include "llm/llm_backend.hpp"
#include "storage/store.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace bot {

class GroupContext;
class Logger;
class Outbox;
class UserPages;
class ReplyTracker;

struct PipelineOptions {
    std::string persona;  // bot.persona: the system prompt unless a persona applies
    // bot.personas (name -> prompt): /persona is enabled when there is any.
    std::map<std::string, std::string> personas;
    // adapters.<id>.persona: the default persona of that adapter's users (names in personas).
    std::map<std::string, std::string> adapter_personas;
    std::string command_prefix = "/";
    std::size_t max_input_chars = 8000;
    int history_turns = 100;
    std::string no_provider_hint;  // shown to users when no LLM provider is configured
    std::size_t context_cache_bytes = 16 << 20;  // recent turns kept in memory; 0 = off
    MemoryOptions memory;                        // summaries and facts (issue 24)
    // issue 24, h/social (owned by App; null: off): group messages for notes.group, and the
    // /export, /share and /unshare commands.
    GroupContext* group_context = nullptr;
    UserPages* user_pages = nullptr;
    RecallOptions recall;  // memory.recall and memory.embeddings (h/recall)
};

struct Job {
    std::int64_t inbox_id = 0;
    Inbound inbound;
    // Start-up recovery: a stored reply to deliver (again) instead of a message to process,
    // queued in its conversation so it goes out before newer replies.
    std::optional<storage::OutboxRow> redeliver;
    // The adapter watches the reply grow (SubmitOptions::deltas), so the LLM streams it.
    // Otherwise it comes in one piece: a stream costs a read and a parse per few tokens.
    bool stream_reply = false;
};

storage::ConversationKey conversation_key(const Inbound& inbound);

class Pipeline {
public:
    // backend may be null: no provider configured. user_backends are those users may pick with
    // /model (bot.user_models, by provider name; /model is enabled when there is any).
    Pipeline(storage::Store& store, llm::LlmBackend* backend, ReplyTracker& tracker, Outbox& outbox,
             Logger& log, PipelineOptions options,
             std::map<std::string, llm::LlmBackend*> user_backends = {});

    net::awaitable<void> process(Job job);
    // The conversation's queue is full: answer without processing.
    net::awaitable<void> reply_busy(Job job);

    // After stop(), a message whose LLM call fails is left unanswered for the next start
    // instead of getting an apology (the failure is most likely the shutdown itself).
    void stop() {
        stopping_ = true;
        memory_.stop();
    }

    Memory& memory() { return memory_; }

private:
    // The context a reply was written with, to extend in the cache once its turns are stored.
    struct UsedContext {
        std::string conversation_id;
        ContextCache::Turns turns;
        std::uint64_t generation = 0;
        std::optional<storage::TokenUsage> usage;  // counted with the reply
        ContextCache::Summary summary;             // the rolling summary the turns follow
        std::int64_t through = 0;
    };

    // What applies to a user's next turn: their choices, or the defaults.
    struct Choices {
        const std::string* persona_prompt = nullptr;
        llm::LlmBackend* backend = nullptr;
        std::string persona;  // the chosen name, empty for the default
        std::string model;    // the chosen provider, empty for the default
    };

    net::awaitable<void> answer_command(const Job& job, std::string_view command,
                                        std::string_view argument);
    net::awaitable<void> answer_persona(const Job& job, std::string_view argument);
    net::awaitable<void> answer_model(const Job& job, std::string_view argument);
    net::awaitable<void> answer_usage(const Job& job);
    net::awaitable<Choices> choices_of(const storage::ConversationKey& key);
    const std::string& default_persona_prompt(const std::string& adapter_id) const;
    net::awaitable<void> answer_with_llm(const Job& job);
    // Stores the reply (with the turns when remember is set) and delivers it. The context
    // cache takes used->turns over.
    net::awaitable<void> finish(const Job& job, std::string reply, bool remember,
                                UsedContext* used = nullptr);

    std::string help_text() const;

    storage::Store& store_;
    llm::LlmBackend* backend_;
    ReplyTracker& tracker_;
    Outbox& outbox_;
    Logger& log_;
    PipelineOptions options_;
    std::map<std::string, llm::LlmBackend*> user_backends_;
    ContextCache cache_;
    Memory memory_;
    std::atomic<bool> stopping_{false};
};

}  // namespace bot
