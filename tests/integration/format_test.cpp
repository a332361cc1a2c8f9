// Replies formatted for each app: the LLM's markdown reaches Telegram as HTML (parse_mode
// HTML, balanced parts, plain text when Telegram refuses the markup) and WeChat and OneBot as
// plain text; the conversation keeps the markdown.
#include "fakes/fake_onebot.hpp"
#include "fakes/fake_telegram.hpp"
#include "fakes/fake_wechat.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kMarkdown =
    "# Plan\n\n"
    "Some **bold**, *italic* and `a<b>` & more.\n\n"
    "- one\n- two with [a link](https://example.com/x?a=1&b=2)\n\n"
    "[bad](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n"
    "```\nif (a < b) {}\n```";

constexpr const char* kHtml =
    "<b>Plan</b>\n\n"
    "Some <b>bold</b>, <i>italic</i> and <code>a&lt;b&gt;</code> &amp; more.\n\n"
    "• one\n• two with <a href=\"https://example.com/x?a=1&amp;b=2\">a link</a>\n\n"
    "bad (javascript:alert(1)) &lt;img src=x onerror=alert(1)&gt;\n\n"
    "<pre>if (a &lt; b) {}</pre>";

constexpr const char* kPlain =
    "Plan\n\n"
    "Some bold, italic and a<b> & more.\n\n"
    "• one\n• two with a link (https://example.com/x?a=1&b=2)\n\n"
    "bad (javascript:alert(1)) <img src=x onerror=alert(1)>\n\n"
    "    if (a < b) {}";

constexpr const char* kSecret = "webhook-secret_123";

BotOptions with_telegram(const FakeTelegram& telegram) {
    BotOptions options;
    options.adapters["tg"] = {
        {"type", "telegram"},      {"bot_token", telegram.token()},
        {"mode", "webhook"},       {"api_base", telegram.api_base()},
        {"typing", false},         {"streaming", "off"},
        {"secret_token", kSecret}, {"webhook_url", "https://bot.example.com/telegram/tg"}};
    return options;
}

long post_message(TestBot& bot, std::int64_t update_id, std::int64_t chat,
                  const std::string& text) {
    const json update{{"update_id", update_id},
                      {"message",
                       {{"message_id", update_id},
                        {"date", 1700000000},
                        {"chat", {{"id", chat}, {"type", "private"}}},
                        {"from", {{"id", chat}, {"is_bot", false}, {"first_name", "U"}}},
                        {"text", text}}}};
    const std::vector<std::string> headers{
        "Content-Type: application/json",
        std::string("X-Telegram-Bot-Api-Secret-Token: ") + kSecret};
    return http_request("POST", bot.url("/telegram/tg"), update.dump(), headers).status;
}

std::size_t count_of(std::string_view text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("format: Telegram gets the markdown as HTML with parse_mode; memory keeps markdown",
          "[integration][format]") {
    FakeLlm llm;
    llm.reply_with([](const json&) { return std::string(kMarkdown); });
    FakeTelegram telegram;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_telegram(telegram));

    CHECK(post_message(bot, 1, 500, "plan please") == 200);
    REQUIRE(telegram.wait_for("sendMessage", 1));
    auto sent = telegram.calls("sendMessage");
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].params["parse_mode"] == "HTML");
    CHECK(sent[0].params["text"] == kHtml);

    CHECK(post_message(bot, 2, 500, "again") == 200);
    REQUIRE(telegram.wait_for("sendMessage", 2));
    const auto requests = llm.requests();
    REQUIRE(requests.size() == 2);
    // The conversation remembers what the LLM wrote, not what Telegram was sent.
    const std::string history = requests[1]["messages"].dump();
    CHECK(history.find("**bold**") != std::string::npos);
    CHECK(history.find("<b>bold</b>") == std::string::npos);
}

TEST_CASE("format: Telegram refuses the markup: the part goes out again as plain text",
          "[integration][format]") {
    FakeLlm llm;
    llm.reply_with([](const json&) { return std::string("**bold** & `code`"); });
    FakeTelegram telegram;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_telegram(telegram));
    telegram.script("sendMessage", 400, "Bad Request: can't parse entities: Unsupported start tag");

    CHECK(post_message(bot, 1, 501, "hi") == 200);
    REQUIRE(telegram.wait_for("sendMessage", 2));
    std::this_thread::sleep_for(200ms);
    auto sent = telegram.calls("sendMessage");
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].failed_with == 400);
    CHECK(sent[1].params["text"] == "bold & code");
    CHECK_FALSE(sent[1].params.contains("parse_mode"));
    CHECK(bot.log_text().find("refused a reply part's HTML") != std::string::npos);
}

TEST_CASE("format: a long Telegram reply splits into balanced HTML parts",
          "[integration][format]") {
    FakeLlm llm;
    std::string reply;
    for (int i = 0; i < 300; ++i)
        reply += "**Bold " + std::to_string(i) + " & more bold text** then `x<y>` 中文。\n";
    llm.reply_with([&](const json&) { return reply; });
    FakeTelegram telegram;
    TempDir dir;
    TestBot bot(llm, dir.path(), with_telegram(telegram));

    CHECK(post_message(bot, 1, 502, "long") == 200);
    REQUIRE(telegram.wait_for("sendMessage", 3));
    std::this_thread::sleep_for(300ms);
    auto sent = telegram.calls("sendMessage");
    REQUIRE(sent.size() >= 3);
    std::size_t bold_parts = 0;
    for (const auto& call : sent) {
        const std::string text = call.params["text"];
        CHECK(call.params["parse_mode"] == "HTML");
        CHECK(count_of(text, "<b>") == count_of(text, "</b>"));
        CHECK(count_of(text, "<code>") == count_of(text, "</code>"));
        // Only whole entities: every '&' starts &amp; &lt; or &gt;.
        CHECK(count_of(text, "&") ==
              count_of(text, "&amp;") + count_of(text, "&lt;") + count_of(text, "&gt;"));
        CHECK(call.failed_with == 0);  // the fake checks the markup and the visible length
        if (text.starts_with("<b>Bold")) ++bold_parts;
    }
    CHECK(bold_parts == sent.size());
    CHECK(sent.back().params["text"].get<std::string>().find("Bold 299") != std::string::npos);
}

TEST_CASE("format: WeChat gets plain text without markdown symbols", "[integration][format]") {
    FakeLlm llm;
    llm.reply_with([](const json&) { return std::string(kMarkdown); });
    FakeWechatApi api("wx1234567890abcdef", "app-secret-0123456789abcdef");
    TempDir dir;
    BotOptions options;
    options.adapters["mp"] = {{"type", "wechat_mp"},
                              {"app_id", "wx1234567890abcdef"},
                              {"app_secret", "app-secret-0123456789abcdef"},
                              {"token", "wechat-token-123"},
                              {"reply_max_bytes", 2000},
                              {"api_base", api.api_base()}};
    TestBot bot(llm, dir.path(), options);
    WechatPusher pusher(bot.url("/wechat/mp"), "wechat-token-123", "wx1234567890abcdef", "");
    auto outcome = pusher.push(WechatPusher::text_xml("o_alice", "1001", "plan"));
    CHECK(outcome.content == kPlain);
}

TEST_CASE("format: OneBot (QQ) gets plain text without markdown symbols", "[integration][format]") {
    FakeLlm llm;
    llm.reply_with([](const json&) { return std::string(kMarkdown); });
    TempDir dir;
    BotOptions options;
    options.adapters["qq"] = {
        {"type", "onebot"}, {"access_token", "onebot-token_123"}, {"action_timeout_s", 2}};
    TestBot bot(llm, dir.path(), options);
    FakeOneBot qq(10001000);
    REQUIRE(qq.connect(bot.app().port(), "/onebot/qq", "onebot-token_123") == 101);
    qq.post(qq.private_message(20002000, 1, "plan"));
    REQUIRE(qq.wait_actions(1));
    const auto actions = qq.actions();
    std::string text;
    for (const auto& segment : actions.at(0).at("params").at("message")) {
        if (segment.at("type") == "text") text += segment.at("data").at("text").get<std::string>();
    }
    CHECK(text == kPlain);
}
