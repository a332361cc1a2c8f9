// `contactbot chat`: the terminal conversation runs through the same pipeline and memory.
#include "bot/terminal_chat.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace bot::testing;

TEST_CASE("the terminal chat holds a multi-turn conversation", "[integration][chat]") {
    TempDir dir;
    FakeLlm llm;
    std::ostringstream log_stream;
    bot::Logger log(bot::LogLevel::warn, log_stream);
    auto config = make_config(llm.base_url(), dir.path(), BotOptions{});
    std::ostringstream out;
    {
        bot::App app(config, log, bot::AppOptions{.listen = false});
        bot::add_terminal_adapter(app, out);
        app.start();
        std::istringstream in("my name is Ada\n\nwhat is my name?\n/help\n");
        CHECK(bot::run_terminal_chat(app, "ada", in, out, false) == 0);
    }
    CHECK(out.str().starts_with("echo: my name is Ada\necho: what is my name?\nCommands:\n/help"));
    auto requests = llm.requests();
    REQUIRE(requests.size() == 2);
    auto messages = requests[1].at("messages");
    REQUIRE(messages.size() == 4);
    CHECK(messages[1].at("content") == "my name is Ada");
    CHECK(messages[2].at("content") == "echo: my name is Ada");

    // The conversation is stored: a later chat session continues it.
    std::ostringstream again;
    {
        bot::App app(config, log, bot::AppOptions{.listen = false});
        bot::add_terminal_adapter(app, again);
        app.start();
        std::istringstream in("and now?\n");
        bot::run_terminal_chat(app, "ada", in, again, false);
    }
    CHECK(llm.requests().back().at("messages").size() == 6);
}
