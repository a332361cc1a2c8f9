#include "bot/prompt.hpp"

#include "bot/token_budget.hpp"

#include <algorithm>

namespace bot {

namespace {

// Appends a titled section of whole items while they fit in `allowance` tokens. Items that do
// not fit are skipped, so a later shorter one may still go in.
void append_section(std::string& out, std::string_view title, const std::vector<std::string>& items,
                    std::string_view item_prefix, int allowance) {
    if (items.empty()) return;
    int used = estimate_tokens(title) + 2;
    if (used >= allowance) return;
    std::string section;
    for (const auto& item : items) {
        int cost = estimate_tokens(item) + 2;
        if (used + cost > allowance) continue;
        section += item_prefix;
        section += item;
        section += '\n';
        used += cost;
    }
    if (section.empty()) return;
    if (!out.empty()) out += '\n';
    out += title;
    out += '\n';
    out += section;
}

// The newest items (the last ones) that fit in allowance tokens together with title, in their
// order: for group messages the newest matter most, yet the model reads them oldest first.
std::vector<std::string> newest_that_fit(std::string_view title,
                                         const std::vector<std::string>& items, int allowance) {
    int used = estimate_tokens(title) + 2;
    auto first = items.end();
    while (first != items.begin()) {
        int cost = estimate_tokens(*std::prev(first)) + 2;
        if (used + cost > allowance) break;
        used += cost;
        --first;
    }
    return {first, items.end()};
}

}  // namespace

Prompt::Prompt(std::string_view persona, const MemoryNotes& notes,
               const std::vector<storage::Turn>& turns, std::string_view user_text, int budget,
               const NoteCaps& caps) {
    int fixed = estimate_message_tokens(persona) + estimate_message_tokens(user_text);
    int room = std::max(0, budget - fixed);
    auto share = [room](int percent) { return room / 100 * percent + room % 100 * percent / 100; };

    append_section(notes_text, "What you know about the user:", notes.facts, "- ",
                   share(caps.facts_percent));
    if (!notes.summary.empty() &&
        estimate_tokens(notes.summary) + 8 <= share(caps.summary_percent)) {
        if (!notes_text.empty()) notes_text += '\n';
        notes_text += "Summary of your earlier conversation with the user:\n";
        notes_text += notes.summary;
        notes_text += '\n';
    }
    append_section(notes_text,
                   "Earlier excerpts of your conversations with the user (older than the "
                   "messages below; use them only if relevant):",
                   notes.recalled, "> ", share(caps.recalled_percent));
    constexpr std::string_view kGroupTitle =
        "Recent messages in this group chat, oldest first (the user's own messages to you are "
        "in the conversation below):";
    const int group_allowance = share(caps.group_percent);
    append_section(notes_text, kGroupTitle,
                   newest_that_fit(kGroupTitle, notes.group, group_allowance), "", group_allowance);
    int notes_tokens = notes_text.empty() ? 0 : estimate_message_tokens(notes_text);

    const auto fit = turns_within_budget(turns, fixed + notes_tokens, budget);
    first_turn = fit.first;
    estimated_tokens = fixed + notes_tokens + fit.tokens;

    messages.reserve(turns.size() - first_turn + 3);
    messages.push_back({"system", persona});
    if (!notes_text.empty()) messages.push_back({"system", notes_text});
    for (std::size_t i = first_turn; i < turns.size(); ++i) {
        messages.push_back({turns[i].role, turns[i].content});
    }
    messages.push_back({"user", user_text});
}

}  // namespace bot
