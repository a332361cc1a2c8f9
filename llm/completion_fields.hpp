// The fields contactbot reads from an OpenAI-compatible chat completion: one event of a stream
// ("chat.completion.chunk", the text in choices[0].delta) or a whole answer
// ("chat.completion", the text in choices[0].message).
//
// A reply streams one event per token or few, so this parse runs hundreds of times per reply:
// it reads the few fields it needs while Boost.JSON's push parser goes through the text, with
// no tree and no allocation for the usual 150-400 byte chunk. A whole answer is read the same
// way: an nlohmann tree of a short one cost ~37K instructions, a quarter of the I/O thread's
// work per message.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bot::llm {

struct CompletionFields {
    bool is_error = false;      // {"error": ...}: the provider failed mid-stream
    std::string content;        // choices[0].delta (.message).content, "" if absent or null
    bool has_content = false;   // that content was there, a string or null
    std::string finish_reason;  // choices[0].finish_reason, "" when absent or null
    bool has_usage = false;     // a "usage" object was present
    int prompt_tokens = 0;
    int completion_tokens = 0;
};

// nullopt when the data is not a JSON object.
std::optional<CompletionFields> parse_stream_chunk(std::string_view data);
// The same with the text in choices[0].message; nullopt also for an {"error": ...} object.
std::optional<CompletionFields> parse_completion_fields(std::string_view body);

}  // namespace bot::llm
