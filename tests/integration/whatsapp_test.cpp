// The whatsapp adapter through the real server, against FakeWhatsApp and FakeLlm: the GET
// verification handshake, signed webhooks (forged and unsigned ones refused before anything
// is stored), text answered and marked read with the typing indicator, redeliveries answered
// once, statuses and other phone numbers ignored, the 24-hour window (a late reply recorded
// failed without an API call; 131047 not retried), rate limits and long replies.
#include "fakes/fake_whatsapp.hpp"
#include "integration/harness.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace bot::testing;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPhoneId = "106540352242922";
constexpr const char* kAccessToken = "EAAGwhatsapp-permanent-SECRET-token";
constexpr const char* kAppSecret = "c0ffee5ecretc0ffee5ecretc0ffee00";
constexpr const char* kVerifyToken = "meaty-hamhock-verify";
constexpr const char* kUser = "16505551234";

struct Setup {
    Setup() : wa(kPhoneId, kAccessToken, kAppSecret) {
        BotOptions options;
        options.adapters["wa"] = json{{"type", "whatsapp"},           {"phone_number_id", kPhoneId},
                                      {"access_token", kAccessToken}, {"app_secret", kAppSecret},
                                      {"verify_token", kVerifyToken}, {"api_base", wa.api_base()}};
        bot = std::make_unique<TestBot>(llm, dir.path(), options);
    }
    std::string url() const { return bot->url("/whatsapp/wa"); }
    RecordingServer::Predicate sends() const {
        return [](const RecordedRequest& r) {
            return r.method == "POST" && r.json.is_object() && r.json.value("type", "") == "text";
        };
    }

    FakeLlm llm;
    FakeWhatsApp wa;
    TempDir dir;
    std::unique_ptr<TestBot> bot;
};

std::int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

TEST_CASE("whatsapp: the verification handshake", "[integration][whatsapp]") {
    Setup s;
    auto ok = http_request("GET", s.url() + "?hub.mode=subscribe&hub.verify_token=" +
                                      std::string(kVerifyToken) + "&hub.challenge=1158201444");
    CHECK(ok.status == 200);
    CHECK(ok.body == "1158201444");
    CHECK(ok.headers.find("text/plain") != std::string::npos);
    auto wrong = http_request("GET", s.url() +
                                         "?hub.mode=subscribe&hub.verify_token=guess"
                                         "&hub.challenge=1158201444");
    CHECK(wrong.status == 403);
    CHECK(wrong.body.find("1158201444") == std::string::npos);
    auto mode = http_request("GET", s.url() + "?hub.mode=unsubscribe&hub.verify_token=" +
                                        std::string(kVerifyToken) + "&hub.challenge=1");
    CHECK(mode.status == 403);
    CHECK(http_request("GET", s.url()).status == 403);
    CHECK(s.bot->log_text().find(kVerifyToken) == std::string::npos);
}

TEST_CASE("whatsapp: a text message is marked read, answered, and nothing leaks to the log",
          "[integration][whatsapp]") {
    Setup s;
    auto body = s.wa.text_message(kUser, "wamid.IN1", "hello there").dump();
    REQUIRE(s.wa.post(s.url(), body).status == 200);
    REQUIRE(s.wa.wait_sent(1));
    auto sent = s.wa.sent().at(0);
    CHECK(sent.to == kUser);
    CHECK(sent.text == "echo: hello there");
    REQUIRE(eventually([&] { return !s.wa.reads().empty(); }));
    CHECK(s.wa.reads().at(0).message_id == "wamid.IN1");
    CHECK(s.wa.reads().at(0).typing);
    REQUIRE(s.wa.api().wait_for(1, s.sends()));  // (recorded once answered)
    auto calls = s.wa.api().requests(s.sends());
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].header("Authorization") == std::string("Bearer ") + kAccessToken);
    CHECK(calls[0].json["text"]["preview_url"] == false);
    auto log = s.bot->log_text();
    CHECK(log.find(kAccessToken) == std::string::npos);
    CHECK(log.find(kAppSecret) == std::string::npos);
    CHECK(log.find("hello there") == std::string::npos);
}

TEST_CASE("whatsapp: forged and unsigned webhooks are refused before anything is stored",
          "[integration][whatsapp]") {
    Setup s;
    auto body = s.wa.text_message(kUser, "wamid.FORGED", "forged").dump();
    CHECK(s.wa.post(s.url(), body, FakeWhatsApp::sign("not the secret", body)).status == 401);
    CHECK(s.wa.post(s.url(), body, "-").status == 401);
    CHECK(s.wa.post(s.url(), body, "sha256=00").status == 401);
    // Signed but unreadable: acknowledged and skipped.
    CHECK(s.wa.post(s.url(), "not json").status == 200);
    // The real one is answered: the forged copies stored nothing.
    REQUIRE(s.wa.post(s.url(), body).status == 200);
    REQUIRE(s.wa.wait_sent(1));
    CHECK(s.wa.sent().at(0).text == "echo: forged");
    CHECK(s.llm.requests().size() == 1);
}

TEST_CASE("whatsapp: a redelivered message is answered once; statuses and other numbers ignored",
          "[integration][whatsapp]") {
    Setup s;
    auto body = s.wa.text_message(kUser, "wamid.ONCE", "once").dump();
    REQUIRE(s.wa.post(s.url(), body).status == 200);
    REQUIRE(s.wa.wait_sent(1));
    REQUIRE(s.wa.post(s.url(), body).status == 200);  // Meta's retry of the same webhook
    CHECK(s.wa.post(s.url(), s.wa.status("wamid.SENT1", kUser).dump()).status == 200);
    auto other = s.wa.text_message(kUser, "wamid.OTHERNUM", "not ours", 0, "999999").dump();
    CHECK(s.wa.post(s.url(), other).status == 200);
    // A later message is answered; nothing else was.
    REQUIRE(s.wa.post(s.url(), s.wa.text_message(kUser, "wamid.NEXT", "next").dump()).status ==
            200);
    REQUIRE(s.wa.wait_sent(2));
    std::this_thread::sleep_for(300ms);
    auto sent = s.wa.sent();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].text == "echo: once");
    CHECK(sent[1].text == "echo: next");
    CHECK(s.llm.requests().size() == 2);
}

TEST_CASE("whatsapp: a reply outside the 24-hour window is recorded failed without a call",
          "[integration][whatsapp]") {
    Setup s;
    // Delivered now, written 25 h ago (WhatsApp retries webhooks for days).
    auto body = s.wa.text_message(kUser, "wamid.OLD", "are you there?", now_s() - 25 * 3600);
    REQUIRE(s.wa.post(s.url(), body.dump()).status == 200);
    REQUIRE(eventually([&] {
        return s.bot->log_text().find("more than 24 h after their last message") !=
               std::string::npos;
    }));
    std::this_thread::sleep_for(1000ms);
    CHECK(s.wa.sent().empty());
    CHECK(s.wa.api().count(s.sends()) == 0);
}

TEST_CASE("whatsapp: 131047 from the API is recorded failed, not retried",
          "[integration][whatsapp]") {
    Setup s;
    s.wa.fail_next_send(Reply::json(
        {{"error", {{"message", "(#131047) Re-engagement message"}, {"code", 131047}}}}, 400));
    REQUIRE(s.wa.post(s.url(), s.wa.text_message(kUser, "wamid.REFUSED", "hi").dump()).status ==
            200);
    REQUIRE(s.wa.api().wait_for(1, s.sends()));
    REQUIRE(eventually([&] { return s.bot->log_text().find("131047") != std::string::npos; }));
    std::this_thread::sleep_for(1500ms);
    CHECK(s.wa.api().count(s.sends()) == 1);
    CHECK(s.wa.sent().empty());
}

TEST_CASE("whatsapp: a throughput limit is waited out and the reply sent once",
          "[integration][whatsapp]") {
    Setup s;
    s.wa.fail_next_send(
        Reply::json({{"error", {{"message", "(#130429) Rate limit hit"}, {"code", 130429}}}}, 400));
    auto started = std::chrono::steady_clock::now();
    REQUIRE(s.wa.post(s.url(), s.wa.text_message(kUser, "wamid.BUSY", "busy?").dump()).status ==
            200);
    REQUIRE(s.wa.wait_sent(1, 20s));
    CHECK(std::chrono::steady_clock::now() - started >= 1s);
    REQUIRE(s.wa.api().wait_for(2, s.sends()));
    CHECK(s.wa.api().count(s.sends()) == 2);
    CHECK(s.wa.sent().size() == 1);
    CHECK(s.wa.sent().at(0).text == "echo: busy?");
}

TEST_CASE("whatsapp: a long reply is split into messages of at most 4,096 characters",
          "[integration][whatsapp]") {
    Setup s;
    std::string paragraph(3000, 'w');
    s.llm.reply_with(
        [&](const json&) { return paragraph + "\n\n" + paragraph + "\n\n" + paragraph; });
    REQUIRE(s.wa.post(s.url(), s.wa.text_message(kUser, "wamid.LONG", "a lot").dump()).status ==
            200);
    REQUIRE(s.wa.wait_sent(3));
    std::size_t total = 0;
    for (const auto& one : s.wa.sent()) {
        CHECK(one.text.size() <= 4096);
        total += std::count(one.text.begin(), one.text.end(), 'w');
    }
    CHECK(total == 9000);
}
