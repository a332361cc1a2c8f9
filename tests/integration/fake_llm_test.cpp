// The fake LLM's injected failures: the chaos bench relies on each one being a failure the
// server sees (an error status, a dropped or cut-off answer), never a whole answer.
#include "fakes/fake_llm.hpp"
#include "fakes/test_http.hpp"

#include <catch2/catch.hpp>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("fake LLM: random failures never give a whole answer", "[fake_llm]") {
    FakeLlm llm;
    llm.fail_randomly(1.0, 50ms);
    for (bool stream : {false, true}) {
        json request = {{"model", "m"},
                        {"stream", stream},
                        {"messages", {{{"role", "user"}, {"content", "hello there"}}}}};
        for (int i = 0; i < 12; ++i) {
            long status = 0;
            std::string body;
            try {
                auto response = http_request("POST", llm.base_url() + "/chat/completions",
                                             request.dump(), {"Content-Type: application/json"});
                status = response.status;
                body = response.body;
            } catch (const std::exception&) {
                continue;  // dropped or cut off mid-way
            }
            CHECK((status == 500 || status == 429));
            CHECK(body.find("echo: hello there") == std::string::npos);
        }
    }
    CHECK(llm.failures_injected() == 24);

    llm.fail_randomly(0, 0ms);
    auto whole = http_request(
        "POST", llm.base_url() + "/chat/completions",
        json{{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}.dump(),
        {"Content-Type: application/json"});
    CHECK(whole.status == 200);
    CHECK(whole.body.find("echo: hi") != std::string::npos);
}
