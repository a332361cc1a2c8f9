#include "bot/recall.hpp"

#include "base/log.hpp"
#include "llm/embeddings.hpp"

#include <chrono>
#include <cstdio>

namespace bot {

namespace {

// At most max_bytes of text on one line, cut at a character boundary.
std::string one_line(std::string_view text, std::size_t max_bytes) {
    std::string out;
    bool cut = text.size() > max_bytes;
    if (cut) {
        std::size_t end = max_bytes;
        while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
        text = text.substr(0, end);
    }
    out.reserve(text.size() + 3);
    for (char c : text) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    if (cut) out += "...";
    return out;
}

std::string day_of(std::int64_t at_ms) {
    const std::chrono::sys_days day = std::chrono::floor<std::chrono::days>(
        std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(at_ms)));
    const std::chrono::year_month_day date{day};
    char text[16];
    std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
    return text;
}

}  // namespace

std::string format_excerpt(const storage::RecalledTurn& turn) {
    // Appended piece by piece: g++ 12 misreads `"[" + std::string` as an overflow.
    std::string out = "[";
    out.append(day_of(turn.at_ms)).append("] User: ").append(one_line(turn.user_text, 600));
    if (!turn.reply.empty()) out.append(" | You answered: ").append(one_line(turn.reply, 300));
    return out;
}

boost::asio::awaitable<std::vector<std::string>> recall_excerpts(
    storage::Store& store, const RecallOptions& options, Logger& log, storage::ConversationKey key,
    std::string text, int exclude_newest) {
    std::vector<std::string> excerpts;
    if (!options.enabled) co_return excerpts;
    storage::RecallQuery query{.key = std::move(key),
                               .text = std::move(text),
                               .limit = options.excerpts,
                               .exclude_newest = exclude_newest,
                               .vector = {},
                               .vector_candidates = options.candidates,
                               .min_similarity = options.min_similarity};
    if (options.embeddings) {
        // Bounded: a slow or failing provider leaves recall to the keywords.
        if (auto vector =
                co_await options.embeddings->embed_one(query.text, options.query_timeout)) {
            query.vector = std::move(*vector);
        }
    }
    try {
        auto turns = co_await store.recall(std::move(query));
        for (const auto& turn : turns) excerpts.push_back(format_excerpt(turn));
    } catch (const std::exception& error) {
        log.warn("recall", "recall failed, answering without it: ", error.what());
    }
    co_return excerpts;
}

}  // namespace bot
