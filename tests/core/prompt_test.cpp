#include "bot/prompt.hpp"
#include "bot/token_budget.hpp"

#include <catch2/catch.hpp>

namespace {

std::vector<bot::storage::Turn> alternating_turns(int pairs) {
    std::vector<bot::storage::Turn> turns;
    for (int i = 0; i < pairs; ++i) {
        turns.push_back({"user", "question " + std::to_string(i) + std::string(40, 'q')});
        turns.push_back({"assistant", "answer " + std::to_string(i) + std::string(40, 'a')});
    }
    return turns;
}

}  // namespace

TEST_CASE("a prompt without notes is persona, newest turns, message", "[prompt]") {
    auto turns = alternating_turns(3);
    bot::MemoryNotes notes;
    const bot::Prompt prompt("be kind", notes, turns, "hello", 100000);
    REQUIRE(prompt.messages.size() == 8);
    CHECK(prompt.messages.front().role == "system");
    CHECK(prompt.messages.front().content == "be kind");
    CHECK(prompt.messages[1].content == turns[0].content);
    CHECK(prompt.messages.back().role == "user");
    CHECK(prompt.messages.back().content == "hello");
    CHECK(prompt.notes_text.empty());
    CHECK(prompt.first_turn == 0);
}

TEST_CASE("notes go into a second system message within their caps", "[prompt]") {
    auto turns = alternating_turns(2);
    bot::MemoryNotes notes;
    notes.facts = {"name is Ada", std::string(4000, 'x'), "likes tea"};
    notes.summary = "We talked about compilers.";
    notes.recalled = {"user: my cat is called Turing"};
    notes.group = {"Alice: the build is red again"};
    const bot::Prompt prompt("persona", notes, turns, "hi", 2000);
    REQUIRE(prompt.messages.size() == 7);
    CHECK(prompt.messages[1].role == "system");
    const auto& text = prompt.notes_text;
    CHECK(prompt.messages[1].content == text);
    CHECK(text.find("- name is Ada\n- likes tea\n") != std::string::npos);  // the huge fact dropped
    CHECK(text.find(std::string(100, 'x')) == std::string::npos);
    CHECK(text.find("We talked about compilers.") != std::string::npos);
    CHECK(text.find("> user: my cat is called Turing") != std::string::npos);
    CHECK(text.find("Alice: the build is red again") != std::string::npos);
    // Facts, summary, excerpts, group: in that order.
    CHECK(text.find("Ada") < text.find("compilers"));
    CHECK(text.find("compilers") < text.find("Turing"));
    CHECK(text.find("Turing") < text.find("Alice"));
}

TEST_CASE("notes and turns together stay within the budget", "[prompt]") {
    auto turns = alternating_turns(50);
    bot::MemoryNotes notes;
    notes.recalled.assign(100, std::string(68, 'r'));
    notes.summary = std::string(200, 's');
    const int budget = 1000;
    const bot::Prompt prompt("persona", notes, turns, "hi", budget);
    int total = 0;
    for (const auto& message : prompt.messages)
        total += bot::estimate_message_tokens(message.content);
    CHECK(total <= budget);
    CHECK(total == prompt.estimated_tokens);
    CHECK(prompt.first_turn > 0);
    CHECK(turns[prompt.first_turn].role == "user");
    // The excerpts took at most their share; the newest turns got the rest.
    CHECK(bot::estimate_tokens(prompt.notes_text) <= budget * 35 / 100 + 20);
    CHECK(prompt.messages.size() >= 3 + 10);  // persona, notes, message + 10 turns
}

TEST_CASE("group lines over their cap keep the newest, still oldest first", "[prompt][social]") {
    bot::MemoryNotes notes;
    for (int i = 0; i < 200; ++i)
        notes.group.push_back("member" + std::to_string(i) + ": " + std::string(60, 'x'));
    std::vector<bot::storage::Turn> turns;
    const bot::Prompt prompt("persona", notes, turns, "what did they say?", 2000);
    const auto& text = prompt.notes_text;
    CHECK(text.find("member199: ") != std::string::npos);  // the newest is kept
    CHECK(text.find("member0: ") == std::string::npos);    // the oldest made room
    CHECK(text.find("member198: ") < text.find("member199: "));
    CHECK(bot::estimate_tokens(text) <= 2000 * 15 / 100 + 10);
}
