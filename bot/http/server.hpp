// The HTTP server: Beast + coroutines, one strand per connection. It applies the same limits to
// every route (header/body size, header/read/idle timeouts) and shuts down gracefully: stop()
// closes the listener and idle keep-alive connections, while requests in progress finish.
#pragma once

#include "bot/http/router.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bot {
class Logger;
}

namespace bot::http {

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  // 0 = pick a free port (tests)
    std::size_t body_limit = 1 << 20;
    std::size_t header_limit = 16 * 1024;
    std::size_t max_connections = 10000;
    // Open connections from one address (a trusted proxy's are not counted: it speaks for
    // many clients).
    std::size_t max_connections_per_address = 128;
    std::size_t max_websockets_per_address = 64;  // per client address, behind a proxy too
    // Bytes of request bodies held at once over all connections; a body that would exceed it
    // is refused with 503 and Retry-After before it is read.
    std::size_t body_budget_bytes = 64 << 20;
    // A websocket's messages waiting to be written; over it the client is closed.
    std::size_t websocket_queue_bytes = 1 << 20;
    // Addresses and CIDR ranges of reverse proxies whose X-Forwarded-For / X-Real-IP /
    // X-Forwarded-Proto are believed (Request::remote and scheme).
    std::vector<std::string> trusted_proxies;
    // To receive a request's headers, from its first byte (a connection's first request: from
    // the connection).
    std::chrono::seconds header_timeout{10};
    // To receive its body, to write each response and each websocket message.
    std::chrono::seconds read_timeout{30};
    std::chrono::seconds idle_timeout{60};  // keep-alive connection with no request
};

class Server {
public:
    Server(net::any_io_executor executor, const Router& router, Logger& log, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and starts accepting. Throws std::runtime_error naming the address on failure.
    void start();
    std::uint16_t port() const;  // the bound port (after start)

    // Stops accepting and closes idle connections; busy ones close after their response.
    void stop();
    std::size_t open_connections() const;
    std::size_t open_websockets() const;
    std::size_t queued_websocket_bytes() const;  // sent to websockets, not yet written
    std::size_t reserved_body_bytes() const;     // of the body budget

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace bot::http
