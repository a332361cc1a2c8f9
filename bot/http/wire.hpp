// HTTP/1.1 message heads written straight into one string, sent with the body in one gather
// write. Beast's serializer walks a chain of buffer views per header field: under callgrind
// it cost more per message than everything else in writing a response or a request.
#pragma once

#include "bot/http/http_types.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bot::http {

// True when the text could end a header line early (request splitting).
bool has_line_break(std::string_view text);

// "Name: value\r\n". The caller has checked both for line breaks.
void append_header(std::string& out, std::string_view name, std::string_view value);

struct ResponseHead {
    int status = 200;
    unsigned version = 11;  // 10 or 11, as the request was
    bool keep_alive = true;
    std::string_view content_type;                 // "" for none
    const std::vector<Header>* headers = nullptr;  // override Server and Content-Type by name
    // Content-Length when set; else "Transfer-Encoding: chunked" (HTTP/1.1 only).
    std::optional<std::size_t> content_length;
};

// Status line, Server, Content-Type, the headers, framing, Connection, and the blank line.
// Headers whose name or value holds a line break are left out.
std::string response_head(const ResponseHead& head);

}  // namespace bot::http
