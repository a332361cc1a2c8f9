// Limits per client: networks of addresses, and token buckets in a bounded map.
#include "base/rate_limit.hpp"

#include <catch2/catch.hpp>

using bot::client_network;
using bot::TokenBuckets;
using namespace std::chrono_literals;

TEST_CASE("client addresses group into networks", "[rate_limit]") {
    CHECK(client_network("192.0.2.77", 24, 64) == "192.0.2.0/24");
    CHECK(client_network("192.0.2.77", 32, 64) == "192.0.2.77/32");
    CHECK(client_network("192.0.2.77", 20, 64) == "192.0.0.0/20");
    CHECK(client_network("::ffff:192.0.2.77", 24, 64) == "192.0.2.0/24");  // IPv4-mapped
    CHECK(client_network("2001:db8:1:2:3:4:5:6", 24, 64) == "2001:db8:1:2::/64");
    CHECK(client_network("2001:db8:1:2:3:4:5:6", 24, 60) == "2001:db8:1::/60");
    CHECK(client_network("2001:db8:1:2:3:4:5:6", 24, 128) == "2001:db8:1:2:3:4:5:6/128");
    CHECK(client_network("", 24, 64).empty());
    CHECK(client_network("not an address", 24, 64) == "not an address");
}

TEST_CASE("a token bucket allows its burst, then its rate", "[rate_limit]") {
    TokenBuckets buckets(60, 3, 100);  // one a second, bursts of 3
    auto t0 = TokenBuckets::Clock::now();
    for (int i = 0; i < 3; ++i) CHECK(buckets.try_take("a", t0));
    CHECK_FALSE(buckets.try_take("a", t0));
    CHECK(buckets.try_take("b", t0));  // keys are independent
    CHECK_FALSE(buckets.try_take("a", t0 + 900ms));
    CHECK(buckets.try_take("a", t0 + 1s));
    CHECK_FALSE(buckets.try_take("a", t0 + 1s));
    CHECK(buckets.ready("a", t0 + 2s));
    CHECK(buckets.ready("a", t0 + 2s));  // ready() takes nothing
}

TEST_CASE("token buckets cannot be grown without bound", "[rate_limit]") {
    auto t0 = TokenBuckets::Clock::now();
    SECTION("refilled buckets are forgotten") {
        TokenBuckets buckets(60, 3, 1000);
        for (int i = 0; i < 500; ++i) buckets.take("key" + std::to_string(i), t0);
        CHECK(buckets.size() == 500);
        buckets.take("late", t0 + 3s);  // 3 s refill the others
        CHECK(buckets.size() == 1);
    }
    SECTION("a full map evicts the longest idle bucket") {
        TokenBuckets buckets(1, 2, 3);  // slow refill: nothing is forgotten in this test
        buckets.take("old", t0);
        buckets.take("old", t0);
        buckets.take("mid", t0 + 1ms);
        buckets.take("new", t0 + 2ms);
        CHECK_FALSE(buckets.ready("old", t0 + 3ms));
        for (int i = 0; i < 10000; ++i) buckets.take("attacker" + std::to_string(i), t0 + 4ms);
        CHECK(buckets.size() == 3);
        CHECK(buckets.ready("old", t0 + 5ms));  // evicted: a fresh bucket again
    }
}

TEST_CASE("a call budget allows a second's worth at once, then its rate", "[rate_limit]") {
    auto t0 = bot::CallBudget::Clock::now() + 1s;  // after the budget's own start: full
    bot::CallBudget budget(5);
    for (int i = 0; i < 5; ++i) CHECK(budget.try_take(t0));
    CHECK_FALSE(budget.try_take(t0));
    CHECK_FALSE(budget.try_take(t0 + 100ms));  // half a call refilled
    CHECK(budget.try_take(t0 + 250ms));
    CHECK_FALSE(budget.try_take(t0 + 250ms));
    CHECK_FALSE(budget.try_take(t0 + 200ms));  // a clock read earlier refills nothing
    // Below one call per second the burst is still one call.
    bot::CallBudget slow(0.5);
    CHECK(slow.try_take(t0));
    CHECK_FALSE(slow.try_take(t0 + 1s));
    CHECK(slow.try_take(t0 + 2s));
}
