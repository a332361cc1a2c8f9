#include "bot/http/wire.hpp"

#include <boost/beast/http/status.hpp>

#include <algorithm>

namespace bot::http {

namespace {

bool overridden(const std::vector<Header>* headers, std::string_view name) {
    return headers && std::ranges::any_of(*headers, [&](const Header& header) {
               return iequals(header.name, name);
           });
}

}  // namespace

bool has_line_break(std::string_view text) {
    // Two memchr passes: find_first_of calls memchr on "\r\n" once per character of text.
    return text.find('\n') != std::string_view::npos || text.find('\r') != std::string_view::npos;
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

std::string response_head(const ResponseHead& head) {
    namespace bhttp = boost::beast::http;
    std::string out;
    out.reserve(256);
    out.append(head.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ")
        .append(std::to_string(head.status))
        .append(" ")
        .append(bhttp::obsolete_reason(static_cast<bhttp::status>(head.status)))
        .append("\r\n");
    if (!overridden(head.headers, "Server")) append_header(out, "Server", "contactbot");
    if (!head.content_type.empty() && !overridden(head.headers, "Content-Type")) {
        append_header(out, "Content-Type", head.content_type);
    }
    if (head.headers) {
        for (const auto& header : *head.headers) {
            if (has_line_break(header.name) || has_line_break(header.value)) continue;
            append_header(out, header.name, header.value);
        }
    }
    if (head.content_length) {
        append_header(out, "Content-Length", std::to_string(*head.content_length));
    } else {
        append_header(out, "Transfer-Encoding", "chunked");
    }
    if (!head.keep_alive && head.version >= 11) append_header(out, "Connection", "close");
    if (head.keep_alive && head.version == 10) append_header(out, "Connection", "keep-alive");
    out.append("\r\n");
    return out;
}

}  // namespace bot::http
