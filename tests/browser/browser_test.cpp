// Starts the real server (web chat + fake LLM) and runs the Chromium test against it.
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

using namespace bot::testing;
using namespace std::chrono_literals;

TEST_CASE("the web chat works in a real browser", "[browser]") {
    const std::filesystem::path source = CONTACTBOT_SOURCE_DIR;
    const std::filesystem::path script = source / "tests/browser/webchat.test.mjs";
    const char* chromium = std::getenv("CHROMIUM_PATH");
    INFO("needs node, Chromium and tests/browser/node_modules: run deploy/install-deps.sh");
    REQUIRE(std::filesystem::exists(chromium ? chromium : "/usr/bin/chromium"));
    REQUIRE(std::filesystem::exists(source / "tests/browser/node_modules/playwright-core"));

    TempDir dir;
    FakeLlm llm;
    llm.chunk_delay(40ms);  // slow enough to watch the reply grow
    TestBot bot(llm, dir.path());
    std::string shots = std::string(CONTACTBOT_BINARY_DIR) + "/browser-screenshots";
    std::string command = "node '" + script.string() + "' '" + bot.url("/") + "' '" + shots + "'";
    int status = std::system(command.c_str());
    CHECK(status == 0);
    CHECK(std::filesystem::exists(shots + "/webchat-reply.png"));
    CHECK(llm.request_count() == 2);
}
