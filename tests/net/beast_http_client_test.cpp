// What only BeastHttpClient promises, against the in-test server of http_test_server.hpp: one
// retry of a request dropped on a reused connection, the idle-pool options, refusing header and
// method line breaks, its extra CA file, and HTTPS (round trips, certificate checks, streaming,
// large bodies). The behaviour it shares with CurlHttpClient is in http_client_test.cpp.
#include "http_test_server.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace net = boost::asio;
using namespace std::chrono_literals;
using namespace bot::testing;
using bot::ClientRequest;
using bot::ClientResponse;
using Clock = std::chrono::steady_clock;

namespace {

using BeastHarness = ClientHarness<bot::BeastHttpClient>;

bot::BeastHttpClientOptions trusting_test_ca() {
    return bot::BeastHttpClientOptions{.extra_ca_file = testdata("ca.pem")};
}

}  // namespace

TEST_CASE("BeastHttpClient sends a request dropped on a reused connection once more, no more") {
    // The documented retry: the server closed the pooled connection as the request arrived.
    TestServer server;
    BeastHarness harness;
    REQUIRE(harness.fetch(get(server.url("/echo"))).ok());
    const auto started = Clock::now();
    auto response = harness.fetch(post(server.url("/drop"), "twice at most"));
    CHECK(response.failure == ClientResponse::Failure::transport);
    CHECK(response.status == 0);
    CHECK(Clock::now() - started < 3s);
    std::this_thread::sleep_for(300ms);  // a third attempt would have arrived by now
    auto seen = server.requests();
    REQUIRE(seen.size() == 3);
    CHECK(seen[1].path == "/drop");
    CHECK(seen[1].connection == 1);
    CHECK(seen[2].path == "/drop");
    CHECK(seen[2].connection == 2);
    CHECK(seen[2].body == "twice at most");
    CHECK(server.connections() == 2);
}

TEST_CASE("BeastHttpClient on a one-thread io_context: round trips, streaming, timeouts") {
    // Requests then run their attempts inside the caller's coroutine instead of a co_spawn.
    TestServer server;
    ClientHarness<bot::BeastHttpClient, 1> harness;
    for (int i = 0; i < 2; ++i) {
        auto response = harness.fetch(post(server.url("/echo"), "body " + std::to_string(i)));
        INFO(response.error);
        REQUIRE(response.ok());
        CHECK(response.body == "POST\nbody " + std::to_string(i));
    }
    CHECK(server.connections() == 1);
    check_streamed_in_pieces(harness, server.url("/stream"));
    check_body_stall_times_out(harness, server.url("/stall-body"));
}

TEST_CASE("BeastHttpClient keeps at most max_idle_connections for at most idle_lifetime") {
    TestServer server;
    SECTION("no idle connection kept") {
        BeastHarness harness(bot::BeastHttpClientOptions{.max_idle_connections = 0});
        for (int i = 0; i < 3; ++i) REQUIRE(harness.fetch(get(server.url("/echo"))).ok());
        CHECK(server.connections() == 3);
    }
    SECTION("one idle connection kept") {
        BeastHarness harness(bot::BeastHttpClientOptions{.max_idle_connections = 1});
        auto first = harness.start(get(server.url("/slow")));
        auto second = harness.start(get(server.url("/slow")));
        REQUIRE(first.wait_for(10s) == std::future_status::ready);
        REQUIRE(second.wait_for(10s) == std::future_status::ready);
        REQUIRE(first.get().ok());
        REQUIRE(second.get().ok());
        REQUIRE(server.connections() == 2);
        first = harness.start(get(server.url("/slow")));
        second = harness.start(get(server.url("/slow")));
        REQUIRE(first.wait_for(10s) == std::future_status::ready);
        REQUIRE(second.wait_for(10s) == std::future_status::ready);
        CHECK(first.get().ok());
        CHECK(second.get().ok());
        CHECK(server.connections() == 3);  // one reused, one new
    }
    SECTION("an idle connection past idle_lifetime is not reused") {
        BeastHarness harness(bot::BeastHttpClientOptions{.idle_lifetime = std::chrono::seconds(1)});
        REQUIRE(harness.fetch(get(server.url("/echo"))).ok());
        REQUIRE(harness.fetch(get(server.url("/echo"))).ok());
        CHECK(server.connections() == 1);
        std::this_thread::sleep_for(1200ms);
        REQUIRE(harness.fetch(get(server.url("/echo"))).ok());
        CHECK(server.connections() == 2);
    }
}

TEST_CASE("BeastHttpClient sends a request the server dropped on a reused connection again") {
    TestServer server;
    BeastHarness harness;
    REQUIRE(harness.fetch(get(server.url("/echo"))).ok());
    auto response = harness.fetch(post(server.url("/first-only"), "retried"));
    INFO(response.error);
    REQUIRE(response.ok());
    CHECK(response.body == "fresh:retried");
    auto seen = server.requests();
    REQUIRE(seen.size() == 3);
    CHECK(seen[1].connection == 1);
    CHECK(seen[2].connection == 2);
    CHECK(seen[2].body == "retried");
    CHECK(server.connections() == 2);
}

TEST_CASE("BeastHttpClient refuses a header or method that would split the request") {
    TestServer server;
    BeastHarness harness;
    ClientRequest header = get(server.url("/echo"));
    header.headers = {{"X-Test", "a\r\nX-Injected: 1"}};
    auto response = harness.fetch(header);
    CHECK(response.failure == ClientResponse::Failure::transport);
    CHECK_FALSE(response.error.empty());

    ClientRequest name = get(server.url("/echo"));
    name.headers = {{"X-Test\nX-Injected", "1"}};
    CHECK(harness.fetch(name).failure == ClientResponse::Failure::transport);

    ClientRequest method = get(server.url("/echo"));
    method.method = "GET /admin HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET";
    CHECK(harness.fetch(method).failure == ClientResponse::Failure::transport);

    CHECK(server.connections() == 0);                       // nothing went out
    REQUIRE(harness.fetch(get(server.url("/echo"))).ok());  // and the client still works
}

TEST_CASE("BeastHttpClient throws when its extra CA file cannot be loaded") {
    net::io_context io;
    bot::Logger logger(bot::LogLevel::off);
    CHECK_THROWS_AS(bot::BeastHttpClient(io.get_executor(), logger,
                                         {.extra_ca_file = testdata("no-such-ca.pem")}),
                    std::runtime_error);
}

TEST_CASE("BeastHttpClient GET and POST over HTTPS round-trip on one connection") {
    TestServer server(TestServer::Tls::on);
    BeastHarness harness(trusting_test_ca());

    auto got = harness.fetch(get(server.url("/echo", "localhost")));
    INFO(got.error);
    REQUIRE(got.failure == ClientResponse::Failure::none);
    CHECK(got.status == 200);
    CHECK(got.body == "GET\n");
    CHECK(got.header("X-Host") == "localhost:" + std::to_string(server.port()));

    ClientRequest posting = post(server.url("/echo", "localhost"), R"({"secure":true})");
    posting.headers = {{"Content-Type", "application/json"}, {"X-Test", "tls"}};
    auto posted = harness.fetch(posting);
    INFO(posted.error);
    REQUIRE(posted.ok());
    CHECK(posted.body == "POST\n{\"secure\":true}");
    CHECK(posted.header("X-Echo") == "tls");
    CHECK(posted.header("Content-Length") == std::to_string(posted.body.size()));

    auto missing = harness.fetch(get(server.url("/nowhere", "localhost")));
    CHECK(missing.failure == ClientResponse::Failure::none);
    CHECK(missing.status == 404);
    CHECK(missing.body == "no route");

    CHECK(server.connections() == 1);
    CHECK(server.handshakes() == 1);
    auto seen = server.requests();
    REQUIRE(seen.size() == 3);
    CHECK(seen[1].body == R"({"secure":true})");
}

TEST_CASE("BeastHttpClient rejects a certificate from a CA it does not trust") {
    TestServer server(TestServer::Tls::on);
    BeastHarness harness;  // the system's CAs only
    check_refused_unverified(harness.fetch(get(server.url("/echo", "localhost"))), server);
}

TEST_CASE("BeastHttpClient rejects a certificate that does not name the host") {
    TestServer server(TestServer::Tls::on);
    BeastHarness harness(trusting_test_ca());
    // The certificate names DNS:localhost only.
    check_refused_unverified(harness.fetch(get(server.url("/echo", "127.0.0.1"))), server);

    // The same client and server by the certificate's name: the CA itself was accepted.
    auto named = harness.fetch(get(server.url("/echo", "localhost")));
    INFO(named.error);
    CHECK(named.ok());
}

TEST_CASE("BeastHttpClient hands a 2xx body over HTTPS chunk by chunk as it arrives") {
    TestServer server(TestServer::Tls::on);
    BeastHarness harness(trusting_test_ca());
    check_streamed_in_pieces(harness, server.url("/stream", "localhost"));
}

TEST_CASE("BeastHttpClient times out an HTTPS body that stops arriving") {
    TestServer server(TestServer::Tls::on);
    BeastHarness harness(trusting_test_ca());
    check_body_stall_times_out(harness, server.url("/stall-body", "localhost"));
}

TEST_CASE("BeastHttpClient reads a large body over HTTPS completely") {
    TestServer server(TestServer::Tls::on);
    BeastHarness harness(trusting_test_ca());
    auto response = harness.fetch(get(server.url("/big", "localhost")));
    INFO(response.error);
    REQUIRE(response.ok());
    REQUIRE(response.body.size() == kBigBodyBytes);
    CHECK(response.body[0] == 'a');
    CHECK(response.body[25000] == 'z');
    CHECK(response.body[kBigBodyBytes - 1] == 'x');
}
