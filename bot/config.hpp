// contactbot's configuration: one JSON file (comments allowed) with ${ENV} interpolation.
// Every key is documented in deploy/contactbot.example.json. Adapter sections are validated by
// the adapters themselves (see App::validate); everything else here.
#pragma once

#include "base/config_reader.hpp"
#include "bot/social_config.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bot {

struct ProviderConfig {
    std::string name;  // the key under llm.providers
    std::string type;  // "openai"
    std::string base_url;
    std::string api_key;
    std::string model;
    std::chrono::seconds timeout{60};
    int max_concurrency = 64;
    int context_tokens = 8192;
    int reply_tokens = 1024;
    int retries = 2;
    std::optional<double> temperature;
};

// memory.recall (h/recall): older turns of the user's own history that match a new message are
// recalled into the context as earlier excerpts.
struct RecallConfig {
    bool enabled = true;
    int excerpts = 3;  // at most this many per message
};

// memory.embeddings (h/recall): an OpenAI-compatible /embeddings provider; absent: none.
struct EmbeddingsConfig {
    std::string base_url;
    std::string api_key;
    std::string model;
    // The new message's embedding is awaited this long on the reply path, then recall goes on
    // with keywords only.
    std::chrono::milliseconds query_timeout{1500};
    std::chrono::seconds timeout{30};  // a background batch
    double min_similarity = 0.3;  // a turn matching by vector only must be at least this similar
    int candidates = 200;         // the user's newest vectors compared per message
};

struct AdapterConfig {
    std::string id;
    std::string type;
    // adapters.<id>.persona: a name under bot.personas, or empty for bot.persona. A core key:
    // read here and removed from section, so every adapter type accepts it.
    std::string persona;
    // adapters.<id>.group_context (a core key like persona): absent = off.
    std::optional<GroupContextConfig> group_context;
    nlohmann::json section;  // the whole adapters.<id> object, "type" included
};

struct Config {
    struct Server {
        std::string host = "127.0.0.1";
        std::uint16_t port = 8080;
        int threads = 0;  // 0 = hardware concurrency
        std::size_t body_limit = 1 << 20;
        std::size_t max_connections = 10000;
        std::size_t max_connections_per_address = 128;
        std::size_t max_websockets_per_address = 64;
        std::size_t body_budget_bytes = 64 << 20;
        std::size_t websocket_queue_bytes = 1 << 20;
        std::vector<std::string> trusted_proxies;  // addresses and CIDR ranges
        std::chrono::seconds header_timeout{10};
        std::chrono::seconds read_timeout{30};
        std::chrono::seconds idle_timeout{60};
        std::chrono::seconds shutdown_grace{10};
        // Where users reach this server ("https://bot.example.com"), for /export links and
        // /share pages; empty: those commands are unavailable.
        std::string public_url;
        std::chrono::seconds export_link_ttl{900};  // server.export_link_s
    } server;
    struct Storage {
        std::string sqlite_path = "data/contactbot.db";
        bool synchronous_full = false;
        int readers = 2;
    } storage;
    struct Bot {
        std::string persona;
        // bot.personas: name -> system prompt, which users pick with /persona (ordered by name).
        std::map<std::string, std::string> personas;
        // bot.user_models: providers under llm.providers that users pick with /model.
        std::vector<std::string> user_models;
        std::string command_prefix = "/";
        int queue_limit = 8;  // waiting messages per conversation before "busy" replies
        std::size_t max_input_chars = 8000;
        int history_turns = 100;    // newest turns loaded before the token budget trims them
        int context_cache_mb = 16;  // recent turns of active conversations kept in memory
    } bot;
    struct Llm {
        std::string default_provider;  // empty = none configured
        std::vector<ProviderConfig> providers;
        const ProviderConfig* find(const std::string& name) const;
    } llm;
    // memory.summary and memory.facts (issue 24, h/summary): see bot/memory.hpp.
    struct MemorySummary {
        bool enabled = true;
        std::string provider;  // empty: llm.default
        std::string prompt;    // empty: the built-in one (kDefaultSummaryPrompt)
        int after_turns = 0;   // summarise once this many turns are unsummarised; 0: history_turns
        int max_tokens = 800;  // of one summary
        int max_turns_per_request = 200;
        int workers = 1;                 // summaries made at the same time
        std::chrono::seconds retry{60};  // first wait after a failed summary; doubles, up to 1 h
    };
    struct MemoryFacts {
        bool enabled = true;
        int max = 50;                 // facts per user
        std::size_t max_chars = 300;  // of one fact
    };
    struct Memory {
        MemorySummary summary;                       // h/summary
        MemoryFacts facts;                           // h/summary
        RecallConfig recall;                         // h/recall
        std::optional<EmbeddingsConfig> embeddings;  // h/recall
    } memory;
    struct Log {
        std::string level = "info";
        int lines_per_minute = 20;  // of one shape; 0 = no throttling
    } log;
    std::vector<AdapterConfig> adapters;
};

inline constexpr std::size_t kMaxPersonaNameChars = 32;
inline constexpr std::size_t kMaxPersonaPromptBytes = 16000;
// What a user writes to go back to the default persona or model ("/persona default").
inline constexpr const char* kDefaultChoice = "default";

inline constexpr const char* kDefaultSummaryPrompt =
    "You keep the memory of a chat assistant. Fold the new messages into the summary so far: "
    "keep what will matter later (who the user is, names, preferences, plans, decisions, open "
    "questions, promises made), drop small talk and anything already obsolete. Write it in the "
    "language of the conversation, in the third person, as briefly as possible.";

inline constexpr const char* kDefaultPersona =
    "You are a helpful, friendly assistant that people talk to in their messaging app. Answer "
    "in the language the user writes in. Be concise: this is a chat, not an essay.";

// Reads memory.recall and memory.embeddings into memory (bot/recall_config.cpp).
void read_recall_config(ConfigReader& memory_section, Config::Memory& memory);

// Returns the value of an environment variable, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_environment();

// Parses JSON with comments and replaces ${NAME} / ${NAME:-default} in every string ("$${"
// writes a literal "${"). Unset variables without a default are reported with their key path.
nlohmann::json parse_config_json(std::string_view text, const EnvLookup& env, ConfigErrors& errors);

// Reads and validates everything but the adapter sections' contents, adding every problem to
// errors (the returned Config is then only partly meaningful).
Config parse_config(std::string_view text, const EnvLookup& env, ConfigErrors& errors);
Config load_config_file(const std::string& path, const EnvLookup& env, ConfigErrors& errors);
// The same, throwing ConfigError when there is any problem.
Config parse_config(std::string_view text, const EnvLookup& env);

}  // namespace bot
