#include "bot/config.hpp"

#include "bot/http/trusted_proxies.hpp"

#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

namespace bot {

namespace {

bool valid_env_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    for (char c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    }
    return true;
}

std::string interpolate(const std::string& text, const std::string& path, const EnvLookup& env,
                        ConfigErrors& errors) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text.compare(i, 3, "$${") == 0) {  // escaped: a literal "${"
            out += "${";
            i += 3;
            continue;
        }
        if (text.compare(i, 2, "${") != 0) {
            out += text[i++];
            continue;
        }
        auto close = text.find('}', i + 2);
        if (close == std::string::npos) {
            errors.add(path, "unterminated ${ in \"" + text + "\"");
            return text;
        }
        std::string expression = text.substr(i + 2, close - i - 2);
        std::optional<std::string> fallback;
        if (auto sep = expression.find(":-"); sep != std::string::npos) {
            fallback = expression.substr(sep + 2);
            expression.resize(sep);
        }
        if (!valid_env_name(expression)) {
            errors.add(path, "invalid environment variable name \"" + expression + "\"");
        } else if (auto value = env(expression); value && !value->empty()) {
            out += *value;
        } else if (fallback) {
            out += *fallback;
        } else if (value) {
            out += *value;  // set but empty
        } else {
            errors.add(path, "environment variable " + expression + " is not set");
        }
        i = close + 1;
    }
    return out;
}

void interpolate_tree(nlohmann::json& node, const std::string& path, const EnvLookup& env,
                      ConfigErrors& errors) {
    if (node.is_string()) {
        const auto& text = node.get_ref<const std::string&>();
        if (text.find("${") != std::string::npos) node = interpolate(text, path, env, errors);
    } else if (node.is_object()) {
        for (auto& [key, value] : node.items()) {
            interpolate_tree(value, path.empty() ? key : path + "." + key, env, errors);
        }
    } else if (node.is_array()) {
        for (std::size_t i = 0; i < node.size(); ++i) {
            interpolate_tree(node[i], path + "[" + std::to_string(i) + "]", env, errors);
        }
    }
}

bool is_loopback_url(const std::string& url) {
    for (const char* prefix : {"http://127.", "http://localhost", "http://[::1]"}) {
        if (url.starts_with(prefix)) return true;
    }
    return false;
}

bool valid_id(const std::string& id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
    }
    return true;
}

// Persona names are typed by users after /persona: short, lower case, no spaces.
bool valid_persona_name(const std::string& name) {
    if (name.empty() || name.size() > kMaxPersonaNameChars || name == kDefaultChoice) return false;
    for (char c : name) {
        if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '_' && c != '-')
            return false;
    }
    return true;
}

void read_personas(ConfigReader& bot_section, Config::Bot& bot) {
    if (!bot_section.has("personas")) return;
    auto personas = bot_section.object("personas");
    for (const auto& name : personas.keys()) {
        if (!valid_persona_name(name)) {
            personas.problem(name,
                             "persona names are 1 to 32 characters of a-z, 0-9, '-' and '_' "
                             "(and not \"default\")");
        }
        std::size_t problems_before = personas.errors().list().size();
        auto prompt = personas.required_string(name);
        if (personas.errors().list().size() != problems_before) continue;  // not a string
        if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
            personas.problem(name, "the prompt must not be empty");
        } else if (prompt.size() > kMaxPersonaPromptBytes) {
            personas.problem(name, "the prompt is longer than " +
                                       std::to_string(kMaxPersonaPromptBytes) + " bytes");
        }
        bot.personas.emplace(name, std::move(prompt));
    }
    personas.done();
}

bool needs_api_key(const ProviderConfig& provider) {
    return provider.api_key.empty() && !is_loopback_url(provider.base_url);
}

std::chrono::seconds seconds(ConfigReader& reader, std::string_view key,
                             std::chrono::seconds fallback, long long max) {
    return std::chrono::seconds(reader.integer(key, fallback.count(), 1, max));
}

// memory.summary and memory.facts (h/summary). After llm: the provider must exist.
void read_memory_summary_facts(ConfigReader& memory, Config& config) {
    auto summary = memory.object("summary");
    auto& s = config.memory.summary;
    s.enabled = summary.boolean("enabled", true);
    s.provider = summary.string("provider", "");
    s.prompt = summary.string("prompt", "");
    if (s.prompt.size() > kMaxPersonaPromptBytes) {
        summary.problem("prompt",
                        "longer than " + std::to_string(kMaxPersonaPromptBytes) + " bytes");
    }
    s.after_turns = static_cast<int>(summary.integer("after_turns", 0, 0, 100000));
    if (s.after_turns != 0 && (s.after_turns < 4 || s.after_turns > config.bot.history_turns)) {
        summary.problem("after_turns", "must be 0 (bot.history_turns) or 4 to bot.history_turns (" +
                                           std::to_string(config.bot.history_turns) + ")");
    }
    s.max_tokens = static_cast<int>(summary.integer("max_tokens", 800, 50, 100000));
    s.max_turns_per_request =
        static_cast<int>(summary.integer("max_turns_per_request", 200, 2, 100000));
    s.workers = static_cast<int>(summary.integer("workers", 1, 1, 64));
    s.retry = seconds(summary, "retry_s", s.retry, 86400);
    if (!s.provider.empty()) {
        const auto* provider = config.llm.find(s.provider);
        if (!provider) {
            summary.problem("provider",
                            "\"" + s.provider + "\" names no provider under llm.providers");
        } else if (s.enabled && needs_api_key(*provider)) {
            memory.errors().add("llm.providers." + s.provider + ".api_key",
                                "required for the provider of memory.summary (set its "
                                "environment variable)");
        }
    }
    summary.done();

    auto facts = memory.object("facts");
    config.memory.facts.enabled = facts.boolean("enabled", true);
    config.memory.facts.max = static_cast<int>(facts.integer("max", 50, 1, 1000));
    config.memory.facts.max_chars =
        static_cast<std::size_t>(facts.integer("max_chars", 300, 10, 4000));
    facts.done();
}

ProviderConfig read_provider(ConfigReader section, const std::string& name) {
    ProviderConfig p;
    p.name = name;
    p.type = section.string("type", "openai");
    if (p.type != "openai") section.problem("type", "unknown provider type (supported: openai)");
    if (section.has("base_url")) {
        p.base_url = section.url("base_url", "", {"http", "https"});
    } else {
        section.required_string("base_url");  // reports it missing
    }
    p.api_key = section.string("api_key", "");
    p.model = section.required_string("model");
    p.timeout = seconds(section, "timeout_s", p.timeout, 3600);
    p.max_concurrency = static_cast<int>(section.integer("max_concurrency", 64, 1, 100000));
    p.context_tokens = static_cast<int>(section.integer("context_tokens", 8192, 256, 10000000));
    p.reply_tokens = static_cast<int>(section.integer("reply_tokens", 1024, 16, 1000000));
    if (p.reply_tokens >= p.context_tokens) {
        section.problem("reply_tokens", "must be smaller than context_tokens");
    }
    p.retries = static_cast<int>(section.integer("retries", 2, 0, 10));
    p.temperature = section.optional_number("temperature");
    if (p.temperature && (*p.temperature < 0 || *p.temperature > 2)) {
        section.problem("temperature", "must be between 0 and 2");
    }
    section.done();
    return p;
}

}  // namespace

const ProviderConfig* Config::Llm::find(const std::string& name) const {
    for (const auto& p : providers) {
        if (p.name == name) return &p;
    }
    return nullptr;
}

EnvLookup process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        if (const char* value = std::getenv(name.c_str())) return std::string(value);
        return std::nullopt;
    };
}

nlohmann::json parse_config_json(std::string_view text, const EnvLookup& env,
                                 ConfigErrors& errors) {
    // Interpolation walks the tree recursively, and so do copies of it (adapter sections): a
    // deeper document is parsed without its deep parts and refused. Real ones nest 4 levels.
    constexpr int kMaxDepth = 32;
    bool too_deep = false;
    const auto keep = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > kMaxDepth) too_deep = true;
        return depth <= kMaxDepth;
    };
    nlohmann::json root;
    try {
        root = nlohmann::json::parse(text, keep, true, /*ignore_comments=*/true);
    } catch (const nlohmann::json::parse_error& e) {
        // Turn the byte offset into line:column, which is what an operator can act on.
        std::size_t line = 1, column = 1;
        for (std::size_t i = 0; i < e.byte && i < text.size(); ++i) {
            if (text[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        std::string what = e.what();
        if (auto pos = what.find("syntax error"); pos != std::string::npos) what = what.substr(pos);
        errors.add("(file)", "invalid JSON at line " + std::to_string(line) + ", column " +
                                 std::to_string(column) + ": " + what);
        return nlohmann::json::object();
    } catch (const nlohmann::json::out_of_range& e) {
        // A number too large for a double ("1e999"): nlohmann says which, not where.
        std::string what = e.what();
        if (auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
        errors.add("(file)", "invalid JSON: " + what);
        return nlohmann::json::object();
    }
    if (too_deep) {
        errors.add("(file)", "nested deeper than " + std::to_string(kMaxDepth) + " levels");
        return nlohmann::json::object();
    }
    if (!root.is_object()) {
        errors.add("(file)", "the top level must be a JSON object");
        return nlohmann::json::object();
    }
    interpolate_tree(root, "", env, errors);
    return root;
}

Config parse_config(std::string_view text, const EnvLookup& env, ConfigErrors& errors) {
    nlohmann::json root = parse_config_json(text, env, errors);
    Config config;
    ConfigReader top(root, "", errors);

    auto server = top.object("server");
    auto [host, port] = server.host_port("listen", "127.0.0.1:8080");
    config.server.host = host;
    config.server.port = static_cast<std::uint16_t>(port);
    config.server.threads = static_cast<int>(server.integer("threads", 0, 0, 256));
    config.server.body_limit =
        static_cast<std::size_t>(server.integer("body_limit", 1 << 20, 1024, 1LL << 30));
    config.server.max_connections =
        static_cast<std::size_t>(server.integer("max_connections", 10000, 1, 1000000));
    config.server.max_connections_per_address =
        static_cast<std::size_t>(server.integer("max_connections_per_address", 128, 1, 1000000));
    config.server.max_websockets_per_address =
        static_cast<std::size_t>(server.integer("max_websockets_per_address", 64, 1, 1000000));
    config.server.body_budget_bytes =
        static_cast<std::size_t>(server.integer("body_budget_bytes", 64 << 20, 1024, 1LL << 40));
    if (config.server.body_budget_bytes < config.server.body_limit) {
        server.problem("body_budget_bytes",
                       "must be at least body_limit (a body of that size could never be read)");
    }
    config.server.websocket_queue_bytes =
        static_cast<std::size_t>(server.integer("websocket_queue_bytes", 1 << 20, 4096, 1LL << 30));
    config.server.trusted_proxies = server.string_list("trusted_proxies");
    for (std::size_t i = 0; i < config.server.trusted_proxies.size(); ++i) {
        if (auto problem = http::TrustedProxies::problem(config.server.trusted_proxies[i])) {
            errors.add(server.key_path("trusted_proxies") + "[" + std::to_string(i) + "]",
                       *problem);
        }
    }
    config.server.header_timeout =
        seconds(server, "header_timeout_s", config.server.header_timeout, 3600);
    config.server.read_timeout =
        seconds(server, "read_timeout_s", config.server.read_timeout, 3600);
    config.server.idle_timeout =
        seconds(server, "idle_timeout_s", config.server.idle_timeout, 3600);
    config.server.shutdown_grace =
        seconds(server, "shutdown_grace_s", config.server.shutdown_grace, 3600);
    // "" (the example's value) means unset, like an absent key.
    if (!server.string("public_url", "").empty())
        config.server.public_url = server.url("public_url", "");
    config.server.export_link_ttl =
        seconds(server, "export_link_s", config.server.export_link_ttl, 24 * 3600);
    server.done();

    auto storage = top.object("storage");
    auto sqlite = storage.object("sqlite");
    config.storage.sqlite_path = sqlite.string("path", config.storage.sqlite_path);
    if (config.storage.sqlite_path.empty()) sqlite.problem("path", "must not be empty");
    auto synchronous = sqlite.string("synchronous", "normal");
    if (synchronous != "normal" && synchronous != "full") {
        sqlite.problem("synchronous", "must be \"normal\" or \"full\"");
    }
    config.storage.synchronous_full = synchronous == "full";
    config.storage.readers = static_cast<int>(sqlite.integer("readers", 2, 1, 64));
    sqlite.done();
    storage.done();

    auto bot_section = top.object("bot");
    config.bot.persona = bot_section.string("persona", kDefaultPersona);
    config.bot.command_prefix = bot_section.string("command_prefix", "/");
    if (config.bot.command_prefix.empty() || config.bot.command_prefix.size() > 4) {
        bot_section.problem("command_prefix", "must be 1 to 4 characters");
    }
    config.bot.queue_limit = static_cast<int>(bot_section.integer("queue_limit", 8, 1, 10000));
    config.bot.max_input_chars =
        static_cast<std::size_t>(bot_section.integer("max_input_chars", 8000, 16, 1000000));
    config.bot.history_turns =
        static_cast<int>(bot_section.integer("history_turns", 100, 2, 100000));
    config.bot.context_cache_mb =
        static_cast<int>(bot_section.integer("context_cache_mb", 16, 0, 1 << 20));
    read_personas(bot_section, config.bot);
    config.bot.user_models = bot_section.string_list("user_models");
    bot_section.done();

    auto llm = top.object("llm");
    config.llm.default_provider = llm.string("default", "");
    auto providers = llm.object("providers");
    for (const auto& name : providers.keys()) {
        if (!valid_id(name)) {
            providers.problem(name, "provider names use letters, digits, '-' and '_'");
        }
        config.llm.providers.push_back(read_provider(providers.object(name), name));
    }
    providers.done();
    if (const auto& name = config.llm.default_provider; !name.empty()) {
        const auto* provider = config.llm.find(name);
        if (!provider) {
            llm.problem("default", "names no provider under llm.providers");
        } else if (needs_api_key(*provider)) {
            errors.add("llm.providers." + name + ".api_key",
                       "required for the default provider (set its environment variable)");
        }
    }
    llm.done();
    for (std::size_t i = 0; i < config.bot.user_models.size(); ++i) {
        const auto& name = config.bot.user_models[i];
        std::string path = "bot.user_models[" + std::to_string(i) + "]";
        const auto* provider = config.llm.find(name);
        if (!provider) {
            errors.add(path, "\"" + name + "\" names no provider under llm.providers");
        } else if (name == kDefaultChoice) {
            errors.add(path,
                       "a provider users pick cannot be called \"default\" (/model default "
                       "goes back to llm.default)");
        } else if (needs_api_key(*provider)) {
            errors.add("llm.providers." + name + ".api_key",
                       "required for a provider in bot.user_models (set its environment "
                       "variable)");
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (config.bot.user_models[j] == name) errors.add(path, "listed twice");
        }
    }

    auto memory = top.object("memory");
    read_recall_config(memory, config.memory);  // h/recall
    read_memory_summary_facts(memory, config);  // h/summary
    memory.done();

    auto log_section = top.object("log");
    config.log.level = log_section.string("level", "info");
    if (config.log.level != "debug" && config.log.level != "info" && config.log.level != "warn" &&
        config.log.level != "error") {
        log_section.problem("level", "must be debug, info, warn or error");
    }
    config.log.lines_per_minute =
        static_cast<int>(log_section.integer("lines_per_minute", 20, 0, 1000000));
    log_section.done();

    auto adapters = top.object("adapters");
    for (const auto& id : adapters.keys()) {
        const auto& section = root["adapters"][id];
        if (!valid_id(id)) {
            adapters.problem(id, "adapter ids use letters, digits, '-' and '_' (at most 64)");
        }
        if (!section.is_object()) {
            adapters.problem(id, "must be an object");
            continue;
        }
        auto type = section.find("type");
        if (type == section.end() || !type->is_string()) {
            errors.add("adapters." + id + ".type", "required (a string naming the platform)");
            continue;
        }
        AdapterConfig adapter{.id = id,
                              .type = type->get<std::string>(),
                              .persona = {},
                              .group_context = {},
                              .section = section};
        if (auto persona = adapter.section.find("persona"); persona != adapter.section.end()) {
            std::string path = "adapters." + id + ".persona";
            if (!persona->is_string()) {
                errors.add(path, "must be a string (a name under bot.personas)");
            } else if (!config.bot.personas.contains(persona->get<std::string>())) {
                errors.add(path, "\"" + persona->get<std::string>() +
                                     "\" names no persona under bot.personas");
            } else {
                adapter.persona = persona->get<std::string>();
            }
            adapter.section.erase(persona);
        }
        adapter.group_context = take_group_context(adapter.section, "adapters." + id, errors);
        config.adapters.push_back(std::move(adapter));
    }
    top.done();
    return config;
}

Config parse_config(std::string_view text, const EnvLookup& env) {
    ConfigErrors errors;
    Config config = parse_config(text, env, errors);
    if (!errors.empty()) throw ConfigError(errors);
    return config;
}

Config load_config_file(const std::string& path, const EnvLookup& env, ConfigErrors& errors) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        errors.add(path, "cannot open the config file");
        return Config{};
    }
    std::stringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), env, errors);
}

}  // namespace bot
