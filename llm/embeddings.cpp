#include "llm/embeddings.hpp"

#include <nlohmann/json.hpp>

#include <cmath>

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

OpenAiEmbeddings::OpenAiEmbeddings(OpenAiEmbeddingsOptions options, HttpClient& http,
                                   Logger& logger)
    : options_(std::move(options)),
      url_(options_.base_url + "/embeddings"),
      http_(http),
      logger_(logger) {}

std::string OpenAiEmbeddings::scrub(std::string text) const {
    if (options_.api_key.empty()) return text;
    for (auto at = text.find(options_.api_key); at != std::string::npos;
         at = text.find(options_.api_key, at)) {
        text.replace(at, options_.api_key.size(), "[api key]");
    }
    return text;
}

net::awaitable<std::optional<std::vector<Vector>>> OpenAiEmbeddings::embed(
    std::vector<std::string> texts, std::chrono::milliseconds timeout) {
    if (texts.empty()) co_return std::vector<Vector>{};
    ClientRequest request;
    request.method = "POST";
    request.url = url_;
    request.timeout = timeout;
    // Invalid UTF-8 in a user's text is replaced, not a reason to throw.
    request.body = json{{"model", options_.model}, {"input", texts}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
    request.headers.push_back({"Content-Type", "application/json"});
    request.headers.push_back({"Accept", "application/json"});
    if (!options_.api_key.empty()) {
        request.headers.push_back({"Authorization", "Bearer " + options_.api_key});
    }
    auto response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none) {
        logger_.warn("embeddings", "no embeddings: ", scrub(response.error));
        co_return std::nullopt;
    }
    if (!response.ok()) {
        logger_.warn("embeddings", "no embeddings: HTTP ", response.status);
        co_return std::nullopt;
    }
    auto vectors = parse_embeddings(response.body, texts.size());
    if (!vectors) logger_.warn("embeddings", "no embeddings: the answer is not an embedding list");
    co_return vectors;
}

}  // namespace bot::llm
