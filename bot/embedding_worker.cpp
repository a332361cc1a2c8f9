#include "bot/embedding_worker.hpp"

#include "base/async.hpp"
#include "base/log.hpp"
#include "llm/embeddings.hpp"

#include <algorithm>

namespace bot {

boost::asio::awaitable<void> run_embedding_worker(storage::Store& store,
                                                  llm::Embeddings& embeddings, Logger& log,
                                                  EmbeddingWorkerOptions options,
                                                  const std::atomic<bool>& stopping) {
    constexpr std::chrono::milliseconds kFirstPause{2000};
    constexpr std::chrono::milliseconds kLongestPause{300000};
    // A batch the provider refuses is tried again in halves, down to one turn; a single turn
    // refused kGiveUpAfter times in a row gets an empty vector, which takes it off the list for
    // good instead of blocking every later turn. An outage only waits (growing pauses).
    constexpr int kGiveUpAfter = 3;
    std::chrono::milliseconds pause = kFirstPause;
    int batch = options.batch;
    std::int64_t failing_turn = 0;
    int failures = 0;
    while (!stopping) {
        std::vector<storage::PendingVector> pending;
        bool read = false;
        try {
            pending = co_await store.pending_vectors(batch);
            read = true;
        } catch (const std::exception& error) {
            log.warn("embeddings", "cannot read the turns to embed: ", error.what());
        }
        if (!read) {
            co_await sleep_for(kLongestPause);
            continue;
        }
        if (pending.empty()) {
            co_await sleep_for(options.idle_poll);
            continue;
        }
        std::vector<std::string> texts;
        texts.reserve(pending.size());
        for (const auto& turn : pending) {
            std::size_t end = std::min(turn.text.size(), options.max_text_bytes);
            while (end < turn.text.size() && end > 0 &&
                   (static_cast<unsigned char>(turn.text[end]) & 0xC0) == 0x80) {
                --end;
            }
            texts.push_back(turn.text.substr(0, end));
        }
        auto result = co_await embeddings.embed(std::move(texts), options.timeout);
        if (!result.vectors && result.refused && pending.size() == 1) {
            failures = failing_turn == pending[0].message_id ? failures + 1 : 1;
            failing_turn = pending[0].message_id;
            if (failures >= kGiveUpAfter) {
                log.warn("embeddings", "turn ", failing_turn, " left without an embedding after ",
                         failures, " refusals");
                result.vectors.emplace(1);  // stored empty: no match, never tried again
                failures = 0;
            }
        }
        if (!result.vectors) {
            // Refused: find the turn the provider refuses by halving. An outage: wait.
            if (result.refused) batch = std::max(1, static_cast<int>(pending.size()) / 2);
            co_await sleep_for(pause);  // the client logged why
            pause = std::min(pause * 2, kLongestPause);
            continue;
        }
        batch = options.batch;
        pause = kFirstPause;
        for (std::size_t i = 0; i < pending.size(); ++i)
            pending[i].vector = std::move((*result.vectors)[i]);
        bool stored_ok = false;
        try {
            co_await store.put_vectors(std::move(pending));
            stored_ok = true;
        } catch (const std::exception& error) {
            log.warn("embeddings", "cannot store embeddings: ", error.what());
        }
        if (!stored_ok) co_await sleep_for(pause);
    }
}

}  // namespace bot
