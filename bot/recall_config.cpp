// memory.recall and memory.embeddings (issue 24, h/recall).
#include "bot/config.hpp"

namespace bot {

void read_recall_config(ConfigReader& memory_section, Config::Memory& memory) {
    if (memory_section.has("recall")) {
        auto recall = memory_section.object("recall");
        memory.recall.enabled = recall.boolean("enabled", memory.recall.enabled);
        memory.recall.excerpts =
            static_cast<int>(recall.integer("excerpts", memory.recall.excerpts, 1, 20));
        recall.done();
    }
    if (memory_section.has("embeddings")) {
        auto section = memory_section.object("embeddings");
        EmbeddingsConfig embeddings;
        if (section.has("base_url")) {
            embeddings.base_url = section.url("base_url", "", {"http", "https"});
        } else {
            section.required_string("base_url");  // reports it missing
        }
        embeddings.api_key = section.string("api_key", "");
        embeddings.model = section.required_string("model");
        embeddings.query_timeout = std::chrono::milliseconds(
            section.integer("query_timeout_ms", embeddings.query_timeout.count(), 50, 60000));
        embeddings.timeout =
            std::chrono::seconds(section.integer("timeout_s", embeddings.timeout.count(), 1, 3600));
        embeddings.min_similarity = section.number("min_similarity", embeddings.min_similarity);
        if (embeddings.min_similarity < -1 || embeddings.min_similarity > 1) {
            section.problem("min_similarity", "must be between -1 and 1");
        }
        embeddings.candidates =
            static_cast<int>(section.integer("candidates", embeddings.candidates, 1, 10000));
        section.done();
        if (!memory.recall.enabled) {
            memory_section.problem("embeddings",
                                   "needs memory.recall.enabled (embeddings rank recalled turns)");
        }
        memory.embeddings = std::move(embeddings);
    }
}

}  // namespace bot
