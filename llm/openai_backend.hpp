// Backend for the OpenAI chat-completions API and the many servers that copy it (Ollama,
// llama.cpp, vLLM, LM Studio, OpenRouter...): POST {base_url}/chat/completions, streamed as
// server-sent events or answered in one JSON body.
#pragma once

#include "base/async.hpp"
#include "base/log.hpp"
#include "bot/net/http_client.hpp"
#include "llm/llm_backend.hpp"

#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <string>

namespace bot::llm {

struct OpenAiOptions {
    std::string name;      // how logs and /model call this provider
    std::string base_url;  // e.g. "https://api.openai.com/v1" or "http://127.0.0.1:11434/v1"
    std::string api_key;   // empty: no Authorization header (local servers need none)
    std::string model;
    std::chrono::seconds timeout{60};  // per attempt, whole transfer (streamed ones included)
    int max_concurrency = 64;          // calls in flight; more wait for a slot
    int context_tokens = 8192;
    int reply_tokens = 1024;  // also the max_tokens sent when the request names none
    int retries = 2;          // extra attempts after the first
    std::optional<double> temperature;
};

// Retries 5xx, 429, timeouts and connection failures with exponential backoff and full
// jitter (429's Retry-After wins when present, capped at 30 s); never retries once streamed
// text has reached the caller. With stream = false on_delta is not called, except when a
// server answers a streaming request with a plain JSON body: then the whole text arrives as
// one delta. on_delta runs inside the HttpClient's body callback (CurlHttpClient: its strand,
// shared by all transfers), so it should hand the text on rather than work on it. The API key
// never appears in an LlmError or a log line.
class OpenAiBackend final : public LlmBackend {
public:
    OpenAiBackend(OpenAiOptions options, HttpClient& http, Logger& logger);

    std::string_view name() const override { return options_.name; }
    int context_tokens() const override { return options_.context_tokens; }
    int reply_tokens() const override { return options_.reply_tokens; }

    net::awaitable<ChatResult> complete(ChatRequest request, DeltaCallback on_delta) override;

    static constexpr std::chrono::milliseconds kBackoffBase{500};
    static constexpr std::chrono::milliseconds kBackoffCap{8000};
    static constexpr std::chrono::milliseconds kMaxRetryAfter{30000};

private:
    struct Attempt;  // the outcome of one HTTP exchange

    std::string request_body(const ChatRequest& request) const;
    ClientRequest http_request(const std::string& body, bool stream) const;
    net::awaitable<Attempt> attempt(const std::string& body, bool stream,
                                    const DeltaCallback& on_delta);
    Attempt from_failure(const ClientResponse& response) const;
    Attempt from_error_status(const ClientResponse& response) const;
    std::chrono::milliseconds backoff(int retry);
    std::string scrub(std::string text) const;  // removes the API key wherever it appears

    OpenAiOptions options_;
    std::string url_;
    HttpClient& http_;
    Logger& logger_;
    AsyncSemaphore permits_;
    std::mutex random_mutex_;  // complete() runs on many threads at once
    std::minstd_rand random_;
};

}  // namespace bot::llm
