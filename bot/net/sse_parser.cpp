#include "bot/net/sse_parser.hpp"

#include <cstring>
#include <stdexcept>
#include <utility>

namespace bot {

namespace {
constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

constexpr auto npos = std::string_view::npos;

// The first LF at or after pos, or npos.
std::size_t next_lf(std::string_view text, std::size_t pos) {
    const auto* found =
        static_cast<const char*>(std::memchr(text.data() + pos, '\n', text.size() - pos));
    return found ? std::size_t(found - text.data()) : npos;
}

// Where the line starting at pos ends (LF, CR or CRLF), given the next LF. Servers send LF,
// which memchr finds a vector at a time; a CR is looked for only before it (find_first_of
// would call memchr on the set for every byte).
std::size_t line_end(std::string_view text, std::size_t pos, std::size_t lf) {
    const std::size_t limit = lf == npos ? text.size() : lf;
    const auto* cr = static_cast<const char*>(std::memchr(text.data() + pos, '\r', limit - pos));
    return cr ? std::size_t(cr - text.data()) : lf;
}

}  // namespace

SseParser::SseParser(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

std::vector<SseEvent> SseParser::feed(std::string_view chunk) {
    std::vector<SseEvent> events;
    feed(chunk, [&events](const SseEvent& event) { events.push_back(event); });
    return events;
}

void SseParser::feed(std::string_view chunk, const EventHandler& on_event) {
    if (chunk.empty()) return;
    std::size_t pos = 0;
    // Searched again only once passed, so text with CR line ends is not rescanned per line.
    std::size_t lf = next_lf(chunk, 0);
    while (pos < chunk.size()) {
        if (std::exchange(skip_leading_lf_, false) && chunk[pos] == '\n') {
            ++pos;
            continue;
        }
        if (lf != npos && lf < pos) lf = next_lf(chunk, pos);
        const auto end = line_end(chunk, pos, lf);
        const auto piece = chunk.substr(pos, end == npos ? end : end - pos);
        if (line_.size() + piece.size() + current_.data.size() > max_event_bytes_) {
            throw std::length_error("server-sent event larger than " +
                                    std::to_string(max_event_bytes_) + " bytes");
        }
        if (end == npos) {  // the line continues in the next chunk
            line_.append(piece);
            return;
        }
        skip_leading_lf_ = chunk[end] == '\r';
        pos = end + 1;
        if (line_.empty()) {  // the whole line is in this chunk: no copy
            take_line(piece, on_event);
        } else {
            line_.append(piece);
            take_line(line_, on_event);
            line_.clear();
        }
    }
}

void SseParser::take_line(std::string_view text, const EventHandler& on_event) {
    if (std::exchange(first_line_, false) && text.starts_with(kByteOrderMark)) {
        text.remove_prefix(kByteOrderMark.size());
    }
    if (text.empty()) {
        dispatch(on_event);
        return;
    }
    if (text.front() == ':') return;  // comment, typically a keep-alive

    const auto colon = text.find(':');
    const auto field = text.substr(0, colon);
    auto value = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);

    if (field == "data") {
        current_.data.append(value);
        current_.data.push_back('\n');
    } else if (field == "event") {
        current_.event.assign(value);
    } else if (field == "id") {
        if (value.find('\0') == std::string_view::npos) current_.id.assign(value);
    }
    // "retry" and unknown fields are ignored, as the standard asks.
}

void SseParser::dispatch(const EventHandler& on_event) {
    // An event without any data: line is not delivered (the standard's rule); its event name
    // does not leak into the next event.
    if (!current_.data.empty()) {
        current_.data.pop_back();  // the '\n' appended after the last data: line
        on_event(current_);
    }
    current_.event.clear();
    current_.data.clear();
}

std::string format_sse(std::string_view event, std::string_view data) {
    std::string out;
    out.reserve(event.size() + data.size() + 16);
    if (!event.empty()) {
        out += "event: ";
        for (char c : event) {
            if (c != '\r' && c != '\n') out.push_back(c);
        }
        out += '\n';
    }
    std::size_t pos = 0;
    while (true) {
        const auto end = data.find_first_of("\r\n", pos);
        out += "data: ";
        out.append(data.substr(pos, end == npos ? end : end - pos));
        out += '\n';
        if (end == npos) break;
        pos = end + 1;
        if (data[end] == '\r' && pos < data.size() && data[pos] == '\n') ++pos;
    }
    out += '\n';
    return out;
}

}  // namespace bot
