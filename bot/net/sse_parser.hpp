// Server-Sent Events (text/event-stream): an incremental parser for the client side (LLM
// streaming) and a formatter for the server side. Follows the WHATWG event-stream rules.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bot {

struct SseEvent {
    std::string event;  // empty means the default type, "message"
    std::string data;   // data: lines joined with '\n'
    std::string id;     // last event id seen so far in the stream (it persists across events)
};

// Feed the body in whatever pieces the network delivers; events split across pieces, CR, LF
// and CRLF line endings (even a CRLF split between two pieces) are handled. Not thread-safe:
// one parser per stream.
class SseParser {
public:
    // The event is the parser's own: valid during the call only (its buffers are reused, so a
    // stream of events allocates nothing once they have grown).
    using EventHandler = std::function<void(const SseEvent&)>;

    // A peer that never ends a line or an event must not make us buffer without bound.
    static constexpr std::size_t kDefaultMaxEventBytes = std::size_t{8} << 20;
    explicit SseParser(std::size_t max_event_bytes = kDefaultMaxEventBytes);

    // Throws std::length_error when an event outgrows max_event_bytes.
    void feed(std::string_view chunk, const EventHandler& on_event);
    std::vector<SseEvent> feed(std::string_view chunk);

private:
    void take_line(std::string_view line, const EventHandler& on_event);
    void dispatch(const EventHandler& on_event);

    std::size_t max_event_bytes_;
    std::string line_;              // the unfinished line carried over from the previous chunk
    bool skip_leading_lf_ = false;  // the previous chunk ended in CR: an LF now completes CRLF
    bool first_line_ = true;        // a UTF-8 byte order mark may precede the first line
    SseEvent current_;              // its id is the last one seen: it persists across events
};

// One event in wire format. Multi-line data becomes several data: lines; line breaks in the
// event name are dropped so the name cannot inject fields.
std::string format_sse(std::string_view event, std::string_view data);

}  // namespace bot
