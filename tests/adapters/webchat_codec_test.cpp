#include "webchat/webchat_codec.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace bot::adapters::webchat;
using nlohmann::json;

TEST_CASE("client frames parse into hello, message or a reason", "[webchat]") {
    auto hello =
        parse_client_frame(R"({"type":"hello","user":"0123456789abcdef0123456789abcdef"})");
    REQUIRE(std::holds_alternative<Hello>(hello));
    CHECK(std::get<Hello>(hello).user == "0123456789abcdef0123456789abcdef");

    auto message = parse_client_frame(R"({"type":"message","id":"a-1_B","text":"你好"})");
    REQUIRE(std::holds_alternative<UserMessage>(message));
    CHECK(std::get<UserMessage>(message).id == "a-1_B");
    CHECK(std::get<UserMessage>(message).text == "你好");

    for (const char* bad :
         {"", "[]", "{}", R"({"type":5})", R"({"type":"hello","user":"short"})",
          R"({"type":"hello","user":"0123456789ABCDEF0123456789ABCDEF"})",
          R"({"type":"message","id":"","text":"x"})",
          R"({"type":"message","id":"has space","text":"x"})", R"({"type":"message","id":"ok"})",
          R"({"type":"shout"})",
          // every field of the wrong type
          R"({"type":["hello"],"user":"0123456789abcdef0123456789abcdef"})",
          R"({"type":"hello","user":5})", R"({"type":"hello","user":null})",
          R"({"type":"hello","user":["0123456789abcdef0123456789abcdef"]})",
          R"({"type":"message","id":5,"text":"x"})", R"({"type":"message","id":null,"text":"x"})",
          R"({"type":"message","id":"ok","text":5})", R"({"type":"message","id":"ok","text":null})",
          R"({"type":"message","id":"ok","text":["x"]})",
          R"({"type":"message","id":"ok","text":{"a":"x"}})", "null", "\"hello\"",
          R"({"type":"message","id":"ok","text":"x"} trailing)"}) {
        INFO(bad);
        CHECK(std::holds_alternative<BadFrame>(parse_client_frame(bad)));
    }
}

TEST_CASE("server frames render as documented", "[webchat]") {
    CHECK(json::parse(render_delta("m1", "Hel")) ==
          json{{"type", "delta"}, {"id", "m1"}, {"text", "Hel"}});
    CHECK(json::parse(render_done("m1", "Hello")) ==
          json{{"type", "done"}, {"id", "m1"}, {"text", "Hello"}});
    CHECK(json::parse(render_error("", "bad_frame", "why")) ==
          json{{"type", "error"}, {"code", "bad_frame"}, {"error", "why"}});
    CHECK(json::parse(render_error("m2", "too_long", "why")).at("id") == "m2");
    auto ready = json::parse(render_ready("hi", {{"user", "q"}, {"assistant", "a"}}));
    CHECK(ready ==
          json{{"type", "ready"},
               {"greeting", "hi"},
               {"history",
                {{{"role", "user"}, {"text", "q"}}, {{"role", "assistant"}, {"text", "a"}}}}});
    // Invalid UTF-8 from a model never breaks the frame.
    CHECK_NOTHROW(json::parse(render_delta("m", std::string("\xff\xfe"))));
}
