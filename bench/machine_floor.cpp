// What the machine itself charges for the traffic of one message, whatever the server: the kernel
// work of a loopback TCP send and receive of a request's size, with and without a peer thread
// that sleeps until the data comes (as the load generator and the fakes do). contactbot's I/O
// thread does three such exchanges per Telegram message (the webhook's answer, the LLM request,
// sendMessage). CPU time is the measuring thread's own, as the load benchmark counts the
// server's. See RESULTS.md, "What the machine charges".
#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <stdexcept>
#include <thread>

namespace {

constexpr std::size_t kRequestBytes = 400;  // a webhook update or a sendMessage, headers included

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {
        if (fd_ < 0) throw std::runtime_error("socket call failed");
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { ::close(fd_); }
    int get() const { return fd_; }

private:
    int fd_;
};

// A connected pair of TCP sockets on 127.0.0.1, Nagle off as contactbot's are.
struct LoopbackPair {
    Fd listener{::socket(AF_INET, SOCK_STREAM, 0)};
    Fd client{::socket(AF_INET, SOCK_STREAM, 0)};
    Fd server{accept_from(listener, client)};

    static int accept_from(const Fd& listener, const Fd& client) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        auto* any = reinterpret_cast<sockaddr*>(&address);
        if (::bind(listener.get(), any, sizeof address) != 0 || ::listen(listener.get(), 1) != 0 ||
            ::getsockname(listener.get(), any, &length) != 0 ||
            ::connect(client.get(), any, sizeof address) != 0)
            throw std::runtime_error("cannot connect over loopback");
        const int fd = ::accept(listener.get(), nullptr, nullptr);
        const int one = 1;
        for (int each : {fd, client.get()})
            ::setsockopt(each, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return fd;
    }
};

bool send_all(int fd, std::size_t bytes) {
    static thread_local std::array<char, kRequestBytes> data{};
    return ::send(fd, data.data(), bytes, MSG_NOSIGNAL) == static_cast<ssize_t>(bytes);
}

bool receive_exactly(int fd, std::size_t bytes) {
    static thread_local std::array<char, 4096> buffer{};
    for (std::size_t got = 0; got < bytes;) {
        const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (n <= 0) return false;
        got += static_cast<std::size_t>(n);
    }
    return true;
}

// Send and receive in one thread: nobody sleeps, so this is the TCP stack alone.
void loopback_send_recv(benchmark::State& state) {
    LoopbackPair pair;
    for (auto _ : state) {
        if (!send_all(pair.client.get(), kRequestBytes) ||
            !receive_exactly(pair.server.get(), kRequestBytes)) {
            state.SkipWithError("loopback transfer failed");
            break;
        }
    }
}
BENCHMARK(loopback_send_recv);

// A request to a peer thread blocked in recv, and its answer: the exchange as the server makes
// it, waking the peer and then being woken. Only this thread's side is counted.
void loopback_round_trip(benchmark::State& state) {
    LoopbackPair pair;
    std::thread echo([&pair] {
        while (receive_exactly(pair.server.get(), kRequestBytes) &&
               send_all(pair.server.get(), kRequestBytes)) {
        }
    });
    for (auto _ : state) {
        if (!send_all(pair.client.get(), kRequestBytes) ||
            !receive_exactly(pair.client.get(), kRequestBytes)) {
            state.SkipWithError("loopback round trip failed");
            break;
        }
    }
    ::shutdown(pair.client.get(), SHUT_WR);  // the echo thread reads the end and stops
    echo.join();
}
BENCHMARK(loopback_round_trip);

}  // namespace
