// The behaviour both HttpClient implementations (CurlHttpClient, BeastHttpClient) must share, as
// TEMPLATE_TEST_CASEs over both clients, against the in-test server of http_test_server.hpp
// (routes that are slow, hang, stream with pauses, send big bodies, close the connection); and
// make_http_client's choice between the two. What only BeastHttpClient promises is in
// beast_http_client_test.cpp.
#include "http_test_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
using net::ip::tcp;
using namespace std::chrono_literals;
using namespace bot::testing;
using bot::ClientRequest;
using bot::ClientResponse;
using Clock = std::chrono::steady_clock;

namespace {

int thread_count() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("Threads:")) return std::stoi(line.substr(8));
    }
    return -1;
}

}  // namespace

// ---- behaviour both clients share ----

TEMPLATE_TEST_CASE("HttpClient GET and POST round trips carry headers and bodies", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;

    auto got = harness.fetch(get(server.url("/echo")));
    INFO(got.error);
    REQUIRE(got.failure == ClientResponse::Failure::none);
    CHECK(got.status == 200);
    CHECK(got.ok());
    CHECK(got.body == "GET\n");
    CHECK(got.header("X-Host") == "127.0.0.1:" + std::to_string(server.port()));

    ClientRequest posting = post(server.url("/echo"), R"({"hello":"world"})");
    posting.headers = {{"Content-Type", "application/json"}, {"X-Test", "abc"}};
    auto posted = harness.fetch(posting);
    REQUIRE(posted.ok());
    CHECK(posted.body == "POST\n{\"hello\":\"world\"}");
    CHECK(posted.header("x-echo") == "abc");
    CHECK(posted.header("Content-Length") == std::to_string(posted.body.size()));

    ClientRequest put = posting;
    put.method = "PUT";
    CHECK(harness.fetch(put).body == "PUT\n{\"hello\":\"world\"}");

    auto missing = harness.fetch(get(server.url("/nowhere")));
    CHECK(missing.failure == ClientResponse::Failure::none);
    CHECK(missing.status == 404);
    CHECK_FALSE(missing.ok());
    CHECK(missing.body == "no route");

    auto seen = server.requests();
    REQUIRE(seen.size() == 4);
    CHECK(seen[1].method == "POST");
    CHECK(seen[1].body == R"({"hello":"world"})");
    CHECK(seen[2].method == "PUT");
}

TEMPLATE_TEST_CASE("HttpClient sends a request body larger than the socket takes at once",
                   "[http-client]", bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    std::string body(6 << 20, '.');
    for (std::size_t i = 0; i < body.size(); i += 4096) body[i] = char('a' + i / 4096 % 26);
    auto response = harness.fetch(post(server.url("/echo"), body));
    INFO(response.error);
    REQUIRE(response.ok());
    CHECK(response.body == "POST\n" + body);
}

TEMPLATE_TEST_CASE("HttpClient keeps only the final response's headers", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    const std::string path = GENERATE("/interim", "/interim-apart");
    auto response = harness.fetch(get(server.url(path)));
    INFO(response.error);
    REQUIRE(response.failure == ClientResponse::Failure::none);
    CHECK(response.status == 201);
    CHECK(response.body == "final");
    CHECK(response.header("X-Final") == "1");
    CHECK(response.header("X-Interim").empty());
}

TEMPLATE_TEST_CASE("HttpClient hands a 2xx body over chunk by chunk as it arrives", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    check_streamed_in_pieces(harness, server.url("/stream"));
}

TEMPLATE_TEST_CASE("HttpClient collects a non-2xx body even with a chunk callback", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    int calls = 0;
    ClientRequest request = get(server.url("/error"));
    request.on_body_chunk = [&calls](std::string_view) { ++calls; };
    auto response = harness.fetch(request);
    CHECK(response.failure == ClientResponse::Failure::none);
    CHECK(response.status == 503);
    CHECK(response.body == R"({"error":"overloaded"})");
    CHECK(calls == 0);
}

TEMPLATE_TEST_CASE("HttpClient reports a throwing chunk callback as a transport failure",
                   "[http-client]", bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    ClientRequest request = get(server.url("/stream"));
    request.on_body_chunk = [](std::string_view) { throw std::runtime_error("consumer broke"); };
    auto response = harness.fetch(request);
    CHECK(response.failure == ClientResponse::Failure::transport);
    CHECK_THAT(response.error, Catch::Contains("consumer broke"));
}

TEMPLATE_TEST_CASE("HttpClient reads a large body completely", "[http-client]", bot::CurlHttpClient,
                   bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    auto response = harness.fetch(get(server.url("/big")));
    INFO(response.error);
    REQUIRE(response.ok());
    REQUIRE(response.body.size() == kBigBodyBytes);
    CHECK(response.body[0] == 'a');
    CHECK(response.body[25000] == 'z');
    CHECK(response.body[kBigBodyBytes - 1] == 'x');
}

TEMPLATE_TEST_CASE("HttpClient fails a body over kMaxResponseBytes unless it streams",
                   "[http-client]", bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    // Framed by a Content-Length (refused before the body is read), in chunks, or by the end
    // of the connection (both counted as they arrive).
    const std::string path = GENERATE("/huge", "/huge-chunked", "/huge-until-close");
    INFO(path);
    ClientRequest collect = get(server.url(path));
    collect.timeout = 60s;
    auto collected = harness.fetch(collect);
    CHECK(collected.failure == ClientResponse::Failure::transport);
    CHECK_FALSE(collected.ok());

    std::size_t streamed_bytes = 0;
    bool only_h = true;
    ClientRequest stream = collect;
    stream.on_body_chunk = [&](std::string_view chunk) {
        streamed_bytes += chunk.size();
        only_h = only_h && chunk.find_first_not_of('h') == std::string_view::npos;
    };
    auto streamed = harness.fetch(stream);
    INFO(streamed.error);
    CHECK(streamed.ok());
    CHECK(streamed.body.empty());
    CHECK(streamed_bytes == kHugeBodyBytes);
    CHECK(only_h);
}

TEMPLATE_TEST_CASE("HttpClient times out a request that gets no answer", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    ClientRequest request = get(server.url("/hang"));
    request.timeout = 300ms;
    const auto started = Clock::now();
    auto response = harness.fetch(request);
    CHECK(response.failure == ClientResponse::Failure::timeout);
    CHECK_FALSE(response.error.empty());
    CHECK(Clock::now() - started < 3s);
    CHECK(server.count("/hang") == 1);  // a timed-out request is not sent again
}

TEMPLATE_TEST_CASE("HttpClient times out a body that stops arriving, and recovers", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    check_body_stall_times_out(harness, server.url("/stall-body"));
    auto next = harness.fetch(get(server.url("/echo")));
    INFO(next.error);
    CHECK(next.ok());
}

TEMPLATE_TEST_CASE("HttpClient reports a refused connection as a connect failure", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    unsigned short port = 0;
    {
        net::io_context io;
        tcp::acceptor closed(io, {net::ip::make_address("127.0.0.1"), 0});
        port = closed.local_endpoint().port();
    }
    ClientHarness<TestType> harness;
    auto response = harness.fetch(get("http://127.0.0.1:" + std::to_string(port) + "/"));
    CHECK(response.failure == ClientResponse::Failure::connect);
    CHECK(response.status == 0);
    CHECK_FALSE(response.error.empty());
}

TEMPLATE_TEST_CASE("HttpClient reuses one connection for sequential requests", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    for (int i = 0; i < 5; ++i) {
        auto response =
            harness.fetch(post(server.url("/echo"), std::string("n").append(std::to_string(i))));
        REQUIRE(response.ok());
        CHECK(response.body == "POST\nn" + std::to_string(i));
    }
    CHECK(server.connections() == 1);
    CHECK(server.count("/echo") == 5);
}

TEMPLATE_TEST_CASE("HttpClient leaves the io_context idle once its requests are done",
                   "[http-client]", bot::CurlHttpClient, bot::BeastHttpClient) {
    // A pooled connection must not keep run() from returning.
    TestServer server;
    net::io_context io;
    bot::Logger logger(bot::LogLevel::off);
    TestType client(io.get_executor(), logger);
    auto response = net::co_spawn(
        io,
        [&]() -> net::awaitable<ClientResponse> {
            co_await client.request(get(server.url("/echo")));
            co_return co_await client.request(get(server.url("/echo")));
        },
        net::use_future);
    auto ran = std::async(std::launch::async, [&io] { io.run(); });
    const bool returned = ran.wait_for(5s) == std::future_status::ready;
    if (!returned) client.shutdown();  // let the test end
    ran.wait();
    CHECK(returned);
    CHECK(response.get().ok());
    CHECK(server.connections() == 1);
}

TEMPLATE_TEST_CASE("HttpClient runs 200 concurrent requests without new threads", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    harness.fetch(get(server.url("/echo")));  // one-time set-up happens here
    const int baseline = thread_count();
    REQUIRE(baseline > 0);

    std::vector<std::future<ClientResponse>> pending;
    for (int i = 0; i < 200; ++i) pending.push_back(harness.start(get(server.url("/slow"))));
    int most = baseline;
    const auto deadline = Clock::now() + 30s;
    for (auto& one : pending) {
        while (one.wait_for(10ms) != std::future_status::ready && Clock::now() < deadline) {
            most = std::max(most, thread_count());
        }
    }
    int succeeded = 0;
    for (auto& one : pending) {
        REQUIRE(one.wait_for(0s) == std::future_status::ready);
        succeeded += one.get().ok() ? 1 : 0;
    }
    CHECK(succeeded == 200);
    CHECK(most == baseline);
    CHECK(server.connections() >= 2);  // they really ran side by side
    CHECK(server.count("/slow") == 200);
}

TEMPLATE_TEST_CASE("HttpClient shutdown cancels transfers in flight and later requests",
                   "[http-client]", bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    auto hanging = harness.start(get(server.url("/hang")));
    std::this_thread::sleep_for(200ms);
    const auto started = Clock::now();
    harness.client.shutdown();
    REQUIRE(hanging.wait_for(5s) == std::future_status::ready);
    CHECK(hanging.get().failure == ClientResponse::Failure::cancelled);
    CHECK(Clock::now() - started < 2s);
    CHECK(harness.fetch(get(server.url("/echo"))).failure == ClientResponse::Failure::cancelled);
    CHECK(server.count("/echo") == 0);
}

TEMPLATE_TEST_CASE("HttpClient shutdown cancels a request that is still connecting",
                   "[http-client]", bot::CurlHttpClient, bot::BeastHttpClient) {
    // shutdown() lands at varying points of a fresh client's first request (before or while it
    // resolves and connects): the request must not go out afterwards. /slow answers after
    // 300 ms, so no request can have completed before shutdown() was called. Meanwhile a
    // bystander client opens a new connection per request: tearing the others down must never
    // touch its descriptors (libcurl closes some connections behind our back at shutdown).
    TestServer server;
    net::io_context io;
    auto work = net::make_work_guard(io);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) threads.emplace_back([&io] { io.run(); });
    bot::Logger logger(bot::LogLevel::off);
    std::atomic<bool> racing{true};
    std::vector<std::string> bystander_failures;
    int bystander_requests = 0;
    std::thread bystander([&] {
        TestType client(io.get_executor(), logger);
        while (racing) {
            auto response =
                net::co_spawn(io, client.request(get(server.url("/until-close"))), net::use_future)
                    .get();
            ++bystander_requests;
            if (!response.ok()) bystander_failures.push_back(response.error);
        }
    });
    int answered = 0;
    int cancelled = 0;
    std::vector<std::string> others;  // reported when the count is off
    constexpr int kTries = 200;
    for (int i = 0; i < kTries; ++i) {
        TestType client(io.get_executor(), logger);
        auto pending = net::co_spawn(
            io, client.request(get(server.url("/slow", i % 2 ? "localhost" : "127.0.0.1"))),
            net::use_future);
        std::this_thread::sleep_for(std::chrono::microseconds(i / 2 % 15 * 20));
        client.shutdown();
        REQUIRE(pending.wait_for(5s) == std::future_status::ready);
        const auto response = pending.get();
        answered += response.failure == ClientResponse::Failure::none ? 1 : 0;
        cancelled += response.failure == ClientResponse::Failure::cancelled ? 1 : 0;
        if (response.failure != ClientResponse::Failure::cancelled)
            others.push_back(std::to_string(i) + ": " + response.error);
    }
    racing = false;
    bystander.join();
    work.reset();
    for (auto& thread : threads) thread.join();
    CHECK(answered == 0);
    INFO(Catch::Detail::stringify(others));
    CHECK(cancelled == kTries);
    INFO(Catch::Detail::stringify(bystander_failures));
    CHECK(bystander_requests > 0);
    CHECK(bystander_failures.empty());
}

TEMPLATE_TEST_CASE("HttpClient shutdown_and_wait returns once requests in flight are cancelled",
                   "[http-client]", bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    auto hanging = harness.start(get(server.url("/hang")));
    std::this_thread::sleep_for(200ms);
    const auto started = Clock::now();
    harness.client.shutdown_and_wait(5s);
    CHECK(Clock::now() - started < 2s);  // it did not sit out its limit
    REQUIRE(hanging.wait_for(2s) == std::future_status::ready);
    CHECK(hanging.get().failure == ClientResponse::Failure::cancelled);
    harness.client.shutdown_and_wait(1s);  // a second time is harmless
}

TEMPLATE_TEST_CASE("HttpClient destroyed with a request in flight completes it as cancelled",
                   "[http-client]", bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    net::io_context io;
    auto work = net::make_work_guard(io);
    std::thread runner([&io] { io.run(); });
    bot::Logger logger(bot::LogLevel::off);
    std::future<ClientResponse> hanging;
    {
        TestType client(io.get_executor(), logger);
        hanging = net::co_spawn(io, client.request(get(server.url("/hang"))), net::use_future);
        std::this_thread::sleep_for(100ms);
    }
    REQUIRE(hanging.wait_for(5s) == std::future_status::ready);
    CHECK(hanging.get().failure == ClientResponse::Failure::cancelled);
    work.reset();
    runner.join();
}

TEMPLATE_TEST_CASE("HttpClient answers HEAD with status and headers without waiting for a body",
                   "[http-client]", bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    ClientRequest head = get(server.url("/head"));
    head.method = "HEAD";
    head.timeout = 5s;
    const auto started = Clock::now();
    auto response = harness.fetch(head);
    INFO(response.error);
    REQUIRE(response.failure == ClientResponse::Failure::none);
    CHECK(response.status == 200);
    CHECK(response.header("Content-Length") == std::to_string(kHeadBodyBytes));
    CHECK(response.header("X-Head") == "yes");
    CHECK(response.body.empty());
    CHECK(Clock::now() - started < 2s);

    // The connection is still in step: the next answer is read as the next answer.
    auto after = harness.fetch(get(server.url("/head")));
    REQUIRE(after.ok());
    CHECK(after.body == std::string(kHeadBodyBytes, 'h'));
    CHECK(server.connections() == 1);
}

TEMPLATE_TEST_CASE("HttpClient reads a body that ends with the connection", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    auto collected = harness.fetch(get(server.url("/until-close")));
    INFO(collected.error);
    REQUIRE(collected.ok());
    CHECK(collected.body == "until the end");

    std::string streamed;
    ClientRequest request = get(server.url("/until-close"));
    request.on_body_chunk = [&streamed](std::string_view chunk) { streamed += chunk; };
    auto response = harness.fetch(request);
    INFO(response.error);
    REQUIRE(response.ok());
    CHECK(streamed == "until the end");

    REQUIRE(harness.fetch(get(server.url("/echo"))).ok());
    CHECK(server.connections() == 3);  // none of the closed ones was reused
    CHECK(server.requests().size() == 3);
}

TEMPLATE_TEST_CASE("HttpClient takes a 204 without a body and reuses the connection",
                   "[http-client]", bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    ClientRequest request = get(server.url("/no-content"));
    request.timeout = 5s;
    const auto started = Clock::now();
    auto response = harness.fetch(request);
    INFO(response.error);
    REQUIRE(response.failure == ClientResponse::Failure::none);
    CHECK(response.status == 204);
    CHECK(response.ok());
    CHECK(response.body.empty());
    CHECK(response.header("X-Empty") == "yes");
    CHECK(Clock::now() - started < 2s);
    auto after = harness.fetch(post(server.url("/echo"), "next"));
    REQUIRE(after.ok());
    CHECK(after.body == "POST\nnext");
    CHECK(server.connections() == 1);
}

TEMPLATE_TEST_CASE("HttpClient reaches a server by host name (localhost)", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    auto response = harness.fetch(get(server.url("/echo", "localhost")));
    INFO(response.error);
    REQUIRE(response.failure == ClientResponse::Failure::none);
    CHECK(response.status == 200);
    CHECK(response.body == "GET\n");
    CHECK(response.header("X-Host") == "localhost:" + std::to_string(server.port()));
    auto again = harness.fetch(post(server.url("/echo", "localhost"), "again"));
    REQUIRE(again.ok());
    CHECK(again.body == "POST\nagain");
    CHECK(server.connections() == 1);
}

TEMPLATE_TEST_CASE(
    "HttpClient sends a request once, on a new connection, when the server closed "
    "the idle keep-alive one",
    "[http-client]", bot::CurlHttpClient, bot::BeastHttpClient) {
    // A connection idle for a moment is reused without a check and the request retried; one
    // idle for longer is checked first (BeastHttpClient's kTrustedIdle). Either way: once.
    const auto idle = GENERATE(200ms, 1200ms);
    INFO("idle " << idle.count() << " ms");
    TestServer server;
    ClientHarness<TestType> harness;
    auto first = harness.fetch(get(server.url("/close-after")));
    INFO(first.error);
    REQUIRE(first.ok());
    CHECK(first.body == "closing");
    std::this_thread::sleep_for(idle);  // the server's FIN has long arrived

    auto posted = harness.fetch(post(server.url("/echo"), "exactly once"));
    INFO(posted.error);
    REQUIRE(posted.ok());
    CHECK(posted.body == "POST\nexactly once");
    std::this_thread::sleep_for(200ms);  // a duplicate would have arrived by now
    CHECK(server.connections() == 2);
    auto seen = server.requests();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].connection == 1);
    CHECK(seen[1].connection == 2);
    CHECK(seen[1].method == "POST");
    CHECK(seen[1].body == "exactly once");
}

TEMPLATE_TEST_CASE(
    "HttpClient reports a connection closed without an answer as a transport "
    "failure",
    "[http-client]", bot::CurlHttpClient, bot::BeastHttpClient) {
    // On a fresh connection: nothing to retry.
    TestServer server;
    ClientHarness<TestType> harness;
    const auto started = Clock::now();
    auto response = harness.fetch(post(server.url("/drop"), "lost"));
    CHECK(response.failure == ClientResponse::Failure::transport);
    CHECK(response.status == 0);
    CHECK_FALSE(response.error.empty());
    CHECK(Clock::now() - started < 3s);
    std::this_thread::sleep_for(300ms);  // a retry would have arrived by now
    CHECK(server.count("/drop") == 1);
    CHECK(server.connections() == 1);
}

TEMPLATE_TEST_CASE("HttpClient reports an unknown host as a connect failure", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    ClientHarness<TestType> harness;
    ClientRequest request = get("http://does-not-exist.invalid/");
    request.timeout = 20s;
    auto response = harness.fetch(request);
    CHECK(response.failure == ClientResponse::Failure::connect);
    CHECK_THAT(response.error, Catch::Contains("does-not-exist.invalid"));
}

TEMPLATE_TEST_CASE("HttpClient resolves the machine's host name", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    char name[256] = {};
    REQUIRE(gethostname(name, sizeof name - 1) == 0);
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    bool loopback = false;
    if (getaddrinfo(name, nullptr, &hints, &found) == 0) {
        auto* address = reinterpret_cast<sockaddr_in*>(found->ai_addr);
        loopback = ntohl(address->sin_addr.s_addr) == INADDR_LOOPBACK;
        freeaddrinfo(found);
    }
    if (!loopback) {
        WARN("host name " << name << " does not resolve to 127.0.0.1; skipped");
        return;
    }
    TestServer server;
    ClientHarness<TestType> harness;
    auto response = harness.fetch(get(server.url("/echo", name)));
    CHECK(response.failure == ClientResponse::Failure::none);
    CHECK(response.status == 200);
}

TEST_CASE("make_http_client picks BeastHttpClient unless the environment names a proxy") {
    const char* names[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    std::vector<std::pair<std::string, std::string>> saved;
    for (const char* name : names) {
        if (const char* value = std::getenv(name)) saved.emplace_back(name, value);
        unsetenv(name);
    }
    net::io_context io;
    bot::Logger logger(bot::LogLevel::off);
    {
        auto client = bot::make_http_client(io.get_executor(), logger);
        CHECK(dynamic_cast<bot::BeastHttpClient*>(client.get()) != nullptr);
    }
    for (const char* name : names) {
        INFO(name);
        setenv(name, "http://127.0.0.1:9", 1);
        auto client = bot::make_http_client(io.get_executor(), logger);
        CHECK(dynamic_cast<bot::CurlHttpClient*>(client.get()) != nullptr);
        unsetenv(name);
    }
    for (auto& [name, value] : saved) setenv(name.c_str(), value.c_str(), 1);
}
