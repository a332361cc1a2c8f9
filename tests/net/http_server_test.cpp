// http::Server's accept loop.
#include "bot/http/server.hpp"
#include "bot/log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <catch2/catch.hpp>

#include <vector>

namespace net = boost::asio;
using tcp = net::ip::tcp;

TEST_CASE("The server admits every connection waiting in its backlog in one pass") {
    net::io_context io{1};
    bot::Logger log(bot::LogLevel::off);
    bot::http::Router router;
    bot::http::ServerOptions options;
    options.port = 0;
    bot::http::Server server(io.get_executor(), router, log, options);
    server.start();

    // Blocking connects return once the kernel holds the connections in the listener's
    // backlog, before the server's loop has run at all.
    constexpr std::size_t kClients = 20;
    net::io_context client_io;
    std::vector<tcp::socket> clients;
    for (std::size_t i = 0; i < kClients; ++i) {
        clients.emplace_back(client_io);
        clients.back().connect(tcp::endpoint(net::ip::address_v4::loopback(), server.port()));
    }
    // One handler at a time until the first connection is admitted: that same handler must
    // have taken the others too. (Taking one per completion, each behind every other ready
    // handler, kept a burst of connections waiting for seconds under load.)
    for (int handlers = 0; server.open_connections() == 0 && handlers < 100; ++handlers) {
        io.run_one();
    }
    CHECK(server.open_connections() == kClients);

    server.stop();
    clients.clear();
    io.run_for(std::chrono::seconds(1));
}
