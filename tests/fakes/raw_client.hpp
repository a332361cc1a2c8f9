// A blocking raw HTTP client for tests (POSIX sockets, so each read has a deadline) that can
// connect from any 127.0.0.0/8 address, as different clients would.
#pragma once

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

namespace bot::testing {

// A connected socket from local_address (any 127.x.y.z) to the server; closed when destroyed.
class RawClient {
public:
    RawClient(unsigned short port, const char* local_address = "127.0.0.1") {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        REQUIRE(::inet_pton(AF_INET, local_address, &local.sin_addr) == 1);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
        sockaddr_in server{};
        server.sin_family = AF_INET;
        server.sin_port = htons(port);
        server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&server), sizeof server) == 0);
    }
    ~RawClient() { ::close(fd_); }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    // False when the server has closed the connection.
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const auto sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (sent <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(sent));
        }
        return true;
    }

    // Reads until what came contains marker (empty: until the server closes) or limit passes.
    std::string receive(std::string_view marker = {},
                        std::chrono::milliseconds limit = std::chrono::seconds(5)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (marker.empty() || received_.find(marker) == std::string::npos) {
            const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            timeval wait{.tv_sec = static_cast<time_t>(left.count() / 1000000),
                         .tv_usec = static_cast<suseconds_t>(left.count() % 1000000)};
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
            char buffer[4096];
            const auto got = ::recv(fd_, buffer, sizeof buffer, 0);
            if (got <= 0) {
                closed_ = got == 0 || errno == ECONNRESET;
                if (closed_) break;
                continue;  // the receive timeout; the loop checks the deadline
            }
            received_.append(buffer, static_cast<std::size_t>(got));
        }
        return std::exchange(received_, {});
    }

    bool closed() const { return closed_; }  // the last receive ended at the server's close

private:
    int fd_ = -1;
    std::string received_;
    bool closed_ = false;
};

}  // namespace bot::testing
