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

struct Embedded {
    std::optional<std::vector<Vector>> vectors;  // one per text, in order; nullopt: failed
    // The provider refused the input (a 4xx other than 408 and 429): trying the same texts
    // again will not help. Otherwise a failure is an outage (timeout, 5xx, 429, bad answer).
    bool refused = false;
};

class Embeddings {
public:
    virtual ~Embeddings() = default;
    // Failures are logged (no text, no key); never throws.
    virtual net::awaitable<Embedded> embed(std::vector<std::string> texts,
                                           std::chrono::milliseconds timeout) = 0;

    net::awaitable<std::optional<Vector>> embed_one(std::string text,
                                                    std::chrono::milliseconds timeout) {
        std::vector<std::string> texts{std::move(text)};
        auto result = co_await embed(std::move(texts), timeout);
        if (!result.vectors || result.vectors->size() != 1) co_return std::nullopt;
        co_return std::move(result.vectors->front());
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
    net::awaitable<Embedded> embed(std::vector<std::string> texts,
                                   std::chrono::milliseconds timeout) override;

private:
    std::string scrub(std::string text) const;  // removes the API key wherever it appears

    OpenAiEmbeddingsOptions options_;
    std::string url_;
    HttpClient& http_;
    Logger& logger_;
};

}  // namespace bot::llm
