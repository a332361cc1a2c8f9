// URL parsing and request bytes of the built-in HTTP client (bot/net/client_wire).
#include "bot/net/client_wire.hpp"

#include <catch2/catch.hpp>

using bot::origin_part;
using bot::parse_origin;
using bot::url_target;

TEST_CASE("URLs give the origin, the pool key and the target") {
    auto plain = parse_origin("http://127.0.0.1:8080/v1/chat?x=1#frag");
    REQUIRE(plain);
    CHECK_FALSE(plain->tls);
    CHECK(plain->host == "127.0.0.1");
    CHECK(plain->port == "8080");
    CHECK(plain->authority == "127.0.0.1:8080");
    CHECK(plain->key == "http://127.0.0.1:8080");
    CHECK(origin_part("http://127.0.0.1:8080/v1/chat?x=1#frag") == "http://127.0.0.1:8080");
    CHECK(url_target("http://127.0.0.1:8080/v1/chat?x=1#frag") == "/v1/chat?x=1");

    auto secure = parse_origin("HTTPS://api.telegram.org/bot123:abc/sendMessage");
    REQUIRE(secure);
    CHECK(secure->tls);
    CHECK(secure->port == "443");
    CHECK(secure->authority == "api.telegram.org");
    CHECK(secure->key == "https://api.telegram.org:443");
    CHECK(url_target("HTTPS://api.telegram.org/bot123:abc/sendMessage") ==
          "/bot123:abc/sendMessage");

    auto v6 = parse_origin("http://[::1]:11434?q");
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->port == "11434");
    CHECK(v6->authority == "[::1]:11434");
    CHECK(url_target("http://[::1]:11434?q") == "?q");
    CHECK(origin_part("http://localhost#top") == "http://localhost");
    CHECK(url_target("http://localhost#top").empty());
    CHECK(parse_origin("http://localhost:65535/")->port == "65535");
    CHECK(origin_part("localhost/path").empty());
}

TEST_CASE("URLs the client does not send to are refused") {
    for (const char* url :
         {"ftp://host/", "host/path", "http://", "http://user:pw@host/", "http://host:80x/",
          "http://host:0/", "http://host:65536/", "http://host:99999999999999999999/",
          "http://host:-1/", "http://[::1/", "http://[::1]x/", "http://:80/"}) {
        INFO(url);
        CHECK_FALSE(parse_origin(url));
    }
}

TEST_CASE("A request goes out as one HTTP/1.1 message") {
    bot::ClientRequest request;
    request.method = "POST";
    request.url = "http://127.0.0.1:9/api";
    request.headers = {{"Content-Type", "application/json"}};
    request.body = "{}";
    auto origin = parse_origin(request.url);
    CHECK(bot::wire_request(request, *origin, url_target(request.url)) ==
          "POST /api HTTP/1.1\r\nHost: 127.0.0.1:9\r\nContent-Type: application/json\r\n"
          "Accept: */*\r\nContent-Length: 2\r\n\r\n{}");

    request.method = "GET";
    request.body.clear();
    request.headers = {{"Host", "example.org"}, {"Accept", "text/plain"}};
    CHECK(bot::wire_request(request, *origin, "/api") ==
          "GET /api HTTP/1.1\r\nHost: example.org\r\nAccept: text/plain\r\n\r\n");

    request.method = "POST";
    request.headers = {{"Content-Length", "0"}};  // given by the caller: not sent twice
    CHECK(bot::wire_request(request, *origin, "/api") ==
          "POST /api HTTP/1.1\r\nHost: 127.0.0.1:9\r\nContent-Length: 0\r\nAccept: */*\r\n\r\n");

    // A URL without a path asks for "/".
    request.headers.clear();
    CHECK(
        bot::wire_request(request, *origin, "?q=1").value().starts_with("POST /?q=1 HTTP/1.1\r\n"));
    CHECK(bot::wire_request(request, *origin, "").value().starts_with("POST / HTTP/1.1\r\n"));
}
