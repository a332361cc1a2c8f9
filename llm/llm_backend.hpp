// The LLM extension point: one interface every backend (OpenAI-compatible, Anthropic, ...)
// implements. Backends handle their own retries; callers see one final outcome.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bot::llm {
namespace net = boost::asio;

// Views, not copies: a request carries a conversation's whole history every message. The
// caller keeps the texts alive until complete() has returned.
struct ChatMessage {
    std::string_view role;  // "system" | "user" | "assistant"
    std::string_view content;
};

struct ChatRequest {
    std::vector<ChatMessage> messages;
    int max_tokens = 0;  // 0 = backend default
    bool stream = true;  // stream from the provider (deltas reach on_delta as they come)
};

struct ChatReply {
    std::string text;
    std::string finish_reason;
    int prompt_tokens = 0;
    int completion_tokens = 0;
};

struct LlmError {
    enum class Kind {
        not_configured,  // no provider selected
        unauthorized,    // 401/403: credentials wrong; retrying will not help
        rate_limited,    // 429 after all retries
        unavailable,     // 5xx / connection failures after all retries
        timeout,         // no answer within timeout_s after all retries
        bad_request,     // 400/404/422: our request or the model name is wrong
        bad_response,    // unparseable answer
    };
    Kind kind;
    std::string detail;  // for logs; never contains the API key
};

std::string_view to_string(LlmError::Kind kind);

using ChatResult = boost::system::result<ChatReply, LlmError>;
// Called with each piece of text as the model produces it; may run on any thread.
using DeltaCallback = std::function<void(std::string_view)>;

class LlmBackend {
public:
    virtual ~LlmBackend() = default;
    virtual std::string_view name() const = 0;
    virtual int context_tokens() const = 0;  // model context size, for the prompt budget
    virtual int reply_tokens() const = 0;    // space reserved for the answer
    virtual net::awaitable<ChatResult> complete(ChatRequest request, DeltaCallback on_delta) = 0;
};

}  // namespace bot::llm
