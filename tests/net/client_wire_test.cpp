// URL parsing and request bytes of the built-in HTTP client (bot/net/client_wire).
#include "bot/net/client_wire.hpp"

#include <catch2/catch.hpp>

using bot::parse_url;

TEST_CASE("URLs give the origin, the pool key and the target") {
    auto plain = parse_url("http://127.0.0.1:8080/v1/chat?x=1#frag");
    REQUIRE(plain);
    CHECK_FALSE(plain->tls);
    CHECK(plain->host == "127.0.0.1");
    CHECK(plain->port == "8080");
    CHECK(plain->authority == "127.0.0.1:8080");
    CHECK(plain->target == "/v1/chat?x=1");
    CHECK(plain->key == "http://127.0.0.1:8080");

    auto secure = parse_url("HTTPS://api.telegram.org/bot123:abc/sendMessage");
    REQUIRE(secure);
    CHECK(secure->tls);
    CHECK(secure->port == "443");
    CHECK(secure->authority == "api.telegram.org");
    CHECK(secure->target == "/bot123:abc/sendMessage");

    auto v6 = parse_url("http://[::1]:11434?q");
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->port == "11434");
    CHECK(v6->authority == "[::1]:11434");
    CHECK(v6->target == "/?q");
    CHECK(parse_url("http://localhost")->target == "/");
    CHECK(parse_url("http://localhost:65535/")->port == "65535");
}

TEST_CASE("URLs the client does not send to are refused") {
    for (const char* url :
         {"ftp://host/", "host/path", "http://", "http://user:pw@host/", "http://host:80x/",
          "http://host:0/", "http://host:65536/", "http://host:99999999999999999999/",
          "http://host:-1/", "http://[::1/", "http://[::1]x/", "http://:80/"}) {
        INFO(url);
        CHECK_FALSE(parse_url(url));
    }
}

TEST_CASE("A request goes out as one HTTP/1.1 message") {
    bot::ClientRequest request;
    request.method = "POST";
    request.url = "http://127.0.0.1:9/api";
    request.headers = {{"Content-Type", "application/json"}};
    request.body = "{}";
    auto origin = parse_url(request.url);
    CHECK(bot::wire_request(request, *origin) ==
          "POST /api HTTP/1.1\r\nHost: 127.0.0.1:9\r\nContent-Type: application/json\r\n"
          "Accept: */*\r\nContent-Length: 2\r\n\r\n{}");

    request.method = "GET";
    request.body.clear();
    request.headers = {{"Host", "example.org"}, {"Accept", "text/plain"}};
    CHECK(bot::wire_request(request, *origin) ==
          "GET /api HTTP/1.1\r\nHost: example.org\r\nAccept: text/plain\r\n\r\n");

    request.method = "POST";
    request.headers = {{"Content-Length", "0"}};  // given by the caller: not sent twice
    CHECK(bot::wire_request(request, *origin) ==
          "POST /api HTTP/1.1\r\nHost: 127.0.0.1:9\r\nContent-Length: 0\r\nAccept: */*\r\n\r\n");
}
