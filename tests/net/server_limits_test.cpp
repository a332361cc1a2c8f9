// http::Server against hostile clients: requests without Host, slow headers on a keep-alive
// connection, bodies sent to routes that authenticate by header, more bodies than the budget,
// one address holding every connection, and the client address behind a trusted proxy.
#include "net/server_fixture.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>

namespace net = boost::asio;
namespace http = bot::http;
using bot::testing::RawClient;
using bot::testing::RunningServer;
using namespace std::chrono_literals;

namespace {

http::Handler answer(std::string text) {
    return [text](http::Request&, http::ResponseStream&) -> net::awaitable<http::Response> {
        co_return http::Response::text(200, text);
    };
}

// Answers "<remote> <scheme>".
net::awaitable<http::Response> who(http::Request& request, http::ResponseStream&) {
    co_return http::Response::text(200, request.remote + " " + request.scheme);
}

std::string body_of(const std::string& response) {
    const auto end = response.find("\r\n\r\n");
    return end == std::string::npos ? std::string() : response.substr(end + 4);
}

}  // namespace

TEST_CASE("HTTP/1.1 requests need exactly one Host header") {
    RunningServer running([](http::Router& router) { router.add("GET", "/", answer("served")); },
                          {});
    auto exchange = [&](const std::string& request) {
        RawClient client(running.port());
        client.send(request);
        return client.receive();
    };
    CHECK(exchange("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").starts_with("HTTP/1.1 400"));
    CHECK(exchange("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n")
              .starts_with("HTTP/1.1 400"));
    CHECK(exchange("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
              .starts_with("HTTP/1.1 200"));
    CHECK(exchange("GET / HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 200"));  // 1.0 had none
}

TEST_CASE("Every request on a keep-alive connection must send its headers in time") {
    http::ServerOptions options;
    options.header_timeout = 1s;
    options.idle_timeout = 30s;
    RunningServer running([](http::Router& router) { router.add("GET", "/", answer("served")); },
                          options);
    RawClient client(running.port());
    const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(client.send(request));
    CHECK(client.receive("served").starts_with("HTTP/1.1 200"));

    // Idle between requests is governed by idle_timeout, not header_timeout.
    std::this_thread::sleep_for(1500ms);
    REQUIRE(client.send(request));
    CHECK(client.receive("served").starts_with("HTTP/1.1 200"));

    // Once a request has begun, its headers must be complete within header_timeout (before:
    // idle_timeout, 30 s here).
    REQUIRE(client.send("GET / HTTP/1.1\r\nHost: x\r\n"));
    const auto started = std::chrono::steady_clock::now();
    CHECK(client.receive({}, 6s).empty());
    CHECK(client.closed());
    CHECK(std::chrono::steady_clock::now() - started < 4s);
}

TEST_CASE("A route that authenticates by header refuses before the body is read") {
    std::atomic<int> handled{0};
    RunningServer running(
        [&](http::Router& router) {
            router.add(
                "POST", "/hook",
                [&](http::Request& request,
                    http::ResponseStream&) -> net::awaitable<http::Response> {
                    ++handled;
                    co_return http::Response::text(200, std::to_string(request.body.size()));
                },
                http::RouteOptions{
                    .body_limit = 2 << 20,
                    .authorize = [](const http::Request& request) -> std::optional<http::Response> {
                        if (request.header("X-Key") == "right") return std::nullopt;
                        return http::Response::error(401, "wrong key");
                    }});
        },
        {});
    const std::string body(1 << 20, 'b');
    const std::string head =
        "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";

    // Only the head is sent: the answer comes without the server waiting for the body.
    RawClient stranger(running.port());
    REQUIRE(stranger.send(head + "X-Key: wrong\r\n\r\n"));
    const auto answer = stranger.receive({}, 3s);
    CHECK(answer.starts_with("HTTP/1.1 401"));
    CHECK(stranger.closed());

    // A client that sends it all the same still gets the answer, not a reset.
    RawClient eager(running.port());
    REQUIRE(eager.send(head + "X-Key: wrong\r\n\r\n" + body.substr(0, 64 << 10)));
    CHECK(eager.receive({}, 3s).starts_with("HTTP/1.1 401"));

    RawClient member(running.port());
    REQUIRE(member.send(head + "X-Key: right\r\nConnection: close\r\n\r\n" + body));
    CHECK(body_of(member.receive()) == std::to_string(body.size()));
    CHECK(handled == 1);
    CHECK(running.server->reserved_body_bytes() == 0);
}

TEST_CASE("Request bodies over the server's budget are refused with 503, then admitted") {
    std::atomic<bool> release{false};
    http::ServerOptions options;
    options.body_budget_bytes = 100 << 10;
    RunningServer running(
        [&](http::Router& router) {
            router.add("POST", "/hold",
                       [&](http::Request& request,
                           http::ResponseStream&) -> net::awaitable<http::Response> {
                           net::steady_timer timer(co_await net::this_coro::executor);
                           while (!release) {
                               timer.expires_after(10ms);
                               co_await timer.async_wait(net::use_awaitable);
                           }
                           co_return http::Response::text(200, std::to_string(request.body.size()));
                       });
        },
        options);
    auto post = [](std::size_t bytes, bool with_body) {
        return "POST /hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
               std::to_string(bytes) + "\r\n\r\n" + (with_body ? std::string(bytes, 'b') : "");
    };

    RawClient held(running.port());
    REQUIRE(held.send(post(80 << 10, true)));
    for (int i = 0; i < 500 && running.server->reserved_body_bytes() < (80 << 10); ++i) {
        std::this_thread::sleep_for(10ms);
    }
    REQUIRE(running.server->reserved_body_bytes() == (80 << 10));

    // Over the whole budget, from another address.
    RawClient refused(running.port(), "127.0.0.2");
    REQUIRE(refused.send(post(40 << 10, false)));  // the head only: nothing is read anyway
    const auto busy = refused.receive({}, 3s);
    CHECK(busy.starts_with("HTTP/1.1 503"));
    CHECK(busy.find("Retry-After: ") != std::string::npos);

    // Within the budget, but over the holding address's share (an eighth): a client that
    // announces bodies and never sends them cannot take the budget from the others.
    RawClient small_other(running.port(), "127.0.0.3");
    REQUIRE(small_other.send(post(10 << 10, false)));
    RawClient small_same(running.port());
    REQUIRE(small_same.send(post(10 << 10, false)));
    CHECK(small_same.receive({}, 3s).starts_with("HTTP/1.1 503"));
    for (int i = 0; i < 500 && running.server->reserved_body_bytes() < (90 << 10); ++i) {
        std::this_thread::sleep_for(10ms);
    }
    CHECK(running.server->reserved_body_bytes() == (90 << 10));  // 127.0.0.3's is held
    small_other.send(std::string(10 << 10, 'b'));

    release = true;
    CHECK(body_of(held.receive()) == std::to_string(80 << 10));
    CHECK(body_of(small_other.receive()) == std::to_string(10 << 10));
    for (int i = 0; i < 500 && running.server->reserved_body_bytes() != 0; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    CHECK(running.server->reserved_body_bytes() == 0);
    RawClient admitted(running.port());
    REQUIRE(admitted.send(post(40 << 10, true)));
    CHECK(body_of(admitted.receive()) == std::to_string(40 << 10));
}

TEST_CASE("One address cannot take every connection; a trusted proxy is not one client") {
    http::ServerOptions options;
    options.max_connections_per_address = 3;
    options.trusted_proxies = {"127.0.0.9"};
    RunningServer running([](http::Router& router) { router.add("GET", "/", answer("served")); },
                          options);
    const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    std::vector<std::unique_ptr<RawClient>> hog;
    for (int i = 0; i < 3; ++i) hog.push_back(std::make_unique<RawClient>(running.port()));
    for (auto& client : hog) {
        REQUIRE(client->send(request));
        CHECK(client->receive("served").starts_with("HTTP/1.1 200"));
    }
    RawClient fourth(running.port());
    fourth.send(request);
    CHECK(fourth.receive({}, 3s).empty());
    CHECK(fourth.closed());

    RawClient other(running.port(), "127.0.0.2");
    REQUIRE(other.send(request));
    CHECK(other.receive("served").starts_with("HTTP/1.1 200"));

    std::vector<std::unique_ptr<RawClient>> proxy;
    for (int i = 0; i < 5; ++i) {
        proxy.push_back(std::make_unique<RawClient>(running.port(), "127.0.0.9"));
        REQUIRE(proxy.back()->send(request));
        CHECK(proxy.back()->receive("served").starts_with("HTTP/1.1 200"));
    }

    hog.pop_back();  // a slot is given back when its connection closes
    bool served = false;
    for (int i = 0; i < 100 && !served; ++i) {
        RawClient again(running.port());
        again.send(request);
        served = again.receive("served", 1s).starts_with("HTTP/1.1 200");
    }
    CHECK(served);
}

TEST_CASE("Behind a trusted proxy the request names the forwarded client and scheme") {
    http::ServerOptions options;
    options.trusted_proxies = {"127.0.0.8/31", "10.0.0.0/8"};
    RunningServer running([](http::Router& router) { router.add("GET", "/who", who); }, options);
    auto ask = [&](const char* from, const std::string& headers) {
        RawClient client(running.port(), from);
        client.send("GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + "\r\n");
        return body_of(client.receive());
    };
    CHECK(ask("127.0.0.1", "") == "127.0.0.1 http");
    // From a client that is no proxy, the headers are its own words: ignored.
    CHECK(ask("127.0.0.1", "X-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Proto: https\r\n") ==
          "127.0.0.1 http");
    CHECK(ask("127.0.0.8", "X-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Proto: https\r\n") ==
          "203.0.113.5 https");
    // The rightmost hop that is no trusted proxy; what the client wrote left of it is not
    // believed.
    CHECK(ask("127.0.0.9", "X-Forwarded-For: 1.2.3.4, 203.0.113.5, 10.1.2.3\r\n") ==
          "203.0.113.5 http");
    CHECK(ask("127.0.0.9", "X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 203.0.113.5:4711\r\n") ==
          "203.0.113.5 http");
    CHECK(ask("127.0.0.9", "X-Forwarded-For: [2001:db8::7]:80\r\n") == "2001:db8::7 http");
    CHECK(ask("127.0.0.9", "X-Forwarded-For: 203.0.113.5, garbage\r\n") == "127.0.0.9 http");
    CHECK(ask("127.0.0.9", "X-Real-IP: 198.51.100.2\r\n") == "198.51.100.2 http");
    // A proxy that adds its X-Real-IP and X-Forwarded-Proto to the client's adds them last.
    CHECK(ask("127.0.0.9",
              "X-Real-IP: 1.2.3.4\r\nX-Forwarded-Proto: https\r\nX-Real-IP: 198.51.100.2\r\n"
              "X-Forwarded-Proto: http\r\n") == "198.51.100.2 http");
    CHECK(ask("127.0.0.10", "X-Real-IP: 198.51.100.2\r\n") == "127.0.0.10 http");  // not in /31
}
