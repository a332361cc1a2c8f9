// Recall on the reply path (issue 24, h/recall): the user's older turns that match the new
// message, as "earlier excerpts" for MemoryNotes::recalled. One read of the store; with
// embeddings, the message's vector first, awaited at most query_timeout (keywords only after).
#pragma once

#include "storage/store.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace bot {

namespace llm {
class Embeddings;
}
class Logger;

struct RecallOptions {
    bool enabled = true;  // memory.recall.enabled
    int excerpts = 3;     // memory.recall.excerpts
    // memory.embeddings (null: keywords only). Not owned.
    llm::Embeddings* embeddings = nullptr;
    std::chrono::milliseconds query_timeout{1500};
    double min_similarity = 0.3;
    int candidates = 200;
};

// "[2026-11-02] User: ... | You answered: ...", one line, long texts cut (at a character).
std::string format_excerpt(const storage::RecalledTurn& turn);

// The excerpts for a message; never throws (a failed recall is logged and recalls nothing).
// exclude_newest: the turns already in the context (the active conversation's newest).
boost::asio::awaitable<std::vector<std::string>> recall_excerpts(
    storage::Store& store, const RecallOptions& options, Logger& log, storage::ConversationKey key,
    std::string text, int exclude_newest);

}  // namespace bot
