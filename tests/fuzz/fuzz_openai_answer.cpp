// The OpenAI answer and stream-chunk readers (llm/completion_fields.*): a whole chat completion
// body, or one stream event's data. Malformed input is nullopt, never an exception.
#include "fuzz_support.hpp"
#include "llm/completion_fields.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    if (auto chunk = bot::llm::parse_stream_chunk(text)) {
        fuzz::require(chunk->content.size() <= size, "content longer than its input");
        fuzz::require(chunk->content.empty() || chunk->has_content, "content without has_content");
    }
    if (auto answer = bot::llm::parse_completion_fields(text)) {
        fuzz::require(!answer->is_error, "an error object read as an answer");
        fuzz::require(answer->content.size() <= size, "content longer than its input");
    }
    return 0;
}
