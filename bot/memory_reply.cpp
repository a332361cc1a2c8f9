#include "bot/memory_reply.hpp"

#include "base/text_split.hpp"

#include <nlohmann/json.hpp>

namespace bot {

namespace {

std::string_view trimmed(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

std::string cut_utf8(std::string_view text, std::size_t max_bytes) {
    return std::string(text.substr(0, utf8_floor(text, max_bytes)));
}

}  // namespace

std::string one_line(std::string_view text) {
    std::string out(trimmed(text));
    for (char& c : out) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    return out;
}

std::optional<MemoryReply> parse_memory_reply(std::string_view text,
                                              const MemoryReplyLimits& limits) {
    text = trimmed(text);
    if (text.empty()) return std::nullopt;
    const auto open = text.find('{');
    if (open == std::string_view::npos) {
        MemoryReply plain{.summary = cut_utf8(text, limits.max_summary_bytes), .facts = {}};
        if (plain.summary.empty()) return std::nullopt;  // (not UTF-8: nothing left at a boundary)
        return plain;
    }
    const auto close = text.rfind('}');
    if (close == std::string_view::npos || close < open) return std::nullopt;
    // Only the expected shape is accepted; deeper nesting is refused while parsing.
    constexpr int kMaxDepth = 3;
    bool too_deep = false;
    const auto keep = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > kMaxDepth) too_deep = true;
        return depth <= kMaxDepth;
    };
    const auto parsed = nlohmann::json::parse(text.substr(open, close - open + 1), keep,
                                              /*allow_exceptions=*/false);
    if (too_deep || !parsed.is_object()) return std::nullopt;
    const auto summary = parsed.find("summary");
    if (summary == parsed.end() || !summary->is_string()) return std::nullopt;
    MemoryReply reply;
    reply.summary =
        cut_utf8(trimmed(summary->get_ref<const std::string&>()), limits.max_summary_bytes);
    if (reply.summary.empty()) return std::nullopt;
    const auto facts = parsed.find("facts");
    if (facts == parsed.end() || !facts->is_array()) return reply;  // facts are optional
    for (const auto& fact : *facts) {
        if (static_cast<int>(reply.facts.size()) >= limits.max_facts) break;
        if (!fact.is_string()) continue;
        const std::string_view item = trimmed(fact.get_ref<const std::string&>());
        if (item.empty() || utf8_length(item) > limits.max_fact_chars) continue;
        reply.facts.push_back(one_line(item));
    }
    return reply;
}

}  // namespace bot
