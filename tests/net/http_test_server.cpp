// The in-test HTTP/1.1 server (http_test_server.hpp): accepting plain or TLS connections,
// reading requests, and the routes' deliberately varied answers.
#include "http_test_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <sstream>

namespace bot::testing {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using net::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

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

template <class Stream>
net::awaitable<bool> send(Stream& stream, std::string text) {
    auto [error, unused] = co_await net::async_write(stream, net::buffer(text), use_tuple);
    co_return !error;
}

template <class Stream>
net::awaitable<void> pause(Stream& stream, std::chrono::milliseconds duration) {
    net::steady_timer timer(stream.get_executor(), duration);
    co_await timer.async_wait(use_tuple);
}

}  // namespace

std::string testdata(std::string_view name) {
    return std::string(NET_TESTDATA_DIR).append("/").append(name);
}

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

TestServer::TestServer(Tls tls) : acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}) {
    if (tls == Tls::on) {
        tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
        tls_->use_certificate_chain_file(testdata("server.pem"));
        tls_->use_private_key_file(testdata("server.key"), ssl::context::pem);
    }
    net::co_spawn(io_, accept_loop(), net::detached);
    thread_ = std::thread([this] { io_.run(); });
}

TestServer::~TestServer() {
    io_.stop();
    thread_.join();
}

net::awaitable<void> TestServer::accept_loop() {
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

net::awaitable<void> TestServer::serve_plain(tcp::socket socket, int connection) {
    co_await serve(socket, connection);
}

net::awaitable<void> TestServer::serve_tls(tcp::socket socket, int connection) {
    ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
    auto [error] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (error) co_return;
    ++handshakes_;
    co_await serve(stream, connection);
}

template <class Stream>
net::awaitable<void> TestServer::serve(Stream& stream, int connection) {
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
            auto [read_error, unused] =
                co_await net::async_read(stream, net::dynamic_buffer(buffer),
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
net::awaitable<bool> TestServer::respond(Stream& stream, const ServerRequest& request, int index) {
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
    if (request.path == "/interim-apart") {
        // The interim answer alone first: the client has to read again for the final one.
        if (!co_await send(stream, "HTTP/1.1 103 Early Hints\r\nX-Interim: 1\r\n\r\n")) {
            co_return false;
        }
        co_await pause(stream, 100ms);
        co_return co_await send(stream, response_text(201, "final", "X-Final: 1\r\n"));
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
    if (request.path == "/stall-body") {
        // The head and a first chunk of a streamed body, then nothing.
        if (!co_await send(stream,
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nstart\r\n")) {
            co_return false;
        }
        co_await pause(stream, 20s);
        co_return false;
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
    if (request.path == "/huge" || request.path == "/huge-chunked" ||
        request.path == "/huge-until-close") {
        // kHugeBodyBytes framed by a Content-Length, in chunks, or by closing the connection.
        const bool chunked = request.path == "/huge-chunked";
        const bool until_close = request.path == "/huge-until-close";
        const std::string head = chunked ? "Transfer-Encoding: chunked\r\n"
                                 : until_close
                                     ? "Connection: close\r\n"
                                     : "Content-Length: " + std::to_string(kHugeBodyBytes) + "\r\n";
        if (!co_await send(stream, "HTTP/1.1 200 OK\r\n" + head + "\r\n")) co_return false;
        const std::string piece(1 << 20, 'h');
        for (std::size_t sent = 0; sent < kHugeBodyBytes; sent += piece.size()) {
            const auto size = std::min(piece.size(), kHugeBodyBytes - sent);
            std::ostringstream framed;
            if (chunked) framed << std::hex << size << "\r\n";
            framed << std::string_view(piece).substr(0, size);
            if (chunked) framed << "\r\n";
            if (!co_await send(stream, framed.str())) co_return false;
        }
        if (chunked) co_return co_await send(stream, "0\r\n\r\n");
        co_return !until_close;
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

}  // namespace bot::testing
