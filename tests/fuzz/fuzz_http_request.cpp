// The server's request parser (bot/http/request_parser.*) fed bytes as the server's read loop
// does: pieces of the connection's bytes until the header, then the route's body limit, then
// the body. Errors are error codes; nothing may throw.
#include "bot/http/request_parser.hpp"
#include "fuzz_support.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

namespace bhttp = boost::beast::http;

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;  // the server's default (bot/http/server.hpp)
constexpr std::size_t kBodyLimit = 64 * 1024;    // a route's limit

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Pieces pieces(data, size);
    bot::http::Request request;
    bot::http::RequestParser parser(request);
    parser.header_limit(static_cast<std::uint32_t>(kHeaderLimit));
    parser.body_limit(boost::none);
    parser.eager(false);
    std::string buffer;  // what the server's flat_buffer holds: unparsed bytes carry over
    bool limited = false;
    boost::system::error_code ec;
    while (!pieces.done()) {
        buffer.append(pieces.next());
        const std::size_t used = parser.put(boost::asio::buffer(buffer), ec);
        fuzz::require(used <= buffer.size(), "the parser used bytes it was not given");
        buffer.erase(0, used);
        if (ec == bhttp::error::need_more) {
            ec = {};
            continue;
        }
        if (ec) break;
        if (parser.is_header_done() && !limited) {
            // The route is known now: its limit applies to the body.
            limited = true;
            fuzz::require(!request.method.empty(), "a parsed request has a method");
            fuzz::require(request.path.size() <= request.target.size(), "path within target");
            parser.body_limit(kBodyLimit);
            parser.eager(true);
        }
        if (parser.is_done()) break;
    }
    if (!ec && !parser.is_done() && parser.got_some()) parser.put_eof(ec);  // the peer closed
    if (!ec && parser.is_done()) {
        fuzz::require(request.body.size() <= kBodyLimit, "a body over the route's limit");
        fuzz::require(parser.version() == 10 || parser.version() == 11, "HTTP/1.0 or 1.1");
    }
    return 0;
}
