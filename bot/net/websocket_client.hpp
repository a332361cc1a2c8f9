// Outbound websockets for adapters whose platform pushes over a socket the bot dials (OneBot
// forward, DingTalk Stream, Feishu long connection, Slack Socket Mode, Discord gateway). Lent
// through AdapterDeps like HttpClient; Beast stays in the implementation.
#pragma once

#include "bot/http/http_types.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace bot {
namespace net = boost::asio;

class Logger;

struct WebSocketOptions {
    std::string url;                    // ws://host[:port]/path?query or wss://...
    std::vector<http::Header> headers;  // sent with the upgrade (Authorization, X-Self-ID...)
    std::chrono::milliseconds connect_timeout{10'000};  // resolve + TCP + TLS + upgrade
    std::size_t max_message_bytes = 1 << 20;  // a larger incoming message closes with 1009
    // Pings at this interval; a peer that sends nothing (no pong, no frame) for two intervals is
    // dead and the connection ends. 0 = no pings (the platform's own heartbeat watches it).
    std::chrono::milliseconds ping_interval{30'000};
    std::size_t max_queue_bytes = 4 << 20;  // send() beyond this closes the connection (1008)
    std::chrono::milliseconds write_timeout{30'000};
};

struct WebSocketMessage {
    std::string data;
    bool binary = false;
};

// connect() failed: the peer refused the upgrade (status > 0, e.g. 401), or could not be
// reached (status 0). what() says which, without secrets.
class WebSocketConnectError : public std::runtime_error {
public:
    WebSocketConnectError(const std::string& what, int status)
        : std::runtime_error(what), status_(status) {}
    int status() const { return status_; }

private:
    int status_;
};

// One open connection. Shared, so a sender can outlive the reader.
class WebSocketConnection {
public:
    virtual ~WebSocketConnection() = default;
    // The next message; nullopt once closed (by either side, an error, a size limit, a dead
    // peer). One reader at a time.
    virtual net::awaitable<std::optional<WebSocketMessage>> read() = 0;
    // Queues a message; thread-safe, never blocks, sent in order. false when closed.
    virtual bool send(std::string data, bool binary = false) = 0;
    // Starts a clean close (close frame with code and reason); thread-safe. read() then ends.
    virtual void close(int code = 1000, std::string reason = {}) = 0;
    virtual bool is_open() const = 0;
    // After read() returned nullopt: the peer's close code (1006 when it vanished without a
    // close frame) and a short reason for the log.
    virtual int close_code() const = 0;
    virtual std::string close_reason() const = 0;
};

class WebSocketClient {
public:
    virtual ~WebSocketClient() = default;
    // Opens a connection; throws WebSocketConnectError. TLS is verified as HttpClient verifies.
    virtual net::awaitable<std::shared_ptr<WebSocketConnection>> connect(
        WebSocketOptions options) = 0;
    // Closes every open connection and refuses new ones (server shutdown).
    virtual void shutdown() = 0;
};

struct WebSocketClientOptions {
    // PEM file of CAs trusted in addition to the system's (tests, private CAs), as
    // BeastHttpClientOptions::extra_ca_file. Throws std::runtime_error when it cannot be loaded.
    std::string extra_ca_file;
};

// Each connection runs on its own strand of the executor; the client has no threads.
std::unique_ptr<WebSocketClient> make_websocket_client(net::any_io_executor executor,
                                                       Logger& logger,
                                                       WebSocketClientOptions options = {});

}  // namespace bot
