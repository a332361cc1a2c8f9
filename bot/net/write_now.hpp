// Writing a message on a plain TCP connection without suspending when the socket takes it at
// once, as it takes a small message on an idle connection: the stream's asynchronous write
// arms its timer, wraps the operation in its handlers and resumes the writer through the
// scheduler even when the write completed on the spot. Only what the socket did not take goes
// that way, under the stream's expiry as before.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <type_traits>

namespace bot {

// Other streams (TLS) write as they always did.
template <class Stream, class Buffers>
boost::asio::awaitable<boost::system::error_code> write_now_or_wait(Stream& stream,
                                                                    const Buffers& buffers) {
    namespace net = boost::asio;
    constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
    if constexpr (std::is_same_v<Stream, boost::beast::tcp_stream>) {
        auto& socket = stream.socket();
        boost::system::error_code ec;
        // Non-blocking for our own writes too: a full send buffer then says would_block.
        if (!socket.non_blocking()) socket.non_blocking(true, ec);
        const std::size_t written = ec ? 0 : socket.write_some(buffers, ec);
        if (ec && ec != net::error::would_block && ec != net::error::try_again) co_return ec;
        boost::beast::buffers_suffix<Buffers> rest(buffers);
        rest.consume(written);
        if (boost::beast::buffer_bytes(rest) == 0) co_return boost::system::error_code{};
        auto [error, sent] = co_await net::async_write(stream, rest, use_tuple);
        co_return error;
    } else {
        auto [error, sent] = co_await net::async_write(stream, buffers, use_tuple);
        co_return error;
    }
}

}  // namespace bot
