#include "bot/context_cache.hpp"

#include <catch2/catch.hpp>

using bot::ContextCache;
using bot::storage::ConversationKey;
using bot::storage::Turn;

namespace {
std::vector<Turn> turns(int n, std::size_t size = 10) {
    std::vector<Turn> out;
    for (int i = 0; i < n; ++i)
        out.push_back({i % 2 ? "assistant" : "user", std::string(size, 'x')});
    return out;
}
}  // namespace

TEST_CASE("context cache keeps the newest turns per conversation", "[cache]") {
    ContextCache cache(1 << 20, 4);
    ConversationKey alice{"tg", "1", "alice"};
    CHECK_FALSE(cache.get(alice));
    cache.put(alice, "c1", turns(6), cache.generation());
    auto entry = cache.get(alice);
    REQUIRE(entry);
    CHECK(entry->conversation_id == "c1");
    CHECK(entry->turns->size() == 4);  // trimmed to max_turns, newest kept
    cache.erase(alice);
    CHECK_FALSE(cache.get(alice));
}

TEST_CASE("context cache is bounded in bytes, least recently used out", "[cache]") {
    ContextCache cache(8000, 100);
    for (int i = 0; i < 20; ++i) {
        cache.put({"tg", std::to_string(i), "u"}, "c", turns(2, 1000), cache.generation());
    }
    CHECK(cache.bytes() <= 8000);
    CHECK(cache.size() < 20);
    CHECK(cache.get({"tg", "19", "u"}));       // newest stays
    CHECK_FALSE(cache.get({"tg", "0", "u"}));  // oldest went

    ContextCache off(0, 100);
    off.put({"tg", "1", "u"}, "c", turns(2), off.generation());
    CHECK_FALSE(off.get({"tg", "1", "u"}));
}

TEST_CASE("forget_user clears every chat of the user and stale puts are dropped", "[cache]") {
    ContextCache cache(1 << 20, 100);
    ConversationKey here{"tg", "1", "alice"}, there{"tg", "2", "alice"}, bob{"tg", "1", "bob"};
    auto before = cache.generation();
    cache.put(here, "c1", turns(2), before);
    cache.put(there, "c2", turns(2), before);
    cache.put(bob, "c3", turns(2), before);
    cache.forget_user("tg", "alice");
    CHECK_FALSE(cache.get(here));
    CHECK_FALSE(cache.get(there));
    CHECK(cache.get(bob));
    // A job that loaded its context before the /forget cannot put it back afterwards.
    cache.put(there, "c2", turns(4), before);
    CHECK_FALSE(cache.get(there));
    cache.put(there, "c9", turns(2), cache.generation());
    CHECK(cache.get(there));
}
