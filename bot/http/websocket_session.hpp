// Internal to the HTTP server: runs an accepted websocket upgrade. Not for adapters (they see
// only bot::http::WebSocket); this header pulls in Beast.
#pragma once

#include "bot/http/router.hpp"

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

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

// Completes the handshake, runs the route's handler, then closes the connection once every
// queued message is written.
net::awaitable<void> run_websocket(boost::beast::tcp_stream stream, UpgradeRequest upgrade,
                                   Request request, const Route& route, Logger& log,
                                   const WebSocketRegistry& registry);

}  // namespace bot::http::detail
