#include "bot/net/client_wire.hpp"

#include "bot/http/wire.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace bot {

namespace {
std::string lowered(std::string_view text) {
    std::string out(text);
    std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}
}  // namespace

std::string_view origin_part(std::string_view url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return {};
    const auto end =
        std::find_if(url.begin() + static_cast<std::ptrdiff_t>(scheme_end) + 3, url.end(),
                     [](char c) { return c == '/' || c == '?' || c == '#'; });
    return url.substr(0, static_cast<std::size_t>(end - url.begin()));
}

std::string_view url_target(std::string_view url) {
    url.remove_prefix(origin_part(url).size());
    return url.substr(0, url.find('#'));
}

std::optional<Origin> parse_origin(std::string_view url) {
    Origin origin;
    url = origin_part(url);
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return std::nullopt;
    const std::string scheme = lowered(url.substr(0, scheme_end));
    if (scheme != "http" && scheme != "https") return std::nullopt;
    origin.tls = scheme == "https";
    const auto authority = url.substr(scheme_end + 3);
    if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
    origin.authority = std::string(authority);
    std::string_view host = authority;
    std::string_view port;
    if (host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        if (close + 1 < host.size()) {
            if (host[close + 1] != ':') return std::nullopt;
            port = host.substr(close + 2);
        }
        host = host.substr(1, close - 1);
    } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
        port = host.substr(colon + 1);
        host = host.substr(0, colon);
    }
    if (host.empty()) return std::nullopt;
    if (!port.empty()) {
        unsigned number = 0;
        const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
        if (error != std::errc() || end != port.data() + port.size() || number == 0 ||
            number > 65535) {
            return std::nullopt;
        }
    }
    origin.host = lowered(host);
    origin.port = port.empty() ? (origin.tls ? "443" : "80") : std::string(port);
    origin.key =
        std::string(scheme).append("://").append(origin.host).append(":").append(origin.port);
    return origin;
}

bool is_localhost(const Origin& origin) {
    return origin.host == "localhost" || origin.host.ends_with(".localhost");
}

std::optional<std::string> wire_request(const ClientRequest& request, const Origin& origin,
                                        std::string_view target) {
    if (http::has_line_break(request.method) || request.method.find(' ') != std::string::npos) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(256 + request.body.size());
    out.append(request.method).append(target.starts_with('/') ? " " : " /");
    out.append(target).append(" HTTP/1.1\r\n");
    bool has_host = false;
    bool has_accept = false;
    bool has_length = false;
    for (const auto& header : request.headers) {
        if (http::has_line_break(header.name) || http::has_line_break(header.value)) {
            return std::nullopt;
        }
        has_host = has_host || http::iequals(header.name, "Host");
        has_accept = has_accept || http::iequals(header.name, "Accept");
        has_length = has_length || http::iequals(header.name, "Content-Length");
    }
    if (!has_host) http::append_header(out, "Host", origin.authority);
    for (const auto& header : request.headers) http::append_header(out, header.name, header.value);
    if (!has_accept) http::append_header(out, "Accept", "*/*");
    const bool bodiless = request.method == "GET" || request.method == "HEAD" ||
                          request.method == "DELETE" || request.method == "OPTIONS";
    if (!has_length && (!request.body.empty() || !bodiless)) {
        http::append_header(out, "Content-Length", std::to_string(request.body.size()));
    }
    out.append("\r\n").append(request.body);
    return out;
}

}  // namespace bot
