#include "bot/reply_tracker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <thread>

using namespace std::chrono_literals;
using bot::ReplyEvent;

namespace {
std::vector<ReplyEvent> collect(boost::asio::io_context& io, bot::ReplyWatch& watch) {
    auto future = boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<std::vector<ReplyEvent>> {
            std::vector<ReplyEvent> events;
            for (;;) {
                events.push_back(co_await watch.next());
                if (events.back().kind != ReplyEvent::Kind::delta) co_return events;
            }
        },
        boost::asio::use_future);
    io.restart();
    while (future.wait_for(0s) != std::future_status::ready) io.run_one_for(10ms);
    return future.get();
}
}  // namespace

TEST_CASE("watchers see deltas, late watchers the text so far, one claims", "[tracker]") {
    boost::asio::io_context io;
    bot::ReplyTracker tracker(io.get_executor());
    auto key = bot::ReplyTracker::key("a", "m1");
    tracker.begin(key);
    auto early = tracker.watch(key, 5s, true);
    auto quiet = tracker.watch(key, 5s, false, false);  // no deltas wanted
    tracker.delta(key, "Hel");
    tracker.delta(key, "lo");  // not consumed yet: merged into the waiting delta
    auto late = tracker.watch(key, 5s, true);
    tracker.delta(key, "!");
    CHECK(tracker.finish(key, "Hello!", "c1"));

    auto first = collect(io, early);
    REQUIRE(first.size() == 2);
    CHECK(first[0].text == "Hello!");
    CHECK(first[1].kind == ReplyEvent::Kind::done);
    CHECK(first[1].claimed);
    auto silent = collect(io, quiet);
    REQUIRE(silent.size() == 1);
    CHECK(silent[0].kind == ReplyEvent::Kind::done);
    auto second = collect(io, late);
    REQUIRE(second.size() == 2);
    CHECK(second[0].text == "Hello!");
    CHECK(!second[1].claimed);  // only one adapter delivers
    CHECK(tracker.active() == 0);
}

TEST_CASE("an expired watcher gets timeout and cannot claim", "[tracker]") {
    boost::asio::io_context io;
    bot::ReplyTracker tracker(io.get_executor());
    auto key = bot::ReplyTracker::key("a", "m2");
    tracker.begin(key);
    auto watch = tracker.watch(key, 30ms, true);
    auto events = collect(io, watch);
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == ReplyEvent::Kind::timeout);
    CHECK_FALSE(tracker.finish(key, "late", "c"));  // goes to the outbox instead
}

TEST_CASE("a dropped watch does not claim", "[tracker]") {
    boost::asio::io_context io;
    bot::ReplyTracker tracker(io.get_executor());
    auto key = bot::ReplyTracker::key("a", "m3");
    tracker.begin(key);
    { auto watch = tracker.watch(key, 5s, true); }
    CHECK_FALSE(tracker.finish(key, "reply", "c"));
    io.run_for(50ms);
}
