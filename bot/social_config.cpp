#include "bot/social_config.hpp"

namespace bot {

std::optional<GroupContextConfig> take_group_context(nlohmann::json& section,
                                                     const std::string& adapter_path,
                                                     ConfigErrors& errors) {
    auto found = section.find("group_context");
    if (found == section.end()) return std::nullopt;
    nlohmann::json node = std::move(*found);
    section.erase(found);
    const std::string path = adapter_path + ".group_context";
    if (!node.is_object()) {
        errors.add(path, "must be an object ({\"messages\": N, \"max_age_s\": S})");
        return std::nullopt;
    }
    std::size_t before = errors.list().size();
    ConfigReader reader(node, path, errors);
    GroupContextConfig config;
    config.messages = static_cast<int>(reader.integer("messages", config.messages, 1, 200));
    config.max_age =
        std::chrono::seconds(reader.integer("max_age_s", config.max_age.count(), 1, 7 * 24 * 3600));
    auto store = reader.string("store", "memory");
    if (store != "memory" && store != "sqlite") {
        reader.problem("store", "must be \"memory\" (lost at restart) or \"sqlite\"");
    }
    config.stored = store == "sqlite";
    config.max_chats = static_cast<std::size_t>(reader.integer("max_chats", 2000, 1, 100000));
    reader.done();
    if (errors.list().size() != before) return std::nullopt;
    return config;
}

}  // namespace bot
