// The server's websocket connections against clients that do not read: the send queue is
// bounded in bytes, writes time out, and what a closed connection held is given back. Also
// the per-address websocket limit, counted per client behind a trusted proxy.
#include "net/server_fixture.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <atomic>

namespace net = boost::asio;
namespace http = bot::http;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using bot::testing::RawClient;
using bot::testing::RunningServer;
using namespace std::chrono_literals;

namespace {

// A websocket client that reads nothing, with a receive buffer as small as the kernel allows,
// so the server's writes stall soon.
struct DeafClient {
    net::io_context io;
    websocket::stream<tcp::socket> ws{io};

    DeafClient(unsigned short port, const char* local = "127.0.0.1",
               const std::string& forwarded_for = {}) {
        auto& socket = ws.next_layer();
        socket.open(tcp::v4());
        socket.set_option(net::socket_base::receive_buffer_size(4096));
        socket.bind(tcp::endpoint(net::ip::make_address(local), 0));
        socket.connect(tcp::endpoint(net::ip::address_v4::loopback(), port));
        ws.set_option(
            websocket::stream_base::decorator([forwarded_for](websocket::request_type& req) {
                if (!forwarded_for.empty()) req.set("X-Forwarded-For", forwarded_for);
            }));
        ws.handshake("127.0.0.1", "/ws");
    }
};

template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    // The condition is asked once a round: asking again could undo what it saw (an upgrade
    // that succeeded holds the slot it then finds taken).
    bool met = false;
    while (!(met = condition()) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    return met;
}

constexpr std::size_t kReply = 16 << 10;

}  // namespace

TEST_CASE("A websocket client that sends but never reads is closed, its queue bounded") {
    http::ServerOptions options;
    options.websocket_queue_bytes = 64 << 10;
    options.read_timeout = 2s;
    RunningServer running(
        [](http::Router& router) {
            // Answers every message at length, as an error reply to a bad frame would be.
            router.add_websocket(
                "/ws", [](std::shared_ptr<http::WebSocket> socket) -> net::awaitable<void> {
                    while (co_await socket->read()) {
                        socket->send(std::string(kReply, 'r'));
                    }
                });
        },
        options);
    DeafClient client(running.port());
    std::size_t most_queued = 0;
    boost::system::error_code ec;
    const auto started = std::chrono::steady_clock::now();
    // 4000 answers of 16 KiB are 64 MiB: unbounded, the queue would hold most of it.
    for (int sent = 0; sent < 4000 && !ec; ++sent) {
        client.ws.write(net::buffer(std::string("x")), ec);
        most_queued = std::max(most_queued, running.server->queued_websocket_bytes());
        if (sent % 100 == 99) std::this_thread::sleep_for(1ms);
    }
    // Closed by the server: at the bound with "try again later", then, the client still not
    // reading the close frame, at the write timeout.
    while (!ec && std::chrono::steady_clock::now() - started < 15s) {
        client.ws.write(net::buffer(std::string("x")), ec);
        most_queued = std::max(most_queued, running.server->queued_websocket_bytes());
        std::this_thread::sleep_for(5ms);
    }
    CHECK(ec);
    CHECK(most_queued <= options.websocket_queue_bytes + kReply);
    CHECK(eventually([&] { return running.server->open_websockets() == 0; }));
    CHECK(running.server->queued_websocket_bytes() == 0);
}

TEST_CASE("A websocket write that does not complete in time closes the connection") {
    http::ServerOptions options;
    options.websocket_queue_bytes = 64 << 20;  // out of the way: the timeout must do it
    options.read_timeout = 1s;
    std::atomic<bool> ended{false};
    RunningServer running(
        [&](http::Router& router) {
            router.add_websocket(
                "/ws", [&](std::shared_ptr<http::WebSocket> socket) -> net::awaitable<void> {
                    for (int i = 0; i < 256; ++i) socket->send(std::string(32 << 10, 'r'));
                    while (co_await socket->read()) {
                    }
                    ended = true;
                });
        },
        options);
    DeafClient client(running.port());
    const auto started = std::chrono::steady_clock::now();
    // Before, only Beast's idle timeout (300 s of nothing received) would end it.
    CHECK(eventually([&] { return ended.load(); }, 8s));
    CHECK(std::chrono::steady_clock::now() - started < 6s);
    CHECK(eventually([&] { return running.server->open_websockets() == 0; }));
    CHECK(running.server->queued_websocket_bytes() == 0);
}

TEST_CASE("Websockets are limited per client address, behind a trusted proxy too") {
    http::ServerOptions options;
    options.max_websockets_per_address = 2;
    options.max_connections_per_address = 3;  // the websocket limit must refuse first
    options.trusted_proxies = {"127.0.0.9"};
    RunningServer running(
        [](http::Router& router) {
            router.add_websocket(
                "/ws", [](std::shared_ptr<http::WebSocket> socket) -> net::awaitable<void> {
                    while (co_await socket->read()) {
                    }
                });
        },
        options);
    auto upgrade_status = [&](const char* from, const std::string& forwarded_for) {
        RawClient client(running.port(), from);
        std::string request =
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
        if (!forwarded_for.empty()) request += "X-Forwarded-For: " + forwarded_for + "\r\n";
        client.send(request + "\r\n");
        const auto answer = client.receive("\r\n\r\n", 3s);
        return answer.substr(0, 12);
    };

    std::vector<std::unique_ptr<DeafClient>> open;
    open.push_back(std::make_unique<DeafClient>(running.port()));
    open.push_back(std::make_unique<DeafClient>(running.port()));
    CHECK(upgrade_status("127.0.0.1", "") == "HTTP/1.1 429");
    CHECK(upgrade_status("127.0.0.2", "") == "HTTP/1.1 101");

    // Through the proxy: counted per forwarded client, however many connections it opens.
    open.push_back(std::make_unique<DeafClient>(running.port(), "127.0.0.9", "203.0.113.5"));
    open.push_back(std::make_unique<DeafClient>(running.port(), "127.0.0.9", "203.0.113.5"));
    open.push_back(std::make_unique<DeafClient>(running.port(), "127.0.0.9", "198.51.100.7"));
    CHECK(upgrade_status("127.0.0.9", "203.0.113.5") == "HTTP/1.1 429");
    CHECK(upgrade_status("127.0.0.9", "198.51.100.7") == "HTTP/1.1 101");
    CHECK(eventually([&] { return running.server->open_websockets() == 5; }));

    open.erase(open.begin() + 2);  // given back when the connection ends
    CHECK(eventually([&] { return upgrade_status("127.0.0.9", "203.0.113.5") == "HTTP/1.1 101"; }));
}

// A handler may be done while its socket still waits for the client's close frame: until the
// socket is gone it keeps its place, or a client who never answers a close could open
// websockets without end.
TEST_CASE("A websocket keeps its slot until its socket is closed") {
    http::ServerOptions options;
    options.max_websockets_per_address = 1;
    RunningServer running(
        [](http::Router& router) {
            router.add_websocket("/ws",
                                 [](std::shared_ptr<http::WebSocket>) -> net::awaitable<void> {
                                     co_return;  // done at once: the server closes
                                 });
        },
        options);
    auto upgrade_status = [&] {
        RawClient client(running.port());
        client.send(
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        return client.receive("\r\n\r\n", 3s).substr(0, 12);
    };
    auto silent = std::make_unique<DeafClient>(running.port());  // never answers the close
    std::this_thread::sleep_for(300ms);
    CHECK(upgrade_status() == "HTTP/1.1 429");
    silent.reset();  // its socket closes: the slot is free again
    CHECK(eventually([&] { return upgrade_status() == "HTTP/1.1 101"; }));
}
