#include "bot/config.hpp"

#include <catch2/catch.hpp>

#include <map>

using bot::ConfigError;
using bot::parse_config;

namespace {

bot::EnvLookup env(std::map<std::string, std::string> values) {
    return [values](const std::string& name) -> std::optional<std::string> {
        auto it = values.find(name);
        if (it == values.end()) return std::nullopt;
        return it->second;
    };
}

// Every problem reported for text, in order.
std::vector<std::string> problems(const std::string& text,
                                  std::map<std::string, std::string> vars = {}) {
    try {
        parse_config(text, env(std::move(vars)));
    } catch (const ConfigError& e) {
        return e.problems();
    }
    return {};
}

}  // namespace

TEST_CASE("an empty config gives the documented defaults", "[config]") {
    auto config = parse_config("{}", env({}));
    CHECK(config.server.host == "127.0.0.1");
    CHECK(config.server.port == 8080);
    CHECK(config.server.threads == 0);
    CHECK(config.server.body_limit == 1 << 20);
    CHECK(config.storage.sqlite_path == "data/contactbot.db");
    CHECK(config.bot.command_prefix == "/");
    CHECK(config.bot.persona == bot::kDefaultPersona);
    CHECK(config.llm.default_provider.empty());
    CHECK(config.adapters.empty());
}

TEST_CASE("comments, env interpolation and defaults", "[config]") {
    auto config = parse_config(R"({
        // a line comment
        "server": {"listen": "0.0.0.0:${PORT}", "threads": 4}, /* block comment */
        "llm": {"default": "ds", "providers": {"ds": {
            "base_url": "https://api.deepseek.com/v1/", "api_key": "${KEY}",
            "model": "${MODEL:-deepseek-chat}", "timeout_s": 30}}},
        "bot": {"persona": "costs $$5, literal $${HOME}"},
        "adapters": {"api": {"type": "http_api", "token": "t"}}
    })",
                               env({{"PORT", "9000"}, {"KEY", "sk-abc"}}));
    CHECK(config.server.host == "0.0.0.0");
    CHECK(config.server.port == 9000);
    CHECK(config.server.threads == 4);
    REQUIRE(config.llm.providers.size() == 1);
    const auto& p = config.llm.providers[0];
    CHECK(p.base_url == "https://api.deepseek.com/v1");
    CHECK(p.api_key == "sk-abc");
    CHECK(p.model == "deepseek-chat");
    CHECK(p.timeout == std::chrono::seconds(30));
    CHECK(p.context_tokens == 8192);
    CHECK(config.bot.persona == "costs $$5, literal ${HOME}");
    REQUIRE(config.adapters.size() == 1);
    CHECK(config.adapters[0].id == "api");
    CHECK(config.adapters[0].type == "http_api");
}

TEST_CASE("every problem is reported with its key path", "[config]") {
    auto list = problems(R"({
        "server": {"listen": "nonsense", "threads": -1, "colour": "blue"},
        "storage": {"sqlite": {"synchronous": "sometimes"}},
        "llm": {"default": "missing", "providers": {"x": {"type": "openai", "base_url": "ftp://h",
                 "model": 5, "context_tokens": "big"}}},
        "bot": {"command_prefix": ""},
        "adapters": {"a b": {"type": "http_api"}, "noType": {}},
        "extra": 1
    })");
    auto has = [&](const std::string& line) {
        return std::find(list.begin(), list.end(), line) != list.end();
    };
    INFO(Catch::rangeToString(list));
    CHECK(has("server.listen: must be host:port, e.g. \"127.0.0.1:8080\""));
    CHECK(has("server.threads: must be between 0 and 256"));
    CHECK(has("server.colour: unknown key"));
    CHECK(has("storage.sqlite.synchronous: must be \"normal\" or \"full\""));
    CHECK(has("llm.providers.x.base_url: must be a URL: http://host or https://host"));
    CHECK(has("llm.providers.x.model: must be a string"));
    CHECK(has("llm.providers.x.context_tokens: must be an integer"));
    CHECK(has("llm.default: names no provider under llm.providers"));
    CHECK(has("bot.command_prefix: must be 1 to 4 characters"));
    CHECK(has("adapters.a b: adapter ids use letters, digits, '-' and '_' (at most 64)"));
    CHECK(has("adapters.noType.type: required (a string naming the platform)"));
    CHECK(has("extra: unknown key"));
}

TEST_CASE("unset environment variables are errors naming them", "[config]") {
    auto list = problems(R"({"llm": {"providers": {"o": {"base_url": "https://x/v1",
                             "model": "m", "api_key": "${OPENAI_API_KEY}"}}}})");
    REQUIRE(list.size() == 1);
    CHECK(list[0] == "llm.providers.o.api_key: environment variable OPENAI_API_KEY is not set");
    CHECK(problems(R"({"bot": {"persona": "${UNCLOSED"}})")
              .at(0)
              .starts_with("bot.persona: unterminated"));
}

TEST_CASE("the default provider needs an API key unless it is local", "[config]") {
    auto list = problems(
        R"({"llm": {"default": "o", "providers": {"o": {"base_url": "https://api.openai.com/v1",
                             "model": "gpt-4o-mini", "api_key": "${KEY:-}"}}}})");
    REQUIRE(list.size() == 1);
    CHECK(list[0].starts_with("llm.providers.o.api_key: required"));
    CHECK(problems(R"({"llm": {"default": "local", "providers": {"local": {
        "base_url": "http://127.0.0.1:11434/v1", "model": "qwen2.5"}}}})")
              .empty());
}

TEST_CASE("invalid JSON is reported with line and column", "[config]") {
    auto list = problems("{\n  \"server\": {,}\n}");
    REQUIRE(list.size() == 1);
    CHECK(list[0].starts_with("(file): invalid JSON at line 2"));
}

TEST_CASE("the server's per-address limits, budgets and trusted proxies", "[config]") {
    auto config = parse_config(R"({"server": {"max_connections_per_address": 8,
        "trusted_proxies": ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]}})",
                               env({}));
    CHECK(config.server.max_connections_per_address == 8);
    CHECK(config.server.max_websockets_per_address == 64);
    CHECK(config.server.body_budget_bytes == 64 << 20);
    CHECK(config.server.websocket_queue_bytes == 1 << 20);
    CHECK(config.server.trusted_proxies.size() == 3);

    auto list = problems(R"({"server": {"trusted_proxies": ["10.0.0.0/33", "proxy.local"],
        "body_limit": 4096, "body_budget_bytes": 2048, "max_websockets_per_address": 0}})");
    INFO(Catch::rangeToString(list));
    auto starts = [&](const std::string& prefix) {
        return std::any_of(list.begin(), list.end(),
                           [&](const std::string& line) { return line.starts_with(prefix); });
    };
    CHECK(starts("server.trusted_proxies[0]: must be an IP address or a CIDR range"));
    CHECK(starts("server.trusted_proxies[1]: must be an IP address or a CIDR range"));
    CHECK(starts("server.body_budget_bytes: must be at least body_limit"));
    CHECK(starts("server.max_websockets_per_address: must be between 1"));
    CHECK(problems(R"({"server": {"trusted_proxies": "127.0.0.1"}})").at(0) ==
          "server.trusted_proxies: must be an array of strings");
}

// Found by tests/fuzz (fuzz_config): nlohmann reports a number too large for a double as
// out_of_range, not parse_error, and it escaped the reader.
TEST_CASE("a number too large for a double is reported, not thrown", "[config]") {
    auto list = problems("{\"server\": {\"threads\": 1e999}}");
    REQUIRE(list.size() == 1);
    CHECK(list[0].starts_with("(file): invalid JSON"));
    CHECK(list[0].find("1e999") != std::string::npos);
    CHECK(problems("64e610601060").size() == 1);  // the fuzzer's input: not even an object
}

// Found by tests/fuzz (fuzz_config): interpolation walked the tree recursively, and so do
// nlohmann's copies of adapter sections: deep nesting overflowed the stack.
TEST_CASE("a config nested too deeply is reported, not walked", "[config]") {
    const std::size_t depth = 200000;
    auto list =
        problems("{\"adapters\": {\"a\": {\"type\": \"x\", \"deep\": " + std::string(depth, '[') +
                 std::string(depth, ']') + "}}}");
    REQUIRE(list.size() == 1);
    CHECK(list[0] == "(file): nested deeper than 32 levels");
    // A config as deep as any real one is fine.
    CHECK(problems(R"({"adapters": {"a": {"type": "x", "deep": [[[[[[[[1]]]]]]]]}}})").empty());
}

namespace {

// The problems a reader reports while f reads {key: value} from section "adapters.tg".
template <class F>
std::vector<std::string> reading(const nlohmann::json& section, F f) {
    bot::ConfigErrors errors;
    bot::ConfigReader reader(section, "adapters.tg", errors);
    f(reader);
    return errors.list();
}

}  // namespace

TEST_CASE("ConfigReader::url_path takes a plain path starting with /", "[config]") {
    std::string got;
    auto read = [&](bot::ConfigReader& r) { got = r.url_path("path", "/telegram/tg"); };
    CHECK(reading({{"path", "/hook/a-b_c.d"}}, read).empty());
    CHECK(got == "/hook/a-b_c.d");
    CHECK(reading(nlohmann::json::object(), read).empty());
    CHECK(got == "/telegram/tg");
    CHECK(reading({{"path", "hook"}}, read) ==
          std::vector<std::string>{"adapters.tg.path: must start with '/'"});
    CHECK(got == "/telegram/tg");
    CHECK(reading({{"path", ""}}, read) ==
          std::vector<std::string>{"adapters.tg.path: must start with '/'"});
    for (const char* bad : {"/a b", "/a?x=1", "/a#top", "/a\tb", "/a\nb"}) {
        INFO(bad);
        CHECK(reading({{"path", bad}}, read) ==
              std::vector<std::string>{
                  "adapters.tg.path: must be a plain path (no spaces, '?' or '#')"});
        CHECK(got == "/telegram/tg");
    }
    CHECK(reading({{"path", 3}}, read) ==
          std::vector<std::string>{"adapters.tg.path: must be a string"});
}

TEST_CASE("ConfigReader::url takes scheme://host URLs and trims the trailing /", "[config]") {
    std::string got;
    auto read = [&](bot::ConfigReader& r) { got = r.url("api_base", "https://api.example"); };
    CHECK(reading({{"api_base", "http://127.0.0.1:8080/"}}, read).empty());
    CHECK(got == "http://127.0.0.1:8080");
    CHECK(reading({{"api_base", "https://h.example/base//"}}, read).empty());
    CHECK(got == "https://h.example/base");
    CHECK(reading({{"api_base", "http://[::1]:9"}}, read).empty());
    CHECK(reading(nlohmann::json::object(), read).empty());
    CHECK(got == "https://api.example");
    const std::vector<std::string> http_problem{
        "adapters.tg.api_base: must be a URL: http://host or https://host"};
    for (const char* bad : {"api.example", "ftp://h", "https://", "https:///path", "http://?q",
                            "https://a b", " https://h", "HTTPS//h", "ws://h"}) {
        INFO(bad);
        CHECK(reading({{"api_base", bad}}, read) == http_problem);
        CHECK(got == "https://api.example");
    }

    auto read_ws = [&](bot::ConfigReader& r) { got = r.ws_url("url", "ws://127.0.0.1:6700"); };
    CHECK(reading({{"url", "wss://bot.example/onebot/"}}, read_ws).empty());
    CHECK(got == "wss://bot.example/onebot");
    CHECK(reading({{"url", "http://bot.example"}}, read_ws) ==
          std::vector<std::string>{"adapters.tg.url: must be a URL: ws://host or wss://host"});

    auto read_https = [&](bot::ConfigReader& r) { got = r.url("hook", "", {"https"}); };
    CHECK(reading({{"hook", "http://h"}}, read_https) ==
          std::vector<std::string>{"adapters.tg.hook: must be a URL: https://host"});
    CHECK(got.empty());
}

TEST_CASE("personas, user models and an adapter's persona", "[config][controls]") {
    auto config = parse_config(R"({
        "bot": {"personas": {"pirate": "Talk like a pirate.", "teacher_2": "Teach."},
                "user_models": ["small"]},
        "llm": {"default": "big", "providers": {
            "big": {"base_url": "http://127.0.0.1:1/v1", "model": "b"},
            "small": {"base_url": "http://127.0.0.1:2/v1", "model": "s"}}},
        "adapters": {"api": {"type": "http_api", "token": "t", "persona": "pirate"}}
    })",
                               env({}));
    CHECK(config.bot.personas == std::map<std::string, std::string>{
                                     {"pirate", "Talk like a pirate."}, {"teacher_2", "Teach."}});
    CHECK(config.bot.user_models == std::vector<std::string>{"small"});
    REQUIRE(config.adapters.size() == 1);
    CHECK(config.adapters[0].persona == "pirate");
    // A core key: the adapter never sees it, so every adapter type accepts it.
    CHECK_FALSE(config.adapters[0].section.contains("persona"));

    auto empty = parse_config("{}", env({}));
    CHECK(empty.bot.personas.empty());
    CHECK(empty.bot.user_models.empty());
}

TEST_CASE("bad personas and user models are reported with their key path", "[config][controls]") {
    auto list = problems(R"({
        "bot": {"personas": {"Pirate": "x", "default": "y", "blank": "  ",
                             "way-too-long-a-name-for-a-persona-x": "z", "number": 5,
                             "huge": ")" +
                         std::string(bot::kMaxPersonaPromptBytes + 1, 'a') +
                         R"("},
                "user_models": ["big", "nowhere", "big", "remote"]},
        "llm": {"default": "big", "providers": {
            "big": {"base_url": "http://127.0.0.1:1/v1", "model": "b"},
            "remote": {"base_url": "https://api.example.com/v1", "model": "r"}}},
        "adapters": {"api": {"type": "http_api", "persona": "ghost"},
                     "web": {"type": "webchat", "persona": 3}}
    })");
    auto has = [&](const std::string& line) {
        return std::find(list.begin(), list.end(), line) != list.end();
    };
    INFO(Catch::rangeToString(list));
    const std::string names =
        ": persona names are 1 to 32 characters of a-z, 0-9, '-' and '_' (and not \"default\")";
    CHECK(has("bot.personas.Pirate" + names));
    CHECK(has("bot.personas.default" + names));
    CHECK(has("bot.personas.way-too-long-a-name-for-a-persona-x" + names));
    CHECK(has("bot.personas.blank: the prompt must not be empty"));
    CHECK(has("bot.personas.number: must be a string"));
    CHECK(has("bot.personas.huge: the prompt is longer than 16000 bytes"));
    CHECK(has("bot.user_models[1]: \"nowhere\" names no provider under llm.providers"));
    CHECK(has("bot.user_models[2]: listed twice"));
    CHECK(
        has("llm.providers.remote.api_key: required for a provider in bot.user_models (set its "
            "environment variable)"));
    CHECK(has("adapters.api.persona: \"ghost\" names no persona under bot.personas"));
    CHECK(has("adapters.web.persona: must be a string (a name under bot.personas)"));
    CHECK(list.size() == 11);

    CHECK(problems(R"({"bot": {"personas": ["a"]}})").at(0).starts_with("bot.personas: "));
    CHECK(problems(R"({"bot": {"user_models": "big"}})").at(0) ==
          "bot.user_models: must be an array of strings");
}

TEST_CASE("memory.summary and memory.facts: defaults, values and errors", "[config][memory]") {
    auto defaults = parse_config("{}", env({}));
    CHECK(defaults.memory.summary.enabled);
    CHECK(defaults.memory.summary.provider.empty());  // llm.default
    CHECK(defaults.memory.summary.after_turns == 0);  // bot.history_turns
    CHECK(defaults.memory.summary.retry == std::chrono::seconds(60));
    CHECK(defaults.memory.summary.workers == 1);
    CHECK(defaults.memory.facts.enabled);
    CHECK(defaults.memory.facts.max == 50);
    CHECK(defaults.memory.facts.max_chars == 300);

    auto config = parse_config(R"({
        "bot": {"history_turns": 40},
        "llm": {"default": "big", "providers": {
            "big": {"base_url": "http://127.0.0.1:1/v1", "model": "b"},
            "small": {"base_url": "http://127.0.0.1:2/v1", "model": "s"}}},
        "memory": {"summary": {"provider": "small", "prompt": "Summarise.", "after_turns": 20,
                               "max_tokens": 300, "max_turns_per_request": 50, "retry_s": 5,
                               "workers": 3},
                   "facts": {"enabled": false, "max": 10, "max_chars": 100}}
    })",
                               env({}));
    CHECK(config.memory.summary.provider == "small");
    CHECK(config.memory.summary.prompt == "Summarise.");
    CHECK(config.memory.summary.after_turns == 20);
    CHECK(config.memory.summary.max_tokens == 300);
    CHECK(config.memory.summary.max_turns_per_request == 50);
    CHECK(config.memory.summary.retry == std::chrono::seconds(5));
    CHECK(config.memory.summary.workers == 3);
    CHECK_FALSE(config.memory.facts.enabled);
    CHECK(config.memory.facts.max == 10);
    CHECK(config.memory.facts.max_chars == 100);

    auto list = problems(R"({
        "bot": {"history_turns": 40},
        "llm": {"providers": {"remote": {"base_url": "https://api.example.com/v1", "model": "r"}}},
        "memory": {"summary": {"provider": "nowhere", "after_turns": 41, "retry_s": 0,
                               "enabled": "yes", "colour": 1},
                   "facts": {"max": 0},
                   "remember_everything": 1}
    })");
    INFO(Catch::rangeToString(list));
    auto has = [&](const std::string& start) {
        return std::any_of(list.begin(), list.end(),
                           [&](const std::string& line) { return line.starts_with(start); });
    };
    CHECK(has("memory.summary.provider: \"nowhere\" names no provider"));
    CHECK(has("memory.summary.after_turns: must be 0 (bot.history_turns) or 4 to"));
    CHECK(has("memory.summary.retry_s:"));
    CHECK(has("memory.summary.enabled:"));
    CHECK(has("memory.summary.colour:"));
    CHECK(has("memory.facts.max:"));
    CHECK(has("memory.remember_everything:"));  // unknown keys stay errors
    CHECK(problems(R"({"llm": {"providers": {"remote": {"base_url": "https://api.example.com/v1",
                      "model": "r"}}}, "memory": {"summary": {"provider": "remote"}}})") ==
          std::vector<std::string>{"llm.providers.remote.api_key: required for the provider of "
                                   "memory.summary (set its environment variable)"});
}
