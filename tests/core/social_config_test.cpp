// adapters.<id>.group_context and server.public_url / export_link_s (issue 24, social).
#include "bot/config.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

namespace {

bot::Config parse(const std::string& text) {
    return bot::parse_config(text, [](const std::string&) { return std::nullopt; });
}

std::vector<std::string> problems(const std::string& text) {
    try {
        parse(text);
    } catch (const bot::ConfigError& e) {
        return e.problems();
    }
    return {};
}

bool has(const std::vector<std::string>& list, const std::string& problem) {
    return std::find(list.begin(), list.end(), problem) != list.end();
}

}  // namespace

TEST_CASE("group_context is off unless set, and read as a core key", "[config][social]") {
    auto config = parse(R"({
        "adapters": {"qq": {"type": "onebot"},
                     "tg": {"type": "telegram", "group_context": {"messages": 5, "max_age_s": 60,
                                                                  "store": "sqlite"}},
                     "fs": {"type": "feishu", "group_context": {}}}
    })");
    std::map<std::string, const bot::AdapterConfig*> by_id;
    for (const auto& adapter : config.adapters) by_id[adapter.id] = &adapter;
    CHECK_FALSE(by_id.at("qq")->group_context.has_value());
    const auto& tg = by_id.at("tg")->group_context;
    REQUIRE(tg.has_value());
    CHECK(tg->messages == 5);
    CHECK(tg->max_age == std::chrono::seconds(60));
    CHECK(tg->stored);
    CHECK_FALSE(by_id.at("tg")->section.contains("group_context"));  // not the adapter's key
    const auto& defaults = by_id.at("fs")->group_context;
    REQUIRE(defaults.has_value());
    CHECK(defaults->messages == 20);
    CHECK(defaults->max_age == std::chrono::seconds(3600));
    CHECK_FALSE(defaults->stored);
    CHECK(defaults->max_chats == 2000);
    CHECK(config.server.public_url.empty());
    CHECK(config.server.export_link_ttl == std::chrono::seconds(900));
}

TEST_CASE("bad group_context and public_url are reported with their key path", "[config][social]") {
    auto list = problems(R"({
        "server": {"public_url": "ftp://x", "export_link_s": 0},
        "adapters": {"a": {"type": "onebot", "group_context": 5},
                     "b": {"type": "onebot", "group_context": {"messages": 0, "max_age_s": 0,
                                                              "store": "disk", "colour": 1}}}
    })");
    CHECK(has(list, "server.public_url: must be a URL: http://host or https://host"));
    CHECK(has(list, "server.export_link_s: must be between 1 and 86400"));
    CHECK(has(list,
              "adapters.a.group_context: must be an object ({\"messages\": N, \"max_age_s\": S})"));
    CHECK(has(list, "adapters.b.group_context.messages: must be between 1 and 200"));
    CHECK(has(list, "adapters.b.group_context.max_age_s: must be between 1 and 604800"));
    CHECK(
        has(list,
            "adapters.b.group_context.store: must be \"memory\" (lost at restart) or \"sqlite\""));
    CHECK(has(list, "adapters.b.group_context.colour: unknown key"));
    auto config = parse(R"({"server": {"public_url": "https://bot.example.com/"}})");
    CHECK(config.server.public_url == "https://bot.example.com");
    CHECK(parse(R"({"server": {"public_url": ""}})").server.public_url.empty());  // unset
}
