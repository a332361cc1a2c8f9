// The fake iLink server itself (ilink.md §9), through real HTTP: the wechat_ilink adapter tests
// and the benchmark rely on it checking requests strictly and answering like the real API.
#include "fakes/fake_ilink.hpp"
#include "fakes/test_http.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Answer {
    long status;
    std::string raw;
    json body;
};

// A well-behaved client: every §2.1 header, a fresh X-WECHAT-UIN per request, base_info.
class IlinkClient {
public:
    IlinkClient(const FakeIlink& fake, std::string token) : fake_(fake), token_(std::move(token)) {}

    std::vector<std::string> headers() {
        std::vector<std::string> list{"Content-Type: application/json",
                                      "AuthorizationType: ilink_bot_token",
                                      "X-WECHAT-UIN: " + ilink_uin_header(next_uin_++),
                                      "iLink-App-Id: bot", "iLink-App-ClientVersion: 132105"};
        if (!token_.empty()) list.push_back("Authorization: Bearer " + token_);
        return list;
    }

    static json base_info() { return {{"channel_version", "2.4.9"}, {"bot_agent", "Test/1.0"}}; }

    Answer post(const std::string& endpoint, json body, long timeout_ms = 10000) {
        if (body.is_object() && !body.contains("base_info")) body["base_info"] = base_info();
        return raw_post(endpoint, body.dump(), headers(), timeout_ms);
    }

    Answer raw_post(const std::string& endpoint, const std::string& body,
                    const std::vector<std::string>& header_list, long timeout_ms = 10000) {
        auto response = http_request("POST", fake_.base_url() + "/ilink/bot/" + endpoint, body,
                                     header_list, timeout_ms);
        return {response.status, response.body, json::parse(response.body, nullptr, false)};
    }

    Answer poll(const std::string& cursor) {
        json body{{"get_updates_buf", cursor}};
        return post("getupdates", body);
    }

    Answer send_text(const std::string& to, const std::string& context, const std::string& text) {
        json item{{"type", 1}, {"text_item", {{"text", text}}}};
        json msg{{"from_user_id", ""},
                 {"to_user_id", to},
                 {"client_id", "c-" + text},
                 {"message_type", 2},
                 {"message_state", 2},
                 {"context_token", context},
                 {"item_list", json::array({item})}};
        json body{{"msg", msg}};
        return post("sendmessage", body);
    }

private:
    const FakeIlink& fake_;
    std::string token_;
    std::uint32_t next_uin_ = 123456789;
};

Answer qr_status(const FakeIlink& fake, const std::string& qrcode,
                 const std::string& verify_code = {}) {
    std::string url = fake.base_url() + "/ilink/bot/get_qrcode_status?qrcode=" + qrcode;
    if (!verify_code.empty()) url += "&verify_code=" + verify_code;
    auto response =
        http_request("GET", url, {}, {"iLink-App-Id: bot", "iLink-App-ClientVersion: 132105"});
    return {response.status, response.body, json::parse(response.body, nullptr, false)};
}

std::string new_qrcode(const FakeIlink& fake, json token_list = json::array()) {
    IlinkClient client(fake, "");
    json body{{"local_token_list", std::move(token_list)}};
    auto answer = client.raw_post("get_bot_qrcode?bot_type=3", body.dump(), client.headers());
    REQUIRE(answer.status == 200);
    REQUIRE(answer.body["qrcode_img_content"].get<std::string>().starts_with("https://"));
    return answer.body["qrcode"].get<std::string>();
}

}  // namespace

TEST_CASE("fake ilink: wire helpers match the §10 vectors", "[fake_ilink]") {
    CHECK(ilink_uin_header(123456789) == "MTIzNDU2Nzg5");
    CHECK(ilink_uin_header(4294967295U) == "NDI5NDk2NzI5NQ==");
    CHECK(ilink_uin_header(0) == "MA==");
    CHECK(ilink_client_version(2, 4, 9) == 132105);
    CHECK(ilink_client_version(2, 0, 0) == 131072);
    CHECK(ilink_client_version(1, 0, 11) == 65547);
}

TEST_CASE("fake ilink: header and body checks reject bad requests", "[fake_ilink]") {
    FakeIlink fake;
    auto account = fake.add_account();
    IlinkClient client(fake, account.token);
    json poll{{"get_updates_buf", ""}, {"base_info", IlinkClient::base_info()}};
    fake.set_poll_hold(10ms);

    auto without = [&](const std::string& prefix) {
        auto list = client.headers();
        std::erase_if(list, [&](const std::string& h) { return h.starts_with(prefix); });
        return list;
    };
    auto replaced = [&](const std::string& prefix, const std::string& header) {
        auto list = without(prefix);
        list.push_back(header);
        return list;
    };
    auto rejected = [&](const std::vector<std::string>& list, const std::string& rule,
                        const std::string& body) {
        auto answer = client.raw_post("getupdates", body, list);
        CHECK(answer.status == 400);
        CHECK_THAT(answer.raw, Catch::Contains(rule));
    };
    std::string good = poll.dump();
    rejected(replaced("Content-Type", "Content-Type: text/plain"), "Content-Type", good);
    rejected(without("AuthorizationType"), "AuthorizationType", good);
    rejected(replaced("X-WECHAT-UIN", "X-WECHAT-UIN: 123456789"), "X-WECHAT-UIN", good);
    rejected(replaced("X-WECHAT-UIN", "X-WECHAT-UIN: " + IlinkClient::base_info().dump()),
             "X-WECHAT-UIN", good);
    // base64("4294967296"): one past uint32.
    rejected(replaced("X-WECHAT-UIN", "X-WECHAT-UIN: NDI5NDk2NzI5Ng=="), "X-WECHAT-UIN", good);
    rejected(replaced("iLink-App-Id", "iLink-App-Id: openclaw"), "iLink-App-Id", good);
    rejected(replaced("iLink-App-ClientVersion", "iLink-App-ClientVersion: 2.4.9"),
             "iLink-App-ClientVersion", good);
    rejected(client.headers(), "base_info", json{{"get_updates_buf", ""}}.dump());
    rejected(client.headers(), "JSON object", "not json");
    rejected(client.headers(), "get_updates_buf", json{{"base_info", json::object()}}.dump());

    // An unknown or missing token is an expired session, not a 400.
    auto wrong_token = client.raw_post("getupdates", good,
                                       replaced("Authorization:", "Authorization: Bearer tok-x"));
    CHECK(wrong_token.status == 200);
    CHECK(wrong_token.body["ret"] == -14);
    CHECK(wrong_token.body["errmsg"] == "session timeout");
    CHECK(client.raw_post("getupdates", good, without("Authorization:")).body["ret"] == -14);

    // The same X-WECHAT-UIN twice in a row is a cached header.
    auto fixed = client.headers();
    CHECK(client.raw_post("getupdates", good, fixed).status == 200);
    auto again = client.raw_post("getupdates", good, fixed);
    CHECK(again.status == 400);
    CHECK_THAT(again.raw, Catch::Contains("change"));

    CHECK(client.poll("").status == 200);
    auto recorded = fake.calls("getupdates");
    REQUIRE(!recorded.empty());
    CHECK(recorded.back().header("authorization") == "Bearer " + account.token);
    CHECK(recorded.back().body["base_info"]["bot_agent"] == "Test/1.0");
    CHECK(fake.count("getupdates") == recorded.size());
}

TEST_CASE("fake ilink: QR login follows the scripted statuses", "[fake_ilink]") {
    FakeIlink fake;

    SECTION("default script: wait, scaned, confirmed") {
        auto qrcode = new_qrcode(fake);
        CHECK(qr_status(fake, qrcode).body["status"] == "wait");
        CHECK(qr_status(fake, qrcode).body["status"] == "scaned");
        auto confirmed = qr_status(fake, qrcode).body;
        CHECK(confirmed["status"] == "confirmed");
        CHECK(confirmed["bot_token"] == "tok-1");
        CHECK(confirmed["ilink_bot_id"] == "0123abcd@im.bot");
        CHECK(confirmed["baseurl"] == fake.base_url());
        CHECK(confirmed["ilink_user_id"] == "owner@im.wechat");
        CHECK(fake.token_valid("tok-1"));
        CHECK(qr_status(fake, qrcode).body["bot_token"] == "tok-1");  // the last one repeats
    }

    SECTION("verify code, redirect, then confirmed") {
        FakeIlink::LoginScript script{
            .statuses = {"wait", "need_verifycode", "scaned", "scaned_but_redirect", "confirmed"},
            .verify_code = "1234",
            .redirect_host = "127.0.0.1:1",
            .owner = "alice@im.wechat"};
        fake.script_next_login(script);
        auto qrcode = new_qrcode(fake);
        CHECK(qr_status(fake, qrcode).body["status"] == "wait");
        CHECK(qr_status(fake, qrcode).body["status"] == "need_verifycode");
        CHECK(qr_status(fake, qrcode).body["status"] == "need_verifycode");          // no code yet
        CHECK(qr_status(fake, qrcode, "9999").body["status"] == "need_verifycode");  // wrong
        CHECK(qr_status(fake, qrcode, "1234").body["status"] == "scaned");
        auto redirect = qr_status(fake, qrcode).body;
        CHECK(redirect["status"] == "scaned_but_redirect");
        CHECK(redirect["redirect_host"] == "127.0.0.1:1");
        auto confirmed = qr_status(fake, qrcode).body;
        CHECK(confirmed["status"] == "confirmed");
        CHECK(confirmed["ilink_user_id"] == "alice@im.wechat");
        CHECK(fake.token_valid(confirmed["bot_token"].get<std::string>()));
    }

    SECTION("three wrong codes block the QR code") {
        FakeIlink::LoginScript script{.statuses = {"need_verifycode", "confirmed"}};
        fake.script_next_login(script);
        auto qrcode = new_qrcode(fake);
        CHECK(qr_status(fake, qrcode).body["status"] == "need_verifycode");
        CHECK(qr_status(fake, qrcode, "1").body["status"] == "need_verifycode");
        CHECK(qr_status(fake, qrcode, "2").body["status"] == "need_verifycode");
        CHECK(qr_status(fake, qrcode, "3").body["status"] == "verify_code_blocked");
        CHECK(qr_status(fake, qrcode, "1234").body["status"] == "verify_code_blocked");
        CHECK(fake.accounts().empty());
    }

    SECTION("expired, then a new QR code logs in") {
        FakeIlink::LoginScript expiring{.statuses = {"wait", "expired"}};
        fake.script_next_login(expiring);
        auto first = new_qrcode(fake);
        CHECK(qr_status(fake, first).body["status"] == "wait");
        CHECK(qr_status(fake, first).body["status"] == "expired");
        CHECK(qr_status(fake, first).body["status"] == "expired");
        auto second = new_qrcode(fake);
        CHECK(second != first);
        qr_status(fake, second);
        qr_status(fake, second);
        CHECK(qr_status(fake, second).body["status"] == "confirmed");
    }

    SECTION("an already bound token gets binded_redirect") {
        auto account = fake.add_account();
        fake.recognise_bound_tokens(true);
        auto qrcode = new_qrcode(fake, json::array({account.token}));
        auto answer = qr_status(fake, qrcode).body;
        CHECK(answer["status"] == "binded_redirect");
        CHECK_FALSE(answer.contains("bot_token"));
        CHECK(qr_status(fake, new_qrcode(fake, json::array({"tok-unknown"}))).body["status"] ==
              "wait");
    }

    SECTION("bad QR requests") {
        auto no_type = http_request("GET", fake.base_url() + "/ilink/bot/get_bot_qrcode");
        CHECK(no_type.status == 400);
        auto get = http_request("GET", fake.base_url() + "/ilink/bot/get_bot_qrcode?bot_type=3");
        CHECK(get.status == 200);  // COW's GET form
        auto headerless =
            http_request("GET", fake.base_url() + "/ilink/bot/get_qrcode_status?qrcode=qr-1");
        CHECK(headerless.status == 400);
        CHECK(qr_status(fake, "qr-unknown").body["status"] == "expired");
    }
}

TEST_CASE("fake ilink: getupdates delivers once, honours the cursor, parks", "[fake_ilink]") {
    FakeIlink fake;
    fake.set_poll_hold(300ms);
    auto account = fake.add_account();
    IlinkClient client(fake, account.token);

    auto id1 = fake.inject_text(account.token, account.owner, "hi");
    auto id2 = fake.inject_voice(account.token, account.owner, "语音转文字");
    auto first = client.poll("");
    REQUIRE(first.body["ret"] == 0);
    REQUIRE(first.body["msgs"].size() == 2);
    CHECK(first.body["msgs"][0]["message_id"].get<std::uint64_t>() == id1);
    CHECK(first.body["msgs"][0]["item_list"][0]["text_item"]["text"] == "hi");
    CHECK(first.body["msgs"][0]["message_type"] == 1);
    CHECK(first.body["msgs"][1]["message_id"].get<std::uint64_t>() == id2);
    CHECK(first.body["msgs"][1]["item_list"][0]["voice_item"]["text"] == "语音转文字");
    CHECK(first.body["longpolling_timeout_ms"] == 35000);
    std::string cursor = first.body["get_updates_buf"].get<std::string>();
    CHECK(!cursor.empty());

    // Not confirmed yet: the same cursor ("") gets them again.
    CHECK(client.poll("").body["msgs"].size() == 2);

    // The new cursor confirms them: an empty poll parks for the hold, keeps the cursor.
    auto started = std::chrono::steady_clock::now();
    auto empty = client.poll(cursor);
    auto waited = std::chrono::steady_clock::now() - started;
    CHECK(waited >= 290ms);
    CHECK(empty.body["msgs"].empty());
    CHECK(empty.body["get_updates_buf"] == cursor);
    CHECK(fake.pending_updates(account.token) == 0);

    // A parked poll wakes as soon as a message arrives.
    fake.set_poll_hold(5s);
    auto before = fake.count("getupdates");
    auto parked = std::async(std::launch::async, [&] { return client.poll(cursor); });
    while (fake.count("getupdates") == before) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(50ms);
    started = std::chrono::steady_clock::now();
    fake.inject_image(account.token, account.owner);
    auto woken = parked.get();
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    REQUIRE(woken.body["msgs"].size() == 1);
    CHECK(woken.body["msgs"][0]["item_list"][0]["type"] == 2);
    CHECK(woken.body["get_updates_buf"] != cursor);

    // Cursors this server never issued are refused.
    CHECK(client.poll("bm9wZQ==").status == 400);
}

TEST_CASE("fake ilink: sendmessage checks, 10 sends, 24 h window", "[fake_ilink]") {
    FakeIlink fake;
    auto account = fake.add_account();
    IlinkClient client(fake, account.token);
    const std::string user = account.owner;

    // No inbound message yet: no window.
    CHECK(client.send_text(user, "", "early").body["ret"] == -2);
    fake.inject_text(account.token, user, "hi");
    std::string context = fake.context_token(account.token, user);
    REQUIRE(!context.empty());

    json bad_item{{"type", 1}, {"text_item", {{"text", "x"}}}};
    json bad{{"msg",
              {{"from_user_id", "bot"},
               {"to_user_id", user},
               {"client_id", "c"},
               {"message_type", 2},
               {"message_state", 2},
               {"context_token", context},
               {"item_list", json::array({bad_item})}}}};
    auto from_bot = client.post("sendmessage", bad);
    CHECK(from_bot.status == 400);
    CHECK_THAT(from_bot.raw, Catch::Contains("from_user_id"));
    bad["msg"]["from_user_id"] = "";
    bad["msg"]["item_list"].push_back(bad_item);
    CHECK_THAT(client.post("sendmessage", bad).raw, Catch::Contains("exactly one item"));
    bad["msg"]["item_list"].erase(1);
    bad["msg"]["message_state"] = 1;
    CHECK_THAT(client.post("sendmessage", bad).raw, Catch::Contains("message_state"));
    bad["msg"]["message_state"] = 2;
    bad["msg"]["client_id"] = "";
    CHECK_THAT(client.post("sendmessage", bad).raw, Catch::Contains("client_id"));

    CHECK(client.send_text(user, "Y3R4LWZha2U=", "wrong token").body["ret"] == -2);
    for (int i = 0; i < 10; ++i) {
        auto sent = client.send_text(user, context, "reply " + std::to_string(i));
        REQUIRE(sent.body["ret"] == 0);
    }
    auto eleventh = client.send_text(user, context, "one too many");
    CHECK(eleventh.body["ret"] == -2);
    CHECK(eleventh.body["errmsg"] == "prepare failed");
    CHECK(fake.wait_for_sends(10, 1s));
    auto sent = fake.sent_messages();
    REQUIRE(sent.size() == 10);
    CHECK(sent[0]["item_list"][0]["text_item"]["text"] == "reply 0");
    CHECK(sent[0]["context_token"] == context);

    // A new user message reopens the window with a new token; the old one is stale.
    fake.inject_text(account.token, user, "again");
    std::string renewed = fake.context_token(account.token, user);
    CHECK(renewed != context);
    CHECK(client.send_text(user, context, "old token").body["ret"] == -2);
    CHECK(client.send_text(user, renewed, "new token").body["ret"] == 0);

    // A bot echo opens nothing.
    fake.inject_bot_echo(account.token, "echo");
    CHECK(fake.context_token(account.token, user) == renewed);

    // 24 h after the user's message the window is closed.
    fake.advance_clock(24h - 1s);
    CHECK(client.send_text(user, renewed, "just in time").body["ret"] == 0);
    fake.advance_clock(2s);
    CHECK(client.send_text(user, renewed, "too late").body["ret"] == -2);
    auto calls = fake.calls("sendmessage");
    CHECK(calls.back().ret == -2);
    CHECK(calls.back().header("X-WECHAT-UIN").size() > 0);
}

TEST_CASE("fake ilink: -14 after the token expires", "[fake_ilink]") {
    FakeIlink fake;
    fake.set_poll_hold(5s);
    auto account = fake.add_account();
    IlinkClient client(fake, account.token);

    // A parked poll answers -14 at once when its token expires.
    auto parked = std::async(std::launch::async, [&] { return client.poll(""); });
    while (fake.count("getupdates") == 0) std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(50ms);
    fake.expire_token(account.token);
    auto answer = parked.get();
    CHECK(answer.body["ret"] == -14);
    CHECK(answer.body["errcode"] == -14);
    CHECK(client.send_text(account.owner, "x", "late").body["ret"] == -14);
    CHECK_FALSE(fake.token_valid(account.token));

    // Binding the same owner again invalidates the old token too.
    auto second = fake.add_account("bob@im.wechat");
    auto third = fake.add_account("bob@im.wechat");
    CHECK_FALSE(fake.token_valid(second.token));
    CHECK(fake.token_valid(third.token));

    // Injected failures, once each.
    IlinkClient bob(fake, third.token);
    fake.set_poll_hold(10ms);
    fake.fail_next("getupdates", FakeIlink::Failure::session_timeout);
    fake.fail_next("getupdates", FakeIlink::Failure::http_500);
    fake.fail_next("getupdates", FakeIlink::Failure::silent_lapse);
    CHECK(bob.poll("").body["ret"] == -14);
    CHECK(bob.poll("").status == 500);
    CHECK(bob.poll("").body == json::object());
    CHECK(bob.poll("").body["ret"] == 0);
    fake.fail_next("getupdates", FakeIlink::Failure::drop);
    CHECK_THROWS(bob.poll(""));
}

TEST_CASE("fake ilink: uint64 message ids above 2^53 stay exact", "[fake_ilink]") {
    FakeIlink fake;
    auto account = fake.add_account();
    IlinkClient client(fake, account.token);

    auto default_id = fake.inject_text(account.token, account.owner, "a");
    CHECK(default_id == 9007199254740993ULL);  // 2^53 + 1: a double would round it
    fake.set_next_message_id(18446744073709551615ULL);
    json item{{"type", 1}, {"text_item", {{"text", "twice"}}}};
    json message{{"item_list", json::array({item})}};
    auto max_id = fake.inject(account.token, message, /*duplicate=*/true);
    CHECK(max_id == 18446744073709551615ULL);
    fake.inject_quote(account.token, account.owner, "c", 9007199254740995ULL, "a");
    auto answer = client.poll("");
    CHECK_THAT(answer.raw, Catch::Contains("\"message_id\":9007199254740993"));
    CHECK_THAT(answer.raw, Catch::Contains("\"message_id\":18446744073709551615"));
    CHECK_THAT(answer.raw, Catch::Contains("\"svr_id\":9007199254740995"));
    REQUIRE(answer.body["msgs"].size() == 4);
    // The duplicate carries the same id, exactly.
    CHECK(answer.body["msgs"][1]["message_id"].get<std::uint64_t>() == max_id);
    CHECK(answer.body["msgs"][2]["message_id"].get<std::uint64_t>() == max_id);

    auto sent =
        client.send_text(account.owner, fake.context_token(account.token, account.owner), "reply");
    CHECK_THAT(sent.raw, Catch::Contains("\"message_id\":4611686018427387905"));
    CHECK(sent.body["message_id"].get<std::uint64_t>() == 4611686018427387905ULL);
}
