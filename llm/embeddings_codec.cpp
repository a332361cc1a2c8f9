#include "llm/embeddings_codec.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>

namespace bot::llm {

using json = nlohmann::json;

std::optional<std::vector<Vector>> parse_embeddings(std::string_view body, std::size_t expected) {
    const json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
    const auto data = parsed.find("data");
    if (data == parsed.end() || !data->is_array() || data->size() != expected) return std::nullopt;
    std::vector<Vector> out(expected);
    std::vector<bool> seen(expected, false);
    std::size_t dimensions = 0;
    for (std::size_t position = 0; position < data->size(); ++position) {
        const json& item = (*data)[position];
        if (!item.is_object()) return std::nullopt;
        std::size_t index = position;
        if (auto found = item.find("index"); found != item.end()) {
            if (!found->is_number_unsigned() || found->get<std::uint64_t>() >= expected) {
                return std::nullopt;
            }
            index = static_cast<std::size_t>(found->get<std::uint64_t>());
        }
        if (seen[index]) return std::nullopt;
        seen[index] = true;
        const auto embedding = item.find("embedding");
        if (embedding == item.end() || !embedding->is_array() || embedding->empty() ||
            embedding->size() > kMaxEmbeddingDimensions) {
            return std::nullopt;
        }
        if (dimensions == 0) dimensions = embedding->size();
        if (embedding->size() != dimensions) return std::nullopt;
        Vector& vector = out[index];
        vector.reserve(dimensions);
        for (const json& number : *embedding) {
            if (!number.is_number()) return std::nullopt;
            const double value = number.get<double>();
            if (!std::isfinite(value) || std::fabs(value) > 1e30) return std::nullopt;
            vector.push_back(static_cast<float>(value));
        }
    }
    return out;
}

}  // namespace bot::llm
