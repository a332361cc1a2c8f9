// The HttpClient used when a proxy is configured (make_http_client; BeastHttpClient otherwise):
// libcurl multi handles driven by Asio (the asiohiper pattern).
// curl never blocks a thread and never gets threads of its own for transfers: Asio waits on
// the sockets curl opens, and every curl call runs on one strand of the given executor, so a
// thousand requests in flight cost a thousand easy handles, not a thousand threads.
//
// Connections are kept in the multi handle's cache and reused by later requests to the same
// host. ClientRequest::pool picks one of kPools multi handles (each on its own strand):
// libcurl 7.88 walks every connection of a multi handle to the host for each new request, and
// every cached connection when the cache is over its limit, which made 10,000 open long polls
// cost ~1.5 ms of CPU per poll on one handle. Name resolution uses libcurl's resolver: with the
// threaded resolver of Debian's libcurl a lookup of a host name (not of an IP literal or
// "localhost") runs on a short-lived helper thread, and the answer is cached for a minute.
#pragma once

#include <chrono>

#include "base/log.hpp"
#include "bot/net/http_client.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <vector>

namespace bot {

class CurlHttpClient final : public HttpClient {
public:
    // The executor's execution context must outlive the client. curl_global_init runs once
    // per process, on the first construction.
    CurlHttpClient(net::any_io_executor executor, Logger& logger);
    // Same as shutdown(): requests still in flight complete with Failure::cancelled.
    ~CurlHttpClient() override;

    CurlHttpClient(const CurlHttpClient&) = delete;
    CurlHttpClient& operator=(const CurlHttpClient&) = delete;

    // Safe to call from any thread, any number at once. Completes on the caller's executor.
    // Redirects are not followed; the body is capped at kMaxResponseBytes (a larger one
    // fails with Failure::transport) unless it streams through on_body_chunk.
    net::awaitable<ClientResponse> request(ClientRequest request) override;

    // Aborts every transfer in flight (they complete with Failure::cancelled), closes the
    // cached connections and releases the multi handle. Later requests fail with
    // Failure::cancelled at once. Asynchronous: the work runs on the client's strand. Safe to
    // call more than once and from any thread.
    void shutdown();
    // shutdown(), then waits (at most limit) until it has run, so the cancelled requests'
    // completions are queued before the caller stops the io_context. Never call it from a
    // thread that runs that io_context.
    void shutdown_and_wait(std::chrono::milliseconds limit) override;

    static constexpr std::size_t kMaxResponseBytes = std::size_t{64} << 20;
    static constexpr std::size_t kPools = 32;

    class Engine;  // the strand-confined state; defined in the .cpp

private:
    // Shared with the handlers of pending socket waits and timers, so whatever is still
    // queued on the io_context after the client is gone finds the engine alive. One per pool.
    std::vector<std::shared_ptr<Engine>> engines_;
};

}  // namespace bot
