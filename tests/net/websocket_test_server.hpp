// The in-test websocket server for the websocket client's tests (websocket_client_test.cpp):
// Beast on 127.0.0.1, its own thread, plain or TLS (tests/net/testdata), recording what it saw,
// with routes that misbehave on purpose:
//   /echo     echoes each message (text as text, binary as binary); the text "close:<code>:<why>"
//             makes it close with that code and reason
//   /refuse   answers the upgrade with 401
//   /drop     after the first message, closes the socket without a close frame
//   /silent   accepts, then never reads again (pings go unanswered)
//   /big      sends one 10 MB binary message
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace bot::testing {

inline constexpr std::size_t kWebSocketBigMessage = 10 << 20;

class WebSocketTestServer {
public:
    enum class Tls { off, on };

    explicit WebSocketTestServer(Tls tls = Tls::off);
    ~WebSocketTestServer();
    WebSocketTestServer(const WebSocketTestServer&) = delete;
    WebSocketTestServer& operator=(const WebSocketTestServer&) = delete;

    unsigned short port() const { return port_; }
    std::string url(std::string_view path, std::string_view host = "127.0.0.1") const {
        return std::string(tls_ ? "wss://" : "ws://") + std::string(host) + ":" +
               std::to_string(port_) + std::string(path);
    }

    int connections() const { return accepted_.load(); }
    int upgrades() const { return upgrades_.load(); }
    // A header of the last upgrade request ("" when absent).
    std::string last_header(std::string_view name) const;
    // The close frames the server received from clients: (code, reason).
    std::vector<std::pair<int, std::string>> closes_received() const {
        std::lock_guard lock(mutex_);
        return closes_;
    }
    // /big: whether the 10 MB write finished (false: the client cut it off), once it ended.
    int big_writes_finished() const { return big_finished_.load(); }
    int big_writes_failed() const { return big_failed_.load(); }

private:
    boost::asio::awaitable<void> accept_loop();
    template <class Stream>
    boost::asio::awaitable<void> serve(Stream stream);

    std::unique_ptr<boost::asio::ssl::context> tls_;
    mutable std::mutex mutex_;
    std::vector<std::pair<std::string, std::string>> last_headers_;
    std::vector<std::pair<int, std::string>> closes_;
    std::atomic<int> accepted_{0};
    std::atomic<int> upgrades_{0};
    std::atomic<int> big_finished_{0};
    std::atomic<int> big_failed_{0};
    boost::asio::io_context io_{1};
    boost::asio::ip::tcp::acceptor acceptor_;
    unsigned short port_ = 0;
    std::thread thread_;
};

}  // namespace bot::testing
