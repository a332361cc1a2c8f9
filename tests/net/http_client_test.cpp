// The HttpClient implementations (CurlHttpClient, BeastHttpClient) against a small HTTP/1.1
// server living inside the test (raw Asio on 127.0.0.1, its own thread, plain or TLS), with
// routes that misbehave on purpose: slow, hanging, streaming with pauses, big bodies, closing
// the connection. The behaviour both must share runs as TEMPLATE_TEST_CASEs over both clients;
// what only one of them promises (curl's threaded resolver, Beast's one retry on a reused
// connection, Beast's TLS set-up) is a plain TEST_CASE.
#include "bot/net/beast_http_client.hpp"
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
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using net::ip::tcp;
using namespace std::chrono_literals;
using bot::ClientRequest;
using bot::ClientResponse;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t kBigBodyBytes = 5 << 20;
constexpr std::size_t kHeadBodyBytes = 1234;
// One byte over both clients' cap.
constexpr std::size_t kHugeBodyBytes = bot::CurlHttpClient::kMaxResponseBytes + 1;
static_assert(bot::BeastHttpClient::kMaxResponseBytes == bot::CurlHttpClient::kMaxResponseBytes);

std::string testdata(std::string_view name) {
    return std::string(NET_TESTDATA_DIR) + "/" + std::string(name);
}

struct ServerRequest {
    std::string method;
    std::string path;
    std::vector<bot::http::Header> headers;
    std::string body;

    std::string header(std::string_view name) const {
        return std::string(bot::http::find_header(headers, name));
    }
};

// What the server received, in order: which connection (1 = the first accepted) and what.
struct SeenRequest {
    int connection = 0;
    std::string method;
    std::string path;
    std::string body;
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
    enum class Tls { off, on };

    explicit TestServer(Tls tls = Tls::off)
        : acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}) {
        if (tls == Tls::on) {
            tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
            tls_->use_certificate_chain_file(testdata("server.pem"));
            tls_->use_private_key_file(testdata("server.key"), ssl::context::pem);
        }
        net::co_spawn(io_, accept_loop(), net::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~TestServer() {
        io_.stop();
        thread_.join();
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    std::string url(std::string_view path, std::string_view host = "127.0.0.1") const {
        return std::string(tls_ ? "https://" : "http://") + std::string(host) + ":" +
               std::to_string(port()) + std::string(path);
    }
    int connections() const { return accepted_.load(); }
    int handshakes() const { return handshakes_.load(); }
    std::vector<SeenRequest> requests() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }
    int count(std::string_view path) const {
        std::lock_guard lock(mutex_);
        int found = 0;
        for (auto& one : seen_) found += one.path == path ? 1 : 0;
        return found;
    }

private:
    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [error, socket] = co_await acceptor_.async_accept(use_tuple);
            if (error) co_return;
            const int connection = ++accepted_;
            if (tls_) {
                net::co_spawn(io_, serve_tls(std::move(socket), connection), net::detached);
            } else {
                net::co_spawn(io_, serve_plain(std::move(socket), connection), net::detached);
            }
        }
    }

    net::awaitable<void> serve_plain(tcp::socket socket, int connection) {
        co_await serve(socket, connection);
    }

    net::awaitable<void> serve_tls(tcp::socket socket, int connection) {
        ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
        auto [error] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
        if (error) co_return;
        ++handshakes_;
        co_await serve(stream, connection);
    }

    template <class Stream>
    net::awaitable<void> serve(Stream& stream, int connection) {
        std::string buffer;
        for (int index = 0;; ++index) {
            auto [error, head_size] = co_await net::async_read_until(
                stream, net::dynamic_buffer(buffer), "\r\n\r\n", use_tuple);
            if (error) co_return;
            ServerRequest request = parse_head(std::string_view(buffer).substr(0, head_size));
            buffer.erase(0, head_size);
            const auto length_text = request.header("Content-Length");
            const std::size_t length = length_text.empty() ? 0 : std::stoul(length_text);
            if (buffer.size() < length) {
                auto [read_error, unused] = co_await net::async_read(
                    stream, net::dynamic_buffer(buffer),
                    net::transfer_exactly(length - buffer.size()), use_tuple);
                if (read_error) co_return;
            }
            request.body = buffer.substr(0, length);
            buffer.erase(0, length);
            {
                std::lock_guard lock(mutex_);
                seen_.push_back({connection, request.method, request.path, request.body});
            }
            if (!co_await respond(stream, request, index)) co_return;
        }
    }

    template <class Stream>
    static net::awaitable<bool> send(Stream& stream, std::string text) {
        auto [error, unused] = co_await net::async_write(stream, net::buffer(text), use_tuple);
        co_return !error;
    }

    template <class Stream>
    static net::awaitable<void> pause(Stream& stream, std::chrono::milliseconds duration) {
        net::steady_timer timer(stream.get_executor(), duration);
        co_await timer.async_wait(use_tuple);
    }

    // Returns false to close the connection. index: the request's place on its connection.
    template <class Stream>
    net::awaitable<bool> respond(Stream& stream, const ServerRequest& request, int index) {
        if (request.path == "/echo") {
            co_return co_await send(
                stream, response_text(200, request.method + "\n" + request.body,
                                      "X-Echo: " + request.header("X-Test") +
                                          "\r\nX-Host: " + request.header("Host") + "\r\n"));
        }
        if (request.path == "/interim") {
            co_return co_await send(stream, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n" +
                                                response_text(201, "final", "X-Final: 1\r\n"));
        }
        if (request.path == "/stream") {
            if (!co_await send(stream,
                               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                               "Content-Type: text/event-stream\r\n\r\n")) {
                co_return false;
            }
            for (std::string piece : {"one", "two", "three"}) {
                std::ostringstream chunk;
                chunk << std::hex << piece.size() << "\r\n" << piece << "\r\n";
                if (!co_await send(stream, chunk.str())) co_return false;
                co_await pause(stream, 150ms);
            }
            co_return co_await send(stream, "0\r\n\r\n");
        }
        if (request.path == "/error") {
            co_return co_await send(stream, response_text(503, R"({"error":"overloaded"})"));
        }
        if (request.path == "/slow") {
            co_await pause(stream, 300ms);
            co_return co_await send(stream, response_text(200, "slow"));
        }
        if (request.path == "/hang") {
            co_await pause(stream, 20s);
            co_return false;
        }
        if (request.path == "/big") {
            std::string body(kBigBodyBytes, 'x');
            for (std::size_t i = 0; i < body.size(); i += 1000) body[i] = char('a' + i / 1000 % 26);
            co_return co_await send(stream, response_text(200, body));
        }
        if (request.path == "/huge") {
            if (!co_await send(stream, "HTTP/1.1 200 OK\r\nContent-Length: " +
                                           std::to_string(kHugeBodyBytes) + "\r\n\r\n")) {
                co_return false;
            }
            const std::string piece(1 << 20, 'h');
            for (std::size_t sent = 0; sent < kHugeBodyBytes; sent += piece.size()) {
                const auto size = std::min(piece.size(), kHugeBodyBytes - sent);
                if (!co_await send(stream, piece.substr(0, size))) co_return false;
            }
            co_return true;
        }
        if (request.path == "/head") {
            // A HEAD answer announces the body's length but carries none; the connection stays
            // open, so a client waiting for those bytes waits until its timeout.
            if (request.method == "HEAD") {
                co_return co_await send(
                    stream, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kHeadBodyBytes) +
                                "\r\nX-Head: yes\r\n\r\n");
            }
            co_return co_await send(
                stream, response_text(200, std::string(kHeadBodyBytes, 'h'), "X-Head: yes\r\n"));
        }
        if (request.path == "/close-after") {
            // Announces keep-alive, then closes the connection once the answer is out.
            co_await send(stream, response_text(200, "closing", "Connection: keep-alive\r\n"));
            co_return false;
        }
        if (request.path == "/until-close") {
            // No length, no chunks: the body ends where the connection does.
            co_await send(stream, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
            co_return false;
        }
        if (request.path == "/no-content") {
            co_return co_await send(stream, "HTTP/1.1 204 No Content\r\nX-Empty: yes\r\n\r\n");
        }
        if (request.path == "/first-only") {
            // Answered as a connection's first request; on a kept-alive connection the server
            // closes it instead, as one does that timed the connection out as the request came.
            if (index > 0) co_return false;
            co_return co_await send(stream, response_text(200, "fresh:" + request.body));
        }
        if (request.path == "/drop") {
            co_return false;  // closes the connection without an answer
        }
        co_return co_await send(stream, response_text(404, "no route"));
    }

    // Declared before io_: the coroutines still suspended when io_ is destroyed use them.
    std::unique_ptr<ssl::context> tls_;
    mutable std::mutex mutex_;
    std::vector<SeenRequest> seen_;
    std::atomic<int> accepted_{0};
    std::atomic<int> handshakes_{0};
    net::io_context io_;
    tcp::acceptor acceptor_;
    std::thread thread_;
};

// The client under test on a multi-threaded io_context, as in production.
template <class Client>
struct ClientHarness {
    net::io_context io;
    net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);
    bot::Logger logger{bot::LogLevel::off};
    Client client;
    std::vector<std::thread> threads;

    // options: what the client's constructor takes after (executor, logger).
    template <class... Options>
    explicit ClientHarness(Options&&... options)
        : client(io.get_executor(), logger, std::forward<Options>(options)...) {
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

using BeastHarness = ClientHarness<bot::BeastHttpClient>;

ClientRequest get(std::string url) {
    ClientRequest request;
    request.url = std::move(url);
    request.timeout = 10s;
    return request;
}

ClientRequest post(std::string url, std::string body) {
    ClientRequest request = get(std::move(url));
    request.method = "POST";
    request.body = std::move(body);
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

bot::BeastHttpClientOptions trusting_test_ca() {
    return bot::BeastHttpClientOptions{.extra_ca_file = testdata("ca.pem")};
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

TEMPLATE_TEST_CASE("HttpClient keeps only the final response's headers", "[http-client]",
                   bot::CurlHttpClient, bot::BeastHttpClient) {
    TestServer server;
    ClientHarness<TestType> harness;
    auto response = harness.fetch(get(server.url("/interim")));
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
    std::vector<std::pair<Clock::time_point, std::string>> chunks;
    ClientRequest request = get(server.url("/stream"));
    request.on_body_chunk = [&chunks](std::string_view chunk) {
        chunks.emplace_back(Clock::now(), std::string(chunk));
    };
    auto response = harness.fetch(request);
    const auto finished = Clock::now();

    INFO(response.error);
    REQUIRE(response.ok());
    CHECK(response.body.empty());
    REQUIRE(chunks.size() >= 3);
    std::string joined;
    for (auto& [when, text] : chunks) joined += text;
    CHECK(joined == "onetwothree");
    // Three pauses of 150 ms: the first piece must not have waited for the end.
    CHECK(finished - chunks.front().first >= 250ms);
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
    ClientRequest collect = get(server.url("/huge"));
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
        auto response = harness.fetch(post(server.url("/echo"), "n" + std::to_string(i)));
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
    // 300 ms, so no request can have completed before shutdown() was called.
    TestServer server;
    net::io_context io;
    auto work = net::make_work_guard(io);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) threads.emplace_back([&io] { io.run(); });
    bot::Logger logger(bot::LogLevel::off);
    int answered = 0;
    int cancelled = 0;
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
    }
    work.reset();
    for (auto& thread : threads) thread.join();
    CHECK(answered == 0);
    CHECK(cancelled == kTries);
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
    TestServer server;
    ClientHarness<TestType> harness;
    auto first = harness.fetch(get(server.url("/close-after")));
    INFO(first.error);
    REQUIRE(first.ok());
    CHECK(first.body == "closing");
    std::this_thread::sleep_for(200ms);  // the server's FIN has long arrived

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

// ---- BeastHttpClient only ----

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
    auto response = harness.fetch(get(server.url("/echo", "localhost")));
    INFO(response.error);
    CHECK((response.failure == ClientResponse::Failure::transport ||
           response.failure == ClientResponse::Failure::connect));
    CHECK(response.status == 0);
    CHECK_FALSE(response.error.empty());
    CHECK(server.count("/echo") == 0);  // nothing went out over the unverified connection
}

TEST_CASE("BeastHttpClient rejects a certificate that does not name the host") {
    TestServer server(TestServer::Tls::on);
    BeastHarness harness(trusting_test_ca());
    // The certificate names DNS:localhost only.
    auto response = harness.fetch(get(server.url("/echo", "127.0.0.1")));
    INFO(response.error);
    CHECK((response.failure == ClientResponse::Failure::transport ||
           response.failure == ClientResponse::Failure::connect));
    CHECK(response.status == 0);
    CHECK_FALSE(response.error.empty());
    CHECK(server.count("/echo") == 0);  // nothing went out over the unverified connection

    // The same client and server by the certificate's name: the CA itself was accepted.
    auto named = harness.fetch(get(server.url("/echo", "localhost")));
    INFO(named.error);
    CHECK(named.ok());
}

TEST_CASE("BeastHttpClient hands a 2xx body over HTTPS chunk by chunk as it arrives") {
    TestServer server(TestServer::Tls::on);
    BeastHarness harness(trusting_test_ca());
    std::vector<std::pair<Clock::time_point, std::string>> chunks;
    ClientRequest request = get(server.url("/stream", "localhost"));
    request.on_body_chunk = [&chunks](std::string_view chunk) {
        chunks.emplace_back(Clock::now(), std::string(chunk));
    };
    auto response = harness.fetch(request);
    const auto finished = Clock::now();

    INFO(response.error);
    REQUIRE(response.ok());
    CHECK(response.body.empty());
    REQUIRE(chunks.size() >= 3);
    std::string joined;
    for (auto& [when, text] : chunks) joined += text;
    CHECK(joined == "onetwothree");
    CHECK(finished - chunks.front().first >= 250ms);
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
