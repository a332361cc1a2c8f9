// The feishu adapter's pure parts: pbbp2 frames against node-sdk's own encoder output
// (longconn-protocols.md §1.2), the decrypt vector (vectors.json feishu/decrypt), the push
// signature, events (fixtures in testdata/feishu/), mentions, post flattening, fragments, the
// endpoint answer and the one classification of Open API answers.
#include "feishu/feishu_codec.hpp"
#include "feishu/feishu_frame.hpp"

#include "base/crypto.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace bot::adapters::feishu;
using bot::SendError;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kBot = "ou_bot000000000000000000000000000";

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/feishu/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string unhex(std::string_view text) {
    auto bytes = bot::crypto::from_hex(text);
    REQUIRE(bytes);
    return *bytes;
}

}  // namespace

// --- frames -------------------------------------------------------------------------------

TEST_CASE("feishu frames: node-sdk's ping fixture, byte for byte", "[feishu]") {
    const auto expected = unhex("0800100018ea87801020002a0c0a0474797065120470696e67");
    CHECK(bot::crypto::hex(encode_frame(ping_frame(33555434))) == bot::crypto::hex(expected));
    auto decoded = decode_frame(expected);
    REQUIRE(decoded);
    CHECK(decoded->service == 33555434);
    CHECK(decoded->method == Frame::control);
    CHECK(decoded->header("type") == "ping");
    CHECK(decoded->payload.empty());
}

TEST_CASE("feishu frames: node-sdk's response fixture, byte for byte", "[feishu]") {
    const auto expected = unhex(
        "080110edd795ffbc3118ea87801020012a0d0a047479706512056576656e742a100a0a6d6573736167655f"
        "696412026d312a080a0373756d1201312a080a037365711201302a0e0a0874726163655f6964120274312a"
        "0b0a0662697a5f7274120133420c7b22636f6465223a3230307d");
    Frame frame;
    frame.seq_id = 1;
    frame.log_id = 1700000001005;
    frame.service = 33555434;
    frame.method = Frame::data;
    frame.headers = {{"type", "event"}, {"message_id", "m1"}, {"sum", "1"},
                     {"seq", "0"},      {"trace_id", "t1"},   {"biz_rt", "3"}};
    frame.payload = R"({"code":200})";
    CHECK(bot::crypto::hex(encode_frame(frame)) == bot::crypto::hex(expected));
    auto decoded = decode_frame(expected);
    REQUIRE(decoded);
    CHECK(*decoded == frame);
}

TEST_CASE("feishu frames: round trips keep 64-bit ids, negative int32 and every field",
          "[feishu]") {
    Frame frame;
    frame.seq_id = 0xFFFFFFFFFFFFFFFFull;
    frame.log_id = 9007199254740993ull;  // 2^53 + 1: a double would round it
    frame.service = -7;
    frame.method = Frame::data;
    frame.headers = {{"type", "event"}, {"", ""}, {"k", std::string(300, 'v')}};
    frame.payload_encoding = "json";
    frame.payload_type = "event";
    frame.payload = std::string("\0\x01\xff", 3) + std::string(70000, 'p');
    frame.log_id_new = "log-new";
    auto decoded = decode_frame(encode_frame(frame));
    REQUIRE(decoded);
    CHECK(*decoded == frame);
}

TEST_CASE("feishu frames: unknown fields are skipped by wire type", "[feishu]") {
    auto bytes = encode_frame(ping_frame(5));
    bytes += unhex("5801");  // field 11 varint
    bytes += unhex(
        "6103000000000000"
        "00");                     // field 12 fixed64 (8 bytes)
    bytes += unhex("6d04000000");  // field 13 fixed32
    bytes += unhex("7203616263");  // field 14 length-delimited "abc"
    auto decoded = decode_frame(bytes);
    REQUIRE(decoded);
    CHECK(decoded->service == 5);
    CHECK(decoded->header("type") == "ping");
}

TEST_CASE("feishu frames: truncated, overlong and ill-typed input is refused", "[feishu]") {
    const auto good = encode_frame(ping_frame(33555434));
    for (std::size_t cut = 0; cut < good.size(); ++cut) {
        auto decoded = decode_frame(good.substr(0, cut));
        // Cut right after the four numeric fields: a whole frame without headers.
        if (cut == 11) {
            CHECK((decoded && decoded->headers.empty()));
        } else {
            CHECK_FALSE(decoded);  // every other truncation (0: required fields missing)
        }
    }
    CHECK_FALSE(decode_frame(unhex("08ffffffffffffffffffff01")));            // an 11-byte varint
    CHECK_FALSE(decode_frame(unhex("08ffffffffffffffffff02100018002000")));  // 10th byte > 1
    CHECK_FALSE(
        decode_frame(unhex("0800100018002000"
                           "42ffffffff0f")));  // length past the end
    CHECK_FALSE(
        decode_frame(unhex("0a0100"
                           "100018002000")));  // field 1 as bytes
    CHECK_FALSE(
        decode_frame(unhex("0800100018002000"
                           "4001")));  // payload as varint
    CHECK_FALSE(
        decode_frame(unhex("0800100018002000"
                           "2a020a00")));  // header without value
    CHECK_FALSE(
        decode_frame(unhex("0800100018002000"
                           "0b")));                  // group start
    CHECK_FALSE(decode_frame(unhex("0800100018")));  // service cut off
    CHECK_FALSE(decode_frame(std::string(kMaxFrameBytes + 1, '\0')));
}

// --- crypto -------------------------------------------------------------------------------

TEST_CASE("feishu decrypt: vectors.json feishu/decrypt", "[feishu]") {
    auto plain = decrypt_push("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=");
    REQUIRE(plain);
    CHECK(*plain == "hello world");
    CHECK_FALSE(decrypt_push("other key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="));
    CHECK_FALSE(decrypt_push("test key", "not base64!"));
    CHECK_FALSE(decrypt_push("test key", "AAAAAAAAAAAAAAAAAAAAAA=="));  // an IV only
    auto round = encrypt_push("k", R"({"a":1})", std::string(16, '\x07'));
    CHECK(decrypt_push("k", round) == R"({"a":1})");
    CHECK(encrypted_field(R"({"encrypt":"abc"})") == "abc");
    CHECK_FALSE(encrypted_field(R"({"encrypt":5})"));
    CHECK_FALSE(encrypted_field(R"({"schema":"2.0"})"));
}

TEST_CASE("feishu signature: plain SHA-256 of timestamp + nonce + key + body", "[feishu]") {
    // Constructed (protocols.md §3): computed independently with Python's hashlib.
    const std::string body =
        R"({"schema":"2.0","header":{"event_id":"f7984f25108f8137722bb63cee927e66"}})";
    const std::string expected = "fafd4f22d0cdc4d798ea16996226625f7e2f29720f92ed05275f918fe1eacb45";
    CHECK(push_signature("1700000000", "nonce-8a7b", "test key", body) == expected);
    CHECK(verify_push_signature("1700000000", "nonce-8a7b", "test key", body, expected));
    CHECK_FALSE(verify_push_signature("1700000001", "nonce-8a7b", "test key", body, expected));
    CHECK_FALSE(
        verify_push_signature("1700000000", "nonce-8a7b", "test key", body + " ", expected));
    CHECK_FALSE(verify_push_signature("1700000000", "nonce-8a7b", "test key", body, ""));
    // Not an HMAC (the mistake protocols.md warns of).
    CHECK(expected !=
          bot::crypto::hex(bot::crypto::hmac_sha256("test key", "1700000000nonce-8a7b" + body)));
}

// --- events -------------------------------------------------------------------------------

TEST_CASE("feishu events: a private text message", "[feishu]") {
    auto event = parse_event(fixture("p2p_text.json"), kBot);
    REQUIRE(event.kind == Event::Kind::message);
    CHECK(event.event_id == "5e3702a84e847582be8db7fb73283c02");
    CHECK(event.token == "rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV");
    const auto& message = event.message;
    CHECK(message.message_id == "om_dc13264520392913993dd051dba21dcf");
    CHECK(message.chat_id == "oc_84983ff6516d731e5b5f68d4ea2e1da5");
    CHECK_FALSE(message.is_group);
    CHECK(message.sender_open_id == "ou_84aad35d084aa403a838cf73ee18467");
    CHECK(message.text == "hello 飞书");
    REQUIRE(message.at);
    CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(message.at->time_since_epoch())
              .count() == 1700000000123);
}

TEST_CASE("feishu events: a group @mention of the bot; other users' keys become names",
          "[feishu]") {
    auto event = parse_event(fixture("group_mention.json"), kBot);
    REQUIRE(event.kind == Event::Kind::message);
    CHECK(event.message.is_group);
    CHECK(event.message.mentions_me);
    CHECK(event.message.text == "what about @Alice and @Bob?");  // @_user_10 is not @_user_1 + 0
    // Before the bot's open_id is known nothing is for the bot, and its key reads as a name.
    auto unknown = parse_event(fixture("group_mention.json"), "");
    CHECK_FALSE(unknown.message.mentions_me);
    CHECK(unknown.message.text == "@contactbot what about @Alice and @Bob?");
}

TEST_CASE("feishu events: group chatter and replies carry the facts the core decides by",
          "[feishu]") {
    auto chatter = parse_event(fixture("group_chatter.json"), kBot);
    REQUIRE(chatter.kind == Event::Kind::message);
    CHECK_FALSE(chatter.message.mentions_me);
    CHECK(chatter.message.text == "@Alice lunch?");
    auto reply = parse_event(fixture("group_reply.json"), kBot);
    REQUIRE(reply.kind == Event::Kind::message);
    CHECK_FALSE(reply.message.mentions_me);
    CHECK(reply.message.parent_id == "om_sent_1");  // the core matches it to what it sent
}

TEST_CASE("feishu events: a post is flattened to text, an image is unsupported", "[feishu]") {
    auto post = parse_event(fixture("post.json"), kBot);
    REQUIRE(post.kind == Event::Kind::message);
    CHECK(post.message.mentions_me);
    CHECK(post.message.text == "Plan\nfirst link\nsecond\n```GO\nx := 1\n```");
    auto image = parse_event(fixture("image.json"), kBot);
    REQUIRE(image.kind == Event::Kind::message);
    CHECK(image.message.message_type == "image");
    CHECK(image.message.text.empty());
    // A post in the locale wrapper sent messages use.
    CHECK(content_text("post",
                       R"({"zh_cn":{"title":"","content":[[{"tag":"text","text":"hi"}]]}})") ==
          "hi");
    CHECK_FALSE(content_text("post", R"({"zh_cn":5})"));
    CHECK_FALSE(content_text("text", R"({"text":5})"));
    CHECK_FALSE(content_text("sticker", R"({"file_key":"x"})"));
}

TEST_CASE("feishu events: url_verification, other events, hostile input", "[feishu]") {
    auto check = parse_event(fixture("url_verification.json"), kBot);
    REQUIRE(check.kind == Event::Kind::url_verification);
    CHECK(check.challenge == "ajls384kdjx98XX");
    CHECK(check.token == "rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV");
    CHECK(json::parse(challenge_answer(check.challenge)) == json{{"challenge", "ajls384kdjx98XX"}});

    auto added = parse_event(fixture("bot_added.json"), kBot);
    CHECK(added.kind == Event::Kind::other);
    CHECK(added.token == "rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV");  // still checked by the webhook

    CHECK(parse_event(fixture("wrong_types.json"), kBot).kind == Event::Kind::invalid);
    CHECK(parse_event(fixture("content_not_json.json"), kBot).kind == Event::Kind::invalid);
    CHECK(parse_event("", kBot).kind == Event::Kind::invalid);
    CHECK(parse_event("[1,2]", kBot).kind == Event::Kind::invalid);
    CHECK(parse_event(R"({"type":"url_verification"})", kBot).kind == Event::Kind::invalid);
    CHECK(parse_event(R"({"header":5})", kBot).kind == Event::Kind::other);
    // A create_time past what system_clock holds is not read (fuzz_feishu found the overflow).
    auto far = json::parse(fixture("p2p_text.json"));
    far["event"]["message"]["create_time"] = "17000000090123";
    auto future = parse_event(far.dump(), kBot);
    REQUIRE(future.kind == Event::Kind::message);
    CHECK_FALSE(future.message.at);
    CHECK(
        parse_event(R"({"header":{"event_type":"im.message.receive_v1"},"event":{}})", kBot).kind ==
        Event::Kind::invalid);
}

TEST_CASE("feishu mentions: repeated, adjacent and unknown placeholders", "[feishu]") {
    std::vector<Mention> mentions{{"@_user_1", kBot, "bot"}, {"@_user_2", "ou_a", ""}};
    bool me = false;
    CHECK(resolve_mentions("@_user_1 @_user_1 hi@_user_2@_user_3", mentions, kBot, me) ==
          "hi@_user_2@_user_3");
    CHECK(me);
    me = false;
    CHECK(resolve_mentions("@_user_2", mentions, "", me) == "@_user_2");  // no name: the key
    CHECK_FALSE(me);
    CHECK(resolve_mentions("@", {{"@", kBot, "x"}}, kBot, me) == "@");  // too short to be a key
}

// --- long connection ----------------------------------------------------------------------

TEST_CASE("feishu endpoint answers: URL, service_id, ClientConfig and the error codes",
          "[feishu]") {
    ClientConfig defaults;
    auto ok = parse_endpoint(
        200,
        R"({"code":0,"msg":"ok","data":{"URL":"wss://msg-frontier.feishu.cn/ws/v2?fpid=493&device_id=7321&access_key=x&service_id=33555434&ticket=y","ClientConfig":{"ReconnectCount":-1,"ReconnectInterval":60,"ReconnectNonce":15,"PingInterval":90}}})",
        defaults);
    REQUIRE(ok.kind == Endpoint::Kind::ok);
    CHECK(ok.service_id == 33555434);
    CHECK(ok.device_id == "7321");
    CHECK(ok.config.ping_interval_s == 90);
    CHECK(ok.config.reconnect_interval_s == 60);
    CHECK(ok.config.reconnect_nonce_s == 15);
    for (int code : {403, 514, 1000040344, 1000040350}) {
        auto refused = parse_endpoint(200, R"({"code":)" + std::to_string(code) + "}", defaults);
        CHECK(refused.kind == Endpoint::Kind::operator_error);
        CHECK(refused.code == code);
    }
    CHECK(parse_endpoint(200, R"({"code":1})", defaults).kind == Endpoint::Kind::retry);
    CHECK(parse_endpoint(200, R"({"code":1000040343})", defaults).kind == Endpoint::Kind::retry);
    CHECK(parse_endpoint(502, "", defaults).kind == Endpoint::Kind::retry);
    CHECK(parse_endpoint(200, R"({"code":0,"data":{"URL":"wss://x/ws"}})", defaults).kind ==
          Endpoint::Kind::retry);  // no service_id
    CHECK(parse_endpoint(200, R"({"code":0,"data":{"URL":"https://x/?service_id=1"}})", defaults)
              .kind == Endpoint::Kind::retry);

    ClientConfig config;
    apply_client_config(config,
                        R"({"PingInterval":0,"ReconnectNonce":"5","ReconnectInterval":99999})");
    CHECK(config.ping_interval_s == 1);     // clamped: never a ping storm
    CHECK(config.reconnect_nonce_s == 30);  // a string: ignored
    CHECK(config.reconnect_interval_s == 3600);
}

TEST_CASE("feishu fragments: put together in seq order, bounded, stale sets dropped", "[feishu]") {
    Fragments fragments;
    auto now = Fragments::Clock::now();
    CHECK(fragments.add("m1", "3", "2", "c", now).kind == Fragments::Result::Kind::pending);
    CHECK(fragments.add("m1", "3", "0", "a", now).kind == Fragments::Result::Kind::pending);
    CHECK(fragments.add("m1", "3", "0", "a", now).kind == Fragments::Result::Kind::pending);
    auto whole = fragments.add("m1", "3", "1", "b", now);
    REQUIRE(whole.kind == Fragments::Result::Kind::complete);
    CHECK(whole.payload == "abc");
    CHECK(fragments.pending() == 0);
    CHECK(fragments.pending_bytes() == 0);

    CHECK(fragments.add("x", "", "", "whole", now).payload == "whole");  // no headers: one frame
    CHECK(fragments.add("m2", "2", "2", "x", now).kind == Fragments::Result::Kind::refused);
    CHECK(fragments.add("m2", "0", "0", "x", now).kind == Fragments::Result::Kind::refused);
    CHECK(fragments.add("m2", "65", "0", "x", now).kind == Fragments::Result::Kind::refused);
    CHECK(fragments.add("m2", "2", "-1", "x", now).kind == Fragments::Result::Kind::refused);
    CHECK(fragments.add("m2", "2x", "0", "x", now).kind == Fragments::Result::Kind::refused);
    CHECK(fragments.add("", "2", "0", "x", now).kind == Fragments::Result::Kind::refused);
    CHECK(fragments.add("m3", "2", "0", "x", now).kind == Fragments::Result::Kind::pending);
    CHECK(fragments.add("m3", "3", "1", "y", now).kind == Fragments::Result::Kind::refused);

    // Stale sets go after kMaxAge; then the slots are free again.
    for (int i = 0; i < 63; ++i) fragments.add("p" + std::to_string(i), "2", "0", "x", now);
    CHECK(fragments.pending() == Fragments::kMaxPending);
    CHECK(fragments.add("one-more", "2", "0", "x", now).kind == Fragments::Result::Kind::refused);
    auto later = now + Fragments::kMaxAge + 1s;
    CHECK(fragments.add("one-more", "2", "0", "x", later).kind == Fragments::Result::Kind::pending);
    CHECK(fragments.pending() == 1);
    CHECK(fragments.pending_bytes() == 1);

    // The byte cap drops the set that would overflow it.
    Fragments big;
    std::string mb(1 << 20, 'z');
    for (int i = 0; i < 8; ++i)
        CHECK(big.add("b", "9", std::to_string(i), mb, now).kind ==
              Fragments::Result::Kind::pending);
    CHECK(big.add("b", "9", "8", "z", now).kind == Fragments::Result::Kind::refused);
    CHECK(big.pending_bytes() == 0);
}

// --- API answers --------------------------------------------------------------------------

TEST_CASE("feishu classify: one mapping of every answer", "[feishu]") {
    using Kind = ApiOutcome::Kind;
    CHECK(classify(200, R"({"code":0,"data":{}})", "").kind == Kind::ok);
    CHECK(classify(400, R"({"code":99991663,"msg":"Invalid access token"})", "").kind ==
          Kind::token_refused);
    CHECK(classify(401, "", "").kind == Kind::token_refused);
    auto limited =
        classify(400, R"({"code":99991400,"msg":"request trigger frequency limit"})", "7");
    CHECK(limited.kind == Kind::failed);
    CHECK(limited.error.kind == SendError::Kind::rate_limited);
    CHECK(limited.error.retry_after == 7s);
    CHECK(classify(429, "", "").error.retry_after == 1s);  // no header: 1 s, then the backoff
    auto permission = classify(
        400,
        R"({"code":99991672,"msg":"Access denied. One of the following scopes is required: [im:message]"})",
        "");
    CHECK(permission.error.kind == SendError::Kind::unauthorized);
    CHECK(permission.permission);
    CHECK(permission_fix(permission.code).find("im:message") != std::string::npos);
    CHECK(classify(400, R"({"code":230002,"msg":"Bot/User can NOT be out of the chat."})", "")
              .error.kind == SendError::Kind::unauthorized);
    CHECK(classify(503, "<html>", "").error.kind == SendError::Kind::transient);
    CHECK(classify(200, R"({"code":1,"msg":"system busy"})", "").error.kind ==
          SendError::Kind::transient);
    CHECK(classify(400, R"({"code":230011,"msg":"message withdrawn"})", "").error.kind ==
          SendError::Kind::bad_request);
    CHECK(classify(400, "not json", "").error.kind == SendError::Kind::bad_request);
    CHECK(classify(400, R"({"code":"99991663"})", "").error.kind == SendError::Kind::bad_request);
}

TEST_CASE("feishu bodies: replies, cards, tokens, bot info", "[feishu]") {
    auto post = json::parse(post_reply_body("a **\"quoted\"** 飞书\n", "uuid-1"));
    CHECK(post["msg_type"] == "post");
    CHECK(json::parse(post["content"].get<std::string>()) ==
          json{{"zh_cn",
                {{"title", ""},
                 {"content", {{{{"tag", "md"}, {"text", "a **\"quoted\"** 飞书\n"}}}}}}}});
    CHECK(post["uuid"] == "uuid-1");
    auto card = json::parse(card_reply_body("7355", "u"));
    CHECK(card["msg_type"] == "interactive");
    CHECK(json::parse(card["content"].get<std::string>()) ==
          json{{"type", "card"}, {"data", {{"card_id", "7355"}}}});
    auto create = json::parse(create_card_body("answer", "…"));
    CHECK(create["type"] == "card_json");
    auto data = json::parse(create["data"].get<std::string>());
    CHECK(data["schema"] == "2.0");
    CHECK(data["config"]["streaming_mode"] == true);
    CHECK(data["body"]["elements"][0]["element_id"] == "answer");
    CHECK(json::parse(card_content_body("x", 3, "u")) ==
          json{{"content", "x"}, {"sequence", 3}, {"uuid", "u"}});
    auto finish = json::parse(card_finish_body(4, "u"));
    CHECK(json::parse(finish["settings"].get<std::string>())["config"]["streaming_mode"] == false);

    auto token = parse_tenant_token(
        200, R"({"code":0,"msg":"ok","tenant_access_token":"t-1","expire":7140})");
    REQUIRE(token.has_value());
    CHECK(token->token == "t-1");
    CHECK(token->expires_in == 7140s);
    CHECK_FALSE(
        parse_tenant_token(200, R"({"code":10014,"msg":"app secret invalid"})").has_value());
    CHECK_FALSE(parse_tenant_token(200, R"({"code":0,"tenant_access_token":5})").has_value());
    CHECK(parse_bot_open_id(R"({"code":0,"bot":{"open_id":"ou_b"}})") == "ou_b");
    CHECK(parse_bot_open_id(R"({"code":0,"bot":{"open_id":5}})").empty());
    CHECK(parse_bot_open_id(R"({"code":99991663})").empty());
}
