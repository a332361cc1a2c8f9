// The summariser's answer (bot/memory_reply.*): the LLM's JSON {summary, facts}, fenced or in a
// sentence, or plain text. Malformed input is nullopt, never an exception; what is accepted
// stays within its limits.
#include "base/text_split.hpp"
#include "bot/memory_reply.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto text = fuzz::as_text(data, size);
    const bot::MemoryReplyLimits limits{
        .max_summary_bytes = 64, .max_fact_chars = 16, .max_facts = 3};
    if (auto reply = bot::parse_memory_reply(text, limits)) {
        fuzz::require(!reply->summary.empty(), "an empty summary accepted");
        fuzz::require(reply->summary.size() <= limits.max_summary_bytes, "summary over its cap");
        fuzz::require(reply->facts.size() <= 3, "more facts than max_facts");
        for (const auto& fact : reply->facts) {
            fuzz::require(!fact.empty(), "an empty fact");
            fuzz::require(bot::utf8_length(fact) <= limits.max_fact_chars, "fact over its cap");
            fuzz::require(fact.find('\n') == std::string::npos, "a fact over two lines");
        }
    }
    return 0;
}
