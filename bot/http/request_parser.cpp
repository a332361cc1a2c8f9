#include "bot/http/request_parser.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>

namespace bot::http {

namespace bhttp = boost::beast::http;

void RequestParser::on_request_impl(bhttp::verb, string_view method, string_view target,
                                    int version, error_code&) {
    request_.method.assign(method.data(), method.size());
    request_.target.assign(target.data(), target.size());
    const auto query = request_.target.find('?');
    request_.path.assign(request_.target, 0, query);
    if (query != std::string::npos) request_.query.assign(request_.target, query + 1);
    version_ = static_cast<unsigned>(version);
    request_.headers.reserve(8);  // a handful of fields: one allocation instead of four
}

void RequestParser::on_field_impl(bhttp::field field, string_view name, string_view value,
                                  error_code&) {
    if (field == bhttp::field::expect && boost::beast::iequals(value, "100-continue")) {
        expects_continue_ = true;
    }
    if (field == bhttp::field::host) ++host_fields_;
    request_.headers.push_back({std::string(name), std::string(value)});
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      error_code&) {
    // What the client announces, up to a bound: the route's limit may not be checked yet.
    if (content_length) {
        request_.body.reserve(
            static_cast<std::size_t>(std::min<std::uint64_t>(*content_length, 1 << 20)));
    }
}

std::size_t RequestParser::on_body_impl(string_view body, error_code&) {
    request_.body.append(body.data(), body.size());
    return body.size();
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
    request_.body.append(body.data(), body.size());
    return body.size();
}

}  // namespace bot::http
