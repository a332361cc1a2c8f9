#include "fakes/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <sys/socket.h>

namespace bot::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

struct WsClient::Impl {
    net::io_context io;
    websocket::stream<tcp::socket> ws{io};
};

WsClient::WsClient(unsigned short port, const std::string& path, const std::string& origin)
    : impl_(std::make_unique<Impl>()) {
    impl_->ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    impl_->ws.set_option(websocket::stream_base::decorator([origin](websocket::request_type& req) {
        if (!origin.empty()) req.set(beast::http::field::origin, origin);
    }));
    impl_->ws.handshake("127.0.0.1:" + std::to_string(port), path);
}

WsClient::~WsClient() {
    boost::system::error_code ignored;
    impl_->ws.next_layer().close(ignored);
}

void WsClient::send(const nlohmann::json& frame) {
    send_text(frame.dump());
}

void WsClient::send_text(const std::string& text) {
    impl_->ws.text(true);
    impl_->ws.write(net::buffer(text));
}

std::optional<nlohmann::json> WsClient::next(std::chrono::milliseconds timeout) {
    // An asynchronous read run for at most timeout: a blocking read with SO_RCVTIMEO would not
    // time out (Asio polls again on EAGAIN), and a missing frame would hang the test.
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    bool finished = false;
    impl_->ws.async_read(buffer, [&](boost::system::error_code error, std::size_t) {
        ec = error;
        finished = true;
    });
    impl_->io.restart();
    impl_->io.run_for(timeout);
    if (!finished) {
        boost::system::error_code ignored;
        impl_->ws.next_layer().close(ignored);  // the read completes, cancelled
        impl_->io.restart();
        impl_->io.run();
        return std::nullopt;
    }
    if (ec) return std::nullopt;
    return nlohmann::json::parse(beast::buffers_to_string(buffer.data()));
}

std::vector<nlohmann::json> WsClient::until(const std::string& type, const std::string& id) {
    std::vector<nlohmann::json> frames;
    while (auto frame = next()) {
        frames.push_back(*frame);
        if (frame->value("type", "") == type && (id.empty() || frame->value("id", "") == id)) {
            return frames;
        }
    }
    std::string seen;
    for (const auto& frame : frames) seen.append(" ").append(frame.dump().substr(0, 120));
    throw std::runtime_error("no \"" + type +
                             "\" frame before the connection ended or went "
                             "silent; frames:" +
                             seen);
}

void WsClient::close() {
    boost::system::error_code ignored;
    impl_->ws.close(websocket::close_code::normal, ignored);
}

int upgrade_status(unsigned short port, const std::string& path, const std::string& origin) {
    net::io_context io;
    websocket::stream<tcp::socket> ws{io};
    ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    ws.set_option(websocket::stream_base::decorator(
        [origin](websocket::request_type& req) { req.set(beast::http::field::origin, origin); }));
    websocket::response_type response;
    boost::system::error_code ec;
    ws.handshake(response, "127.0.0.1:" + std::to_string(port), path, ec);
    return response.result_int();
}

}  // namespace bot::testing
