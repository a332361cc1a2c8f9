// The HTTP client's response parser (bot/net/response_parser.*), as BeastHttpClient feeds it:
// pieces of the connection's bytes, eager, the body collected up to a cap or streamed to the
// request's callback. Here the stream goes on to what an LLM stream meets next: the SSE
// parser and the OpenAI chunk reader. The callback's errors become the parser's problem().
#include "bot/net/response_parser.hpp"
#include "bot/net/sse_parser.hpp"
#include "fuzz_support.hpp"
#include "llm/completion_fields.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

namespace bhttp = boost::beast::http;

namespace {

constexpr std::size_t kBodyCap = 64 * 1024;
constexpr std::uint32_t kHeaderLimit = 16 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const bool streamed = data[0] & 1;
    const bool head = data[0] & 2;
    fuzz::Pieces pieces(data + 1, size - 1);

    bot::SseParser sse(4096);
    bot::ClientRequest request;
    request.method = head ? "HEAD" : "POST";
    if (streamed) {
        request.on_body_chunk = [&sse](std::string_view chunk) {
            // length_error (an event over the cap) is the parser's declared error: the
            // ResponseParser turns it into problem().
            sse.feed(chunk, [](const bot::SseEvent& event) {
                (void)bot::llm::parse_stream_chunk(event.data);
            });
        };
    }
    bot::ClientResponse response;
    bot::ResponseParser parser(request, response, kBodyCap);
    parser.header_limit(kHeaderLimit);
    parser.body_limit(boost::none);
    parser.eager(true);
    if (head) parser.skip(true);

    std::string buffer;
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
        if (ec || parser.is_done()) break;
    }
    if (!ec && !parser.is_done() && parser.got_some()) parser.put_eof(ec);
    fuzz::require(response.body.size() <= kBodyCap, "a collected body over the cap");
    if (!parser.problem().empty()) {
        fuzz::require(ec == bhttp::error::body_limit, "a refused body stops the parse");
    }
    if (parser.is_header_done()) {
        fuzz::require(response.status >= 0 && response.status <= 999, "a three-digit status");
    }
    return 0;
}
