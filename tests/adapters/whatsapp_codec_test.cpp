// The whatsapp adapter's pure parts: X-Hub-Signature-256 and the GET verification, webhook
// bodies (fixtures in testdata/whatsapp/, Meta's reference example among them), the send and
// read bodies, and the mapping of Graph API errors to SendError.
#include "whatsapp/whatsapp_codec.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace bot::adapters::whatsapp;
using bot::SendError;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPhone = "106540352242922";

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/whatsapp/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

TEST_CASE("whatsapp: X-Hub-Signature-256 on the raw body", "[whatsapp]") {
    // Meta publishes no test vector; this value is Python's hmac.new(secret, body, sha256)
    // .hexdigest(), the computation of the Nodejs-SDK's generateXHub256Sig (src/utils.ts).
    const std::string body = R"({"object":"whatsapp_business_account","entry":[]})";
    const std::string expected =
        "sha256=02fe0c96d28c59ddb7cf81eff0ca05809b360ba73b63c28210b5906a0a107d1f";
    CHECK(sign("app_secret_123", body) == expected);
    CHECK(signature_valid("app_secret_123", expected, body));
    CHECK_FALSE(signature_valid("app_secret_124", expected, body));
    CHECK_FALSE(signature_valid("app_secret_123", expected, body + " "));
    CHECK_FALSE(signature_valid("app_secret_123", expected.substr(7), body));  // no prefix
    CHECK_FALSE(signature_valid("app_secret_123", "sha1=" + expected.substr(7), body));
    CHECK_FALSE(signature_valid("app_secret_123", expected.substr(0, 70), body));
    CHECK_FALSE(signature_valid("app_secret_123", "sha256=zz" + expected.substr(9), body));
    CHECK_FALSE(signature_valid("app_secret_123", "", body));
    CHECK_FALSE(signature_valid("", sign("", body), body));
}

TEST_CASE("whatsapp: the GET verification", "[whatsapp]") {
    CHECK(subscription_valid("subscribe", "meatyhamhock", "meatyhamhock"));
    CHECK_FALSE(subscription_valid("subscribe", "meatyhamhocK", "meatyhamhock"));
    CHECK_FALSE(subscription_valid("unsubscribe", "meatyhamhock", "meatyhamhock"));
    CHECK_FALSE(subscription_valid("subscribe", "", "meatyhamhock"));
    CHECK_FALSE(subscription_valid("subscribe", "", ""));
}

TEST_CASE("whatsapp: Meta's text message example", "[whatsapp]") {
    auto body = parse_webhook(fixture("text.json"), kPhone, "wa");
    REQUIRE(body.readable);
    REQUIRE(body.messages.size() == 1);
    const auto& message = body.messages[0];
    REQUIRE(message.kind == WaMessage::Kind::message);
    CHECK(message.id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=");
    CHECK(message.inbound.message_id == message.id);
    CHECK(message.inbound.chat.adapter_id == "wa");
    CHECK(message.inbound.chat.chat_id == "16505551234");
    CHECK_FALSE(message.inbound.chat.is_group);
    CHECK(message.inbound.sender_id == "16505551234");
    CHECK(message.inbound.sender_name == "Sheena Nelson");
    CHECK(message.inbound.text == "Does it come in another color?");
    CHECK(message.inbound.at == std::chrono::system_clock::time_point(1739321024s));
    CHECK(body.statuses == 0);
    // The same body for another phone number of the account: not ours.
    auto other = parse_webhook(fixture("text.json"), "123", "wa");
    CHECK(other.messages.empty());
    CHECK(other.foreign == 1);
}

TEST_CASE("whatsapp: statuses are counted and ignored", "[whatsapp]") {
    auto body = parse_webhook(fixture("statuses.json"), kPhone, "wa");
    REQUIRE(body.readable);
    CHECK(body.messages.empty());
    CHECK(body.statuses == 1);
}

TEST_CASE("whatsapp: media, reactions, quotes, groups and other numbers", "[whatsapp]") {
    using Kind = WaMessage::Kind;
    auto body = parse_webhook(fixture("mixed.json"), kPhone, "wa");
    REQUIRE(body.readable);
    REQUIRE(body.messages.size() == 5);
    CHECK(body.foreign == 1);
    REQUIRE(body.messages[0].kind == Kind::message);
    CHECK(body.messages[0].inbound.unsupported == "image");
    CHECK(body.messages[0].inbound.text.empty());   // the caption is not sent to the LLM
    CHECK(body.messages[1].kind == Kind::ignored);  // reaction
    REQUIRE(body.messages[2].kind == Kind::message);
    CHECK(body.messages[2].inbound.quotes_message_id == "wamid.OURS");
    CHECK(body.messages[2].inbound.text == "this one");
    CHECK(body.messages[3].kind == Kind::ignored);  // Groups API
    CHECK(body.messages[4].kind == Kind::ignored);  // system
}

TEST_CASE("whatsapp: hostile bodies are skipped, never thrown", "[whatsapp]") {
    using Kind = WaMessage::Kind;
    auto body = parse_webhook(fixture("hostile.json"), kPhone, "wa");
    REQUIRE(body.readable);
    REQUIRE(body.messages.size() == 6);
    CHECK(body.messages[0].kind == Kind::unreadable);
    CHECK(body.messages[1].kind == Kind::unreadable);  // no id
    CHECK(body.messages[2].kind == Kind::unreadable);  // no from
    CHECK(body.messages[3].kind == Kind::unreadable);  // empty body
    CHECK(body.messages[4].kind == Kind::unreadable);  // body of the wrong type
    REQUIRE(body.messages[5].kind == Kind::message);
    // An impossible timestamp reads as now.
    CHECK(std::chrono::system_clock::now() - body.messages[5].inbound.at < 1min);
    CHECK(body.statuses == 0);
    for (std::string bad : {"", "[]", "{}", "{\"entry\":{}}", "nope", "\xff"}) {
        CHECK_FALSE(parse_webhook(bad, kPhone, "wa").readable);
    }
}

TEST_CASE("whatsapp: send and read bodies", "[whatsapp]") {
    CHECK(json::parse(text_body("16505551234", "hi")) ==
          json{{"messaging_product", "whatsapp"},
               {"recipient_type", "individual"},
               {"to", "16505551234"},
               {"type", "text"},
               {"text", {{"body", "hi"}, {"preview_url", false}}}});
    CHECK(json::parse(read_body("wamid.X", false)) ==
          json{{"messaging_product", "whatsapp"}, {"status", "read"}, {"message_id", "wamid.X"}});
    CHECK(json::parse(read_body("wamid.X", true))["typing_indicator"] == json{{"type", "text"}});
    CHECK_NOTHROW(json::parse(text_body("1", "\xff bad")));
}

TEST_CASE("whatsapp: Graph API errors mapped in one place", "[whatsapp]") {
    using Kind = SendError::Kind;
    auto error = [](int code, const char* message) {
        return json{{"error",
                     {{"message", message},
                      {"type", "OAuthException"},
                      {"code", code},
                      {"error_data", {{"messaging_product", "whatsapp"}, {"details", "d"}}},
                      {"fbtrace_id", "Az8or2yhqkZfEZ"}}}}
            .dump();
    };
    auto ok = classify(
        200,
        R"({"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"wamid.SENT"}]})",
        "");
    CHECK(ok.ok);
    CHECK(ok.message_id == "wamid.SENT");

    auto token = classify(401, error(190, "Error validating access token"), "");
    CHECK(token.failure.kind == Kind::unauthorized);
    CHECK_FALSE(token.operator_fix.empty());
    CHECK(classify(403, error(10, "(#10) Application does not have permission"), "").failure.kind ==
          Kind::unauthorized);

    auto throughput = classify(400, error(130429, "(#130429) Rate limit hit"), "");
    CHECK(throughput.failure.kind == Kind::rate_limited);
    CHECK(throughput.failure.retry_after == 1s);
    auto pair = classify(
        400, error(131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit"),
        "5");
    CHECK(pair.failure.kind == Kind::rate_limited);
    CHECK(pair.failure.retry_after == 5s);
    auto account = classify(400, error(80007, "(#80007) Rate limit issues"), "");
    CHECK(account.failure.kind == Kind::rate_limited);
    CHECK(account.failure.retry_after == 60s);

    auto late = classify(400, error(131047, "(#131047) Re-engagement message"), "");
    CHECK(late.outside_window);
    CHECK(late.failure.kind == Kind::bad_request);
    CHECK(late.failure.detail.find("24-hour") != std::string::npos);
    CHECK(classify(400, error(131026, "(#131026) Message Undeliverable"), "").failure.kind ==
          Kind::bad_request);
    CHECK(classify(500, error(131000, "Something went wrong"), "").failure.kind == Kind::transient);
    CHECK(classify(400, error(2, "Service temporarily unavailable"), "").failure.kind ==
          Kind::transient);
    CHECK(classify(400, error(100, "(#100) Invalid parameter"), "").failure.kind ==
          Kind::bad_request);
    CHECK(classify(503, "<html>", "").failure.kind == Kind::transient);
    CHECK(classify(429, "", "").failure.kind == Kind::rate_limited);
    CHECK(classify(401, "", "").failure.kind == Kind::unauthorized);
    CHECK(classify(0, "", "", "timeout").failure.kind == Kind::transient);
}
