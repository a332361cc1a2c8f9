// The wecom_bot adapter through the real server, with WeCom played by WecomBotClient
// (encrypted callbacks, stream refreshes) and ResponseUrlServer (active replies).
#include "fakes/fake_wecom_bot.hpp"
#include "integration/harness.hpp"
#include "wechat_common/wx_crypt.hpp"

#include <catch2/catch.hpp>

#include <ctime>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kBotToken = "aibot-token-xyz";
constexpr const char* kBotKey = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";

struct Setup {
    explicit Setup(json extra = json::object(), BotOptions options = {}) {
        json section{{"type", "wecom_bot"}, {"token", kBotToken}, {"encoding_aes_key", kBotKey}};
        section.update(extra);
        options.adapters["ai"] = section;
        bot = std::make_unique<TestBot>(llm, dir.path(), options);
        client = std::make_unique<WecomBotClient>(bot->url("/wecom/ai"), kBotToken, kBotKey);
    }
    FakeLlm llm;
    TempDir dir;
    std::unique_ptr<TestBot> bot;
    std::unique_ptr<WecomBotClient> client;
};

}  // namespace

TEST_CASE("wecom_bot: URL verification decrypts the percent-encoded echostr", "[wecom_bot]") {
    Setup s;
    bot::adapters::wechat::MessageCrypt crypt(kBotKey, "");
    std::string echostr = crypt.encrypt("8726354172635");
    std::string timestamp = std::to_string(std::time(nullptr)), nonce = "99";
    auto signature = bot::adapters::wechat::sha1_signature({kBotToken, timestamp, nonce, echostr});
    auto ok = http_request(
        "GET", s.bot->url("/wecom/ai?msg_signature=" + signature + "&timestamp=" + timestamp +
                          "&nonce=" + nonce + "&echostr=" + bot::http::percent_encode(echostr)));
    CHECK(ok.status == 200);
    CHECK(ok.body == "8726354172635");
    auto forged = http_request("GET", s.bot->url("/wecom/ai?msg_signature=" + std::string(40, 'a') +
                                                 "&timestamp=" + timestamp + "&nonce=" + nonce +
                                                 "&echostr=" + bot::http::percent_encode(echostr)));
    CHECK(forged.status == 401);
}

TEST_CASE("wecom_bot: a single chat streams the reply until finish, with memory", "[wecom_bot]") {
    Setup s;
    s.llm.chunk_delay(60ms);
    auto first = s.client->converse(
        WecomBotClient::text_message("m1", "zhangsan", "hello there my streaming friend"));
    REQUIRE(first.finished);
    CHECK(first.frames.back() == "echo: hello there my streaming friend");
    // WeCom saw the text grow: earlier frames are prefixes of later ones, some partial.
    bool partial = false;
    for (std::size_t i = 1; i < first.frames.size(); ++i) {
        CHECK(first.frames[i].starts_with(first.frames[i - 1]));
        partial =
            partial || (!first.frames[i - 1].empty() && first.frames[i - 1] != first.frames.back());
    }
    CHECK(partial);

    s.llm.chunk_delay(0ms);
    auto second = s.client->converse(WecomBotClient::text_message("m2", "zhangsan", "again"));
    CHECK(second.frames.back() == "echo: again");
    auto requests = s.llm.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1]["messages"].dump().find("hello there") != std::string::npos);
}

TEST_CASE("wecom_bot: groups: the mention is removed, each member has their own memory",
          "[wecom_bot]") {
    Setup s;
    auto a = s.client->converse(
        WecomBotClient::text_message("g1", "alice", "@RobotA first from alice", "group-1"));
    CHECK(a.frames.back() == "echo: first from alice");
    auto b = s.client->converse(
        WecomBotClient::text_message("g2", "bob", "@RobotA hi from bob", "group-1"));
    CHECK(b.frames.back() == "echo: hi from bob");
    auto requests = s.llm.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1]["messages"].dump().find("alice") == std::string::npos);
}

TEST_CASE("wecom_bot: a duplicate msgid gets the same stream and no second LLM call",
          "[wecom_bot]") {
    Setup s;
    s.llm.reply_delay(300ms);
    auto message = WecomBotClient::text_message("dup-1", "lisi", "once");
    auto first = s.client->post(message);
    auto again = s.client->post(message);
    REQUIRE(first.status == 200);
    CHECK(again.reply["stream"]["id"] == first.reply["stream"]["id"]);
    auto conversation = s.client->converse(message);
    CHECK(conversation.frames.back() == "echo: once");
    CHECK(s.llm.request_count() == 1);
}

TEST_CASE(
    "wecom_bot: a reply that outlives the window is closed with a notice and follows "
    "by response_url",
    "[wecom_bot]") {
    ResponseUrlServer urls;
    BotOptions options;
    options.llm_timeout_s = 30;
    Setup s(json{{"stream_window_s", 2}, {"timeout_notice", "(too slow, see next message)"}},
            options);
    s.llm.reply_delay(3500ms);
    auto message =
        WecomBotClient::text_message("slow-1", "wangwu", "take your time", "", urls.url("slow-1"));
    auto conversation = s.client->converse(message, 200ms, 10s);
    REQUIRE(conversation.finished);
    CHECK(conversation.frames.back().find("(too slow, see next message)") != std::string::npos);
    REQUIRE(urls.wait_for(1, 10s));
    auto posted = urls.received().at(0);
    CHECK(posted["msgtype"] == "markdown");
    CHECK(posted["markdown"]["content"] == "echo: take your time");
    CHECK(s.llm.request_count() == 1);
}

TEST_CASE("wecom_bot: forged, foreign and malformed callbacks are refused", "[wecom_bot]") {
    Setup s;
    auto message = WecomBotClient::text_message("x1", "eve", "hi");
    auto [query, body] = s.client->sign(message);
    auto forged = query;
    forged.replace(forged.find("msg_signature=") + 14, 4, "0000");
    CHECK(s.client->post_raw(forged, body).first == 401);
    auto [corp_query, corp_body] = s.client->sign(message, "ww_some_corp");  // an app's ReceiveId
    CHECK(s.client->post_raw(corp_query, corp_body).first == 401);
    CHECK(s.client->post_raw(query, "{not json").first == 400);
    CHECK(s.client->post_raw(query, "{\"encrypt\": 5}").first == 400);
    std::string timestamp = std::to_string(std::time(nullptr)), nonce = "5", junk = "%%%bad%%%";
    auto signature = bot::adapters::wechat::sha1_signature({kBotToken, timestamp, nonce, junk});
    CHECK(
        s.client
            ->post_raw("msg_signature=" + signature + "&timestamp=" + timestamp + "&nonce=" + nonce,
                       json{{"encrypt", junk}}.dump())
            .first == 400);
    // Authentic but unreadable, or a message without msgid: skipped and acknowledged, so WeCom
    // does not send them again.
    auto [array_query, array_body] = s.client->sign(json::array({1, 2}));
    CHECK(s.client->post_raw(array_query, array_body).first == 200);
    auto [no_id_query, no_id_body] = s.client->sign(WecomBotClient::text_message("", "eve", "hi"));
    CHECK(s.client->post_raw(no_id_query, no_id_body).first == 200);
    CHECK(s.llm.request_count() == 0);
    // Then a real one works.
    CHECK(s.client->converse(message).frames.back() == "echo: hi");
}

TEST_CASE("wecom_bot: callbacks and URL checks signed with a stale timestamp are refused",
          "[wecom_bot]") {
    Setup s;
    const std::time_t now = std::time(nullptr);
    auto message = WecomBotClient::text_message("x2", "eve", "replayed");
    for (std::time_t at : {now - 3600, now + 3600}) {
        auto [query, body] = s.client->sign(message, "", at);
        auto [status, reply] = s.client->post_raw(query, body);
        CHECK(status == 401);
        CHECK(reply == "stale timestamp");
    }
    bot::adapters::wechat::MessageCrypt crypt(kBotKey, "");
    std::string echostr = crypt.encrypt("8726354172635");
    std::string timestamp = std::to_string(now - 3600), nonce = "99";
    auto signature = bot::adapters::wechat::sha1_signature({kBotToken, timestamp, nonce, echostr});
    auto stale_check = http_request(
        "GET", s.bot->url("/wecom/ai?msg_signature=" + signature + "&timestamp=" + timestamp +
                          "&nonce=" + nonce + "&echostr=" + bot::http::percent_encode(echostr)));
    CHECK(stale_check.status == 401);
    CHECK(stale_check.body.find("8726354172635") == std::string::npos);
    CHECK(s.llm.request_count() == 0);
    CHECK(s.bot->log_text().find("stale timestamp") != std::string::npos);
    // Freshly signed, the same message is answered.
    CHECK(s.client->converse(message).frames.back() == "echo: replayed");
}

TEST_CASE("wecom_bot: greeting on entering the chat; images get a notice without the LLM",
          "[wecom_bot]") {
    Setup s(json{{"greeting", "你好，我是AI助手"}});
    json event{{"msgid", "e1"},        {"aibotid", "AIBOTID"},
               {"chattype", "single"}, {"from", {{"userid", "zhaoliu"}}},
               {"msgtype", "event"},   {"event", {{"eventtype", "enter_chat"}}}};
    auto greeted = s.client->post(event);
    CHECK(greeted.reply["msgtype"] == "text");
    CHECK(greeted.reply["text"]["content"] == "你好，我是AI助手");

    json image{{"msgid", "i1"},        {"aibotid", "AIBOTID"},
               {"chattype", "single"}, {"from", {{"userid", "zhaoliu"}}},
               {"msgtype", "image"},   {"image", {{"url", "https://example.com/x.png"}}}};
    auto conversation = s.client->converse(image);
    REQUIRE(conversation.finished);
    CHECK(conversation.frames.back().find("only read text") != std::string::npos);
    CHECK(s.llm.request_count() == 0);
}
