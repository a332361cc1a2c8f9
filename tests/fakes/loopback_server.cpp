#include "fakes/loopback_server.hpp"

#include "base/log.hpp"
#include "bot/http/server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>
#include <thread>

namespace bot::testing {

namespace net = boost::asio;

struct LoopbackServer::Impl {
    explicit Impl(const std::function<void(http::Router&)>& mount) : log(LogLevel::off) {
        mount(router);
        http::ServerOptions options;
        options.port = 0;
        options.idle_timeout = std::chrono::seconds(600);
        options.max_connections = 100000;              // the benches hold tens of thousands open
        options.max_connections_per_address = 100000;  // all from 127.0.0.1
        server.emplace(io.get_executor(), router, log, options);
        server->start();
        thread = std::thread([this] { io.run(); });
    }
    ~Impl() {
        server->stop();
        work.reset();
        io.stop();
        thread.join();
    }

    net::io_context io{1};  // one thread: the server then needs no strands
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work{io.get_executor()};
    Logger log;
    http::Router router;
    std::optional<http::Server> server;
    std::thread thread;
};

LoopbackServer::LoopbackServer(const std::function<void(http::Router&)>& mount)
    : impl_(std::make_unique<Impl>(mount)) {}

LoopbackServer::~LoopbackServer() = default;

std::string LoopbackServer::base_url() const {
    return "http://127.0.0.1:" + std::to_string(impl_->server->port());
}

}  // namespace bot::testing
