// One LLM request's messages, in the order the model reads them, cut to the token budget:
// persona, then what the memory adds (facts about the user, the rolling summary of older turns,
// recalled excerpts of the user's own older turns, recent group messages not addressed to the
// bot), then the newest turns, then the new message.
//
// The memory's notes have caps (shares of the budget) so that they never crowd out the newest
// turns, which matter most for a coherent answer; within a cap, items are kept in the order
// given (best first) and whole items are dropped, never cut in the middle.
#pragma once

#include "llm/llm_backend.hpp"
#include "storage/store.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bot {

// What the memory adds to a request besides the newest turns. Every part may be empty.
struct MemoryNotes {
    std::vector<std::string> facts;     // durable facts about this user, most important first
    std::string summary;                // of this conversation's turns older than `turns`
    std::vector<std::string> recalled;  // the user's own older turns that match, best first
    std::vector<std::string> group;     // "Name: text" lines, oldest first
};

// Shares of the budget (percent) each kind of note may take at most.
struct NoteCaps {
    int facts_percent = 10;
    int summary_percent = 20;
    int recalled_percent = 15;
    int group_percent = 15;
};

// Built in place and never moved: `messages` views into `notes_text` (and into the strings
// passed in, which must outlive it).
struct Prompt {
    Prompt(std::string_view persona, const MemoryNotes& notes,
           const std::vector<storage::Turn>& turns, std::string_view user_text, int budget,
           const NoteCaps& caps = {});
    Prompt(const Prompt&) = delete;
    Prompt& operator=(const Prompt&) = delete;

    std::vector<llm::ChatMessage> messages;
    std::string notes_text;      // the rendered notes (a second system message), may be empty
    std::size_t first_turn = 0;  // turns[first_turn..] are in the request
    int estimated_tokens = 0;    // of the whole request, for usage when a provider reports none
};

}  // namespace bot
