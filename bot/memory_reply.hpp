// Reading what the summariser's LLM call answered: a JSON object {"summary": "...", "facts":
// ["...", ...]}, perhaps wrapped in a ```json fence or in a sentence; or, from a model that
// ignored the format, plain text (no '{' at all) taken as the summary. Never throws: anything
// else is unusable (nullopt) and the summary is retried later.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bot {

struct MemoryReply {
    std::string summary;
    std::vector<std::string> facts;  // trimmed, non-empty, each at most max_fact_chars characters
};

struct MemoryReplyLimits {
    std::size_t max_summary_bytes = 16000;  // a longer summary is cut (at a UTF-8 boundary)
    std::size_t max_fact_chars = 300;       // a longer fact is dropped, not cut
    int max_facts = 50;                     // the rest are dropped
};

// A fact as stored and shown: line breaks and tabs become spaces, ends trimmed.
std::string one_line(std::string_view text);

std::optional<MemoryReply> parse_memory_reply(std::string_view text,
                                              const MemoryReplyLimits& limits);

}  // namespace bot
