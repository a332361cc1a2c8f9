// The config reader (bot/config.*, base/config_reader.*): JSON text with comments and ${ENV}
// references -> a validated Config. Every problem is reported in ConfigErrors; nothing throws.
#include "bot/config.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bot::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
        if (name == "OPENAI_API_KEY") return "sk-test";
        if (name == "EMPTY") return "";
        return std::nullopt;
    };
    bot::ConfigErrors errors;
    auto config = bot::parse_config(fuzz::as_text(data, size), env, errors);
    for (const auto& problem : errors.list()) {
        fuzz::require(problem.find(": ") != std::string::npos, "a problem without its key path");
    }
    if (errors.empty()) {
        fuzz::require(config.server.port <= 65535, "port out of range");
        if (!config.llm.default_provider.empty()) {
            fuzz::require(config.llm.find(config.llm.default_provider) != nullptr,
                          "the default provider is not configured");
        }
    }
    return 0;
}
