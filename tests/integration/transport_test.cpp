// The adapters' routes under the server's transport limits: a stranger posting a big body to a
// route that authenticates by header is answered before sending it.
#include "fakes/fake_telegram.hpp"
#include "fakes/raw_client.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

using namespace bot::testing;
using namespace std::chrono_literals;

TEST_CASE("http_api and the Telegram webhook refuse strangers before reading the body",
          "[integration]") {
    FakeLlm llm;
    FakeTelegram telegram;
    TempDir dir;
    BotOptions options;
    options.adapters["tg"] = {{"type", "telegram"},
                              {"bot_token", telegram.token()},
                              {"mode", "webhook"},
                              {"api_base", telegram.api_base()},
                              {"webhook_url", "https://bot.example.com/telegram/tg"},
                              {"secret_token", "webhook-secret_123"}};
    TestBot bot(llm, dir.path(), options);

    const std::pair<std::string, std::string> routes[] = {
        {"/api/v1/messages", "Authorization: Bearer wrong-token"},
        {"/api/v1/messages", "X-Other: no token at all"},
        {"/telegram/tg", "X-Telegram-Bot-Api-Secret-Token: wrong"},
        {"/telegram/tg", "X-Other: no secret at all"}};
    for (const auto& [path, header] : routes) {
        INFO(path << " " << header);
        RawClient stranger(bot.app().port());
        // The head of a 1,000,000-byte body, and none of the body: the answer must not wait
        // for it (before, the server read bodies first and this waited for read_timeout_s).
        REQUIRE(stranger.send("POST " + path +
                              " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "Content-Length: 1000000\r\n" +
                              header + "\r\n\r\n"));
        CHECK(stranger.receive({}, 3s).starts_with("HTTP/1.1 401"));
    }
    CHECK(llm.request_count() == 0);
    auto [status, reply] = bot.send("alice", "still served?");
    CHECK(status == 200);
}
