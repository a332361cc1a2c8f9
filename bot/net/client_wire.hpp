// Where an outbound request goes and the bytes that carry it (BeastHttpClient's pure parts).
#pragma once

#include "bot/net/http_client.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace bot {

// The scheme://host:port a request is sent to.
struct Origin {
    bool tls = false;
    std::string host;  // lower case, without brackets for IPv6
    std::string port;
    std::string authority;  // as written in the URL: the Host header
    std::string key;        // scheme://host:port, the pool's key
};

// The origin of an http:// or https:// URL (what follows it is not looked at); nullopt for
// other schemes, user info, a bad port or no host.
std::optional<Origin> parse_origin(std::string_view url);

// A URL's "scheme://authority" as written, which parse_origin reads: the key a client's cache
// of parsed origins is looked up by. Empty when the URL has no "://".
std::string_view origin_part(std::string_view url);

// What a URL asks its origin for: path and query, without the fragment. Empty or starting with
// '?' when the URL has no path (wire_request sends "/" then).
std::string_view url_target(std::string_view url);

// "localhost" and "*.localhost": loopback by definition (RFC 6761).
bool is_localhost(const Origin& origin);

// The request as it goes on the wire: request line, Host (unless given), the headers, Accept
// (unless given), Content-Length when there is a body or the method carries one, the body.
// nullopt when the method or a header holds a line break (request splitting).
std::optional<std::string> wire_request(const ClientRequest& request, const Origin& origin,
                                        std::string_view target);

}  // namespace bot
