// Beast's HTTP/1.1 request parser with our own storage, for the HTTP server: the request line
// and header fields go straight into a Request, body bytes straight into its body. Beast's
// request_parser kept every field in a list of its own (an allocation each) that the server
// then copied into the Request.
#pragma once

#include "bot/http/http_types.hpp"

#include <boost/beast/http/basic_parser.hpp>

namespace bot::http {

class RequestParser final : public boost::beast::http::basic_parser<true> {
public:
    using error_code = boost::system::error_code;
    using string_view = boost::beast::string_view;

    // Writes into `request`, which must outlive the parser.
    explicit RequestParser(Request& request) : request_(request) {}

    unsigned version() const { return version_; }  // 10 or 11
    // The client sent "Expect: 100-continue" and waits for an interim answer before the body.
    bool expects_continue() const { return expects_continue_; }
    // Host fields seen: HTTP/1.1 requires exactly one (RFC 9112 section 3.2).
    int host_fields() const { return host_fields_; }

private:
    void on_request_impl(boost::beast::http::verb, string_view method, string_view target,
                         int version, error_code& ec) override;
    void on_response_impl(int, string_view, int, error_code&) override {}
    void on_field_impl(boost::beast::http::field field, string_view name, string_view value,
                       error_code& ec) override;
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                           error_code& ec) override;
    std::size_t on_body_impl(string_view body, error_code& ec) override;
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
    void on_finish_impl(error_code&) override {}

    Request& request_;
    unsigned version_ = 11;
    bool expects_continue_ = false;
    int host_fields_ = 0;
};

}  // namespace bot::http
