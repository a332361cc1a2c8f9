// Internal to the HTTP server: runs an accepted websocket upgrade. Not for adapters (they see
// only bot::http::WebSocket); this header pulls in Beast.
#pragma once

#include "bot/http/router.hpp"

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace bot {
class Logger;
}

namespace bot::http::detail {

using UpgradeRequest = boost::beast::http::request<boost::beast::http::string_body>;

// Called with each live connection (to close them all at shutdown) and with nullptr-free
// unregistration when it ends.
struct WebSocketRegistry {
    std::function<std::uint64_t(std::weak_ptr<WebSocket>)> add;
    std::function<void(std::uint64_t)> remove;
};

struct WebSocketLimits {
    // Bytes of messages sent but not yet written (the one being written included). A client
    // that reads slower than it is sent to is closed with "try again later" at this bound.
    std::size_t queue_bytes = 1 << 20;
    // Each write, the closing handshake's too: a peer that stops reading is cut off.
    std::chrono::seconds write_timeout{30};
    // Every connection's queued bytes; shared, as a connection may outlive the server.
    std::shared_ptr<std::atomic<std::size_t>> queued_total;
};

// Completes the handshake, runs the route's handler, then closes the connection once every
// queued message is written. It may return before the socket is closed (a peer slow to answer
// the close): held (the server's limit slots) is kept until it is.
net::awaitable<void> run_websocket(boost::beast::tcp_stream stream, UpgradeRequest upgrade,
                                   Request request, const Route& route, Logger& log,
                                   const WebSocketRegistry& registry, const WebSocketLimits& limits,
                                   std::shared_ptr<void> held);

}  // namespace bot::http::detail
