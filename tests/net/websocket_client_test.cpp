// The websocket client (bot/net/websocket_client.hpp) against the in-test Beast server
// (websocket_test_server.hpp): frames both ways, upgrade headers and refusals, TLS against the
// test CA, a peer that vanishes or stops answering, size limits, clean closes, sends from other
// threads, and 1,000 connections on one thread.
#include "websocket_test_server.hpp"

#include "base/log.hpp"
#include "bot/net/reconnect_loop.hpp"
#include "bot/net/websocket_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <chrono>
#include <future>
#include <thread>

namespace bot::testing {
std::string testdata(std::string_view name);  // http_test_server.cpp
}

namespace {

namespace net = boost::asio;
using bot::WebSocketConnectError;
using bot::WebSocketConnection;
using bot::WebSocketOptions;
using bot::testing::WebSocketTestServer;
using namespace std::chrono_literals;

// The client on an io_context run by `threads` threads.
struct Harness {
    explicit Harness(int threads = 2, bot::WebSocketClientOptions options = {})
        : io(threads == 1 ? 1 : BOOST_ASIO_CONCURRENCY_HINT_DEFAULT),
          client(bot::make_websocket_client(io.get_executor(), logger, std::move(options))) {
        for (int i = 0; i < threads; ++i) runners.emplace_back([this] { io.run(); });
    }
    ~Harness() {
        client->shutdown();
        work.reset();
        std::this_thread::sleep_for(50ms);  // the close frames' handshakes
        io.stop();
        for (auto& runner : runners) runner.join();
    }

    template <class T>
    T run(net::awaitable<T> work_to_do, std::chrono::seconds limit = 20s) {
        auto result = net::co_spawn(io, std::move(work_to_do), net::use_future);
        REQUIRE(result.wait_for(limit) == std::future_status::ready);
        return result.get();
    }

    std::shared_ptr<WebSocketConnection> connect(WebSocketOptions options) {
        return run(client->connect(std::move(options)));
    }

    std::optional<bot::WebSocketMessage> read(WebSocketConnection& connection,
                                              std::chrono::seconds limit = 20s) {
        return run(connection.read(), limit);
    }

    // What connect() threw: its status, or -1 when it connected.
    std::pair<int, std::string> refusal(WebSocketOptions options) {
        try {
            connect(std::move(options));
        } catch (const WebSocketConnectError& error) {
            return {error.status(), error.what()};
        }
        return {-1, ""};
    }

    net::io_context io;
    net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);
    bot::Logger logger{bot::LogLevel::off};
    std::unique_ptr<bot::WebSocketClient> client;
    std::vector<std::thread> runners;
};

WebSocketOptions at(std::string url) {
    WebSocketOptions options;
    options.url = std::move(url);
    options.connect_timeout = 5s;
    return options;
}

bot::WebSocketClientOptions trusting_test_ca() {
    return {.extra_ca_file = bot::testing::testdata("ca.pem")};
}

}  // namespace

TEST_CASE("websocket client: text and binary messages round-trip", "[websocket-client]") {
    WebSocketTestServer server;
    Harness harness;
    auto connection = harness.connect(at(server.url("/echo")));
    REQUIRE(connection->is_open());

    CHECK(connection->send("hello"));
    auto text = harness.read(*connection);
    REQUIRE(text);
    CHECK(text->data == "hello");
    CHECK_FALSE(text->binary);

    const std::string bytes("\x00\x01\xff binary", 10);
    CHECK(connection->send(bytes, true));
    auto binary = harness.read(*connection);
    REQUIRE(binary);
    CHECK(binary->data == bytes);
    CHECK(binary->binary);
}

TEST_CASE("websocket client: the upgrade carries the custom headers", "[websocket-client]") {
    WebSocketTestServer server;
    Harness harness;
    auto options = at(server.url("/echo?access_token=abc"));
    options.headers = {{"Authorization", "Bearer secret"}, {"X-Self-ID", "10001"}};
    auto connection = harness.connect(options);
    CHECK(server.last_header("Authorization") == "Bearer secret");
    CHECK(server.last_header("X-Self-ID") == "10001");
    CHECK(server.last_header("Host") == "127.0.0.1:" + std::to_string(server.port()));

    options.headers = {{"X-Bad", "a\r\nInjected: 1"}};
    CHECK(harness.refusal(options).first == 0);
}

TEST_CASE("websocket client: a refused upgrade throws with the status", "[websocket-client]") {
    WebSocketTestServer server;
    Harness harness;
    auto [status, what] = harness.refusal(at(server.url("/refuse")));
    CHECK(status == 401);
    CHECK_THAT(what, Catch::Contains("401"));

    // Nobody listening: status 0, and the reason says so.
    const auto port = server.port();
    auto unreachable = harness.refusal(at("ws://127.0.0.1:1/x"));
    CHECK(unreachable.first == 0);
    CHECK_FALSE(unreachable.second.empty());
    CHECK(harness.refusal(at("http://127.0.0.1:" + std::to_string(port) + "/echo")).first == 0);
}

TEST_CASE("websocket client: wss is verified against the CAs it trusts", "[websocket-client]") {
    WebSocketTestServer server(WebSocketTestServer::Tls::on);

    SECTION("the test CA trusted, the certificate's host name") {
        Harness harness(2, trusting_test_ca());
        auto connection = harness.connect(at(server.url("/echo", "localhost")));
        CHECK(connection->send("over tls"));
        auto echoed = harness.read(*connection);
        REQUIRE(echoed);
        CHECK(echoed->data == "over tls");
    }
    SECTION("a host name the certificate does not name") {
        Harness harness(2, trusting_test_ca());
        auto [status, what] = harness.refusal(at(server.url("/echo", "127.0.0.1")));
        CHECK(status == 0);
        CHECK(server.upgrades() == 0);
    }
    SECTION("a CA it does not trust") {
        Harness harness;
        auto [status, what] = harness.refusal(at(server.url("/echo", "localhost")));
        CHECK(status == 0);
        CHECK(server.upgrades() == 0);
    }
}

TEST_CASE("websocket client: a connect that hangs times out", "[websocket-client]") {
    // A listener that never accepts nor answers: TCP connects (the backlog), the upgrade hangs.
    net::io_context other;
    net::ip::tcp::acceptor mute(other, {net::ip::make_address("127.0.0.1"), 0});
    Harness harness;
    auto options = at("ws://127.0.0.1:" + std::to_string(mute.local_endpoint().port()) + "/");
    options.connect_timeout = 200ms;
    const auto started = std::chrono::steady_clock::now();
    auto [status, what] = harness.refusal(options);
    CHECK(status == 0);
    CHECK_THAT(what, Catch::Contains("timed out"));
    CHECK(std::chrono::steady_clock::now() - started < 5s);

    // The client's shutdown ends a connect in progress at once.
    options.connect_timeout = 60s;
    auto pending = net::co_spawn(harness.io, harness.client->connect(options), net::use_future);
    std::this_thread::sleep_for(100ms);
    harness.client->shutdown();
    REQUIRE(pending.wait_for(5s) == std::future_status::ready);
    CHECK_THROWS_AS(pending.get(), WebSocketConnectError);
}

TEST_CASE("websocket client: a peer that vanishes ends the connection with 1006",
          "[websocket-client]") {
    WebSocketTestServer server;
    Harness harness;

    SECTION("the socket closed without a close frame") {
        auto connection = harness.connect(at(server.url("/drop")));
        connection->send("bye");
        CHECK_FALSE(harness.read(*connection));
        CHECK_FALSE(connection->is_open());
        CHECK(connection->close_code() == 1006);
        CHECK_FALSE(connection->close_reason().empty());
        CHECK_FALSE(connection->send("too late"));
    }
    SECTION("no answer to pings") {
        auto options = at(server.url("/silent"));
        options.ping_interval = 100ms;
        auto connection = harness.connect(options);
        CHECK_FALSE(harness.read(*connection, 10s));
        CHECK(connection->close_code() == 1006);
        CHECK_THAT(connection->close_reason(), Catch::Contains("ping"));
    }
}

TEST_CASE("websocket client: a peer answering pings keeps the connection", "[websocket-client]") {
    WebSocketTestServer server;
    Harness harness;
    auto options = at(server.url("/echo"));
    options.ping_interval = 50ms;
    auto connection = harness.connect(options);
    // A read is pending through eight intervals: pings go out only while one is (Beast arms
    // its idle timer there), and their pongs are read by it.
    auto reading = net::co_spawn(harness.io, connection->read(), net::use_future);
    std::this_thread::sleep_for(400ms);
    CHECK(connection->is_open());
    connection->send("still here");
    REQUIRE(reading.wait_for(10s) == std::future_status::ready);
    auto echoed = reading.get();
    REQUIRE(echoed);
    CHECK(echoed->data == "still here");
}

TEST_CASE("websocket client: a message over the limit closes with 1009", "[websocket-client]") {
    WebSocketTestServer server;
    Harness harness;
    auto options = at(server.url("/big"));
    options.max_message_bytes = 1 << 20;
    auto connection = harness.connect(options);
    CHECK_FALSE(harness.read(*connection));
    CHECK(connection->close_code() == 1009);
    // Refused at the frame's header: the server could not write its 10 MB.
    for (int i = 0; i < 200 && server.big_writes_failed() + server.big_writes_finished() == 0; ++i)
        std::this_thread::sleep_for(10ms);
    CHECK(server.big_writes_failed() == 1);
}

TEST_CASE("websocket client: clean closes carry the code and reason both ways",
          "[websocket-client]") {
    WebSocketTestServer server;
    Harness harness;

    SECTION("the client closes") {
        auto connection = harness.connect(at(server.url("/echo")));
        connection->send("first");
        auto echoed = harness.read(*connection);
        REQUIRE(echoed);
        connection->close(4000, "going to lunch");
        CHECK_FALSE(harness.read(*connection));
        CHECK_FALSE(connection->is_open());
        CHECK(connection->close_code() == 4000);
        CHECK(connection->close_reason() == "going to lunch");
        for (int i = 0; i < 200 && server.closes_received().empty(); ++i)
            std::this_thread::sleep_for(10ms);
        REQUIRE(server.closes_received().size() == 1);
        CHECK(server.closes_received()[0] == std::pair<int, std::string>{4000, "going to lunch"});
    }
    SECTION("the server closes") {
        auto connection = harness.connect(at(server.url("/echo")));
        connection->send("close:4001:maintenance");
        CHECK_FALSE(harness.read(*connection));
        CHECK(connection->close_code() == 4001);
        CHECK(connection->close_reason() == "maintenance");
    }
    SECTION("the client is shut down") {
        auto connection = harness.connect(at(server.url("/echo")));
        harness.client->shutdown();
        CHECK_FALSE(harness.read(*connection));
        CHECK(connection->close_code() == 1001);
        CHECK(harness.refusal(at(server.url("/echo"))).first == 0);
    }
}

TEST_CASE("websocket client: sends from other threads arrive in order", "[websocket-client]") {
    WebSocketTestServer server;
    Harness harness;
    auto connection = harness.connect(at(server.url("/echo")));
    constexpr int kThreads = 4;
    constexpr int kEach = 50;
    std::vector<std::thread> senders;
    for (int t = 0; t < kThreads; ++t) {
        senders.emplace_back([&connection, t] {
            for (int i = 0; i < kEach; ++i)
                connection->send(std::to_string(t) + ":" + std::to_string(i));
        });
    }
    for (auto& sender : senders) sender.join();
    std::vector<int> next(kThreads, 0);
    for (int received = 0; received < kThreads * kEach; ++received) {
        auto message = harness.read(*connection);
        REQUIRE(message);
        const auto colon = message->data.find(':');
        const int thread = std::stoi(message->data.substr(0, colon));
        CHECK(std::stoi(message->data.substr(colon + 1)) == next[thread]++);
    }
}

TEST_CASE("websocket client: a peer that does not read is cut off", "[websocket-client]") {
    WebSocketTestServer server;
    Harness harness;
    auto options = at(server.url("/silent"));  // reads nothing: the writes back up
    options.write_timeout = 300ms;
    const std::string chunk(256 << 10, 'x');

    SECTION("the send queue over its bound") {
        options.max_queue_bytes = 1 << 20;
        auto connection = harness.connect(options);
        bool refused = false;
        for (int i = 0; i < 400 && !refused; ++i) refused = !connection->send(chunk);
        CHECK(refused);
        CHECK_FALSE(harness.read(*connection));
        // 1008 when the close frame went out; 1006 when the write before it timed out.
        const int code = connection->close_code();
        CHECK((code == 1008 || code == 1006));
    }
    SECTION("a write that does not finish") {
        options.max_queue_bytes = 256 << 20;
        auto connection = harness.connect(options);
        // Up to 64 MB: past the socket buffers. On a busy machine the write can time out (and
        // end the connection) before all are queued: sends refused from then on are expected.
        int queued = 0;
        while (queued < 256 && connection->send(chunk)) ++queued;
        CHECK(queued > 0);
        CHECK_FALSE(harness.read(*connection));
        CHECK(connection->close_code() == 1006);
        CHECK_THAT(connection->close_reason(), Catch::Contains("write"));
        CHECK_FALSE(connection->send("more"));
    }
}

TEST_CASE("websocket client: 1,000 connections on one thread", "[websocket-client]") {
    constexpr int kClients = 1000;
    rlimit limit{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
    if (limit.rlim_cur < 2 * kClients + 100) {
        limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 2 * kClients + 100);
        ::setrlimit(RLIMIT_NOFILE, &limit);
        ::getrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < 2 * kClients + 100) {
        WARN("RLIMIT_NOFILE " << limit.rlim_cur << " is too low for 1,000 sockets; skipped");
        return;
    }
    WebSocketTestServer server;
    Harness harness(1);
    auto all = [&]() -> net::awaitable<int> {
        std::vector<std::shared_ptr<WebSocketConnection>> connections;
        for (int i = 0; i < kClients; ++i) {
            connections.push_back(co_await harness.client->connect(at(server.url("/echo"))));
        }
        for (int i = 0; i < kClients; ++i) connections[i]->send(std::to_string(i));
        int answered = 0;
        for (int i = 0; i < kClients; ++i) {
            auto echoed = co_await connections[i]->read();
            answered += echoed && echoed->data == std::to_string(i) ? 1 : 0;
        }
        co_return answered;
    };
    CHECK(harness.run(all(), 120s) == kClients);
    CHECK(server.upgrades() == kClients);
}

namespace {

// A loop whose run() is started on the harness's io_context; stop() and wait for it.
struct RunningLoop {
    RunningLoop(Harness& harness, bot::ReconnectOptions options)
        : io(harness.io), loop(harness.io.get_executor(), harness.logger, "test", options) {}
    void start(bot::ReconnectLoop::Session session) {
        done = net::co_spawn(io, loop.run(std::move(session)), net::use_future);
    }
    // Stops it and says whether run() returned within limit.
    bool stop_within(std::chrono::milliseconds limit) {
        loop.stop();
        return done.wait_for(limit) == std::future_status::ready;
    }
    net::io_context& io;
    bot::ReconnectLoop loop;
    std::future<void> done;
};

struct Attempts {
    std::mutex mutex;
    std::vector<std::pair<std::chrono::steady_clock::time_point, bot::ReconnectAttempt>> seen;
    void add(const bot::ReconnectAttempt& attempt) {
        std::lock_guard lock(mutex);
        seen.emplace_back(std::chrono::steady_clock::now(), attempt);
    }
    std::size_t count() {
        std::lock_guard lock(mutex);
        return seen.size();
    }
};

}  // namespace

TEST_CASE("reconnect loop: a peer refusing at once is asked again at a falling rate",
          "[reconnect-loop]") {
    WebSocketTestServer server;
    Harness harness;
    Attempts attempts;
    RunningLoop running(harness, {.first_delay = 20ms, .max_delay = 10s, .healthy_after = 10s});
    running.start([&](const bot::ReconnectAttempt& attempt) -> net::awaitable<void> {
        attempts.add(attempt);
        co_await harness.client->connect(at(server.url("/refuse")));
    });
    std::this_thread::sleep_for(700ms);
    REQUIRE(running.stop_within(2s));
    // Waits of at least 10, 20, 40, 80, 160, 320 ms (the upper half of 20 ms doubling): at most
    // 7 attempts fit in 700 ms; a loop without the waits would have made hundreds.
    const auto count = attempts.count();
    CHECK(count >= 3);
    CHECK(count <= 7);
    CHECK(server.connections() == static_cast<int>(count));
    for (std::size_t i = 0; i < attempts.seen.size(); ++i) {
        const auto& attempt = attempts.seen[i].second;
        CHECK(attempt.number == i + 1);
        CHECK(attempt.failures == static_cast<int>(i));
        CHECK_FALSE(attempt.resume);
        if (i > 0) CHECK_THAT(attempt.previous_error, Catch::Contains("401"));
    }
    // The waits grow: the last gap is longer than the first.
    REQUIRE(count >= 3);
    const auto& seen = attempts.seen;
    CHECK(seen[count - 1].first - seen[count - 2].first > seen[1].first - seen[0].first);
}

TEST_CASE("reconnect loop: a healthy session resets the backoff and offers a resume",
          "[reconnect-loop]") {
    Harness harness;
    Attempts attempts;
    RunningLoop running(harness, {.first_delay = 10ms, .max_delay = 10s, .healthy_after = 150ms});
    running.start([&](const bot::ReconnectAttempt& attempt) -> net::awaitable<void> {
        attempts.add(attempt);
        // Two short failures, then one healthy session, then short again.
        if (attempt.number == 3) co_await bot::sleep_for(200ms);
        if (attempt.number != 3) throw std::runtime_error("refused");
    });
    for (int i = 0; i < 500 && attempts.count() < 5; ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(running.stop_within(2s));
    REQUIRE(attempts.seen.size() >= 5);
    CHECK(attempts.seen[2].second.failures == 2);
    CHECK_FALSE(attempts.seen[2].second.resume);
    CHECK(attempts.seen[3].second.failures == 0);  // after the healthy one
    CHECK(attempts.seen[3].second.resume);
    CHECK(attempts.seen[3].second.previous_error.empty());
    CHECK(attempts.seen[4].second.failures == 1);
    CHECK_FALSE(attempts.seen[4].second.resume);
}

TEST_CASE("reconnect loop: the platform's reconnect interval caps the waits", "[reconnect-loop]") {
    Harness harness;
    Attempts attempts;
    RunningLoop running(harness, {.first_delay = 20ms, .max_delay = 10s, .healthy_after = 10s});
    // Feishu's ClientConfig says ReconnectInterval: the doubling stops at it (here 40 ms).
    running.loop.set_max_delay(40ms);
    running.start([&](const bot::ReconnectAttempt& attempt) -> net::awaitable<void> {
        attempts.add(attempt);
        throw std::runtime_error("refused");
        co_return;
    });
    std::this_thread::sleep_for(900ms);
    REQUIRE(running.stop_within(2s));
    // Waits of 20..40 ms: well over 10 attempts in 900 ms. Doubling up to 10 s (20, 40, 80,
    // 160, 320... ms, the upper half of each) leaves room for at most 7.
    CHECK(attempts.count() >= 10);
}

TEST_CASE("reconnect loop: stop() ends it promptly", "[reconnect-loop]") {
    WebSocketTestServer server;
    Harness harness;
    Attempts attempts;

    SECTION("while it waits between sessions") {
        RunningLoop running(harness, {.first_delay = 30s, .max_delay = 60s});
        running.start([&](const bot::ReconnectAttempt& attempt) -> net::awaitable<void> {
            attempts.add(attempt);
            throw std::runtime_error("refused");
            co_return;
        });
        for (int i = 0; i < 500 && attempts.count() < 1; ++i) std::this_thread::sleep_for(10ms);
        std::this_thread::sleep_for(50ms);
        CHECK(running.stop_within(2s));
        CHECK(attempts.count() == 1);
    }
    SECTION("while a session reads its connection") {
        std::atomic<int> closed_with{0};
        RunningLoop running(harness, {});
        running.start([&](const bot::ReconnectAttempt& attempt) -> net::awaitable<void> {
            auto connection = co_await harness.client->connect(at(server.url("/echo")));
            running.loop.watch(connection);
            attempts.add(attempt);
            while (co_await connection->read()) {
            }
            closed_with = connection->close_code();
        });
        for (int i = 0; i < 500 && attempts.count() < 1; ++i) std::this_thread::sleep_for(10ms);
        REQUIRE(attempts.count() == 1);
        CHECK(running.stop_within(2s));
        CHECK(closed_with == 1001);
        CHECK(attempts.count() == 1);
    }
}
