// http::Server: the accept loop, and how requests are read off the wire (limits, framing,
// pipelining, interim answers), through raw sockets.
#include "base/log.hpp"
#include "bot/http/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>

#include <catch2/catch.hpp>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

struct Listening {
    net::io_context io{1};
    bot::Logger log{bot::LogLevel::off};
    bot::http::Router router;
    bot::http::Server server{io.get_executor(), router, log, [] {
                                 bot::http::ServerOptions options;
                                 options.port = 0;
                                 return options;
                             }()};
    net::io_context client_io;
    std::vector<tcp::socket> clients;

    Listening() { server.start(); }
    ~Listening() {
        server.stop();
        clients.clear();
        io.run_for(std::chrono::seconds(1));
    }

    // Blocking connects return once the kernel holds the connections in the listener's
    // backlog, before the server's loop has run at all.
    void connect(std::size_t count) {
        for (std::size_t i = 0; i < count; ++i) {
            clients.emplace_back(client_io);
            clients.back().connect(tcp::endpoint(net::ip::address_v4::loopback(), server.port()));
        }
    }
};

// Lowers this process's descriptor limit to the lowest free descriptor, so that no new one
// can be opened, until destroyed.
class NoFreeDescriptors {
public:
    NoFreeDescriptors() {
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
        const int lowest_free = ::open("/dev/null", O_RDONLY);
        REQUIRE(lowest_free >= 0);
        ::close(lowest_free);
        rlimit lowered = saved_;
        lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
    }
    ~NoFreeDescriptors() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
    NoFreeDescriptors(const NoFreeDescriptors&) = delete;
    NoFreeDescriptors& operator=(const NoFreeDescriptors&) = delete;

private:
    rlimit saved_{};
};

}  // namespace

TEST_CASE("The server admits every connection waiting in its backlog in one pass") {
    Listening listening;
    constexpr std::size_t kClients = 20;
    listening.connect(kClients);
    // One handler at a time until the first connection is admitted: that same handler must
    // have taken the others too. (Taking one per completion, each behind every other ready
    // handler, kept a burst of connections waiting for seconds under load.)
    for (int handlers = 0; listening.server.open_connections() == 0 && handlers < 100; ++handlers) {
        listening.io.run_one();
    }
    CHECK(listening.server.open_connections() == kClients);
}

TEST_CASE("Out of descriptors, the server pauses accepting instead of spinning, then resumes") {
    Listening listening;
    constexpr std::size_t kClients = 5;
    listening.connect(kClients);
    std::size_t handlers = 0;
    {
        NoFreeDescriptors exhausted;
        handlers = listening.io.run_for(300ms);
    }
    CHECK(listening.server.open_connections() == 0);
    // Retrying at once ran thousands of failed accepts (and warnings) in that time; pauses
    // of 10, 20, 40, ... ms run about ten.
    CHECK(handlers < 40);

    // The waiting connections are still in the backlog and are admitted after the pause.
    for (int waits = 0; listening.server.open_connections() < kClients && waits < 100; ++waits) {
        listening.io.run_for(20ms);
    }
    CHECK(listening.server.open_connections() == kClients);
}

namespace {

// 8 MiB that show where a piece went missing or came twice.
std::string big_body() {
    std::string body(8 << 20, '.');
    for (std::size_t i = 0; i < body.size(); i += 4096) body[i] = char('a' + i / 4096 % 26);
    return body;
}

// A server on its own thread with two routes: POST /echo answers with the method, the
// X-Test header and the body (its body limit is 64 bytes); GET /big answers big_body().
struct EchoServer {
    net::io_context io{1};
    bot::Logger log{bot::LogLevel::off};
    bot::http::Router router;
    std::optional<bot::http::Server> server;
    std::thread thread;

    EchoServer() {
        router.add(
            "POST", "/echo",
            [](bot::http::Request& request,
               bot::http::ResponseStream&) -> net::awaitable<bot::http::Response> {
                co_return bot::http::Response::text(
                    200, request.method + "|" + std::string(request.header("X-Test")) + "|" +
                             request.query + "|" + request.body);
            },
            bot::http::RouteOptions{.body_limit = 64});
        router.add("GET", "/big",
                   [](bot::http::Request&,
                      bot::http::ResponseStream&) -> net::awaitable<bot::http::Response> {
                       co_return bot::http::Response::text(200, big_body());
                   });
        bot::http::ServerOptions options;
        options.port = 0;
        options.header_limit = 1024;
        server.emplace(io.get_executor(), router, log, options);
        server->start();
        thread = std::thread([this] { io.run(); });
    }
    ~EchoServer() {
        server->stop();
        io.stop();
        thread.join();
    }

    // Writes the bytes in pieces of `piece` bytes, then reads until the server closes.
    std::string exchange(const std::string& bytes, std::size_t piece = std::string::npos) {
        net::io_context client_io;
        tcp::socket socket(client_io);
        socket.connect(tcp::endpoint(net::ip::address_v4::loopback(), server->port()));
        for (std::size_t at = 0; at < bytes.size(); at += piece) {
            net::write(socket, net::buffer(bytes.substr(at, piece)));
            if (piece != std::string::npos) std::this_thread::sleep_for(1ms);
        }
        std::string answer;
        boost::system::error_code ec;
        net::read(socket, net::dynamic_buffer(answer), ec);  // until the server closes
        return answer;
    }
};

std::string post(const std::string& body, const std::string& extra = "Connection: close\r\n") {
    return "POST /echo?q=1 HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t found = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++found;
    return found;
}

}  // namespace

TEST_CASE("The server reads a request's line, fields and body, however the bytes arrive") {
    EchoServer echo;
    const std::string request = post("hello");
    for (std::size_t piece : {std::string::npos, std::size_t{1}, std::size_t{7}}) {
        INFO(piece);
        const std::string answer = echo.exchange(request, piece);
        CHECK(answer.starts_with("HTTP/1.1 200"));
        CHECK(answer.ends_with("POST|yes|q=1|hello"));
    }
}

TEST_CASE("The server answers pipelined requests in order on one connection") {
    EchoServer echo;
    const std::string answer = echo.exchange(post("one", "") + post("two", "") + post("three"));
    CHECK(count(answer, "HTTP/1.1 200") == 3);
    const auto one = answer.find("|one");
    const auto two = answer.find("|two");
    const auto three = answer.find("|three");
    CHECK(one < two);
    CHECK(two < three);
    CHECK(three != std::string::npos);
}

TEST_CASE("The server reads a chunked request body and refuses one over the route's limit") {
    EchoServer echo;
    const std::string head =
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n";
    const std::string chunked = echo.exchange(head + "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n", 5);
    CHECK(chunked.starts_with("HTTP/1.1 200"));
    CHECK(chunked.ends_with("POST|||abcdefg"));

    const std::string big(40, 'b');
    const std::string over =
        echo.exchange(head + "28\r\n" + big + "\r\n28\r\n" + big + "\r\n0\r\n\r\n");
    CHECK(over.starts_with("HTTP/1.1 413"));
    CHECK(echo.exchange(post(std::string(65, 'x'))).starts_with("HTTP/1.1 413"));
    CHECK(echo.exchange(post(std::string(64, 'x'))).starts_with("HTTP/1.1 200"));
}

TEST_CASE("The server refuses oversized headers, malformed requests and cut-off bodies") {
    EchoServer echo;
    const std::string long_field = "X-Long: " + std::string(2000, 'l') + "\r\n";
    CHECK(echo.exchange(post("x", long_field)).starts_with("HTTP/1.1 431"));
    CHECK(echo.exchange("NOT A REQUEST\r\n\r\n").starts_with("HTTP/1.1 400"));
    // A body shorter than announced, then the client half-closes: no answer, no crash.
    net::io_context client_io;
    tcp::socket socket(client_io);
    socket.connect(tcp::endpoint(net::ip::address_v4::loopback(), echo.server->port()));
    const std::string cut = post("0123456789").substr(0, post("0123456789").size() - 4);
    net::write(socket, net::buffer(cut));
    socket.shutdown(tcp::socket::shutdown_send);
    std::string answer;
    boost::system::error_code ec;
    net::read(socket, net::dynamic_buffer(answer), ec);
    CHECK(answer.empty());
    // The server still serves others.
    CHECK(echo.exchange(post("after")).ends_with("|after"));
}

TEST_CASE("The server sends 100 Continue before reading a body the client holds back") {
    EchoServer echo;
    net::io_context client_io;
    tcp::socket socket(client_io);
    socket.connect(tcp::endpoint(net::ip::address_v4::loopback(), echo.server->port()));
    const std::string head =
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n"
        "Connection: close\r\n\r\n";
    net::write(socket, net::buffer(head));
    std::string interim;
    net::read_until(socket, net::dynamic_buffer(interim), "\r\n\r\n");
    CHECK(interim.starts_with("HTTP/1.1 100 Continue"));
    net::write(socket, net::buffer(std::string("body")));
    std::string answer;
    boost::system::error_code ec;
    net::read(socket, net::dynamic_buffer(answer), ec);
    CHECK((interim + answer).ends_with("POST|||body"));
}

TEST_CASE("The server writes a response larger than the socket takes at once, in full") {
    EchoServer echo;
    net::io_context client_io;
    tcp::socket socket(client_io);
    socket.connect(tcp::endpoint(net::ip::address_v4::loopback(), echo.server->port()));
    net::write(socket, net::buffer(std::string("GET /big HTTP/1.1\r\nHost: x\r\n"
                                               "Connection: close\r\n\r\n")));
    // Not reading for a while: the server's first write fills the socket and the rest waits.
    std::this_thread::sleep_for(200ms);
    std::string answer;
    boost::system::error_code ec;
    net::read(socket, net::dynamic_buffer(answer), ec);
    const auto body_start = answer.find("\r\n\r\n");
    REQUIRE(body_start != std::string::npos);
    CHECK(answer.starts_with("HTTP/1.1 200"));
    CHECK(answer.substr(body_start + 4) == big_body());
}
