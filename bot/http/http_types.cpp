#include "bot/http/http_types.hpp"
#include "base/json_text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace bot::http {

// ASCII only, as HTTP's names and tokens are: std::tolower would follow the C locale, and it is
// a call per character on every header lookup.
bool iequals(std::string_view a, std::string_view b) {
    constexpr auto lower = [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
    };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [&](char x, char y) { return lower(x) == lower(y); });
}

namespace {
int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

std::string_view find_header(const std::vector<Header>& headers, std::string_view name) {
    for (const auto& h : headers) {
        if (iequals(h.name, name)) return h.value;
    }
    return {};
}

std::string html_escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
    for (auto pos = text.find(from); pos != std::string::npos;
         pos = text.find(from, pos + to.size())) {
        text.replace(pos, from.size(), to);
    }
}

Response Response::page(std::string html) {
    Response response{.status = 200,
                      .content_type = "text/html; charset=utf-8",
                      .body = std::move(html),
                      .headers = {}};
    response.headers.push_back({"Cache-Control", "no-cache"});
    response.headers.push_back({"X-Content-Type-Options", "nosniff"});
    response.headers.push_back({"Referrer-Policy", "no-referrer"});
    response.headers.push_back(
        {"Content-Security-Policy",
         "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
         "connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"});
    return response;
}

std::string percent_decode(std::string_view text, bool plus_as_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '%' && i + 2 < text.size()) {
            int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(plus_as_space && c == '+' ? ' ' : c);
    }
    return out;
}

std::string percent_encode(std::string_view text) {
    static constexpr char kDigits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
        if (unreserved) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kDigits[c >> 4]);
            out.push_back(kDigits[c & 0x0f]);
        }
    }
    return out;
}

std::optional<std::string> Request::query_param(std::string_view name, bool plus_as_space) const {
    std::string_view rest = query;
    while (!rest.empty()) {
        auto amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        auto eq = pair.find('=');
        std::string key = percent_decode(pair.substr(0, eq));
        if (key == name) {
            return eq == std::string_view::npos
                       ? std::string()
                       : percent_decode(pair.substr(eq + 1), plus_as_space);
        }
    }
    return std::nullopt;
}

Response Response::json(int status, const nlohmann::json& body) {
    return json_text(status, dump_json(body));
}

Response Response::json_text(int status, std::string body) {
    return Response{.status = status,
                    .content_type = "application/json",
                    .body = std::move(body),
                    .headers = {}};
}

Response Response::error(int status, std::string_view message) {
    return json(status, nlohmann::json{{"error", message}});
}

Response Response::text(int status, std::string body) {
    return Response{.status = status,
                    .content_type = "text/plain; charset=utf-8",
                    .body = std::move(body),
                    .headers = {}};
}

}  // namespace bot::http
