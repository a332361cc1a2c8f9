// The fake Telegram Bot API itself: the adapter tests and the load benchmark rely on it
// behaving like the real one (envelopes, errors, long polling, webhook conflicts).
#include "fakes/fake_telegram.hpp"
#include "fakes/test_http.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Answer {
    long status;
    json body;
    std::string headers;
};

Answer call(const FakeTelegram& tg, const std::string& method, const json& params = nullptr,
            const std::string& token = {}) {
    std::string url = tg.api_base() + "/bot" + (token.empty() ? tg.token() : token) + "/" + method;
    std::string body = params.is_null() ? std::string() : params.dump();
    auto response = http_request("POST", url, body, {"Content-Type: application/json"});
    return {response.status, json::parse(response.body, nullptr, false), response.headers};
}

}  // namespace

TEST_CASE("fake telegram: getMe, tokens, unknown methods", "[fake_telegram]") {
    FakeTelegram tg;
    auto me = call(tg, "getMe");
    REQUIRE(me.status == 200);
    CHECK(me.body["ok"] == true);
    CHECK(me.body["result"]["is_bot"] == true);
    CHECK(me.body["result"]["username"] == tg.username());
    CHECK(me.body["result"]["id"] == 123456);

    auto get = http_request("GET", tg.api_base() + "/bot" + tg.token() + "/getMe");
    CHECK(get.status == 200);

    auto wrong = call(tg, "getMe", nullptr, "999:wrong");
    CHECK(wrong.status == 401);
    CHECK(wrong.body["ok"] == false);
    CHECK(wrong.body["error_code"] == 401);
    CHECK(wrong.body["description"] == "Unauthorized");

    auto unknown = call(tg, "sendTelepathy", json{{"chat_id", 1}});
    CHECK(unknown.status == 404);
    CHECK(unknown.body["description"] == "Not Found: method not found");

    CHECK(tg.count("getMe") == 2);  // the wrong-token call is not counted
}

TEST_CASE("fake telegram: sendMessage is recorded and validated", "[fake_telegram]") {
    FakeTelegram tg;
    auto first = call(tg, "sendMessage", json{{"chat_id", 5001}, {"text", "hello"}});
    REQUIRE(first.status == 200);
    CHECK(first.body["result"]["chat"]["id"] == 5001);
    CHECK(first.body["result"]["text"] == "hello");
    auto second = call(tg, "sendMessage", json{{"chat_id", "5001"}, {"text", "again"}});
    CHECK(second.body["result"]["message_id"].get<int>() >
          first.body["result"]["message_id"].get<int>());

    auto empty = call(tg, "sendMessage", json{{"chat_id", 5001}, {"text", ""}});
    CHECK(empty.status == 400);
    CHECK(empty.body["description"] == "Bad Request: message text is empty");
    // 4096 UTF-16 units fit; an emoji outside the BMP counts as two.
    CHECK(call(tg, "sendMessage", json{{"chat_id", 1}, {"text", std::string(4096, 'a')}}).status ==
          200);
    std::string too_long = std::string(4095, 'a').append("\xF0\x9F\x98\x80");
    auto long_answer = call(tg, "sendMessage", json{{"chat_id", 1}, {"text", too_long}});
    CHECK(long_answer.status == 400);
    CHECK(long_answer.body["description"] == "Bad Request: message is too long");

    auto edit = call(tg, "editMessageText",
                     json{{"chat_id", 5001},
                          {"message_id", first.body["result"]["message_id"]},
                          {"text", "edited"}});
    CHECK(edit.status == 200);
    CHECK(edit.body["result"]["text"] == "edited");
    CHECK(
        call(tg, "sendChatAction", json{{"chat_id", 5001}, {"action", "typing"}}).body["result"] ==
        true);
    CHECK(call(tg, "sendMessageDraft", json{{"chat_id", 5001}, {"draft_id", 7}, {"text", "he"}})
              .body["result"] == true);

    auto sent = tg.calls("sendMessage");
    REQUIRE(sent.size() == 5);
    CHECK(sent[0].params["text"] == "hello");
    CHECK(sent[1].params["chat_id"] == "5001");
    CHECK(tg.count("editMessageText") == 1);
    CHECK(tg.calls().size() == 8);
}

TEST_CASE("fake telegram: scripted 429 carries retry_after, then the default resumes",
          "[fake_telegram]") {
    FakeTelegram tg;
    tg.script("sendMessage", 429, "Too Many Requests: retry after 3", 3);
    auto limited = call(tg, "sendMessage", json{{"chat_id", 1}, {"text", "x"}});
    CHECK(limited.status == 429);
    CHECK(limited.body["error_code"] == 429);
    CHECK(limited.body["parameters"]["retry_after"] == 3);
    CHECK(limited.headers.find("Retry-After: 3") != std::string::npos);
    CHECK(call(tg, "sendMessage", json{{"chat_id", 1}, {"text", "x"}}).status == 200);
    CHECK(tg.count("sendMessage") == 2);
}

TEST_CASE("fake telegram: getUpdates confirms by offset and long-polls", "[fake_telegram]") {
    FakeTelegram tg;
    auto a = tg.push_update(json{{"message", {{"text", "a"}}}});
    auto b = tg.push_update(json{{"message", {{"text", "b"}}}});
    CHECK(b == a + 1);

    auto all = call(tg, "getUpdates");
    REQUIRE(all.body["result"].size() == 2);
    auto from_b = call(tg, "getUpdates", json{{"offset", b}});
    REQUIRE(from_b.body["result"].size() == 1);
    CHECK(from_b.body["result"][0]["message"]["text"] == "b");
    CHECK(tg.pending_updates() == 1);  // a was confirmed

    auto started = std::chrono::steady_clock::now();
    auto empty = call(tg, "getUpdates", json{{"offset", b + 1}, {"timeout", 1}});
    CHECK(empty.body["result"].empty());
    CHECK(std::chrono::steady_clock::now() - started >= 900ms);

    started = std::chrono::steady_clock::now();
    auto waiting = std::async(std::launch::async, [&] {
        return call(tg, "getUpdates", json{{"offset", b + 1}, {"timeout", 10}});
    });
    REQUIRE(tg.wait_for("getUpdates", 4));
    std::this_thread::sleep_for(100ms);
    auto c = tg.push_update(json{{"message", {{"text", "c"}}}});
    auto woken = waiting.get();
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    REQUIRE(woken.body["result"].size() == 1);
    CHECK(woken.body["result"][0]["update_id"] == c);
}

TEST_CASE("fake telegram: a second getUpdates terminates the waiting one", "[fake_telegram]") {
    FakeTelegram tg;
    auto older = std::async(std::launch::async, [&] {
        return call(tg, "getUpdates", json{{"timeout", 10}});
    });
    REQUIRE(tg.wait_for("getUpdates", 1));
    std::this_thread::sleep_for(100ms);
    auto newer = std::async(std::launch::async, [&] {
        return call(tg, "getUpdates", json{{"timeout", 1}});
    });
    auto first = older.get();
    CHECK(first.status == 409);
    CHECK(first.body["description"].get<std::string>().starts_with(
        "Conflict: terminated by other getUpdates request"));
    CHECK(newer.get().status == 200);
}

TEST_CASE("fake telegram: getUpdates conflicts with an active webhook", "[fake_telegram]") {
    FakeTelegram tg;
    auto set = call(tg, "setWebhook",
                    json{{"url", "https://bot.example/telegram/tg"},
                         {"secret_token", "s3cret"},
                         {"allowed_updates", json::array({"message"})}});
    CHECK(set.body["result"] == true);
    CHECK(tg.webhook_url() == "https://bot.example/telegram/tg");
    CHECK(tg.webhook_secret() == "s3cret");

    auto conflict = call(tg, "getUpdates");
    CHECK(conflict.status == 409);
    CHECK(conflict.body["description"].get<std::string>().starts_with(
        "Conflict: can't use getUpdates method while webhook is active"));

    CHECK(call(tg, "deleteWebhook").body["result"] == true);
    CHECK(tg.webhook_url().empty());
    CHECK(tg.webhook_secret().empty());
    CHECK(call(tg, "getUpdates").status == 200);
}

TEST_CASE("fake telegram: observer sees calls while recording is off", "[fake_telegram]") {
    FakeTelegram tg;
    std::atomic<int> seen{0};
    tg.on_call([&](const FakeTelegram::Call& c) {
        if (c.method == "sendMessage" && c.params["text"] == "quiet") ++seen;
    });
    tg.record(false);
    call(tg, "sendMessage", json{{"chat_id", 1}, {"text", "quiet"}});
    CHECK(seen == 1);
    CHECK(tg.count("sendMessage") == 1);
    CHECK(tg.calls().empty());
}

TEST_CASE("fake telegram: random failures take no effect and are reported to the observer",
          "[fake_telegram]") {
    // The chaos bench counts a sendMessage as delivered only when the observer sees no failure.
    FakeTelegram tg;
    std::atomic<int> failed_seen{0};
    tg.on_call([&](const FakeTelegram::Call& c) {
        if (c.failed_with != 0) ++failed_seen;
    });
    tg.fail_randomly(1.0);
    for (int i = 0; i < 6; ++i) {
        auto sent = call(tg, "sendMessage", {{"chat_id", 42}, {"text", "hi"}});
        CHECK((sent.status == 500 || sent.status == 429));
        CHECK(sent.body["ok"] == false);
    }
    CHECK(failed_seen == 6);
    CHECK(tg.failures_injected() == 6);
    tg.fail_randomly(0);
    auto sent = call(tg, "sendMessage", {{"chat_id", 42}, {"text", "hi"}});
    CHECK(sent.status == 200);
    CHECK(sent.body["result"]["message_id"] == 1);  // the failed ones sent nothing
    CHECK(failed_seen == 6);
}
