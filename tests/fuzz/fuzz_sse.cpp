// The SSE parser (bot/net/sse_parser.*) over a stream in pieces, each event read by the OpenAI
// stream reader as OpenAiBackend does. std::length_error (an event over the cap) is the
// parser's declared error; anything else escaping is a finding.
#include "bot/net/sse_parser.hpp"
#include "fuzz_support.hpp"
#include "llm/completion_fields.hpp"

#include <stdexcept>

namespace {

constexpr std::size_t kMaxEvent = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Pieces pieces(data, size);
    bot::SseParser parser(kMaxEvent);
    const auto on_event = [](const bot::SseEvent& event) {
        fuzz::require(event.data.size() <= kMaxEvent, "an event over the cap was delivered");
        fuzz::require(event.event.find_first_of("\r\n") == std::string::npos,
                      "a line break inside an event name");
        (void)bot::llm::parse_stream_chunk(event.data);
    };
    try {
        while (!pieces.done()) parser.feed(pieces.next(), on_event);
    } catch (const std::length_error&) {
    }

    // What the server writes reads back as what was written (one data line per line).
    if (size > 0) {
        const auto text = fuzz::as_text(data, size);
        if (text.find('\r') == std::string_view::npos) {
            bot::SseParser reader;
            auto events = reader.feed(bot::format_sse("x", text));
            fuzz::require(events.size() == 1 && events[0].data == text,
                          "format_sse does not read back");
        }
    }
    return 0;
}
