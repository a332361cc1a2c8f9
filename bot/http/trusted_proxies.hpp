// The reverse proxies (server.trusted_proxies) whose forwarding headers are believed, and the
// client address they report. Behind a proxy every connection comes from the proxy's address:
// per-address limits and logs need the client behind it. Headers from any other peer are
// ignored, so a client cannot choose the address it is counted under.
#pragma once

#include "bot/http/http_types.hpp"

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bot::http {

// "203.0.113.7" -> "203.0.113.7", "::ffff:10.0.0.1" -> "10.0.0.1", "::1" -> "::1": one spelling
// per address, so counts keyed by it do not split. nullopt when the text is no IP address.
std::optional<std::string> normalized_address(std::string_view text);

class TrustedProxies {
public:
    TrustedProxies() = default;
    // Each entry an IP address or a CIDR range ("10.0.0.0/8", "fd00::/8"). Throws
    // std::invalid_argument naming a bad entry (the config reader checks them first).
    explicit TrustedProxies(const std::vector<std::string>& entries);

    // Why entry is neither an address nor a CIDR range; nullopt when it is fine.
    static std::optional<std::string> problem(std::string_view entry);

    bool empty() const { return networks_.empty(); }
    bool trusts(std::string_view address) const;

    struct Client {
        std::string address;
        bool https = false;  // the proxy says the client used https (X-Forwarded-Proto)
    };
    // The client a trusted proxy forwarded for: the rightmost X-Forwarded-For address that is
    // not itself a trusted proxy (the ones left of it were written by the client), else
    // X-Real-IP, else the proxy itself.
    Client client(std::string_view proxy, const std::vector<Header>& headers) const;

private:
    using Bytes = std::array<unsigned char, 16>;  // IPv4 as IPv4-mapped IPv6
    struct Network {
        Bytes bytes;
        int prefix;  // leading bits that must match, 0..128
    };
    static std::optional<Network> parse_network(std::string_view entry);
    bool contains(const Bytes& address) const;

    std::vector<Network> networks_;
};

}  // namespace bot::http
