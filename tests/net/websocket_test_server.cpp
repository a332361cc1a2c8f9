#include "websocket_test_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace bot::testing {

std::string testdata(std::string_view name);  // http_test_server.cpp

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using net::ip::tcp;

namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

}  // namespace

WebSocketTestServer::WebSocketTestServer(Tls tls)
    : acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}) {
    if (tls == Tls::on) {
        tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
        tls_->use_certificate_chain_file(testdata("server.pem"));
        tls_->use_private_key_file(testdata("server.key"), ssl::context::pem);
    }
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(io_, accept_loop(), net::detached);
    thread_ = std::thread([this] { io_.run(); });
}

WebSocketTestServer::~WebSocketTestServer() {
    io_.stop();
    thread_.join();
}

std::string WebSocketTestServer::last_header(std::string_view name) const {
    std::lock_guard lock(mutex_);
    for (const auto& [key, value] : last_headers_) {
        if (beast::iequals(key, name)) return value;
    }
    return {};
}

net::awaitable<void> WebSocketTestServer::accept_loop() {
    for (;;) {
        auto [error, socket] = co_await acceptor_.async_accept(use_tuple);
        if (error) co_return;
        ++accepted_;
        if (tls_) {
            net::co_spawn(io_,
                          serve(beast::ssl_stream<beast::tcp_stream>(std::move(socket), *tls_)),
                          net::detached);
        } else {
            net::co_spawn(io_, serve(beast::tcp_stream(std::move(socket))), net::detached);
        }
    }
}

template <class Stream>
net::awaitable<void> WebSocketTestServer::serve(Stream stream) {
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
        auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
        if (ec) co_return;
    }
    beast::flat_buffer buffer;
    beast::http::request<beast::http::string_body> upgrade;
    if (auto [ec, n] = co_await beast::http::async_read(stream, buffer, upgrade, use_tuple); ec)
        co_return;
    {
        std::lock_guard lock(mutex_);
        last_headers_.clear();
        for (const auto& field : upgrade)
            last_headers_.emplace_back(std::string(field.name_string()),
                                       std::string(field.value()));
    }
    const std::string path(upgrade.target());
    if (path == "/refuse") {
        beast::http::response<beast::http::string_body> refusal{beast::http::status::unauthorized,
                                                                11};
        refusal.body() = "no token";
        refusal.prepare_payload();
        co_await beast::http::async_write(stream, refusal, use_tuple);
        co_return;
    }
    websocket::stream<Stream> ws(std::move(stream));
    ws.read_message_max(64 << 20);
    if (auto [ec] = co_await ws.async_accept(upgrade, use_tuple); ec) co_return;
    ++upgrades_;
    buffer.clear();

    if (path == "/silent") {
        net::steady_timer forever(ws.get_executor(), std::chrono::hours(1));
        co_await forever.async_wait(use_tuple);
        co_return;
    }
    if (path == "/big") {
        std::string big(kWebSocketBigMessage, 'x');
        ws.binary(true);
        auto [ec, n] = co_await ws.async_write(net::buffer(big), use_tuple);
        ++(ec ? big_failed_ : big_finished_);
    }
    for (;;) {
        auto [ec, n] = co_await ws.async_read(buffer, use_tuple);
        if (ec) {
            if (ec == websocket::error::closed) {
                std::lock_guard lock(mutex_);
                closes_.emplace_back(ws.reason().code, std::string(ws.reason().reason.data(),
                                                                   ws.reason().reason.size()));
            }
            co_return;
        }
        auto text = beast::buffers_to_string(buffer.data());
        buffer.clear();
        if (path == "/drop") {
            beast::get_lowest_layer(ws).close();
            co_return;
        }
        if (text.starts_with("close:")) {
            const auto second = text.find(':', 6);
            websocket::close_reason reason(
                static_cast<std::uint16_t>(std::stoi(text.substr(6, second - 6))));
            reason.reason = text.substr(second + 1);
            co_await ws.async_close(reason, use_tuple);
            co_return;
        }
        ws.binary(ws.got_binary());
        if (auto [write_error, m] = co_await ws.async_write(net::buffer(text), use_tuple);
            write_error)
            co_return;
    }
}

}  // namespace bot::testing
