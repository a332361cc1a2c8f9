#include "llm/stream_chunk.hpp"

#include "bot/json_fields.hpp"

#include <limits>

namespace bot::llm {

namespace {

// Token counts are ints; anything out of range reads as absent.
int count_field(const boost::json::object& object, std::string_view key) {
    const auto value = int_field(object, key);
    return value >= 0 && value <= std::numeric_limits<int>::max() ? int(value) : 0;
}

}  // namespace

std::optional<StreamChunk> parse_stream_chunk(std::string_view data) {
    ScratchJson parsed;  // the usual 150-400 byte chunk needs no allocation
    const auto* found = parsed.parse_object(data);
    if (!found) return std::nullopt;
    const auto& object = *found;

    StreamChunk chunk;
    if (object.contains("error")) {
        chunk.is_error = true;
        return chunk;
    }
    if (const auto* usage = object_field(object, "usage")) {
        chunk.has_usage = true;
        chunk.prompt_tokens = count_field(*usage, "prompt_tokens");
        chunk.completion_tokens = count_field(*usage, "completion_tokens");
    }
    const auto* choices = object.if_contains("choices");
    if (!choices || !choices->is_array() || choices->get_array().empty()) return chunk;
    const auto& choice = choices->get_array().front();
    if (!choice.is_object()) return chunk;
    chunk.finish_reason = string_field(choice.get_object(), "finish_reason");
    if (const auto* delta = object_field(choice.get_object(), "delta")) {
        chunk.content = string_field(*delta, "content");
    }
    return chunk;
}

}  // namespace bot::llm
