// KeyedOrder (base/keyed_order.hpp): how the socket adapters store messages from one connection
// that carries every user: side by side across senders, in order within one.
#include "base/keyed_order.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace net = boost::asio;
using bot::AsyncEvent;
using bot::KeyedOrder;

namespace {

// Work that records when it starts and ends, and finishes only when released.
struct Probe {
    explicit Probe(net::io_context& io) : io(io) {}
    net::io_context& io;
    std::vector<std::string> log;
    std::map<std::string, std::unique_ptr<AsyncEvent>> gates;

    KeyedOrder::Work work(const std::string& name) {
        gates[name] = std::make_unique<AsyncEvent>(io.get_executor());
        return [this, name]() -> net::awaitable<void> {
            log.push_back("start " + name);
            co_await gates[name]->wait_until(std::chrono::steady_clock::now() +
                                             std::chrono::hours(1));
            log.push_back("end " + name);
        };
    }
    void release(const std::string& name) { gates[name]->set(); }
};

void add(net::io_context& io, KeyedOrder& order, std::string key, KeyedOrder::Work work,
         std::vector<bool>* results = nullptr) {
    net::co_spawn(
        io,
        [&order, key = std::move(key), work = std::move(work),
         results]() mutable -> net::awaitable<void> {
            bool added = co_await order.add(std::move(key), std::move(work));
            if (results) results->push_back(added);
        },
        net::detached);
}

}  // namespace

TEST_CASE("KeyedOrder runs keys side by side and one key's work in arrival order") {
    net::io_context io;
    KeyedOrder order(io.get_executor(), 16, 16);
    Probe probe(io);
    add(io, order, "alice", probe.work("a1"));
    add(io, order, "alice", probe.work("a2"));
    add(io, order, "bob", probe.work("b1"));
    io.poll();
    // Alice's second waits for her first; Bob's runs beside it.
    CHECK(probe.log == std::vector<std::string>{"start a1", "start b1"});
    CHECK(order.keys() == 2);

    probe.release("b1");
    io.restart();
    io.poll();
    CHECK(probe.log.back() == "end b1");
    CHECK(order.keys() == 1);

    probe.release("a1");
    io.restart();
    io.poll();
    CHECK(probe.log ==
          std::vector<std::string>{"start a1", "start b1", "end b1", "end a1", "start a2"});
    probe.release("a2");
    io.restart();
    io.poll();
    CHECK(order.keys() == 0);  // nothing kept for a key with no work
}

TEST_CASE("KeyedOrder bounds one key's queue and all work at once") {
    net::io_context io;
    Probe probe(io);
    std::vector<bool> results;

    SECTION("a flooding key is refused beyond its share") {
        KeyedOrder order(io.get_executor(), 16, 2);
        add(io, order, "flood", probe.work("f1"), &results);
        add(io, order, "flood", probe.work("f2"), &results);
        add(io, order, "flood", probe.work("f3"), &results);  // refused: not run
        add(io, order, "calm", probe.work("c1"), &results);
        io.poll();
        CHECK(results == std::vector<bool>{true, true, false, true});
        for (const auto* name : {"f1", "f2", "c1"}) probe.release(name);
        io.restart();
        io.poll();
        CHECK(std::count(probe.log.begin(), probe.log.end(), "start f3") == 0);
        CHECK(order.keys() == 0);
    }
    SECTION("add() waits while every slot is taken") {
        KeyedOrder order(io.get_executor(), 2, 16);
        add(io, order, "a", probe.work("a1"), &results);
        add(io, order, "b", probe.work("b1"), &results);
        add(io, order, "c", probe.work("c1"), &results);
        io.poll();
        CHECK(results.size() == 2);  // the third caller waits for a slot
        probe.release("a1");
        io.restart();
        io.poll();
        CHECK(results.size() == 3);
        CHECK(probe.log.back() == "start c1");
        probe.release("b1");
        probe.release("c1");
        io.restart();
        io.poll();
    }
}

TEST_CASE("KeyedOrder goes on with a key's later work after one throws") {
    net::io_context io;
    KeyedOrder order(io.get_executor(), 4, 4);
    std::vector<std::string> ran;
    add(io, order, "k", []() -> net::awaitable<void> {
        throw std::runtime_error("storage failed");
        co_return;
    });
    add(io, order, "k", [&ran]() -> net::awaitable<void> {
        ran.push_back("second");
        co_return;
    });
    io.run();
    CHECK(ran == std::vector<std::string>{"second"});
    CHECK(order.keys() == 0);
}
