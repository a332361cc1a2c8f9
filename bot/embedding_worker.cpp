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
    std::chrono::milliseconds pause = kFirstPause;
    while (!stopping) {
        std::vector<storage::PendingVector> pending;
        bool read = false;
        try {
            pending = co_await store.pending_vectors(options.batch);
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
        auto vectors = co_await embeddings.embed(std::move(texts), options.timeout);
        if (!vectors) {
            co_await sleep_for(pause);  // the client logged why
            pause = std::min(pause * 2, kLongestPause);
            continue;
        }
        pause = kFirstPause;
        for (std::size_t i = 0; i < pending.size(); ++i)
            pending[i].vector = std::move((*vectors)[i]);
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
