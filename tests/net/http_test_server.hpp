// What the HttpClient tests (http_client_test.cpp, beast_http_client_test.cpp) share: a small
// HTTP/1.1 server living inside the test (raw Asio on 127.0.0.1, its own thread, plain or TLS)
// that records the requests it receives, with routes that misbehave on purpose (slow, hanging,
// streaming with pauses, big bodies, closing the connection; see respond() in
// http_test_server.cpp), and the helpers that run a client's requests against it.
#pragma once

#include "bot/net/beast_http_client.hpp"
#include "bot/net/curl_http_client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace bot::testing {

// The size of /big's body.
inline constexpr std::size_t kBigBodyBytes = 5 << 20;
// The body length /head announces.
inline constexpr std::size_t kHeadBodyBytes = 1234;
// The size of /huge's body: one byte over both clients' cap.
inline constexpr std::size_t kHugeBodyBytes = bot::CurlHttpClient::kMaxResponseBytes + 1;
static_assert(bot::BeastHttpClient::kMaxResponseBytes == bot::CurlHttpClient::kMaxResponseBytes);

// The path of a file in tests/net/testdata (the test CA, the server's certificate and key).
std::string testdata(std::string_view name);

// A request as the server parsed it.
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

class TestServer {
public:
    enum class Tls { off, on };

    explicit TestServer(Tls tls = Tls::off);
    ~TestServer();

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
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> serve_plain(boost::asio::ip::tcp::socket socket, int connection);
    boost::asio::awaitable<void> serve_tls(boost::asio::ip::tcp::socket socket, int connection);
    template <class Stream>
    boost::asio::awaitable<void> serve(Stream& stream, int connection);
    // Returns false to close the connection. index: the request's place on its connection.
    template <class Stream>
    boost::asio::awaitable<bool> respond(Stream& stream, const ServerRequest& request, int index);

    // Declared before io_: the coroutines still suspended when io_ is destroyed use them.
    std::unique_ptr<boost::asio::ssl::context> tls_;
    mutable std::mutex mutex_;
    std::vector<SeenRequest> seen_;
    std::atomic<int> accepted_{0};
    std::atomic<int> handshakes_{0};
    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;
};

// The client under test on an io_context run by `threads` threads, made for that many as in
// production (with one, make_io_strand hands out no strands).
template <class Client, int threads_ = 2>
struct ClientHarness {
    boost::asio::io_context io{threads_ == 1 ? 1 : BOOST_ASIO_CONCURRENCY_HINT_DEFAULT};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
        boost::asio::make_work_guard(io);
    bot::Logger logger{bot::LogLevel::off};
    Client client;
    std::vector<std::thread> threads;

    // options: what the client's constructor takes after (executor, logger).
    template <class... Options>
    explicit ClientHarness(Options&&... options)
        : client(io.get_executor(), logger, std::forward<Options>(options)...) {
        for (int i = 0; i < threads_; ++i) threads.emplace_back([this] { io.run(); });
    }
    ~ClientHarness() {
        client.shutdown();
        work.reset();
        for (auto& thread : threads) thread.join();
    }

    std::future<bot::ClientResponse> start(bot::ClientRequest request) {
        return boost::asio::co_spawn(io, client.request(std::move(request)),
                                     boost::asio::use_future);
    }
    bot::ClientResponse fetch(bot::ClientRequest request) {
        auto pending = start(std::move(request));
        REQUIRE(pending.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
        return pending.get();
    }
};

// A GET of url with a 10 s timeout.
bot::ClientRequest get(std::string url);
// The same as a POST carrying body.
bot::ClientRequest post(std::string url, std::string body);

// Fetches the server's /stream route at url and checks that its 2xx body reached the chunk
// callback piece by piece as the server sent it, none of it in the collected body.
template <class Harness>
void check_streamed_in_pieces(Harness& harness, const std::string& url) {
    using Clock = std::chrono::steady_clock;
    std::vector<std::pair<Clock::time_point, std::string>> chunks;
    bot::ClientRequest request = get(url);
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
    CHECK(finished - chunks.front().first >= std::chrono::milliseconds(250));
}

// Fetches the server's /stall-body route at url with a 300 ms timeout: the part of the body
// that came is streamed, then the request fails as timed out, soon after the deadline.
template <class Harness>
void check_body_stall_times_out(Harness& harness, const std::string& url) {
    std::string streamed;
    bot::ClientRequest request = get(url);
    request.timeout = std::chrono::milliseconds(300);
    request.on_body_chunk = [&streamed](std::string_view chunk) { streamed += chunk; };
    const auto started = std::chrono::steady_clock::now();
    auto response = harness.fetch(request);
    INFO(response.error);
    CHECK(response.failure == bot::ClientResponse::Failure::timeout);
    CHECK(streamed == "start");
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
}

// A request over a connection whose certificate failed verification: refused before any
// HTTP status, with a reason, and nothing reached the server's /echo route.
inline void check_refused_unverified(const bot::ClientResponse& response,
                                     const TestServer& server) {
    INFO(response.error);
    CHECK((response.failure == bot::ClientResponse::Failure::transport ||
           response.failure == bot::ClientResponse::Failure::connect));
    CHECK(response.status == 0);
    CHECK_FALSE(response.error.empty());
    CHECK(server.count("/echo") == 0);  // nothing went out over the unverified connection
}

}  // namespace bot::testing
