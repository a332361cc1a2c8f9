// What the server's limit tests share: an http::Server on its own thread with routes the test
// mounts (and RawClient, to talk to it).
#pragma once

#include "base/log.hpp"
#include "bot/http/server.hpp"
#include "fakes/raw_client.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <optional>
#include <thread>

namespace bot::testing {

struct RunningServer {
    boost::asio::io_context io{1};
    bot::Logger log{bot::LogLevel::off};
    bot::http::Router router;
    std::optional<bot::http::Server> server;
    std::thread thread;

    // routes: mounts the test's routes; options: the server's, on port 0.
    RunningServer(const std::function<void(bot::http::Router&)>& routes,
                  bot::http::ServerOptions options) {
        routes(router);
        options.port = 0;
        server.emplace(io.get_executor(), router, log, std::move(options));
        server->start();
        thread = std::thread([this] { io.run(); });
    }
    ~RunningServer() {
        server->stop();
        io.stop();
        thread.join();
    }
    unsigned short port() const { return server->port(); }
};

}  // namespace bot::testing
