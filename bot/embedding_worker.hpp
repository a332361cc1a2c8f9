// Computes the embeddings of new user turns in the background (memory.embeddings, issue 24):
// never on the reply path. One worker, a batch at a time; the to-do list is durable (turns
// stored without a vector, Store::pending_vectors), so a crash or a failing provider only
// delays vectors: a failed batch is retried after a growing pause (2 s up to 5 min).
#pragma once

#include "storage/store.hpp"

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>

namespace bot {

namespace llm {
class Embeddings;
}
class Logger;

struct EmbeddingWorkerOptions {
    int batch = 32;                             // texts per request
    std::size_t max_text_bytes = 8000;          // longer turns are embedded by their start
    std::chrono::milliseconds timeout{30000};   // per request
    std::chrono::milliseconds idle_poll{1000};  // when there is nothing to do
};

// Runs until stopping is set (checked between batches; the io_context's end also ends it).
boost::asio::awaitable<void> run_embedding_worker(storage::Store& store,
                                                  llm::Embeddings& embeddings, Logger& log,
                                                  EmbeddingWorkerOptions options,
                                                  const std::atomic<bool>& stopping);

}  // namespace bot
