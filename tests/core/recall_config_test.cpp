// memory.recall and memory.embeddings (bot/recall_config.cpp), and the excerpt format.
#include "bot/config.hpp"
#include "bot/recall.hpp"

#include <catch2/catch.hpp>

using bot::ConfigError;
using bot::parse_config;

namespace {

bot::Config parse(const std::string& text) {
    return parse_config(text, [](const std::string&) { return std::nullopt; });
}

std::vector<std::string> problems(const std::string& text) {
    try {
        parse(text);
    } catch (const ConfigError& e) {
        return e.problems();
    }
    return {};
}

}  // namespace

TEST_CASE("memory.recall is on by default and embeddings are absent", "[recall]") {
    auto config = parse("{}");
    CHECK(config.memory.recall.enabled);
    CHECK(config.memory.recall.excerpts == 3);
    CHECK_FALSE(config.memory.embeddings);
}

TEST_CASE("memory.recall and memory.embeddings are read", "[recall]") {
    auto config = parse(R"({"memory": {"recall": {"enabled": true, "excerpts": 5},
        "embeddings": {"base_url": "http://127.0.0.1:8000/v1/", "model": "bge-m3",
                       "api_key": "k", "query_timeout_ms": 250, "timeout_s": 9,
                       "min_similarity": 0.5, "candidates": 50}}})");
    CHECK(config.memory.recall.excerpts == 5);
    REQUIRE(config.memory.embeddings);
    CHECK(config.memory.embeddings->base_url == "http://127.0.0.1:8000/v1");
    CHECK(config.memory.embeddings->model == "bge-m3");
    CHECK(config.memory.embeddings->api_key == "k");
    CHECK(config.memory.embeddings->query_timeout == std::chrono::milliseconds(250));
    CHECK(config.memory.embeddings->timeout == std::chrono::seconds(9));
    CHECK(config.memory.embeddings->min_similarity == 0.5);
    CHECK(config.memory.embeddings->candidates == 50);
    CHECK_FALSE(parse(R"({"memory": {"recall": {"enabled": false}}})").memory.recall.enabled);
}

TEST_CASE("memory config errors name the key path", "[recall]") {
    using Catch::Matchers::Contains;
    auto reported = [](const std::string& text, const std::string& part) {
        for (const auto& problem : problems(text)) {
            if (problem.find(part) != std::string::npos) return true;
        }
        return false;
    };
    CHECK(reported(R"({"memory": {"recall": {"excerpts": 0}}})", "memory.recall.excerpts"));
    CHECK(reported(R"({"memory": {"recall": {"enabled": "yes"}}})", "memory.recall.enabled"));
    CHECK(reported(R"({"memory": {"recall": {"typo": 1}}})", "memory.recall.typo"));
    CHECK(reported(R"({"memory": {"unknown": 1}})", "memory.unknown"));
    CHECK(reported(R"({"memory": {"embeddings": {"model": "m"}}})", "memory.embeddings.base_url"));
    CHECK(reported(R"({"memory": {"embeddings": {"base_url": "http://h/v1"}}})",
                   "memory.embeddings.model"));
    CHECK(reported(R"({"memory": {"embeddings": {"base_url": "ftp://h", "model": "m"}}})",
                   "memory.embeddings.base_url"));
    CHECK(reported(
        R"({"memory": {"embeddings": {"base_url": "http://h/v1", "model": "m", "min_similarity": 2}}})",
        "memory.embeddings.min_similarity"));
    CHECK(reported(
        R"({"memory": {"recall": {"enabled": false}, "embeddings": {"base_url": "http://h/v1", "model": "m"}}})",
        "memory.embeddings"));
}

TEST_CASE("An excerpt is one dated line with the answer, long texts cut at a character",
          "[recall]") {
    bot::storage::RecalledTurn turn{.message_id = 1,
                                    .user_text = "my cat\nis called Turing",
                                    .reply = "Nice!",
                                    .at_ms = 1764547200000,  // 2025-12-01
                                    .score = 1};
    CHECK(bot::format_excerpt(turn) ==
          "[2025-12-01] User: my cat is called Turing | You answered: Nice!");
    turn.user_text = std::string(599, 'a') + "猫猫";
    turn.reply.clear();
    const auto excerpt = bot::format_excerpt(turn);
    CHECK(excerpt == "[2025-12-01] User: " + std::string(599, 'a') + "...");
}
