// Outbound HTTP, as an interface so adapters and LLM backends can be tested against fakes.
// The production implementation is CurlHttpClient (libcurl multi driven by Asio).
#pragma once

#include "bot/http/http_types.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bot {
namespace net = boost::asio;

struct ClientRequest {
    std::string method = "GET";
    std::string url;
    std::vector<http::Header> headers;
    std::string body;
    std::chrono::milliseconds timeout{30000};  // whole transfer, connect included
    // When set, a 2xx response body is handed over chunk by chunk as it arrives instead of
    // being collected in ClientResponse::body. Called on the client's own strand: keep it short.
    std::function<void(std::string_view)> on_body_chunk;
    // Requests of one pool share connections; 0 is the common pool. Callers holding thousands
    // of long-lived requests to one host (long polls of many accounts) spread them over pools
    // by a stable key: a pool's cost per new request grows with the connections it holds.
    std::uint32_t pool = 0;
};

struct ClientResponse {
    enum class Failure { none, timeout, connect, transport, cancelled };
    Failure failure = Failure::none;
    std::string error;  // transport error text when failure != none
    int status = 0;     // HTTP status when failure == none
    std::vector<http::Header> headers;
    std::string body;

    bool ok() const { return failure == Failure::none && status >= 200 && status < 300; }
    std::string_view header(std::string_view name) const {
        return http::find_header(headers, name);
    }
};

class HttpClient {
public:
    virtual ~HttpClient() = default;
    virtual net::awaitable<ClientResponse> request(ClientRequest request) = 0;
};

}  // namespace bot
