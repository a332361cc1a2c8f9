#include "bot/net/response_parser.hpp"

#include <boost/beast/http/error.hpp>

#include <algorithm>

namespace bot {

namespace bhttp = boost::beast::http;

ResponseParser::ResponseParser(const ClientRequest& request, ClientResponse& response,
                               std::size_t body_cap)
    : request_(request), response_(response), body_cap_(body_cap) {}

void ResponseParser::on_response_impl(int code, string_view, int, error_code&) {
    // A parser reads one response; an interim (1xx) one before it left its fields behind.
    response_.status = code;
    response_.headers.clear();
    // Most answers carry a handful of fields: one allocation instead of growing 1, 2, 4, 8.
    response_.headers.reserve(8);
}

void ResponseParser::on_field_impl(bhttp::field, string_view name, string_view value, error_code&) {
    response_.headers.push_back({std::string(name), std::string(value)});
}

void ResponseParser::on_header_impl(error_code&) {
    streamed_ = request_.on_body_chunk && response_.status >= 200 && response_.status < 300;
}

void ResponseParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                       error_code& ec) {
    if (streamed_ || !content_length) return;
    if (*content_length > body_cap_) {
        refuse_too_large(ec);
        return;
    }
    // What the server announces, up to a limit: it need not be telling the truth.
    response_.body.reserve(
        static_cast<std::size_t>(std::min<std::uint64_t>(*content_length, 1 << 20)));
}

std::size_t ResponseParser::on_body_impl(string_view body, error_code& ec) {
    deliver(body, ec);
    return body.size();
}

void ResponseParser::on_chunk_header_impl(std::uint64_t, string_view, error_code&) {}

std::size_t ResponseParser::on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) {
    deliver(body, ec);
    return body.size();
}

void ResponseParser::on_finish_impl(error_code&) {}

void ResponseParser::deliver(string_view body, error_code& ec) {
    if (body.empty()) return;
    if (!streamed_) {
        if (response_.body.size() + body.size() > body_cap_) {
            refuse_too_large(ec);
            return;
        }
        response_.body.append(body.data(), body.size());
        return;
    }
    try {
        request_.on_body_chunk(std::string_view(body.data(), body.size()));
    } catch (const std::exception& error) {
        refuse(std::string("body callback failed: ") + error.what(), ec);
    } catch (...) {
        refuse("body callback failed", ec);
    }
}

void ResponseParser::refuse_too_large(error_code& ec) {
    refuse("response body larger than " + std::to_string(body_cap_) + " bytes", ec);
}

void ResponseParser::refuse(std::string problem, error_code& ec) {
    problem_ = std::move(problem);
    ec = bhttp::error::body_limit;  // stops the parse; problem() says why
}

}  // namespace bot
