// Outbound HTTP, as an interface so adapters and LLM backends can be tested against fakes.
// Implementations: BeastHttpClient (the default) and CurlHttpClient (libcurl multi driven by
// Asio, used when a proxy is configured).
#pragma once

#include "base/log.hpp"
#include "bot/http/http_types.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bot {
namespace net = boost::asio;

// Both clients give up connecting (resolving, TCP and TLS) after this, whatever the request's
// own timeout allows.
inline constexpr std::chrono::milliseconds kMaxConnectTime{10'000};

struct ClientRequest {
    std::string method = "GET";
    std::string url;
    std::vector<http::Header> headers;
    std::string body;
    std::chrono::milliseconds timeout{30000};  // whole transfer, connect included
    // When set, a 2xx response body is handed over chunk by chunk as it arrives instead of
    // being collected in ClientResponse::body. Called on the client's own strand: keep it short.
    std::function<void(std::string_view)> on_body_chunk;
    // A stable key for callers holding thousands of long-lived requests to one host (long polls
    // of many accounts). CurlHttpClient spreads them over its multi handles by it (libcurl's
    // cost per new request grows with the connections a handle holds); BeastHttpClient has no
    // such cost and ignores it.
    std::uint32_t pool = 0;
};

struct ClientResponse {
    enum class Failure { none, timeout, connect, transport, cancelled };
    Failure failure = Failure::none;
    std::string error;  // transport error text when failure != none
    int status = 0;     // HTTP status when failure == none
    std::vector<http::Header> headers;
    std::string body;

    // A response that failed before any HTTP answer (failure != none).
    static ClientResponse failed(Failure failure, std::string error) {
        ClientResponse response;
        response.failure = failure;
        response.error = std::move(error);
        return response;
    }

    bool ok() const { return failure == Failure::none && status >= 200 && status < 300; }
    std::string_view header(std::string_view name) const {
        return http::find_header(headers, name);
    }
};

class HttpClient {
public:
    virtual ~HttpClient() = default;
    virtual net::awaitable<ClientResponse> request(ClientRequest request) = 0;
    // Cancels the requests in flight (they complete with Failure::cancelled) and refuses later
    // ones, then waits at most `limit` for the cancelled ones' completions to be queued. Never
    // called from a thread running the client's io_context.
    virtual void shutdown_and_wait(std::chrono::milliseconds /*limit*/) {}
};

// The production client: BeastHttpClient, or CurlHttpClient when the environment names a
// proxy (http_proxy, https_proxy/HTTPS_PROXY, all_proxy/ALL_PROXY, with no_proxy/NO_PROXY
// exceptions), which libcurl honours as operators expect and the built-in client does not.
std::unique_ptr<HttpClient> make_http_client(net::any_io_executor executor, Logger& logger);

}  // namespace bot
