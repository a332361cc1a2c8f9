// The 5-second engine on its own: pushes and offers meeting in every order, with WeChat's
// timeout shrunk to a few hundred milliseconds.
#include "wechat_mp/passive_engine.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <thread>

using namespace bot::adapters::wechat_mp;
namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

struct Fixture {
    Fixture() : engine(io.get_executor(), options()) {
        for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
    }
    ~Fixture() {
        engine.stop();
        work.reset();
        io.stop();
        for (auto& t : threads) t.join();
    }
    static EngineOptions options() {
        EngineOptions o;
        o.platform_timeout = 300ms;
        o.margin = 100ms;  // a push waits 200 ms
        o.max_bytes = 64;
        o.earlier_prefix = "[earlier] ";
        return o;
    }
    // Waits (briefly) until pred holds: coroutines started with start() run on the pool.
    template <class Pred>
    bool eventually(Pred pred) {
        for (int i = 0; i < 200 && !pred(); ++i) std::this_thread::sleep_for(5ms);
        return pred();
    }
    template <class T>
    std::future<T> start(net::awaitable<T> op) {
        return net::co_spawn(io, std::move(op), net::use_future);
    }

    net::io_context io;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work{io.get_executor()};
    PassiveEngine engine;
    std::vector<std::thread> threads;
};

}  // namespace

TEST_CASE("engine: a reply ready within the window is the push's answer", "[engine]") {
    Fixture f;
    auto slot = f.engine.arrive("m1", "u1");
    auto answer = f.start(f.engine.answer(slot, ""));
    std::this_thread::sleep_for(50ms);
    auto offered = f.start(f.engine.offer("m1", "hello"));
    auto result = answer.get();
    CHECK(result.kind == PushAnswer::Kind::reply);
    CHECK(result.text == "hello");
    CHECK(offered.get());
    // The next part of the same reply finds the passive reply used: it goes another way.
    CHECK_FALSE(f.start(f.engine.offer("m1", "part 2")).get());
}

TEST_CASE("engine: an offer made before the push waits is taken at once", "[engine]") {
    Fixture f;
    auto slot = f.engine.arrive("m1", "u1");
    auto offered = f.start(f.engine.offer("m1", "fast"));
    std::this_thread::sleep_for(20ms);
    auto start = std::chrono::steady_clock::now();
    auto result = f.start(f.engine.answer(slot, "")).get();
    CHECK(std::chrono::steady_clock::now() - start < 150ms);
    CHECK(result.text == "fast");
    CHECK(offered.get());
}

TEST_CASE("engine: a late reply is carried by WeChat's next try", "[engine]") {
    Fixture f;
    auto first = f.engine.answer(f.engine.arrive("m1", "u1"), "");
    auto dropped = f.start(std::move(first)).get();
    CHECK(dropped.kind == PushAnswer::Kind::drop);
    CHECK(dropped.drop_at > std::chrono::steady_clock::now());  // held open until WeChat gives up

    // The reply is ready between two tries: it waits for the next one.
    auto offered = f.start(f.engine.offer("m1", "late"));
    std::this_thread::sleep_for(100ms);
    auto second = f.start(f.engine.answer(f.engine.arrive("m1", "u1"), "")).get();
    CHECK(second.kind == PushAnswer::Kind::reply);
    CHECK(second.text == "late");
    CHECK(offered.get());
    // WeChat lost that response and tries again: the same text again, no second offer needed.
    auto third = f.start(f.engine.answer(f.engine.arrive("m1", "u1"), "")).get();
    CHECK(third.text == "late");
}

TEST_CASE("engine: after the last try the reply goes another way", "[engine]") {
    Fixture f;
    for (int i = 1; i <= 2; ++i) {
        auto answer = f.start(f.engine.answer(f.engine.arrive("m1", "u1"), "")).get();
        CHECK(answer.kind == PushAnswer::Kind::drop);
    }
    auto last = f.start(f.engine.answer(f.engine.arrive("m1", "u1"), "")).get();
    CHECK(last.kind == PushAnswer::Kind::ack);
    CHECK_FALSE(f.start(f.engine.offer("m1", "too late")).get());

    // With a notice (next-message mode) the last try says so.
    for (int i = 1; i <= 2; ++i)
        f.start(f.engine.answer(f.engine.arrive("m2", "u1"), "wait")).get();
    auto noticed = f.start(f.engine.answer(f.engine.arrive("m2", "u1"), "wait")).get();
    CHECK(noticed.kind == PushAnswer::Kind::reply);
    CHECK(noticed.text == "wait");
}

TEST_CASE("engine: an offer with no push to come returns at once", "[engine]") {
    Fixture f;
    CHECK_FALSE(f.start(f.engine.offer("unknown", "x")).get());       // e.g. after a restart
    f.start(f.engine.answer(f.engine.arrive("m1", "u1"), "")).get();  // dropped
    std::this_thread::sleep_for(400ms);  // WeChat's retry would have come by now
    auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(f.start(f.engine.offer("m1", "x")).get());
    CHECK(std::chrono::steady_clock::now() - start < 100ms);
}

TEST_CASE("engine: a held reply goes out with the user's next message", "[engine]") {
    Fixture f;
    auto held = f.start(f.engine.hold("m0", "u1", "old answer"));
    REQUIRE(f.eventually([&] { return f.engine.held() == 1; }));
    CHECK(held.wait_for(50ms) == std::future_status::timeout);
    // Another user's message does not take it.
    f.start(f.engine.answer(f.engine.arrive("x1", "u2"), "")).get();
    CHECK(f.engine.held() == 1);

    auto slot = f.engine.arrive("m2", "u1");
    CHECK(held.get());  // released at once: its conversation can go on to the new message
    auto answer = f.start(f.engine.answer(slot, ""));
    auto offered = f.start(f.engine.offer("m2", "new"));
    auto result = answer.get();
    CHECK(result.text == "[earlier] old answer\n\nnew");
    CHECK(offered.get());
}

TEST_CASE("engine: a held reply and a new one that do not fit together", "[engine]") {
    Fixture f;
    auto held = f.start(f.engine.hold("m0", "u1", std::string(60, 'a')));
    REQUIRE(f.eventually([&] { return f.engine.held() == 1; }));
    auto slot = f.engine.arrive("m2", "u1");
    CHECK(held.get());
    auto answer = f.start(f.engine.answer(slot, ""));
    auto offered = f.start(f.engine.offer("m2", std::string(10, 'b')));
    CHECK(answer.get().text == std::string(60, 'a'));  // 64-byte limit: without the prefix
    CHECK_FALSE(offered.get());                        // the new one goes another way
}

TEST_CASE("engine: stopping releases held replies", "[engine]") {
    Fixture f;
    auto held = f.start(f.engine.hold("m0", "u1", "kept"));
    REQUIRE(f.eventually([&] { return f.engine.held() == 1; }));
    f.engine.stop();
    CHECK_FALSE(held.get());
    CHECK_FALSE(f.start(f.engine.hold("m0", "u1", "after stop")).get());
}

TEST_CASE("engine: the message's age tells its last try after a restart", "[engine]") {
    Fixture f;
    // Nothing known about m1 (a restart), but its CreateTime is 1.6 s ago: with 300 ms per try
    // (and a second of CreateTime's resolution), this is WeChat's last push. Leaving it
    // unanswered would show the user an error.
    auto old = std::chrono::system_clock::now() - 1600ms;
    auto answer = f.start(f.engine.answer(f.engine.arrive("m1", "u1", old), "")).get();
    CHECK(answer.kind == PushAnswer::Kind::ack);
    // A fresh message is on its first try.
    auto fresh =
        f.start(f.engine.answer(f.engine.arrive("m2", "u1", std::chrono::system_clock::now()), ""))
            .get();
    CHECK(fresh.kind == PushAnswer::Kind::drop);
}

TEST_CASE("engine: a reply offered while the last push is on its way is taken", "[engine]") {
    Fixture f;
    for (int i = 1; i <= 2; ++i) f.start(f.engine.answer(f.engine.arrive("m1", "u1"), "")).get();
    auto last = f.engine.arrive("m1", "u1");  // arrived; its answer() has not started yet
    auto offered = f.start(f.engine.offer("m1", "just in time"));
    std::this_thread::sleep_for(50ms);
    auto answer = f.start(f.engine.answer(last, "")).get();
    CHECK(answer.text == "just in time");
    CHECK(offered.get());
}

TEST_CASE("engine: held texts never push a passive reply over the limit", "[engine]") {
    Fixture f;
    auto first = f.start(f.engine.hold("m0", "u1", std::string(40, 'a')));
    REQUIRE(f.eventually([&] { return f.engine.held() == 1; }));
    auto slot = f.engine.arrive("m2", "u1");
    CHECK(first.get());
    // A second held text (the next part of the same reply) while m2 is still answering: it
    // does not fit beside the first (64 bytes), so it waits for a later message.
    auto second = f.start(f.engine.hold("m0", "u1", std::string(40, 'b')));
    REQUIRE(f.eventually([&] { return f.engine.held() == 1; }));
    f.engine.arrive("m2", "u1");  // WeChat's retry of m2 takes nothing more
    CHECK(f.engine.held() == 1);
    auto answer = f.start(f.engine.answer(slot, "")).get();
    CHECK(answer.kind == PushAnswer::Kind::drop);  // no own reply yet: wait for the next try
    CHECK(second.wait_for(10ms) == std::future_status::timeout);
}

TEST_CASE("engine: a held text joins a newer message of the user still being answered",
          "[engine]") {
    Fixture f;
    auto slot = f.engine.arrive("m2", "u1");  // the user wrote again; m1's reply is late
    auto answer = f.start(f.engine.answer(slot, ""));
    // m1's reply could not go by customer service: m2's push carries it.
    CHECK(f.start(f.engine.hold("m1", "u1", "answer 1")).get());
    auto offered = f.start(f.engine.offer("m2", "answer 2"));
    CHECK(answer.get().text == "[earlier] answer 1\n\nanswer 2");
    CHECK(offered.get());
    // The message's own slot is never the one that carries its reply.
    auto own = f.engine.arrive("m3", "u1");
    auto own_answer = f.start(f.engine.answer(own, ""));
    auto held = f.start(f.engine.hold("m3", "u1", "answer 3"));
    CHECK(own_answer.get().kind == PushAnswer::Kind::drop);
    CHECK(held.wait_for(10ms) == std::future_status::timeout);
}
