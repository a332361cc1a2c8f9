// The /embeddings answer reader (llm/embeddings_codec.*): every field type-checked.
#include "llm/embeddings_codec.hpp"

#include <catch2/catch.hpp>

using bot::llm::parse_embeddings;

TEST_CASE("An OpenAI /embeddings answer is read in index order", "[recall]") {
    const auto one = parse_embeddings(
        R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-1,2e-3]}],
            "model":"text-embedding-3-small","usage":{"prompt_tokens":2,"total_tokens":2}})",
        1);
    REQUIRE(one);
    CHECK(one->at(0) == std::vector<float>{0.5f, -1.0f, 2e-3f});
    const auto two = parse_embeddings(
        R"({"data":[{"index":1,"embedding":[1,2]},{"index":0,"embedding":[3,4]}]})", 2);
    REQUIRE(two);
    CHECK(two->at(0) == std::vector<float>{3, 4});
    CHECK(two->at(1) == std::vector<float>{1, 2});
    // Without indexes (some local servers), in the order given.
    const auto plain = parse_embeddings(R"({"data":[{"embedding":[1]},{"embedding":[2]}]})", 2);
    REQUIRE(plain);
    CHECK(plain->at(1) == std::vector<float>{2});
}

TEST_CASE("Anything but a well-typed embedding list is refused", "[recall]") {
    for (const char* body :
         {"", "null", "[]", "{}", R"({"data":{}})", R"({"data":[]})",
          R"({"data":[{"embedding":[1]}]} trailing)", R"({"data":[{"embedding":"1,2"}]})",
          R"({"data":[{"embedding":[]}]})", R"({"data":[{"embedding":[1,"2"]}]})",
          R"({"data":[{"embedding":[1,null]}]})", R"({"data":[{"index":-1,"embedding":[1]}]})",
          R"({"data":[{"index":1,"embedding":[1]}]})",
          R"({"data":[{"index":"0","embedding":[1]}]})", R"({"data":[{"embedding":[1e300]}]})",
          R"({"data":[1]})", R"({"error":{"message":"no"}})"}) {
        INFO(body);
        CHECK_FALSE(parse_embeddings(body, 1));
    }
    // Two vectors of different sizes, the same index twice, a count that does not match.
    CHECK_FALSE(parse_embeddings(R"({"data":[{"embedding":[1,2]},{"embedding":[3]}]})", 2));
    CHECK_FALSE(parse_embeddings(
        R"({"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]})", 2));
    CHECK_FALSE(parse_embeddings(R"({"data":[{"embedding":[1]}]})", 2));
    std::string huge = R"({"data":[{"embedding":[)";
    for (int i = 0; i < 16385; ++i) huge += i ? ",0" : "0";
    CHECK_FALSE(parse_embeddings(huge + "]}]}", 1));
}
