#include "llm/embeddings.hpp"

#include <nlohmann/json.hpp>

namespace bot::llm {

using json = nlohmann::json;

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

net::awaitable<Embedded> OpenAiEmbeddings::embed(std::vector<std::string> texts,
                                                 std::chrono::milliseconds timeout) {
    if (texts.empty()) co_return Embedded{std::vector<Vector>{}, false};
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
        co_return Embedded{};
    }
    if (!response.ok()) {
        logger_.warn("embeddings", "no embeddings: HTTP ", response.status);
        const int status = response.status;
        co_return Embedded{std::nullopt,
                           status >= 400 && status < 500 && status != 408 && status != 429};
    }
    auto vectors = parse_embeddings(response.body, texts.size());
    if (!vectors) logger_.warn("embeddings", "no embeddings: the answer is not an embedding list");
    co_return Embedded{std::move(vectors), false};
}

}  // namespace bot::llm
