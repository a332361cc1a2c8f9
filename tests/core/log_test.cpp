// The logger: secrets redacted, control characters escaped (no forged lines), repeated lines
// throttled with a count of what was suppressed.
#include "base/log.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <thread>

using bot::LogLevel;

namespace {

std::size_t count_lines(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("log: a value with control characters cannot forge a line", "[log]") {
    std::ostringstream out;
    bot::Logger log(LogLevel::debug, out);
    log.debug("http_api", "message_id ",
              "x\n2026-12-07T00:00:00.000Z ERROR [app] forged\r\x1b[2J\x7f\xc2\x85 end");
    const std::string text = out.str();
    CHECK(count_lines(text) == 1);
    CHECK(text.find("x\\n2026-12-07T00:00:00.000Z ERROR [app] forged\\r\\x1b[2J\\x7f\\u0085 end") !=
          std::string::npos);
    // UTF-8 text is written as it is.
    out.str("");
    log.info("x", "你好 émoji 😀");
    CHECK(out.str().find("你好 émoji 😀\n") != std::string::npos);
}

TEST_CASE("log: registered secrets are redacted", "[log]") {
    std::ostringstream out;
    bot::Logger log(LogLevel::info, out);
    log.add_secret("sk-very-secret");
    log.warn("llm", "key sk-very-secret refused");
    CHECK(out.str().find("sk-very-secret") == std::string::npos);
    CHECK(out.str().find("key *** refused") != std::string::npos);
}

TEST_CASE("log: repeated lines are throttled and counted", "[log]") {
    std::ostringstream out;
    bot::Logger log(LogLevel::info, out);
    log.set_throttle({.lines_per_shape = 5,
                      .lines_per_component = 50,
                      .window = std::chrono::milliseconds(200)});
    // One client refused 1,000 times: the address and counter differ, the shape does not.
    for (int i = 0; i < 1000; ++i)
        log.warn("telegram", "webhook from 10.0.", i % 250, ".", i, " rejected");
    log.warn("telegram", "another kind of line");  // a different shape still gets through
    std::string text = out.str();
    CHECK(count_lines(text) == 6);
    CHECK(text.find("another kind of line") != std::string::npos);

    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    out.str("");
    log.flush_suppressed();
    text = out.str();
    REQUIRE(count_lines(text) == 1);
    CHECK(text.find("WARN [telegram] 995 lines like this suppressed in the last 0 s; the first: "
                    "webhook from 10.0.5.5 rejected") != std::string::npos);
    // A new window writes again.
    out.str("");
    log.warn("telegram", "webhook from 10.0.0.1 rejected");
    CHECK(count_lines(out.str()) == 1);
}

TEST_CASE("log: text varied to dodge the shape still meets the component's budget", "[log]") {
    std::ostringstream out;
    bot::Logger log(LogLevel::info, out);
    log.set_throttle({.lines_per_shape = 5,
                      .lines_per_component = 30,
                      .window = std::chrono::milliseconds(200)});
    for (int i = 0; i < 1000; ++i) {
        std::string origin(1, static_cast<char>('a' + i % 26));
        origin += static_cast<char>('a' + (i / 26) % 26);
        log.warn("webchat", "refused a websocket from origin ", origin);
    }
    CHECK(count_lines(out.str()) == 30);
    log.warn("other", "an unrelated component is not affected");
    CHECK(out.str().find("an unrelated component") != std::string::npos);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    out.str("");
    log.info("other", "next window");  // the summary comes before the next line
    CHECK(out.str().find("970 lines of this component suppressed") != std::string::npos);
    CHECK(out.str().find("next window") != std::string::npos);
}

TEST_CASE("log: a suppressed line's sample is redacted before it is cut", "[log]") {
    std::ostringstream out;
    bot::Logger log(LogLevel::info, out);
    log.set_throttle({.lines_per_shape = 1,
                      .lines_per_component = 100,
                      .window = std::chrono::milliseconds(100)});
    const std::string secret = "sk-0123456789abcdefghij";
    log.add_secret(secret);
    const std::string message = std::string(190, 'x') + secret;  // the cut falls inside it
    log.warn("llm", message);
    log.warn("llm", message);  // suppressed: its sample is kept for the summary
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    log.flush_suppressed();
    CHECK(out.str().find("1 lines like this suppressed") != std::string::npos);
    CHECK(out.str().find("sk-0123") == std::string::npos);
}

TEST_CASE("log: warnings over a component's budget do not hide its errors", "[log]") {
    std::ostringstream out;
    bot::Logger log(LogLevel::info, out);
    log.set_throttle(
        {.lines_per_shape = 5, .lines_per_component = 10, .window = std::chrono::minutes(1)});
    for (int i = 0; i < 100; ++i)
        log.warn("webchat", "origin ", std::string(1, static_cast<char>('a' + i % 26)));
    log.error("webchat", "reply failed: database is locked");
    CHECK(out.str().find("reply failed: database is locked") != std::string::npos);
}
