// AsyncSemaphore (base/async.hpp): the LLM's and the live replies' concurrency limits.
#include "base/async.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

namespace net = boost::asio;

TEST_CASE("AsyncSemaphore lends at most its permits and hands a released one to a waiter") {
    net::io_context io;
    bot::AsyncSemaphore semaphore(2);
    std::vector<int> holding;  // who holds a permit, in the order they got it
    std::vector<bot::AsyncSemaphore::Permit> permits(3);
    for (int who = 0; who < 3; ++who) {
        net::co_spawn(
            io,
            [&, who]() -> net::awaitable<void> {
                permits[who] = co_await semaphore.acquire();
                holding.push_back(who);
            },
            net::detached);
    }
    io.poll();                                 // not run(): the waiter keeps the io_context busy
    CHECK(holding == std::vector<int>{0, 1});  // the third waits

    permits[0].reset();  // its permit passes straight on to the waiter
    io.restart();
    io.poll();
    CHECK(holding == std::vector<int>{0, 1, 2});

    permits[1].reset();
    permits[2].reset();
    // Both free again: taken without waiting, so acquiring them runs no more handlers than
    // a coroutine that does nothing.
    net::co_spawn(
        io, []() -> net::awaitable<void> { co_return; }, net::detached);
    io.restart();
    const auto baseline = io.poll();
    std::optional<bot::AsyncSemaphore::Permit> first, second;
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            first = co_await semaphore.acquire();
            second = co_await semaphore.acquire();
        },
        net::detached);
    io.restart();
    CHECK(io.poll() == baseline);  // no completion was posted
    CHECK(first.has_value());
    CHECK(second.has_value());
}

TEST_CASE("AsyncSemaphore::try_acquire takes only a free permit and never jumps a waiter") {
    net::io_context io;
    bot::AsyncSemaphore semaphore(1);
    auto held = semaphore.try_acquire();
    REQUIRE(held.has_value());
    CHECK_FALSE(semaphore.try_acquire().has_value());

    bool waiter_got_it = false;
    std::optional<bot::AsyncSemaphore::Permit> waiter_permit;
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            waiter_permit = co_await semaphore.acquire();
            waiter_got_it = true;
        },
        net::detached);
    io.poll();
    CHECK_FALSE(waiter_got_it);
    held.reset();  // released: the waiter is owed it, not a later try_acquire
    CHECK_FALSE(semaphore.try_acquire().has_value());
    io.restart();
    io.poll();
    CHECK(waiter_got_it);
    waiter_permit.reset();
    CHECK(semaphore.try_acquire().has_value());
}
