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
    std::chrono::seconds header_timeout{10};  // to receive a request's headers
    std::chrono::seconds read_timeout{30};    // to receive its body, and to write each response
    std::chrono::seconds idle_timeout{60};    // keep-alive connection with no request
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

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace bot::http
