#include "llm/llm_backend.hpp"

namespace bot::llm {

std::string_view to_string(LlmError::Kind kind) {
    switch (kind) {
        case LlmError::Kind::not_configured:
            return "not_configured";
        case LlmError::Kind::unauthorized:
            return "unauthorized";
        case LlmError::Kind::rate_limited:
            return "rate_limited";
        case LlmError::Kind::unavailable:
            return "unavailable";
        case LlmError::Kind::timeout:
            return "timeout";
        case LlmError::Kind::bad_request:
            return "bad_request";
        case LlmError::Kind::bad_response:
            return "bad_response";
    }
    return "unknown";
}

}  // namespace bot::llm
