// One event of an OpenAI-compatible streamed chat completion ("chat.completion.chunk").
//
// A reply streams one event per token or few, so this parse runs hundreds of times per reply:
// it reads the few fields it needs while Boost.JSON's push parser goes through the text, with
// no tree and no allocation for the usual 150-400 byte chunk.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bot::llm {

struct StreamChunk {
    bool is_error = false;      // {"error": ...}: the provider failed mid-stream
    std::string content;        // choices[0].delta.content, "" when absent or null
    std::string finish_reason;  // choices[0].finish_reason, "" when absent or null
    bool has_usage = false;     // a "usage" object was present
    int prompt_tokens = 0;
    int completion_tokens = 0;
};

// nullopt when the data is not a JSON object.
std::optional<StreamChunk> parse_stream_chunk(std::string_view data);

}  // namespace bot::llm
