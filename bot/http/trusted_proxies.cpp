#include "bot/http/trusted_proxies.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace bot::http {

namespace ip = boost::asio::ip;

namespace {

// IPv4-mapped IPv6 addresses (a dual-stack listener's view of IPv4 peers) as plain IPv4.
std::optional<ip::address> parse_address(std::string_view text) {
    boost::system::error_code ec;
    auto address = ip::make_address(std::string(text), ec);
    if (ec) return std::nullopt;
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        return ip::make_address_v4(ip::v4_mapped, address.to_v6());
    }
    return address;
}

std::array<unsigned char, 16> to_bytes(const ip::address& address) {
    if (address.is_v4()) return ip::make_address_v6(ip::v4_mapped, address.to_v4()).to_bytes();
    return address.to_v6().to_bytes();
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// A hop as proxies write it, perhaps with a port: "203.0.113.7:4711", "[2001:db8::1]:4711".
std::string_view without_port(std::string_view hop) {
    if (hop.starts_with('[')) {
        const auto close = hop.find(']');
        return close == std::string_view::npos ? hop : hop.substr(1, close - 1);
    }
    if (std::ranges::count(hop, ':') == 1) return hop.substr(0, hop.find(':'));
    return hop;
}

}  // namespace

std::optional<std::string> normalized_address(std::string_view text) {
    if (auto address = parse_address(text)) return address->to_string();
    return std::nullopt;
}

std::optional<TrustedProxies::Network> TrustedProxies::parse_network(std::string_view entry) {
    const auto slash = entry.find('/');
    auto address = parse_address(entry.substr(0, slash));
    if (!address) return std::nullopt;
    const int bits = address->is_v4() ? 32 : 128;
    int prefix = bits;
    if (slash != std::string_view::npos) {
        const auto digits = entry.substr(slash + 1);
        const auto [end, ec] =
            std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() ||
            prefix < 0 || prefix > bits) {
            return std::nullopt;
        }
    }
    return Network{.bytes = to_bytes(*address), .prefix = prefix + (128 - bits)};
}

std::optional<std::string> TrustedProxies::problem(std::string_view entry) {
    if (parse_network(entry)) return std::nullopt;
    return "must be an IP address or a CIDR range such as 10.0.0.0/8 (got \"" + std::string(entry) +
           "\")";
}

TrustedProxies::TrustedProxies(const std::vector<std::string>& entries) {
    for (const auto& entry : entries) {
        auto network = parse_network(entry);
        if (!network) throw std::invalid_argument("trusted proxy " + *problem(entry));
        networks_.push_back(*network);
    }
}

bool TrustedProxies::contains(const Bytes& address) const {
    return std::ranges::any_of(networks_, [&](const Network& network) {
        const int whole = network.prefix / 8;
        if (!std::equal(address.begin(), address.begin() + whole, network.bytes.begin())) {
            return false;
        }
        const int rest = network.prefix % 8;
        if (rest == 0) return true;
        const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
        return (address[whole] & mask) == (network.bytes[whole] & mask);
    });
}

bool TrustedProxies::trusts(std::string_view address) const {
    if (networks_.empty()) return false;
    auto parsed = parse_address(address);
    return parsed && contains(to_bytes(*parsed));
}

TrustedProxies::Client TrustedProxies::client(std::string_view proxy,
                                              const std::vector<Header>& headers) const {
    Client client{.address = std::string(proxy)};
    // Hops from the right: each proxy appends the address it got the request from, so the
    // rightmost one not itself a trusted proxy is the client; anything left of it the client
    // may have made up. The hops of repeated fields read as one list, in order.
    bool forwarded = false;
    bool done = false;
    for (auto field = headers.rbegin(); field != headers.rend() && !done; ++field) {
        if (!iequals(field->name, "X-Forwarded-For")) continue;
        std::string_view hops = field->value;
        while (!done && !hops.empty()) {
            const auto comma = hops.rfind(',');
            const auto hop = trim(comma == std::string_view::npos ? hops : hops.substr(comma + 1));
            hops = comma == std::string_view::npos ? std::string_view{} : hops.substr(0, comma);
            if (hop.empty()) continue;
            auto address = parse_address(without_port(hop));
            if (!address) {
                done = true;  // garbage ("unknown", a typo): believe nothing left of it
                break;
            }
            client.address = address->to_string();
            forwarded = true;
            done = !contains(to_bytes(*address));
        }
    }
    // The nearest proxy's field: one that adds X-Real-IP or X-Forwarded-Proto to what the
    // client sent adds it last.
    auto last_field = [&](std::string_view name) {
        for (auto field = headers.rbegin(); field != headers.rend(); ++field) {
            if (iequals(field->name, name)) return std::string_view(field->value);
        }
        return std::string_view{};
    };
    if (!forwarded) {
        if (auto real = parse_address(without_port(trim(last_field("X-Real-IP"))))) {
            client.address = real->to_string();
        }
    }
    // The value the nearest proxy added (a chain of proxies may append one each).
    std::string_view proto = last_field("X-Forwarded-Proto");
    if (const auto comma = proto.rfind(','); comma != std::string_view::npos) {
        proto.remove_prefix(comma + 1);
    }
    client.https = iequals(trim(proto), "https");
    return client;
}

}  // namespace bot::http
