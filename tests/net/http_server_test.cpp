// http::Server's accept loop.
#include "bot/http/server.hpp"
#include "bot/log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

struct Listening {
    net::io_context io{1};
    bot::Logger log{bot::LogLevel::off};
    bot::http::Router router;
    bot::http::Server server{io.get_executor(), router, log, [] {
                                 bot::http::ServerOptions options;
                                 options.port = 0;
                                 return options;
                             }()};
    net::io_context client_io;
    std::vector<tcp::socket> clients;

    Listening() { server.start(); }
    ~Listening() {
        server.stop();
        clients.clear();
        io.run_for(std::chrono::seconds(1));
    }

    // Blocking connects return once the kernel holds the connections in the listener's
    // backlog, before the server's loop has run at all.
    void connect(std::size_t count) {
        for (std::size_t i = 0; i < count; ++i) {
            clients.emplace_back(client_io);
            clients.back().connect(tcp::endpoint(net::ip::address_v4::loopback(), server.port()));
        }
    }
};

// Lowers this process's descriptor limit to the lowest free descriptor, so that no new one
// can be opened, until destroyed.
class NoFreeDescriptors {
public:
    NoFreeDescriptors() {
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
        const int lowest_free = ::open("/dev/null", O_RDONLY);
        REQUIRE(lowest_free >= 0);
        ::close(lowest_free);
        rlimit lowered = saved_;
        lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
    }
    ~NoFreeDescriptors() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
    NoFreeDescriptors(const NoFreeDescriptors&) = delete;
    NoFreeDescriptors& operator=(const NoFreeDescriptors&) = delete;

private:
    rlimit saved_{};
};

}  // namespace

TEST_CASE("The server admits every connection waiting in its backlog in one pass") {
    Listening listening;
    constexpr std::size_t kClients = 20;
    listening.connect(kClients);
    // One handler at a time until the first connection is admitted: that same handler must
    // have taken the others too. (Taking one per completion, each behind every other ready
    // handler, kept a burst of connections waiting for seconds under load.)
    for (int handlers = 0; listening.server.open_connections() == 0 && handlers < 100; ++handlers) {
        listening.io.run_one();
    }
    CHECK(listening.server.open_connections() == kClients);
}

TEST_CASE("Out of descriptors, the server pauses accepting instead of spinning, then resumes") {
    Listening listening;
    constexpr std::size_t kClients = 5;
    listening.connect(kClients);
    std::size_t handlers = 0;
    {
        NoFreeDescriptors exhausted;
        handlers = listening.io.run_for(300ms);
    }
    CHECK(listening.server.open_connections() == 0);
    // Retrying at once ran thousands of failed accepts (and warnings) in that time; pauses
    // of 10, 20, 40, ... ms run about ten.
    CHECK(handlers < 40);

    // The waiting connections are still in the backlog and are admitted after the pause.
    for (int waits = 0; listening.server.open_connections() < kClients && waits < 100; ++waits) {
        listening.io.run_for(20ms);
    }
    CHECK(listening.server.open_connections() == kClients);
}
