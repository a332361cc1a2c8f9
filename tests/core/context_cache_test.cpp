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

TEST_CASE("append adds a message's turns to the context it was answered from", "[cache]") {
    ContextCache cache(1 << 20, 6);
    ConversationKey alice{"tg", "1", "alice"};
    cache.put(alice, "c1", turns(4, 100), cache.generation());
    const std::vector<Turn> added{{"user", "question"}, {"assistant", "answer"}};

    SECTION("a snapshot only the caller holds is moved, not copied") {
        auto used = cache.get(alice)->turns;
        const char* first_text = used->front().content.data();  // on the heap: 100 bytes
        cache.append(alice, "c1", std::move(used), added, cache.generation());
        auto after = cache.get(alice);
        REQUIRE(after);
        REQUIRE(after->turns->size() == 6);
        CHECK(after->turns->at(4).content == "question");
        CHECK(after->turns->at(5).content == "answer");
        CHECK(after->turns->front().content.data() == first_text);  // moved, not copied
    }
    SECTION("a snapshot someone else still reads is copied and left as it was") {
        auto used = cache.get(alice)->turns;
        auto reader = used;
        cache.append(alice, "c1", std::move(used), added, cache.generation());
        CHECK(reader->size() == 4);
        CHECK(cache.get(alice)->turns->size() == 6);
    }
    SECTION("a context loaded from the store is copied; trimming keeps the newest") {
        auto loaded = std::make_shared<const std::vector<Turn>>(turns(6));
        cache.append(alice, "c1", loaded, added, cache.generation());
        CHECK(loaded->size() == 6);
        auto after = cache.get(alice);
        REQUIRE(after->turns->size() == 6);
        CHECK(after->turns->back().content == "answer");
    }
    SECTION("a /forget since the context was read drops the append") {
        auto generation = cache.generation();
        auto used = cache.get(alice)->turns;
        cache.forget_user("tg", "alice");
        cache.append(alice, "c1", std::move(used), added, generation);
        CHECK_FALSE(cache.get(alice));
    }
}

namespace {
std::vector<Turn> numbered(int first_id, int n) {
    std::vector<Turn> out;
    for (int i = 0; i < n; ++i)
        out.push_back(
            {i % 2 ? "assistant" : "user", "t" + std::to_string(first_id + i), first_id + i});
    return out;
}
}  // namespace

TEST_CASE("context cache: a stored summary trims the entry; the newest pointer wins",
          "[cache][memory]") {
    ContextCache cache(1 << 20, 100);
    ConversationKey alice{"tg", "1", "alice"};
    cache.put(alice, "c1", numbered(1, 10), cache.generation());
    // A message being answered holds the pre-summary snapshot.
    auto before = cache.get(alice);
    REQUIRE(before);
    auto s1 = std::make_shared<const std::string>("S1");
    cache.summarised(alice, "c1", s1, 6);
    auto after = cache.get(alice);
    REQUIRE(after);
    CHECK(*after->summary == "S1");
    CHECK(after->through == 6);
    REQUIRE(after->turns->size() == 4);
    CHECK(after->turns->front().id == 7);
    CHECK(before->turns->size() == 10);  // the snapshot itself is untouched

    // That message's turns are appended from its old context: the slot's newer summary stays
    // and the summarised turns do not come back.
    cache.append(alice, "c1", before->turns, numbered(11, 2), cache.generation(), {}, 0);
    auto appended = cache.get(alice);
    REQUIRE(appended);
    CHECK(appended->through == 6);
    CHECK(*appended->summary == "S1");
    REQUIRE(appended->turns->size() == 6);
    CHECK(appended->turns->front().id == 7);
    CHECK(appended->turns->back().id == 12);

    // An older pointer, another conversation: ignored.
    cache.summarised(alice, "c1", std::make_shared<const std::string>("old"), 4);
    cache.summarised(alice, "c2", std::make_shared<const std::string>("other"), 100);
    CHECK(*cache.get(alice)->summary == "S1");
    CHECK(cache.get(alice)->turns->size() == 6);
}
