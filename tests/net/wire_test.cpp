// Response heads as the server writes them (bot/http/wire), and how header names are matched.
#include "bot/http/wire.hpp"
#include "bot/http/http_types.hpp"

#include <catch2/catch.hpp>

using bot::http::Header;
using bot::http::response_head;

TEST_CASE("A response head has the status line, defaults, headers and framing") {
    const std::vector<Header> headers{{"Cache-Control", "no-store"}, {"X-Empty", ""}};
    CHECK(response_head({.status = 200,
                         .content_type = "application/json",
                         .headers = &headers,
                         .content_length = 2}) ==
          "HTTP/1.1 200 OK\r\nServer: contactbot\r\nContent-Type: application/json\r\n"
          "Cache-Control: no-store\r\nX-Empty: \r\nContent-Length: 2\r\n\r\n");
}

TEST_CASE("A chunked head, and Connection as the version needs it") {
    CHECK(response_head({.status = 404, .keep_alive = false, .content_length = std::nullopt}) ==
          "HTTP/1.1 404 Not Found\r\nServer: contactbot\r\nTransfer-Encoding: chunked\r\n"
          "Connection: close\r\n\r\n");
    CHECK(response_head({.status = 204, .version = 10, .content_length = 0}) ==
          "HTTP/1.0 204 No Content\r\nServer: contactbot\r\nContent-Length: 0\r\n"
          "Connection: keep-alive\r\n\r\n");
    CHECK(response_head({.status = 200, .version = 10, .keep_alive = false, .content_length = 0})
              .find("Connection") == std::string::npos);  // HTTP/1.0 closes by default
}

TEST_CASE("Handler headers override the defaults and cannot split the response") {
    const std::vector<Header> headers{{"content-type", "text/html"},
                                      {"Server", "x"},
                                      {"X-Bad", "a\r\nSet-Cookie: stolen=1"},
                                      {"X-Bad\n", "b"}};
    const auto head = response_head(
        {.status = 200, .content_type = "text/plain", .headers = &headers, .content_length = 0});
    CHECK(head ==
          "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nServer: x\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("Header names match case-insensitively in ASCII only") {
    using bot::http::find_header;
    using bot::http::iequals;
    CHECK(iequals("Content-Type", "content-TYPE"));
    CHECK_FALSE(iequals("X-A", "X-B"));
    CHECK_FALSE(iequals("X-Long", "X-Lon"));
    // Neighbours of the letters in ASCII are not letters, and bytes over 0x7F are not folded
    // whatever the C locale says (Latin-1 "Ä" and "ä").
    CHECK_FALSE(iequals("@[", "`{"));
    CHECK_FALSE(iequals("\xC4", "\xE4"));
    const std::vector<Header> headers{{"X-Telegram-Bot-Api-Secret-Token", "s"}, {"Host", "h"}};
    CHECK(find_header(headers, "x-telegram-bot-api-secret-token") == "s");
    CHECK(find_header(headers, "HOST") == "h");
    CHECK(find_header(headers, "Hos").empty());
}
