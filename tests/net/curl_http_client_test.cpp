// CurlHttpClient against a small HTTP/1.1 server living inside the test (raw Asio on
// 127.0.0.1, its own thread), with routes that misbehave on purpose: slow, hanging,
// streaming with pauses, big bodies.
#include "bot/net/curl_http_client.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
using net::ip::tcp;
using namespace std::chrono_literals;
using bot::ClientRequest;
using bot::ClientResponse;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t kBigBodyBytes = 5 << 20;

struct ServerRequest {
    std::string method;
    std::string path;
    std::vector<bot::http::Header> headers;
    std::string body;

    std::string header(std::string_view name) const {
        return std::string(bot::http::find_header(headers, name));
    }
};

ServerRequest parse_head(std::string_view head) {
    ServerRequest request;
    auto line_end = head.find("\r\n");
    auto request_line = head.substr(0, line_end);
    auto space = request_line.find(' ');
    request.method = std::string(request_line.substr(0, space));
    auto path_end = request_line.find(' ', space + 1);
    request.path = std::string(request_line.substr(space + 1, path_end - space - 1));
    while (line_end != std::string_view::npos && line_end + 2 < head.size()) {
        auto start = line_end + 2;
        line_end = head.find("\r\n", start);
        auto line = head.substr(start, line_end - start);
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        auto value = line.substr(colon + 1);
        while (value.starts_with(' ')) value.remove_prefix(1);
        request.headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
    }
    return request;
}

std::string response_text(int status, std::string_view body, std::string_view extra_headers = "") {
    return "HTTP/1.1 " + std::to_string(status) +
           " Whatever\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
           std::string(extra_headers) + "\r\n" + std::string(body);
}

class TestServer {
public:
    TestServer() : acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}) {
        net::co_spawn(io_, accept_loop(), net::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~TestServer() {
        io_.stop();
        thread_.join();
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    std::string url(std::string_view path, std::string_view host = "127.0.0.1") const {
        return "http://" + std::string(host) + ":" + std::to_string(port()) + std::string(path);
    }
    int connections() const { return accepted_.load(); }

private:
    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [error, socket] = co_await acceptor_.async_accept(use_tuple);
            if (error) co_return;
            ++accepted_;
            net::co_spawn(io_, serve(std::move(socket)), net::detached);
        }
    }

    net::awaitable<void> serve(tcp::socket socket) {
        std::string buffer;
        for (;;) {
            auto [error, head_size] = co_await net::async_read_until(
                socket, net::dynamic_buffer(buffer), "\r\n\r\n", use_tuple);
            if (error) co_return;
            ServerRequest request = parse_head(std::string_view(buffer).substr(0, head_size));
            buffer.erase(0, head_size);
            const auto length_text = request.header("Content-Length");
            const std::size_t length = length_text.empty() ? 0 : std::stoul(length_text);
            if (buffer.size() < length) {
                auto [read_error, unused] = co_await net::async_read(
                    socket, net::dynamic_buffer(buffer),
                    net::transfer_exactly(length - buffer.size()), use_tuple);
                if (read_error) co_return;
            }
            request.body = buffer.substr(0, length);
            buffer.erase(0, length);
            if (!co_await respond(socket, request)) co_return;
        }
    }

    static net::awaitable<bool> send(tcp::socket& socket, std::string text) {
        auto [error, unused] = co_await net::async_write(socket, net::buffer(text), use_tuple);
        co_return !error;
    }

    static net::awaitable<void> pause(tcp::socket& socket, std::chrono::milliseconds duration) {
        net::steady_timer timer(socket.get_executor(), duration);
        co_await timer.async_wait(use_tuple);
    }

    // Returns false to close the connection.
    net::awaitable<bool> respond(tcp::socket& socket, const ServerRequest& request) {
        if (request.path == "/echo") {
            co_return co_await send(socket,
                                    response_text(200, request.method + "\n" + request.body,
                                                  "X-Echo: " + request.header("X-Test") + "\r\n"));
        }
        if (request.path == "/interim") {
            co_return co_await send(socket, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n" +
                                                response_text(201, "final", "X-Final: 1\r\n"));
        }
        if (request.path == "/stream") {
            if (!co_await send(socket,
                               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                               "Content-Type: text/event-stream\r\n\r\n")) {
                co_return false;
            }
            for (std::string piece : {"one", "two", "three"}) {
                std::ostringstream chunk;
                chunk << std::hex << piece.size() << "\r\n" << piece << "\r\n";
                if (!co_await send(socket, chunk.str())) co_return false;
                co_await pause(socket, 150ms);
            }
            co_return co_await send(socket, "0\r\n\r\n");
        }
        if (request.path == "/error") {
            co_return co_await send(socket, response_text(503, R"({"error":"overloaded"})"));
        }
        if (request.path == "/slow") {
            co_await pause(socket, 300ms);
            co_return co_await send(socket, response_text(200, "slow"));
        }
        if (request.path == "/hang") {
            co_await pause(socket, 20s);
            co_return false;
        }
        if (request.path == "/big") {
            std::string body(kBigBodyBytes, 'x');
            for (std::size_t i = 0; i < body.size(); i += 1000) body[i] = char('a' + i / 1000 % 26);
            co_return co_await send(socket, response_text(200, body));
        }
        co_return co_await send(socket, response_text(404, "no route"));
    }

    net::io_context io_;
    tcp::acceptor acceptor_;
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

// The client under test on a multi-threaded io_context, as in production.
struct ClientHarness {
    net::io_context io;
    net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);
    bot::Logger logger{bot::LogLevel::off};
    bot::CurlHttpClient client{io.get_executor(), logger};
    std::vector<std::thread> threads;

    ClientHarness() {
        for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
    }
    ~ClientHarness() {
        client.shutdown();
        work.reset();
        for (auto& thread : threads) thread.join();
    }

    std::future<ClientResponse> start(ClientRequest request) {
        return net::co_spawn(io, client.request(std::move(request)), net::use_future);
    }
    ClientResponse fetch(ClientRequest request) {
        auto pending = start(std::move(request));
        REQUIRE(pending.wait_for(30s) == std::future_status::ready);
        return pending.get();
    }
};

ClientRequest get(std::string url) {
    ClientRequest request;
    request.url = std::move(url);
    request.timeout = 10s;
    return request;
}

int thread_count() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("Threads:")) return std::stoi(line.substr(8));
    }
    return -1;
}

}  // namespace

TEST_CASE("CurlHttpClient GET and POST round trips carry headers and bodies") {
    TestServer server;
    ClientHarness harness;

    auto got = harness.fetch(get(server.url("/echo")));
    REQUIRE(got.failure == ClientResponse::Failure::none);
    CHECK(got.status == 200);
    CHECK(got.ok());
    CHECK(got.body == "GET\n");

    ClientRequest post = get(server.url("/echo"));
    post.method = "POST";
    post.body = R"({"hello":"world"})";
    post.headers = {{"Content-Type", "application/json"}, {"X-Test", "abc"}};
    auto posted = harness.fetch(post);
    REQUIRE(posted.ok());
    CHECK(posted.body == "POST\n{\"hello\":\"world\"}");
    CHECK(posted.header("x-echo") == "abc");
    CHECK(posted.header("Content-Length") == std::to_string(posted.body.size()));

    ClientRequest put = post;
    put.method = "PUT";
    CHECK(harness.fetch(put).body == "PUT\n{\"hello\":\"world\"}");

    auto missing = harness.fetch(get(server.url("/nowhere")));
    CHECK(missing.failure == ClientResponse::Failure::none);
    CHECK(missing.status == 404);
    CHECK_FALSE(missing.ok());
    CHECK(missing.body == "no route");
}

TEST_CASE("CurlHttpClient keeps only the final response's headers") {
    TestServer server;
    ClientHarness harness;
    auto response = harness.fetch(get(server.url("/interim")));
    REQUIRE(response.failure == ClientResponse::Failure::none);
    CHECK(response.status == 201);
    CHECK(response.body == "final");
    CHECK(response.header("X-Final") == "1");
    CHECK(response.header("X-Interim").empty());
}

TEST_CASE("CurlHttpClient hands a 2xx body over chunk by chunk as it arrives") {
    TestServer server;
    ClientHarness harness;
    std::vector<std::pair<Clock::time_point, std::string>> chunks;
    ClientRequest request = get(server.url("/stream"));
    request.on_body_chunk = [&chunks](std::string_view chunk) {
        chunks.emplace_back(Clock::now(), std::string(chunk));
    };
    auto response = harness.fetch(request);
    const auto finished = Clock::now();

    REQUIRE(response.ok());
    CHECK(response.body.empty());
    REQUIRE(chunks.size() >= 3);
    std::string joined;
    for (auto& [when, text] : chunks) joined += text;
    CHECK(joined == "onetwothree");
    // Three pauses of 150 ms: the first piece must not have waited for the end.
    CHECK(finished - chunks.front().first >= 250ms);
}

TEST_CASE("CurlHttpClient collects a non-2xx body even with a chunk callback") {
    TestServer server;
    ClientHarness harness;
    int calls = 0;
    ClientRequest request = get(server.url("/error"));
    request.on_body_chunk = [&calls](std::string_view) { ++calls; };
    auto response = harness.fetch(request);
    CHECK(response.status == 503);
    CHECK(response.body == R"({"error":"overloaded"})");
    CHECK(calls == 0);
}

TEST_CASE("CurlHttpClient reports a throwing chunk callback as a transport failure") {
    TestServer server;
    ClientHarness harness;
    ClientRequest request = get(server.url("/stream"));
    request.on_body_chunk = [](std::string_view) { throw std::runtime_error("consumer broke"); };
    auto response = harness.fetch(request);
    CHECK(response.failure == ClientResponse::Failure::transport);
    CHECK_THAT(response.error, Catch::Contains("consumer broke"));
}

TEST_CASE("CurlHttpClient reads a large body completely") {
    TestServer server;
    ClientHarness harness;
    auto response = harness.fetch(get(server.url("/big")));
    REQUIRE(response.ok());
    REQUIRE(response.body.size() == kBigBodyBytes);
    CHECK(response.body[0] == 'a');
    CHECK(response.body[25000] == 'z');
    CHECK(response.body[kBigBodyBytes - 1] == 'x');
}

TEST_CASE("CurlHttpClient times out a request that gets no answer") {
    TestServer server;
    ClientHarness harness;
    ClientRequest request = get(server.url("/hang"));
    request.timeout = 300ms;
    const auto started = Clock::now();
    auto response = harness.fetch(request);
    CHECK(response.failure == ClientResponse::Failure::timeout);
    CHECK_FALSE(response.error.empty());
    CHECK(Clock::now() - started < 3s);
}

TEST_CASE("CurlHttpClient reports a refused connection as a connect failure") {
    unsigned short port = 0;
    {
        net::io_context io;
        tcp::acceptor closed(io, {net::ip::make_address("127.0.0.1"), 0});
        port = closed.local_endpoint().port();
    }
    ClientHarness harness;
    auto response = harness.fetch(get("http://127.0.0.1:" + std::to_string(port) + "/"));
    CHECK(response.failure == ClientResponse::Failure::connect);
    CHECK(response.status == 0);
}

TEST_CASE("CurlHttpClient reuses one connection for sequential requests") {
    TestServer server;
    ClientHarness harness;
    for (int i = 0; i < 5; ++i) {
        auto response = harness.fetch(get(server.url("/echo")));
        REQUIRE(response.ok());
    }
    CHECK(server.connections() == 1);
}

TEST_CASE("CurlHttpClient leaves the io_context idle once its requests are done") {
    // A pooled connection must not keep run() from returning.
    TestServer server;
    net::io_context io;
    bot::Logger logger(bot::LogLevel::off);
    bot::CurlHttpClient client(io.get_executor(), logger);
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

TEST_CASE("CurlHttpClient runs 200 concurrent requests without new threads") {
    TestServer server;
    ClientHarness harness;
    harness.fetch(get(server.url("/echo")));  // curl's one-time set-up happens here
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
}

TEST_CASE("CurlHttpClient shutdown cancels transfers in flight and later requests") {
    TestServer server;
    ClientHarness harness;
    auto hanging = harness.start(get(server.url("/hang")));
    std::this_thread::sleep_for(200ms);
    const auto started = Clock::now();
    harness.client.shutdown();
    REQUIRE(hanging.wait_for(5s) == std::future_status::ready);
    CHECK(hanging.get().failure == ClientResponse::Failure::cancelled);
    CHECK(Clock::now() - started < 2s);
    CHECK(harness.fetch(get(server.url("/echo"))).failure == ClientResponse::Failure::cancelled);
}

TEST_CASE("CurlHttpClient destroyed with a request in flight completes it as cancelled") {
    TestServer server;
    net::io_context io;
    auto work = net::make_work_guard(io);
    std::thread runner([&io] { io.run(); });
    bot::Logger logger(bot::LogLevel::off);
    std::future<ClientResponse> hanging;
    {
        bot::CurlHttpClient client(io.get_executor(), logger);
        hanging = net::co_spawn(io, client.request(get(server.url("/hang"))), net::use_future);
        std::this_thread::sleep_for(100ms);
    }
    REQUIRE(hanging.wait_for(5s) == std::future_status::ready);
    CHECK(hanging.get().failure == ClientResponse::Failure::cancelled);
    work.reset();
    runner.join();
}

TEST_CASE("CurlHttpClient reports an unknown host as a connect failure") {
    // Goes through curl's threaded resolver, whose wake-up descriptor the client must watch.
    ClientHarness harness;
    ClientRequest request = get("http://does-not-exist.invalid/");
    request.timeout = 20s;
    auto response = harness.fetch(request);
    CHECK(response.failure == ClientResponse::Failure::connect);
    CHECK_THAT(response.error, Catch::Contains("does-not-exist.invalid"));
}

TEST_CASE("CurlHttpClient resolves host names through curl's resolver") {
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
    ClientHarness harness;
    auto response = harness.fetch(get(server.url("/echo", name)));
    CHECK(response.failure == ClientResponse::Failure::none);
    CHECK(response.status == 200);
}
