#include "bot/pipeline.hpp"

#include "base/log.hpp"
#include "base/text_split.hpp"
#include "bot/command_word.hpp"
#include "bot/config.hpp"
#include "bot/group_context.hpp"
#include "bot/outbox.hpp"
#include "bot/prompt.hpp"
#include "bot/recall.hpp"
#include "bot/reply_tracker.hpp"
#include "bot/token_budget.hpp"
#include "bot/user_pages.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace bot {

namespace {

std::string apology(const llm::LlmError& error) {
    switch (error.kind) {
        case llm::LlmError::Kind::rate_limited:
            return "Sorry, the AI service is overloaded right now. Please try again in a minute.";
        case llm::LlmError::Kind::timeout:
            return "Sorry, the AI service took too long to answer. Please try again.";
        default:
            return "Sorry, the AI service is not available right now. Please try again later.";
    }
}

bool is_blank(std::string_view text) {
    return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// The first word after the command word (a view into the same text), lower-cased by the caller.
// A bot name glued to the command ("/persona@my_bot pirate", Telegram's form in groups) is
// skipped.
std::string_view command_argument(std::string_view text, std::string_view command) {
    auto rest =
        text.substr(static_cast<std::size_t>(command.data() - text.data()) + command.size());
    if (rest.starts_with('@'))
        rest.remove_prefix(std::min(rest.find_first_of(" \t\r\n"), rest.size()));
    auto start = rest.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) return {};
    rest.remove_prefix(start);
    return rest.substr(0, rest.find_first_of(" \t\r\n@"));
}

std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// One line per choice, the user's marked: "* default (fake)\n  second".
std::string choice_lines(std::string_view default_note, const std::vector<std::string>& names,
                         const std::string& current) {
    std::string out = current.empty() ? "* " : "  ";
    out += kDefaultChoice;
    if (!default_note.empty()) {
        out += " (";
        out += default_note;
        out += ')';
    }
    for (const auto& name : names) {
        out += '\n';
        out += current == name ? "* " : "  ";
        out += name;
    }
    return out;
}

// Today in UTC, as usage is counted: "2026-12-07".
std::string utc_day() {
    const std::chrono::year_month_day day{
        std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
    char text[16];
    std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(day.year()),
                  static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day()));
    return text;
}

std::string usage_line(const storage::UsageCounts& counts) {
    return std::to_string(counts.messages) + " messages, " +
           std::to_string(counts.prompt_tokens + counts.completion_tokens) + " tokens (" +
           std::to_string(counts.prompt_tokens) + " in, " +
           std::to_string(counts.completion_tokens) + " out)";
}

// "a, b, c"
template <class Names>
std::string joined(const Names& names) {
    std::string out;
    for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
}

}  // namespace

storage::ConversationKey conversation_key(const Inbound& inbound) {
    return {.adapter_id = inbound.chat.adapter_id,
            .chat_id = inbound.chat.chat_id,
            .user_id = inbound.sender_id};
}

Pipeline::Pipeline(storage::Store& store, llm::LlmBackend* backend, ReplyTracker& tracker,
                   Outbox& outbox, Logger& log, PipelineOptions options,
                   std::map<std::string, llm::LlmBackend*> user_backends)
    : store_(store),
      backend_(backend),
      tracker_(tracker),
      outbox_(outbox),
      log_(log),
      options_(std::move(options)),
      user_backends_(std::move(user_backends)),
      cache_(options_.context_cache_bytes, static_cast<std::size_t>(options_.history_turns)),
      memory_(store_, cache_, log_, options_.memory) {}

std::string Pipeline::help_text() const {
    const auto& p = options_.command_prefix;
    // With long-term memory on, /reset ends the conversation but not what I remember of you.
    const bool remembers = options_.recall.enabled || options_.memory.facts;
    std::string text = "Commands:\n" + p + "help - show this help\n" + p +
                       (remembers ? "reset - start a new conversation (what I remember of you "
                                    "stays: " +
                                        p + "forget deletes it)\n"
                                  : "reset - start a new conversation (I forget the context of "
                                    "this one)\n") +
                       p + "forget - delete everything stored about you\n" + p +
                       "usage - how much you used the AI today and in total\n";
    if (!options_.personas.empty()) {
        text += p + "persona - show or choose how I talk (" + p + "persona NAME)\n";
    }
    if (!user_backends_.empty()) {
        text += p + "model - show or choose the AI model (" + p + "model NAME)\n";
    }
    text += memory_.help_lines(p);
    if (options_.user_pages) text += options_.user_pages->help_lines(p);
    return text + "Anything else you write goes to the AI.";
}

const std::string& Pipeline::default_persona_prompt(const std::string& adapter_id) const {
    if (auto name = options_.adapter_personas.find(adapter_id);
        name != options_.adapter_personas.end()) {
        if (auto persona = options_.personas.find(name->second);
            persona != options_.personas.end()) {
            return persona->second;
        }
    }
    return options_.persona;
}

net::awaitable<Pipeline::Choices> Pipeline::choices_of(const storage::ConversationKey& key) {
    Choices choices;
    choices.persona_prompt = &default_persona_prompt(key.adapter_id);
    choices.backend = backend_;
    // Without choices to make, no read per message.
    if (options_.personas.empty() && user_backends_.empty()) co_return choices;
    auto settings = co_await store_.user_settings(key.adapter_id, key.user_id);
    // A choice the operator has since removed from the config falls back to the default.
    if (!settings.persona.empty()) {
        if (auto persona = options_.personas.find(settings.persona);
            persona != options_.personas.end()) {
            choices.persona_prompt = &persona->second;
            choices.persona = settings.persona;
        } else {
            log_.debug("pipeline", "persona '", settings.persona,
                       "' is no longer configured; using the default");
        }
    }
    if (!settings.model.empty()) {
        if (auto backend = user_backends_.find(settings.model); backend != user_backends_.end()) {
            choices.backend = backend->second;
            choices.model = settings.model;
        } else {
            log_.debug("pipeline", "model '", settings.model,
                       "' is no longer configured; using the default");
        }
    }
    co_return choices;
}

net::awaitable<void> Pipeline::answer_persona(const Job& job, std::string_view argument) {
    const auto& p = options_.command_prefix;
    auto key = conversation_key(job.inbound);
    auto wanted = ascii_lower(argument);
    std::vector<std::string> names;
    for (const auto& [name, prompt] : options_.personas) names.push_back(name);
    if (wanted.empty()) {
        Choices choices = co_await choices_of(key);
        const std::string& current = choices.persona;
        auto name = options_.adapter_personas.find(key.adapter_id);
        std::string_view note =
            name != options_.adapter_personas.end() ? std::string_view(name->second) : "";
        std::string text = "Personas (* is yours):\n" + choice_lines(note, names, current) +
                           "\nChoose one with " + p + "persona NAME; " + p + "persona " +
                           kDefaultChoice + " goes back to the default.";
        co_await finish(job, std::move(text), false);
        co_return;
    }
    if (wanted != kDefaultChoice && !options_.personas.contains(wanted)) {
        std::string reply = "There is no such persona. Choose one of: " + joined(names) + " (or " +
                            kDefaultChoice + ").";
        co_await finish(job, std::move(reply), false);
        co_return;
    }
    // Named, not temporaries inside co_await: see Dispatcher::submit.
    const bool back_to_default = wanted == kDefaultChoice;
    std::string stored = back_to_default ? std::string() : wanted;
    co_await store_.set_user_setting(key.adapter_id, key.user_id, storage::UserSetting::persona,
                                     std::move(stored));
    std::string reply = back_to_default ? std::string("Done: I am back to my default persona.")
                                        : "Done: I now talk as " + wanted + ".";
    co_await finish(job, std::move(reply), false);
}

net::awaitable<void> Pipeline::answer_usage(const Job& job) {
    auto key = conversation_key(job.inbound);
    auto report = co_await store_.usage(key.adapter_id, key.user_id, utc_day());
    std::string reply = "Your use of the AI\nToday (UTC): " + usage_line(report.today) +
                        "\nIn total: " + usage_line(report.total);
    co_await finish(job, std::move(reply), false);
}

net::awaitable<void> Pipeline::answer_model(const Job& job, std::string_view argument) {
    const auto& p = options_.command_prefix;
    auto key = conversation_key(job.inbound);
    std::vector<std::string> names;
    for (const auto& [name, backend] : user_backends_) names.push_back(name);
    if (argument.empty()) {
        Choices choices = co_await choices_of(key);
        const std::string& current = choices.model;
        std::string_view note = backend_ ? backend_->name() : std::string_view();
        std::string text = "Models (* is yours):\n" + choice_lines(note, names, current) +
                           "\nChoose one with " + p + "model NAME; " + p + "model " +
                           kDefaultChoice + " goes back to the default.";
        co_await finish(job, std::move(text), false);
        co_return;
    }
    // Provider names may use capitals; users need not.
    auto wanted = ascii_lower(argument);
    std::string chosen;
    for (const auto& name : names) {
        if (ascii_lower(name) == wanted) chosen = name;
    }
    if (wanted != kDefaultChoice && chosen.empty()) {
        std::string reply = "There is no such model. Choose one of: " + joined(names) + " (or " +
                            kDefaultChoice + ").";
        co_await finish(job, std::move(reply), false);
        co_return;
    }
    co_await store_.set_user_setting(key.adapter_id, key.user_id, storage::UserSetting::model,
                                     chosen);
    std::string reply = chosen.empty() ? std::string("Done: I am back to the default model.")
                                       : "Done: I now answer you with " + chosen + ".";
    co_await finish(job, std::move(reply), false);
}

net::awaitable<void> Pipeline::process(Job job) {
    const std::string& text = job.inbound.text;
    const std::string& prefix = options_.command_prefix;
    // (After a restart only the text is known: an unsupported message is stored empty.)
    if (!job.inbound.unsupported.empty() || is_blank(text)) {
        co_await finish(job,
                        "Sorry, I can only read text messages for now. Please write your message "
                        "as text.",
                        false);
    } else if (auto command = command_word(text, prefix)) {
        co_await answer_command(job, *command, command_argument(text, *command));
    } else if (utf8_length(text) > options_.max_input_chars) {
        co_await finish(job,
                        "Your message is too long for me (at most " +
                            std::to_string(options_.max_input_chars) +
                            " characters). Please shorten it.",
                        false);
    } else {
        co_await answer_with_llm(job);
    }
}

net::awaitable<void> Pipeline::answer_command(const Job& job, std::string_view command,
                                              std::string_view argument) {
    auto key = conversation_key(job.inbound);
    if (command == "help" || command == "start") {
        co_await finish(job, help_text(), false);
    } else if (command == "persona" && !options_.personas.empty()) {
        co_await answer_persona(job, argument);
    } else if (command == "model" && !user_backends_.empty()) {
        co_await answer_model(job, argument);
    } else if ((command == "remember" || command == "memory") && memory_.facts_enabled()) {
        // The list holds what was said in private chats too: not for the whole group to read.
        // Not `a ? b : co_await f()`: g++ 12 double-frees string temporaries there.
        std::string reply;
        if (command == "memory" && job.inbound.chat.is_group) {
            reply = "What I remember of you is yours alone: send " + options_.command_prefix +
                    "memory to me in a private chat.";
        } else {
            reply = co_await memory_.answer(key, command, command_rest(job.inbound.text, command),
                                            options_.command_prefix);
        }
        co_await finish(job, std::move(reply), false);
    } else if (command == "usage") {
        co_await answer_usage(job);
    } else if (options_.user_pages && UserPages::handles(command)) {
        auto reply = co_await options_.user_pages->answer(key, command, job.inbound.chat.is_group);
        co_await finish(job, std::move(reply), false);
    } else if (command == "reset" || command == "new") {
        auto generation = cache_.generation();
        auto conversation_id = co_await store_.reset_conversation(key);
        cache_.put(key, std::move(conversation_id), {}, generation);
        const bool remembers = options_.recall.enabled || options_.memory.facts;
        std::string reply = remembers ? "Started a new conversation. What I remember of you stays "
                                        "(earlier conversations may still come up when "
                                        "relevant); " +
                                            options_.command_prefix + "forget deletes it."
                                      : "Started a new conversation. I no longer use what we "
                                        "said before.";
        co_await finish(job, std::move(reply), false);
    } else if (command == "forget") {
        // Before and after: no cached context of this user survives, even one put meanwhile.
        cache_.forget_user(key.adapter_id, key.user_id);
        if (options_.group_context)
            options_.group_context->forget_sender(key.adapter_id, key.user_id);
        if (options_.user_pages) options_.user_pages->forget(key.adapter_id, key.user_id);
        auto removed = co_await store_.forget_user(key.adapter_id, key.user_id, job.inbox_id);
        cache_.forget_user(key.adapter_id, key.user_id);
        memory_.forgot_user(key.adapter_id, key.user_id);
        log_.info("pipeline", "forgot user data on '", key.adapter_id, "': ", removed.conversations,
                  " conversations, ", removed.messages, " turns, ", removed.inbox, " messages");
        co_await finish(job,
                        "Done: I deleted everything stored about you (" +
                            std::to_string(removed.conversations) + " conversations, " +
                            std::to_string(removed.messages) + " messages).",
                        false);
        // finish() returns once the confirmation is out (or failed for good): then the request's
        // own rows go too. A crash in between leaves them, with the text already erased.
        co_await store_.erase_forget_request(key.adapter_id, key.user_id, job.inbox_id);
    } else {
        co_await finish(job,
                        "Unknown command " + options_.command_prefix + std::string(command) +
                            ".\n" + help_text(),
                        false);
    }
}

net::awaitable<void> Pipeline::answer_with_llm(const Job& job) {
    auto key = conversation_key(job.inbound);
    auto choices = co_await choices_of(key);
    llm::LlmBackend* backend = choices.backend;
    if (!backend) {
        co_await finish(job, options_.no_provider_hint, false);
        co_return;
    }
    const std::string& persona = *choices.persona_prompt;
    UsedContext used{
        .conversation_id = {}, .turns = {}, .generation = cache_.generation(), .usage = {}};
    if (auto cached = cache_.get(key)) {
        used.conversation_id = std::move(cached->conversation_id);
        used.turns = std::move(cached->turns);
        used.summary = std::move(cached->summary);
        used.through = cached->through;
    } else {
        auto context = co_await store_.load_context(key, options_.history_turns);
        used.conversation_id = std::move(context.conversation_id);
        used.turns = std::make_shared<const std::vector<storage::Turn>>(std::move(context.turns));
        if (!context.summary.empty())
            used.summary = std::make_shared<const std::string>(std::move(context.summary));
        used.through = context.summarized_through;
    }
    const auto& turns = *used.turns;
    MemoryNotes notes;  // the memory's additions (issue 24) are filled in here
    co_await memory_.fill_facts(key, notes);
    if (used.summary) notes.summary = *used.summary;
    if (options_.group_context && job.inbound.chat.is_group) {
        notes.group = co_await options_.group_context->lines_for(job.inbound);
    }
    if (options_.recall.enabled) {
        notes.recalled = co_await recall_excerpts(store_, options_.recall, log_, key,
                                                  job.inbound.text, static_cast<int>(turns.size()));
    }
    const Prompt prompt(persona, notes, turns, job.inbound.text,
                        backend->context_tokens() - backend->reply_tokens());
    memory_.consider(key, used.conversation_id, turns.size(), prompt.first_turn);

    llm::ChatRequest request;
    request.stream = job.stream_reply;
    request.max_tokens = backend->reply_tokens();
    request.messages = prompt.messages;

    auto tracker_key = ReplyTracker::key(job.inbound.chat.adapter_id, job.inbound.message_id);
    auto result = co_await backend->complete(
        std::move(request),
        [this, &tracker_key](std::string_view delta) { tracker_.delta(tracker_key, delta); });
    if (result) {
        // The provider's counts; an estimate when it sends none (some local servers).
        storage::TokenUsage usage{.day = utc_day(),
                                  .prompt_tokens = result->prompt_tokens,
                                  .completion_tokens = result->completion_tokens};
        if (usage.prompt_tokens <= 0 && usage.completion_tokens <= 0) {
            usage.prompt_tokens = prompt.estimated_tokens;
            usage.completion_tokens = estimate_tokens(result->text);
        }
        used.usage = std::move(usage);
        co_await finish(job, std::move(result->text), true, &used);
        co_return;
    }
    const auto& error = result.error();
    if (stopping_) {
        log_.info("pipeline", "message ", job.inbox_id,
                  " left for the next start (shutting down): ", error.detail);
        tracker_.abandon(tracker_key);
        co_return;
    }
    log_.error("pipeline", "LLM '", backend->name(), "' failed for message ", job.inbox_id, " (",
               llm::to_string(error.kind), "): ", error.detail);
    co_await finish(job, apology(error), false);
}

net::awaitable<void> Pipeline::finish(const Job& job, std::string reply, bool remember,
                                      UsedContext* used) {
    const auto& inbound = job.inbound;
    auto key = conversation_key(inbound);
    // Named, not a temporary inside co_await: see Dispatcher::submit.
    storage::Completion completion{.inbox_id = job.inbox_id,
                                   .key = key,
                                   .reply_to = inbound.message_id,
                                   .user_text = inbound.text,
                                   .reply = reply,
                                   .remember = remember,
                                   .usage = used ? used->usage : std::nullopt};
    auto stored = co_await store_.complete(std::move(completion));
    if (used && stored.appended) {
        if (used->conversation_id.empty() || used->conversation_id == stored.conversation_id) {
            std::vector<storage::Turn> added{{"user", inbound.text, stored.first_message_id},
                                             {"assistant", reply, stored.first_message_id + 1}};
            cache_.append(key, stored.conversation_id, std::move(used->turns), std::move(added),
                          used->generation, std::move(used->summary), used->through);
        } else {
            cache_.erase(key);  // the conversation changed under us (a /forget elsewhere)
        }
    }
    auto tracker_key = ReplyTracker::key(inbound.chat.adapter_id, inbound.message_id);
    if (tracker_.finish(tracker_key, reply, stored.conversation_id)) {
        co_await store_.mark_delivered(stored.outbox_id);  // the watching adapter delivered it
        co_return;
    }
    storage::OutboxRow row{.id = stored.outbox_id,
                           .inbox_id = job.inbox_id,
                           .key = std::move(key),
                           .is_group = inbound.chat.is_group,
                           .reply_to = inbound.message_id,
                           .text = std::move(reply),
                           .parts_sent = 0,
                           .attempts = 0};
    co_await outbox_.deliver(std::move(row));
}

net::awaitable<void> Pipeline::reply_busy(Job job) {
    log_.warn("pipeline", "conversation queue full on '", job.inbound.chat.adapter_id,
              "'; message ", job.inbox_id, " answered with busy");
    co_await finish(job,
                    "I'm still working on your earlier messages. Please wait for my answer "
                    "and send this one again.",
                    false);
}

}  // namespace bot
