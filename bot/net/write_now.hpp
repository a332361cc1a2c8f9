// Writing a message on a plain TCP connection without suspending when the socket takes it at
// once, as it takes a small message on an idle connection: the stream's asynchronous write
// arms its timer, wraps the operation in its handlers and resumes the writer through the
// scheduler even when the write completed on the spot, and a coroutine around the attempt
// would cost a frame. Only what the socket did not take goes the asynchronous way, under the
// stream's expiry as before:
//
//     boost::system::error_code ec;
//     if (auto rest = write_now(stream, buffers, ec)) ec = co_await write_rest(stream, *rest);
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffer_traits.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <optional>
#include <type_traits>

namespace bot {

// Writes what the socket takes now, without waiting, and returns what is left: nothing when
// all of it went or the write failed (ec). A socket that takes nothing now is no error. Other
// streams (TLS) write nothing here and leave it all to write_rest.
template <class Stream, class Buffers>
std::optional<boost::beast::buffers_suffix<Buffers>> write_now(Stream& stream,
                                                               const Buffers& buffers,
                                                               boost::system::error_code& ec) {
    namespace net = boost::asio;
    boost::beast::buffers_suffix<Buffers> rest(buffers);
    if constexpr (std::is_same_v<Stream, boost::beast::tcp_stream>) {
        auto& socket = stream.socket();
        // Non-blocking for our own writes too: a full send buffer then says would_block.
        if (!socket.non_blocking()) socket.non_blocking(true, ec);
        const std::size_t written = ec ? 0 : socket.write_some(buffers, ec);
        if (ec == net::error::would_block || ec == net::error::try_again) ec = {};
        if (ec || written == boost::beast::buffer_bytes(buffers)) return std::nullopt;
        rest.consume(written);
    }
    return rest;
}

// What write_now left, through the stream's own write.
template <class Stream, class Buffers>
boost::asio::awaitable<boost::system::error_code> write_rest(
    Stream& stream, boost::beast::buffers_suffix<Buffers> rest) {
    namespace net = boost::asio;
    auto [error, sent] = co_await net::async_write(stream, rest, net::as_tuple(net::use_awaitable));
    co_return error;
}

}  // namespace bot
