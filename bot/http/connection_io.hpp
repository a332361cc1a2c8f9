// Internal to the HTTP server: reading a request off a connection, and the lingering close
// after an answer given before the body. Pulls in Beast; not for adapters.
#pragma once

#include "bot/http/request_parser.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <cstddef>
#include <string>

namespace bot::http::detail {

enum class ReadUntil { header, end };
inline constexpr std::size_t kMaxRead = 64 * 1024;  // bytes asked of the socket at once

// Feeds the parser what the buffer holds, then what the connection brings, until the header
// (or the whole request) is parsed. Reads with the stream's own read rather than Beast's
// composed http::async_read, whose layers of handlers cost more than the parse.
net::awaitable<boost::system::error_code> read_request(boost::beast::tcp_stream& stream,
                                                       boost::beast::flat_buffer& buffer,
                                                       RequestParser& parser, ReadUntil until);

// After an answer given without reading the body the client may still be sending it. Closing
// with unread bytes makes the kernel reset the connection, which can destroy the answer before
// the client reads it: read and discard a bounded amount first (a "lingering close").
net::awaitable<void> discard_unread(boost::beast::tcp_stream& stream);

// The peer's address, one spelling per address (IPv4 as such, not as ::ffff:a.b.c.d), so
// per-address counts do not split; "" when the peer is already gone.
std::string peer_address(const boost::asio::ip::tcp::socket& socket);

}  // namespace bot::http::detail
