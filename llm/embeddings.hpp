// Embeddings for recall (memory.embeddings, issue 24): an OpenAI-compatible
// POST {base_url}/embeddings, {"model": ..., "input": [texts]} -> {"data": [{"index": i,
// "embedding": [floats]}, ...]}. Used off the reply path for new turns (bot/embedding_worker)
// and, with a short timeout, for the new message on it.
#pragma once

#include "base/log.hpp"
#include "bot/net/http_client.hpp"
#include "llm/embeddings_codec.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bot::llm {
namespace net = boost::asio;

class Embeddings {
public:
    virtual ~Embeddings() = default;
    // One vector per text, in order; nullopt on any failure (logged), never throws.
    virtual net::awaitable<std::optional<std::vector<Vector>>> embed(
        std::vector<std::string> texts, std::chrono::milliseconds timeout) = 0;

    net::awaitable<std::optional<Vector>> embed_one(std::string text,
                                                    std::chrono::milliseconds timeout) {
        std::vector<std::string> texts{std::move(text)};
        auto vectors = co_await embed(std::move(texts), timeout);
        if (!vectors || vectors->size() != 1) co_return std::nullopt;
        co_return std::move(vectors->front());
    }
};

struct OpenAiEmbeddingsOptions {
    std::string base_url;
    std::string api_key;  // empty: no Authorization header
    std::string model;
};

class OpenAiEmbeddings final : public Embeddings {
public:
    OpenAiEmbeddings(OpenAiEmbeddingsOptions options, HttpClient& http, Logger& logger);
    net::awaitable<std::optional<std::vector<Vector>>> embed(
        std::vector<std::string> texts, std::chrono::milliseconds timeout) override;

private:
    std::string scrub(std::string text) const;  // removes the API key wherever it appears

    OpenAiEmbeddingsOptions options_;
    std::string url_;
    HttpClient& http_;
    Logger& logger_;
};

}  // namespace bot::llm
