// Plain HTTP request/response values shared by the server, the router and adapters.
// No Beast types here: adapters include this and must stay cheap to compile.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bot::http {
namespace net = boost::asio;

struct Header {
    std::string name;
    std::string value;
};

// ASCII case-insensitive equality (header names, host names).
bool iequals(std::string_view a, std::string_view b);

// Case-insensitive lookup; empty view when absent.
std::string_view find_header(const std::vector<Header>& headers, std::string_view name);

struct Request {
    std::string method;  // "GET", "POST", ...
    std::string target;  // path + query as received
    std::string path;    // percent-decoding is left to handlers
    std::string query;   // after '?', raw
    std::vector<Header> headers;
    std::string body;
    std::string remote;  // peer address, for logs and rate limits
    std::string scheme = "http";  // "https" when a trusted proxy says so (X-Forwarded-Proto)

    std::string_view header(std::string_view name) const { return find_header(headers, name); }
    // Percent-decoded; plus_as_space false keeps '+' (base64 values sent unescaped).
    std::optional<std::string> query_param(std::string_view name, bool plus_as_space = true) const;
};

struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<Header> headers;

    static Response json(int status, const nlohmann::json& body);
    // JSON already serialised (an acknowledgement's constant "{}").
    static Response json_text(int status, std::string body);
    static Response error(int status, std::string_view message);  // {"error": message}
    static Response text(int status, std::string body);
    // A self-contained HTML page (inline script and style, data: images, talks only to its own
    // origin), with headers that keep it out of frames, caches and other sites' referrers.
    static Response page(std::string html);
    // Close the connection without answering (the client is expected to retry elsewhere or
    // later; WeChat treats it like its own timeout).
    static Response drop() { return Response{.status = 0}; }
};

// Lets a handler stream its answer (server-sent events, chunked bodies). Once begin() has
// been called the Response the handler returns is ignored.
class ResponseStream {
public:
    virtual ~ResponseStream() = default;
    // false when the client has gone away; the handler should stop producing.
    virtual net::awaitable<bool> begin(int status, std::vector<Header> headers) = 0;
    virtual net::awaitable<bool> write(std::string_view chunk) = 0;
    virtual bool started() const = 0;
};

std::string percent_decode(std::string_view text, bool plus_as_space = true);
// & < > " ' as entities: text placed into HTML.
std::string html_escape(std::string_view text);
void replace_all(std::string& text, std::string_view from, std::string_view to);
// Every byte but the unreserved A-Z a-z 0-9 - _ . ~ as %XX (for query values).
std::string percent_encode(std::string_view text);

}  // namespace bot::http
