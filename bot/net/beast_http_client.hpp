// The default HttpClient: HTTP/1.1 (and HTTPS through OpenSSL) written on Beast, with a pool
// of keep-alive connections per origin.
//
// Why not libcurl (CurlHttpClient, still used when a proxy is configured): on the hot path of a
// message (the LLM call and the platform's send call) curl's per-request work, its connection
// bookkeeping (every connection to the host is walked for each new request) and its
// allocations were ~40 % of the server's CPU. Here a request on a pooled connection costs one
// header serialisation, the socket calls and the parse.
//
// Each connection has its own strand; a request runs on the strand of the connection it got
// and resumes the caller on the caller's executor. No threads of its own, except the one Asio
// uses for getaddrinfo when a host name (not an IP literal, not "localhost") has to be
// resolved; answers are cached for a minute.
#pragma once

#include "base/log.hpp"
#include "bot/net/http_client.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace bot {

struct BeastHttpClientOptions {
    // PEM file of certificate authorities trusted in addition to the system's (tests, private
    // CAs). The system's store honours SSL_CERT_FILE / SSL_CERT_DIR as OpenSSL does.
    std::string extra_ca_file;
    // Idle keep-alive connections kept, over all origins.
    std::size_t max_idle_connections = 1024;
    // An idle connection older than this is closed instead of reused (servers close theirs
    // after 60 s or more; reusing one they are closing costs a failed attempt).
    std::chrono::seconds idle_lifetime{50};
};

class BeastHttpClient final : public HttpClient {
public:
    // The executor's execution context must outlive the client's requests. Throws
    // std::runtime_error when extra_ca_file cannot be loaded.
    BeastHttpClient(net::any_io_executor executor, Logger& logger,
                    BeastHttpClientOptions options = {});
    // Same as shutdown().
    ~BeastHttpClient() override;

    BeastHttpClient(const BeastHttpClient&) = delete;
    BeastHttpClient& operator=(const BeastHttpClient&) = delete;

    // Safe to call from any thread, any number at once; completes on the caller's executor.
    // Redirects are not followed. A body is capped at kMaxResponseBytes (a larger one fails
    // with Failure::transport) unless it is a 2xx streaming through on_body_chunk, which runs
    // on the connection's strand. A request that fails on a reused keep-alive connection
    // before any byte of the answer arrived (the server closed it meanwhile) is sent once more
    // on a new connection. ClientRequest::pool is ignored: no cost here grows with the number
    // of connections.
    net::awaitable<ClientResponse> request(ClientRequest request) override;

    // Closes every connection: requests in flight complete with Failure::cancelled, later ones
    // fail at once with it (one still resolving a host name, once getaddrinfo returns). Safe
    // to call more than once and from any thread.
    void shutdown();
    // shutdown(), then waits (at most limit) until the requests in flight have completed, so
    // their completions are queued before the caller stops the io_context. Never call it from
    // a thread that runs that io_context.
    void shutdown_and_wait(std::chrono::milliseconds limit) override;

    static constexpr std::size_t kMaxResponseBytes = std::size_t{64} << 20;

    class Pools;  // connections, idle lists, resolver cache, TLS context: defined in the .cpp

private:
    std::shared_ptr<Pools> pools_;  // shared with requests in flight
};

}  // namespace bot
