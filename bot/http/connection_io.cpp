#include "bot/http/connection_io.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>

#include <array>
#include <chrono>

namespace bot::http::detail {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

net::awaitable<boost::system::error_code> read_request(beast::tcp_stream& stream,
                                                       beast::flat_buffer& buffer,
                                                       RequestParser& parser, ReadUntil until) {
    parser.eager(until == ReadUntil::end);
    for (;;) {
        if (buffer.size() > 0) {
            boost::system::error_code ec;
            const std::size_t used = parser.put(buffer.data(), ec);
            buffer.consume(used);
            if (ec && ec != bhttp::error::need_more) co_return ec;
            const bool done =
                until == ReadUntil::header ? parser.is_header_done() : parser.is_done();
            if (done) co_return boost::system::error_code{};
            if (!ec && used > 0 && buffer.size() > 0) continue;  // more to parse
        }
        auto [ec, read] = co_await stream.async_read_some(
            buffer.prepare(beast::read_size(buffer, kMaxRead)), use_tuple);
        buffer.commit(read);
        if (ec == net::error::eof) {
            if (!parser.got_some()) co_return bhttp::error::end_of_stream;
            boost::system::error_code end;
            parser.put_eof(end);  // a request cut short: partial_message
            co_return end ? end : bhttp::error::partial_message;
        }
        if (ec) co_return ec;
    }
}

net::awaitable<void> discard_unread(beast::tcp_stream& stream) {
    constexpr std::size_t kMostDiscarded = 256 * 1024;
    constexpr std::chrono::seconds kMostWait{1};
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(kMostWait);
    std::array<char, 8 * 1024> sink;
    for (std::size_t discarded = 0; discarded < kMostDiscarded;) {
        auto [ec, read] = co_await stream.async_read_some(net::buffer(sink), use_tuple);
        if (ec) break;
        discarded += read;
    }
}

// A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d.
std::string peer_address(const tcp::socket& socket) {
    boost::system::error_code ec;
    auto address = socket.remote_endpoint(ec).address();
    if (ec) return {};
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
    }
    return address.to_string();
}

}  // namespace bot::http::detail
