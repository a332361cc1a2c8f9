// parse_stream_chunk against chunks as OpenAI-compatible servers send them.
#include "llm/completion_fields.hpp"

#include <catch2/catch.hpp>

using bot::llm::parse_stream_chunk;

TEST_CASE("A content chunk gives its delta and no finish reason") {
    auto chunk = parse_stream_chunk(
        R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)"
        R"("model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,)"
        R"("delta":{"content":" w\u00f6rld \"q\""},"logprobs":null,"finish_reason":null}]})");
    REQUIRE(chunk);
    CHECK(chunk->content == " w\xC3\xB6rld \"q\"");
    CHECK(chunk->finish_reason.empty());
    CHECK_FALSE(chunk->has_usage);
    CHECK_FALSE(chunk->is_error);
}

TEST_CASE("The last chunks carry the finish reason and the usage") {
    auto finish =
        parse_stream_chunk(R"({"choices":[{"index":0,"delta":{},"finish_reason":"length"}]})");
    REQUIRE(finish);
    CHECK(finish->finish_reason == "length");
    CHECK(finish->content.empty());

    auto usage = parse_stream_chunk(
        R"({"choices":[],"usage":{"prompt_tokens":31,"completion_tokens":7,"total_tokens":38}})");
    REQUIRE(usage);
    CHECK(usage->has_usage);
    CHECK(usage->prompt_tokens == 31);
    CHECK(usage->completion_tokens == 7);
}

TEST_CASE("Odd but valid chunks are read leniently") {
    // Role-only first chunk (OpenAI), null content (tool calls), usage with absurd numbers.
    auto role =
        parse_stream_chunk(R"({"choices":[{"delta":{"role":"assistant","content":null}}]})");
    REQUIRE(role);
    CHECK(role->content.empty());
    auto huge =
        parse_stream_chunk(R"({"usage":{"prompt_tokens":1e3,"completion_tokens":99999999999}})");
    REQUIRE(huge);
    CHECK(huge->has_usage);
    CHECK(huge->prompt_tokens == 0);
    CHECK(huge->completion_tokens == 0);
    auto not_object_choice = parse_stream_chunk(R"({"choices":["x"]})");
    REQUIRE(not_object_choice);
    CHECK(not_object_choice->content.empty());
}

TEST_CASE("Only the first choice's own fields count, and a repeated key's last value") {
    auto chunk = parse_stream_chunk(
        R"({"choices":[{"delta":{"extra":{"content":"nested"},"content":"first"},)"
        R"("finish_reason":"stop","finish_reason":null},{"delta":{"content":"second"}}],)"
        R"("usage":{"prompt_tokens":5,"prompt_tokens":"6","completion_tokens":2}})");
    REQUIRE(chunk);
    CHECK(chunk->content == "first");
    CHECK(chunk->finish_reason.empty());
    CHECK(chunk->prompt_tokens == 0);
    CHECK(chunk->completion_tokens == 2);
    auto escaped_key = parse_stream_chunk(R"({"choices":[{"delta":{"con\u0074ent":"hi"}}]})");
    REQUIRE(escaped_key);
    CHECK(escaped_key->content == "hi");
}

TEST_CASE("An error event and non-objects are told apart") {
    auto error = parse_stream_chunk(R"({"error":{"message":"overloaded","type":"server_error"}})");
    REQUIRE(error);
    CHECK(error->is_error);
    CHECK_FALSE(parse_stream_chunk("[1,2]"));
    CHECK_FALSE(parse_stream_chunk("{\"choices\":"));
    CHECK_FALSE(parse_stream_chunk(""));
    CHECK_FALSE(parse_stream_chunk("{} trailing"));
}

TEST_CASE("Long strings, with and without escapes, are read whole") {
    const std::string text(20000, 'x');
    auto chunk = parse_stream_chunk(R"({"choices":[{"delta":{"content":")" + text + R"("}}]})");
    REQUIRE(chunk);
    CHECK(chunk->content == text);

    std::string escaped;
    for (int i = 0; i < 5000; ++i) escaped += "a\\n\\u00e9";
    std::string expected;
    for (int i = 0; i < 5000; ++i) expected += "a\n\xC3\xA9";
    auto long_escaped =
        parse_stream_chunk(R"({"choices":[{"delta":{"content":")" + escaped + R"("}}]})");
    REQUIRE(long_escaped);
    CHECK(long_escaped->content == expected);
}

TEST_CASE("A whole answer gives its message's text, finish reason and usage") {
    using bot::llm::parse_completion_fields;
    auto answer = parse_completion_fields(
        R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m",)"
        R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hi \u00e9"},)"
        R"("logprobs":null,"finish_reason":"stop"}],)"
        R"("usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}})");
    REQUIRE(answer);
    CHECK(answer->has_content);
    CHECK(answer->content == "Hi \xC3\xA9");
    CHECK(answer->finish_reason == "stop");
    CHECK(answer->prompt_tokens == 12);
    CHECK(answer->completion_tokens == 3);

    // A tool call's null content is there; a stream's delta is not an answer's message.
    auto tool_call = parse_completion_fields(
        R"({"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[]}}]})");
    REQUIRE(tool_call);
    CHECK(tool_call->has_content);
    CHECK(tool_call->content.empty());
    auto chunk = parse_completion_fields(R"({"choices":[{"delta":{"content":"x"}}]})");
    REQUIRE(chunk);
    CHECK_FALSE(chunk->has_content);

    // Content of another type, a message that is no object, an error: no text there.
    for (const char* body : {R"({"choices":[{"message":{"content":7}}]})",
                             R"({"choices":[{"message":{"content":["a"]}}]})",
                             R"({"choices":[{"message":"text"}]})", R"({"choices":[]})"}) {
        auto odd = parse_completion_fields(body);
        INFO(body);
        REQUIRE(odd);
        CHECK_FALSE(odd->has_content);
    }
    CHECK_FALSE(parse_completion_fields(R"({"error":{"message":"overloaded"}})"));
    CHECK_FALSE(parse_completion_fields("[1]"));
}
