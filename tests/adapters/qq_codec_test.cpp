// The qq adapter's pure parts: signatures and the op 13 answer against the official vectors
// (testdata/qq/vectors.json), pushes (fixtures in testdata/qq/), reply requests, token answers
// and the mapping of QQ's API errors.
#include "qq/qq_codec.hpp"

#include "base/crypto.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace bot::adapters::qq;
using bot::SendError;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/qq/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

json vector(const std::string& kind) {
    auto all = json::parse(fixture("vectors.json"));
    for (auto& entry : all) {
        if (entry["kind"] == kind) return entry;
    }
    FAIL("no vector " << kind);
    return {};
}

Push parse(const std::string& name) {
    auto push = parse_push(fixture(name));
    REQUIRE(push);
    return *push;
}

std::string public_key_of(const std::string& secret) {
    return bot::crypto::ed25519_public_key(seed_from_secret(secret));
}

}  // namespace

TEST_CASE("qq codec: the seed repeats the secret to 32 bytes", "[qq]") {
    auto v = vector("keypair");
    std::string secret = v["inputs"]["bot_secret"];
    CHECK(seed_from_secret(secret) == v["expected"]["seed"]);
    CHECK(bot::crypto::hex(public_key_of(secret)) == v["expected"]["public_key_hex"]);
    auto s = vector("signature");
    CHECK(seed_from_secret(s["inputs"]["bot_secret"].get<std::string>()) ==
          s["inputs"]["derived_seed"]);
    CHECK(seed_from_secret("").empty());
    CHECK(seed_from_secret(std::string(40, 'x')) == std::string(32, 'x'));
}

TEST_CASE("qq codec: botgo's signed push verifies, and nothing else does", "[qq]") {
    auto v = vector("signature");
    auto key = public_key_of(v["inputs"]["bot_secret"]);
    CHECK(bot::crypto::hex(key) == v["expected"]["public_key_hex"]);
    std::string ts = v["inputs"]["header_X_Signature_Timestamp"];
    std::string body = v["inputs"]["raw_body"];
    std::string sig = v["expected"]["header_X_Signature_Ed25519"];
    CHECK(verify_push(key, ts, body, sig));

    // Another body, timestamp, key or signature; the signature's shape.
    CHECK_FALSE(verify_push(key, ts, body + " ", sig));
    CHECK_FALSE(verify_push(key, "1728981196", body, sig));
    CHECK_FALSE(verify_push(key, "", body, sig));
    CHECK_FALSE(verify_push(public_key_of("another-secret"), ts, body, sig));
    std::string flipped = sig;
    flipped[10] = flipped[10] == '0' ? '1' : '0';
    CHECK_FALSE(verify_push(key, ts, body, flipped));
    CHECK_FALSE(verify_push(key, ts, body, sig.substr(2)));
    CHECK_FALSE(verify_push(key, ts, body, ""));
    CHECK_FALSE(verify_push(key, ts, body, std::string(128, 'z')));
    // sig[63] & 224 must be 0 (botgo decodeSigBuffer): the last byte's high bits set.
    std::string high = sig;
    high[126] = 'e';
    CHECK_FALSE(decode_signature(high));
    CHECK(decode_signature(sig));
    CHECK(decode_signature(sig)->size() == 64);
}

TEST_CASE("qq codec: op 13 is answered as the docs' example", "[qq]") {
    auto v = vector("url-verify");
    auto push = parse_push(v["inputs"]["request_body"].get<std::string>());
    REQUIRE(push);
    CHECK(push->kind == Push::Kind::validation);
    CHECK(push->plain_token == "Arq0D5A61EgUu4OxUvOp");
    CHECK(push->event_ts == "1725442341");
    std::string secret = v["inputs"]["bot_secret"];
    auto answer = validation_answer(seed_from_secret(secret), push->plain_token, push->event_ts);
    CHECK(answer == v["expected"]["response_body"]);
    CHECK(json::parse(answer)["signature"] == v["expected"]["signature"]);

    CHECK(parse("validation.json").kind == Push::Kind::validation);
    auto missing = parse_push(R"({"op":13,"d":{"plain_token":"x"}})");
    REQUIRE(missing);
    CHECK(missing->kind == Push::Kind::other_op);
}

TEST_CASE("qq codec: a C2C message", "[qq]") {
    auto push = parse("c2c.json");
    REQUIRE(push.kind == Push::Kind::message);
    CHECK(push.op == kOpDispatch);
    CHECK(push.event_type == "C2C_MESSAGE_CREATE");
    const auto& m = push.message;
    CHECK(m.scene == Scene::c2c);
    CHECK(m.id == "ROBOT1.0_.b6nx.CVryAO0nR58RXuU6SC.m92gc19j02qKqdm8ek!");
    CHECK(m.author_id == "E4F4AEA33253A2797FB897C50B81D7ED");
    CHECK(m.target == m.author_id);
    CHECK(m.text == "你好 <b> & more");  // pushed content is escaped (message_format.md)
    CHECK(m.attachment.empty());
    REQUIRE(m.at);
    // 2023-11-06T13:37:18+08:00 = 05:37:18 UTC
    CHECK(std::chrono::system_clock::to_time_t(*m.at) == 1699249038);
    auto chat = chat_of(m, "qq1");
    CHECK(chat.chat_id == m.author_id);
    CHECK_FALSE(chat.is_group);
    CHECK(scene_of(chat) == Scene::c2c);
    CHECK(reply_path(chat) == "/v2/users/E4F4AEA33253A2797FB897C50B81D7ED/messages");
    CHECK(reply_window(Scene::c2c) == 60min);
}

TEST_CASE("qq codec: a group @ message", "[qq]") {
    const auto& m = parse("group_at.json").message;
    CHECK(m.scene == Scene::group);
    CHECK(m.author_id == "E4F4AEA33253A2797FB897C50B81D7ED");
    CHECK(m.target == "C9F778FE6ADF9D1D1DBE395BF744A33A");
    CHECK(m.text == "123");  // the space where the @ was is gone
    auto chat = chat_of(m, "qq1");
    CHECK(chat.is_group);
    CHECK(reply_path(chat) == "/v2/groups/C9F778FE6ADF9D1D1DBE395BF744A33A/messages");
    CHECK(reply_window(Scene::group) == 5min);
}

TEST_CASE("qq codec: guild messages lose the bot's mention only", "[qq]") {
    const auto& at = parse("channel_at.json").message;
    CHECK(at.scene == Scene::channel);
    CHECK(at.author_id == "1234567890123");
    CHECK(at.author_name == "alice");
    CHECK(at.text == "what is  <@!555> doing?");
    REQUIRE(at.at);
    auto chat = chat_of(at, "qq1");
    CHECK(chat.chat_id == "channel:100010");
    CHECK(chat.is_group);
    CHECK(reply_path(chat) == "/channels/100010/messages");
    CHECK(reply_window(Scene::channel) == 5min);

    const auto& dm = parse("guild_dm.json").message;
    CHECK(dm.scene == Scene::guild_dm);
    CHECK(dm.text == "hi there");
    auto dm_chat = chat_of(dm, "qq1");
    CHECK(dm_chat.chat_id == "dms:9999000011112222");
    CHECK_FALSE(dm_chat.is_group);
    CHECK(reply_path(dm_chat) == "/dms/9999000011112222/messages");
    CHECK(reply_window(Scene::guild_dm) == 5min);

    // Without mention marks, a leading tag is taken for the bot's.
    auto bare = parse_push(
        R"({"op":0,"t":"AT_MESSAGE_CREATE","d":{"id":"m1","channel_id":"1","author":{"id":"2"},)"
        R"("content":"<@!77> hello <@!88>"}})");
    REQUIRE(bare);
    CHECK(bare->message.text == "hello <@!88>");
}

TEST_CASE("qq codec: attachments, other events and malformed pushes", "[qq]") {
    const auto& image = parse("c2c_image.json").message;
    CHECK(image.text.empty());
    CHECK(image.attachment == "image");
    REQUIRE(image.at);
    CHECK(std::chrono::system_clock::to_time_t(*image.at) == 1699277838);

    auto friend_add = parse("friend_add.json");
    CHECK(friend_add.kind == Push::Kind::other_dispatch);
    CHECK(friend_add.event_type == "FRIEND_ADD");
    CHECK(parse("no_author.json").kind == Push::Kind::other_dispatch);
    CHECK(parse("wrong_types.json").kind == Push::Kind::other_dispatch);
    auto heartbeat = parse("heartbeat.json");
    CHECK(heartbeat.kind == Push::Kind::heartbeat);
    CHECK(heartbeat_ack(heartbeat.heartbeat_seq) == R"({"op":11,"d":42})");
    CHECK(parse_push(R"({"op":7})")->kind == Push::Kind::other_op);
    // An openid with ':' would not read back from its chat id (found by fuzz_qq).
    CHECK(parse_push(R"({"op":0,"id":"e","t":"C2C_MESSAGE_CREATE","d":{"id":"m","content":"hi",)"
                     R"("author":{"user_openid":"AB:CD"}}})")
              ->kind == Push::Kind::other_dispatch);

    for (const char* junk : {"", "null", "[]", "{", R"({"op":"0"})", R"({"d":{}})",
                             R"({"op":0.5,"t":"C2C_MESSAGE_CREATE"})"}) {
        CHECK_FALSE(parse_push(junk));
    }
    CHECK(dispatch_ack(true) == R"({"op":12,"d":0})");
    CHECK(dispatch_ack(false) == R"({"op":12,"d":1})");
}

TEST_CASE("qq codec: RFC 3339 times", "[qq]") {
    auto t = [](const char* text) {
        auto at = parse_rfc3339(text);
        return at ? std::chrono::system_clock::to_time_t(*at) : -1;
    };
    CHECK(t("1970-01-01T00:00:00Z") == 0);
    CHECK(t("2024-10-15T16:33:15+08:00") == 1728981195);
    CHECK(t("2024-10-15T08:33:15.999Z") == 1728981195);
    CHECK(t("2024-10-15T03:33:15-05:00") == 1728981195);
    for (const char* bad :
         {"", "2024-10-15", "2024-10-15T16:33:15", "2024-13-15T16:33:15Z", "2024-02-30T16:33:15Z",
          "2024-10-15T16:33:15+0800", "2024-10-15T16:33:15Zjunk", "2024-1a-15T16:33:15Z",
          // Years system_clock's nanoseconds cannot hold (found by fuzz_qq).
          "4046-11-06T13:37:18+08:00", "0001-01-01T00:00:00Z"}) {
        CHECK(t(bad) == -1);
    }
}

TEST_CASE("qq codec: a passive reply names the message and the part", "[qq]") {
    auto body = json::parse(reply_body("hi \"you\"", "ROBOT1.0_x", 3));
    CHECK(
        body ==
        json{{"content", "hi \"you\""}, {"msg_type", 0}, {"msg_id", "ROBOT1.0_x"}, {"msg_seq", 3}});
    CHECK_FALSE(scene_of({"qq1", "", false}));
    CHECK_FALSE(scene_of({"qq1", "other:1", false}));
    CHECK(reply_path({"qq1", "a/b", false}) == "/v2/users/a%2Fb/messages");
}

TEST_CASE("qq codec: token answers, expires_in as a string or a number", "[qq]") {
    auto text = parse_token_answer(200, R"({"access_token":"tok","expires_in":"7200"})");
    REQUIRE(text.has_value());
    CHECK(text->access_token == "tok");
    CHECK(text->expires_in == 7200s);
    auto number = parse_token_answer(200, R"({"access_token":"tok","expires_in":300})");
    REQUIRE(number.has_value());
    CHECK(number->expires_in == 300s);
    auto missing = parse_token_answer(200, R"({"access_token":"tok"})");
    REQUIRE(missing.has_value());
    CHECK(missing->expires_in == 7200s);
    auto refused = parse_token_answer(200, R"({"code":100016,"message":"invalid appid"})");
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().find("100016") != std::string::npos);
    CHECK_FALSE(parse_token_answer(500, "oops").has_value());
    CHECK_FALSE(
        parse_token_answer(401, R"({"access_token":"tok","expires_in":"7200"})").has_value());
}

TEST_CASE("qq codec: API answers map to SendError in one place", "[qq]") {
    using Kind = SendError::Kind;
    auto ok = classify_send(200, R"({"id":"new-msg","timestamp":1700000000})", "");
    CHECK(ok.kind == SendOutcome::Kind::delivered);
    CHECK(ok.message_id == "new-msg");
    CHECK(classify_send(202, R"({"code":304024,"message":"pending review"})", "").kind ==
          SendOutcome::Kind::delivered);
    CHECK(classify_send(401, "", "").kind == SendOutcome::Kind::token_refused);
    CHECK(classify_send(400, R"({"code":11244,"message":"token expired"})", "").kind ==
          SendOutcome::Kind::token_refused);
    CHECK(classify_send(400, R"({"message":"消息被去重，请检查请求msgseq","code":40054005,
                                 "err_code":40054005})",
                        "")
              .kind == SendOutcome::Kind::delivered);

    auto error = [](int status, const std::string& body, const std::string& retry = "") {
        auto outcome = classify_send(status, body, retry);
        REQUIRE(outcome.kind == SendOutcome::Kind::failed);
        return outcome.error;
    };
    auto expired = error(400, R"({"code":304027,"message":"msg expire"})");
    CHECK(expired.kind == Kind::bad_request);
    CHECK(expired.detail.find("passive reply window closed") != std::string::npos);
    auto limited = error(429, "{}", "12");
    CHECK(limited.kind == Kind::rate_limited);
    CHECK(limited.retry_after == 12s);
    auto exceeded = error(400, R"({"code":22009,"message":"msg limit exceed"})");
    CHECK(exceeded.kind == Kind::rate_limited);
    CHECK(exceeded.retry_after == kDefaultRetryAfter);
    CHECK(error(400, R"({"code":304050})").kind == Kind::quota_exhausted);
    CHECK(error(500, R"({"code":1100300})").kind == Kind::transient);
    CHECK(error(400, R"({"code":11281})").kind == Kind::transient);
    CHECK(error(502, "<html>").kind == Kind::transient);
    CHECK(error(403, "{}").kind == Kind::unauthorized);
    auto bad = error(400, R"({"code":50006,"message":"empty"})");
    CHECK(bad.kind == Kind::bad_request);
    CHECK(bad.detail.find("50006") != std::string::npos);
}
