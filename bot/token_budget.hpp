// Deciding how much conversation history fits into the model's context window.
#pragma once

#include "storage/store.hpp"

#include <cstddef>
#include <string_view>
#include <vector>

namespace bot {

// A conservative token estimate that needs no tokenizer: CJK characters cost about one and a
// half tokens each in common BPE vocabularies, English text about one per 3-4 bytes. Over-
// estimating only drops an old turn early; under-estimating would make the provider reject
// the request.
int estimate_tokens(std::string_view text);

// Per-message overhead of the chat format (role markers, separators).
inline constexpr int kTokensPerMessage = 4;

int estimate_message_tokens(std::string_view content);

// The oldest turn to send so that the fixed part (persona + new message) plus turns[first..]
// fit in budget (first == turns.size() when none fit), and what those turns cost: each turn is
// estimated once. Never starts with an assistant turn whose question was cut off.
struct TurnsWithinBudget {
    std::size_t first = 0;
    int tokens = 0;  // estimate_message_tokens of turns[first..]
};
TurnsWithinBudget turns_within_budget(const std::vector<storage::Turn>& turns, int fixed_tokens,
                                      int budget);
inline std::size_t first_turn_within_budget(const std::vector<storage::Turn>& turns,
                                            int fixed_tokens, int budget) {
    return turns_within_budget(turns, fixed_tokens, budget).first;
}

}  // namespace bot
