// Beast's HTTP/1.1 response parser with our own storage, for BeastHttpClient: header fields go
// straight into ClientResponse::headers, body bytes straight into the body (collected, capped)
// or to the request's streaming callback. Beast's response_parser kept every field in a list
// of its own that we then copied, and wrote the body through a buffer_body window resized
// around every read.
#pragma once

#include "bot/net/http_client.hpp"

#include <boost/beast/http/basic_parser.hpp>

#include <string>

namespace bot {

class ResponseParser final : public boost::beast::http::basic_parser<false> {
public:
    using error_code = boost::system::error_code;
    using string_view = boost::beast::string_view;

    // Writes into `response`; for a request with on_body_chunk, a 2xx body is streamed to it.
    ResponseParser(const ClientRequest& request, ClientResponse& response, std::size_t body_cap);

    // Why the body was refused (too large, the callback threw); "" if it was not. The parse
    // then stops with an error.
    const std::string& problem() const { return problem_; }

private:
    void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                         error_code&) override {}
    void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
    void on_field_impl(boost::beast::http::field, string_view name, string_view value,
                       error_code& ec) override;
    void on_header_impl(error_code& ec) override;
    void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                           error_code& ec) override;
    std::size_t on_body_impl(string_view body, error_code& ec) override;
    void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
    std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
    void on_finish_impl(error_code& ec) override;

    void deliver(string_view body, error_code& ec);
    void refuse(std::string problem, error_code& ec);
    void refuse_too_large(error_code& ec);

    const ClientRequest& request_;
    ClientResponse& response_;
    const std::size_t body_cap_;
    bool streamed_ = false;
    std::string problem_;
};

}  // namespace bot
