// The slack adapter's pure parts: the v0 signature (the official example, vectors.json
// slack/signature), Events API bodies and message events (fixtures in testdata/slack/),
// Socket Mode envelopes and their acknowledgement, message ids, the text the LLM reads, and
// the mapping of Web API answers to SendError.
#include "slack/slack_codec.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace bot::adapters::slack;
using bot::SendError;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string fixture(const std::string& name) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/slack/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The bot user of the python-slack-sdk fixtures.
const BotIdentity kMe{.user_id = "U111", .bot_id = "B111", .team_id = "T111"};

std::string payload_of(const std::string& envelope_fixture) {
    return json::parse(fixture(envelope_fixture))["payload"].dump();
}

}  // namespace

TEST_CASE("slack: the official signature example", "[slack]") {
    // docs.slack.dev/authentication/verifying-requests-from-slack, as used in python-slack-sdk
    // tests/slack_sdk/signature/test_signature_verifier.py (vectors.json slack/signature).
    const std::string secret = "8f742231b10e8888abcd99yyyzzz85a5";
    const std::string timestamp = "1531420618";
    const std::string body =
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
        "G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"
        "collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%"
        "2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."
        "803a0bc887a14d10d2c447fce8b6703c";
    const std::string expected =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    CHECK(sign_v0(secret, timestamp, body) == expected);
    const std::int64_t at = 1531420618;
    CHECK(check_signature(secret, timestamp, expected, body, at) == SignCheck::ok);
    CHECK(check_signature(secret, timestamp, expected, body, at + 300) == SignCheck::ok);
    CHECK(check_signature(secret, timestamp, expected, body, at - 300) == SignCheck::ok);
    CHECK(check_signature(secret, timestamp, expected, body, at + 301) == SignCheck::stale);
    CHECK(check_signature(secret, timestamp, expected, body, at - 301) == SignCheck::stale);
    CHECK(check_signature(secret, timestamp, expected, body + " ", at) == SignCheck::forged);
    CHECK(check_signature("other", timestamp, expected, body, at) == SignCheck::forged);
    std::string zeros(67, '0');
    zeros[0] = 'v';
    zeros[2] = '=';  // "v0=000..."
    CHECK(check_signature(secret, timestamp, zeros, body, at) == SignCheck::forged);
    CHECK(check_signature(secret, timestamp, "", body, at) == SignCheck::missing);
    CHECK(check_signature(secret, "", expected, body, at) == SignCheck::missing);
    CHECK(check_signature(secret, "15314x0618", expected, body, at) == SignCheck::forged);
    CHECK(check_timestamp("99999999999999999999999", at) == SignCheck::forged);
    CHECK(check_timestamp("-9223372036854775808", at) == SignCheck::stale);
}

TEST_CASE("slack: url_verification and the other Events API bodies", "[slack]") {
    // The official example (vectors.json "url_verification handshake").
    auto body = classify_events_body(R"({
    "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
    "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    "type": "url_verification"
})");
    CHECK(body.kind == EventsBody::Kind::url_verification);
    CHECK(body.challenge == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    CHECK(classify_events_body(fixture("dm.json")).kind == EventsBody::Kind::event_callback);
    CHECK(classify_events_body(R"({"type":"app_rate_limited","minute_rate_limited":1})").kind ==
          EventsBody::Kind::rate_limited);
    CHECK(classify_events_body(R"({"type":"url_verification","challenge":5})").kind ==
          EventsBody::Kind::unreadable);
    CHECK(classify_events_body("token=x&command=%2Fhi").kind == EventsBody::Kind::unreadable);
    CHECK(classify_events_body(R"({"type":"block_actions"})").kind == EventsBody::Kind::other);
}

TEST_CASE("slack: a DM (message.im)", "[slack]") {
    auto parsed = parse_event_callback(fixture("dm.json"), kMe, "sl");
    REQUIRE(parsed.kind == ParsedEvent::Kind::message);
    CHECK(parsed.event_id == "Ev123ABC456");
    const auto& in = parsed.inbound;
    CHECK(in.chat.adapter_id == "sl");
    CHECK(in.chat.chat_id == "D024BE91L");
    CHECK_FALSE(in.chat.is_group);
    CHECK(in.sender_id == "U2147483697");
    CHECK(in.text == "Hello hello can you hear me?");
    CHECK(in.message_id == "D024BE91L:1355517523.000005");
    CHECK(in.unsupported.empty());
    CHECK(in.at == std::chrono::system_clock::time_point(std::chrono::seconds(1355517523)));
}

TEST_CASE("slack: an app_mention in a channel, and the same message as message.channels",
          "[slack]") {
    auto envelope = parse_envelope(fixture("app_mention.json"), kMe, "sl");
    REQUIRE(envelope.type == Envelope::Type::events_api);
    CHECK(envelope.envelope_id == "cda4159a-72a5-4744-aba3-4d66eb52682b");
    REQUIRE(envelope.event.kind == ParsedEvent::Kind::message);
    const auto& in = envelope.event.inbound;
    CHECK(in.chat.chat_id == "C111");
    CHECK(in.chat.is_group);
    CHECK(in.mentions_me);
    CHECK(in.text.empty());  // a bare mention (the core answers blank text with a notice)
    CHECK(in.message_id == "C111:1610241741.000200");

    // message.channels for the same mention: ignored (app_mention answers it).
    auto channel = parse_envelope(fixture("message_channel.json"), kMe, "sl");
    REQUIRE(channel.type == Envelope::Type::events_api);
    CHECK(channel.event.kind == ParsedEvent::Kind::ignored);
    // The same event over HTTP gives the same id as over the socket.
    auto over_http = parse_event_callback(payload_of("app_mention.json"), kMe, "sl");
    CHECK(over_http.inbound.message_id == in.message_id);
}

TEST_CASE("slack: a mention inside a thread, with links, entities and channel names", "[slack]") {
    auto parsed = parse_event_callback(fixture("thread_mention.json"), kMe, "sl");
    REQUIRE(parsed.kind == ParsedEvent::Kind::message);
    CHECK(parsed.inbound.text ==
          "what about <b> & this link (https://example.com/a?b=1&c=2), #random and @here?");
    CHECK(parsed.inbound.message_id == "C111:1610241800.000300:1610241741.000200");
    auto ref = decode_message_id(parsed.inbound.message_id);
    REQUIRE(ref);
    CHECK(ref->channel == "C111");
    CHECK(ref->ts == "1610241800.000300");
    CHECK(ref->thread_ts == "1610241741.000200");
}

TEST_CASE("slack: bots, the bot itself, edits and files", "[slack]") {
    CHECK(parse_event_callback(fixture("bot_message.json"), kMe, "sl").kind ==
          ParsedEvent::Kind::ignored);
    CHECK(parse_event_callback(fixture("message_changed.json"), kMe, "sl").kind ==
          ParsedEvent::Kind::ignored);
    // The bot's own user (a reply of ours echoed by message.im), even without a bot_id.
    auto own = json::parse(fixture("dm.json"));
    own["event"]["user"] = "U111";
    CHECK(parse_event_callback(own.dump(), kMe, "sl").kind == ParsedEvent::Kind::ignored);
    // A mention inside a DM: message.im answers it, not app_mention.
    auto dm_mention = json::parse(fixture("dm.json"));
    dm_mention["event"]["type"] = "app_mention";
    dm_mention["event"].erase("channel_type");
    CHECK(parse_event_callback(dm_mention.dump(), kMe, "sl").kind == ParsedEvent::Kind::ignored);
    // Other events.
    CHECK(parse_event_callback(R"({"type":"event_callback","event":{"type":"reaction_added"}})",
                               kMe, "sl")
              .kind == ParsedEvent::Kind::ignored);
    auto file = parse_event_callback(fixture("file_share.json"), kMe, "sl");
    REQUIRE(file.kind == ParsedEvent::Kind::message);
    CHECK(file.inbound.unsupported == "file");
    CHECK(file.inbound.text.empty());
}

TEST_CASE("slack: hostile events are skipped, never thrown", "[slack]") {
    auto cases = json::parse(fixture("hostile.json"));
    std::vector<ParsedEvent::Kind> kinds;
    for (const auto& one : cases) {
        ParsedEvent parsed;
        REQUIRE_NOTHROW(parsed = parse_event_callback(one.dump(), kMe, "sl"));
        kinds.push_back(parsed.kind);
    }
    using K = ParsedEvent::Kind;
    CHECK(kinds == std::vector<K>{K::message,     // a numeric event_id is only a log detail
                                  K::ignored,     // user not a string: no user
                                  K::message,     // text not a string: blank
                                  K::unreadable,  // ts not a string
                                  K::unreadable,  // ':' in the channel
                                  K::unreadable,  // not a ts
                                  K::message,     // thread_ts an object: read as absent
                                  K::unreadable, K::unreadable, K::message});
    // A ts far in the future (found by fuzz_slack: it overflowed the clock) reads as now.
    auto future = json::parse(fixture("dm.json"));
    future["event"]["ts"] = "13555171523.000005";
    auto far = parse_event_callback(future.dump(), kMe, "sl");
    REQUIRE(far.kind == ParsedEvent::Kind::message);
    CHECK(far.inbound.at > std::chrono::system_clock::now() - std::chrono::hours(1));
    auto odd = parse_event_callback(cases.back().dump(), kMe, "sl");
    CHECK(odd.inbound.text == "<<>>&&&lt");  // ("<<>" reads as a link to "<<")
    for (std::string_view text : {"", "null", "[]", "{\"type\":5}", "{", "\x80\xff"})
        CHECK(parse_event_callback(text, kMe, "sl").kind != ParsedEvent::Kind::message);
}

TEST_CASE("slack: the text the LLM reads", "[slack]") {
    CHECK(readable_text("<@U111> hi", "U111") == "hi");
    CHECK(readable_text("hi <@U111>", "U111") == "hi");
    CHECK(readable_text("<@U111|bot>: hi", "U111") == ": hi");
    CHECK(readable_text("ask <@U222> about it", "U111") == "ask <@U222> about it");
    CHECK(readable_text("<mailto:a@b.c|a@b.c>", "U111") == "a@b.c (mailto:a@b.c)");
    CHECK(readable_text("<https://x.y>", "U111") == "https://x.y");
    CHECK(readable_text("<!channel> <!subteam^S1|@team>", "U111") == "@channel @team");
    CHECK(readable_text("unclosed <@U111", "U111") == "unclosed <@U111");
    CHECK(readable_text("  &lt;&amp;&gt; ", "") == "<&>");
}

TEST_CASE("slack: message ids", "[slack]") {
    MessageRef ref{.channel = "C1", .ts = "1.2"};
    CHECK(encode_message_id(ref) == "C1:1.2");
    auto back = decode_message_id("C1:1.2");
    REQUIRE(back);
    CHECK(back->thread_ts.empty());
    CHECK_FALSE(decode_message_id(""));
    CHECK_FALSE(decode_message_id("C1"));
    CHECK_FALSE(decode_message_id("C1:"));
    CHECK_FALSE(decode_message_id("C1:1.2:"));
    CHECK_FALSE(decode_message_id("C1:1.2:x"));
    CHECK_FALSE(decode_message_id(":1.2"));
    CHECK_FALSE(decode_message_id("C1:1.2.3"));
}

TEST_CASE("slack: Socket Mode envelopes and their acknowledgement", "[slack]") {
    auto hello = parse_envelope(fixture("hello.json"), kMe, "sl");
    CHECK(hello.type == Envelope::Type::hello);
    auto disconnect = parse_envelope(fixture("disconnect.json"), kMe, "sl");
    CHECK(disconnect.type == Envelope::Type::disconnect);
    CHECK(disconnect.reason == "too_many_websockets");
    CHECK(parse_envelope(fixture("disconnect_refresh.json"), kMe, "sl").reason ==
          "refresh_requested");
    auto slash =
        parse_envelope(R"({"envelope_id":"e1","type":"slash_commands","payload":{}})", kMe, "sl");
    CHECK(slash.type == Envelope::Type::other);
    CHECK(slash.envelope_id == "e1");
    CHECK(parse_envelope("not json", kMe, "sl").type == Envelope::Type::unreadable);
    CHECK(parse_envelope("{}", kMe, "sl").type == Envelope::Type::unreadable);
    auto empty = parse_envelope(R"({"envelope_id":"e2","type":"events_api"})", kMe, "sl");
    CHECK(empty.type == Envelope::Type::events_api);
    CHECK(empty.event.kind == ParsedEvent::Kind::unreadable);
    CHECK(envelope_ack("cda4159a-\"x") == R"({"envelope_id":"cda4159a-\"x"})");
}

TEST_CASE("slack: Web API bodies", "[slack]") {
    auto post = json::parse(post_message_body("C1", "*hi*", "1.2"));
    CHECK(post ==
          json{{"channel", "C1"}, {"text", "*hi*"}, {"mrkdwn", true}, {"thread_ts", "1.2"}});
    CHECK_FALSE(json::parse(post_message_body("D1", "x", "")).contains("thread_ts"));
    CHECK(json::parse(update_body("C1", "1.2", "y")) ==
          json{{"channel", "C1"}, {"ts", "1.2"}, {"text", "y"}});
}

TEST_CASE("slack: Web API answers mapped to SendError", "[slack]") {
    using Kind = SendError::Kind;
    auto ok = classify(200, R"({"ok":true,"channel":"C1","ts":"1.2"})", "");
    CHECK(ok.ok);
    CHECK(ok.ts == "1.2");
    auto auth = classify(200, R"({"ok":true,"user_id":"U1","bot_id":"B1","team_id":"T1"})", "");
    CHECK(auth.identity.user_id == "U1");
    CHECK(auth.identity.bot_id == "B1");

    auto error = [](const std::string& code) {
        return classify(200, json{{"ok", false}, {"error", code}}.dump(), "");
    };
    for (auto code : {"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                      "not_allowed_token_type"}) {
        INFO(code);
        auto answer = error(code);
        CHECK(answer.failure.kind == Kind::unauthorized);
        CHECK_FALSE(answer.operator_fix.empty());
    }
    auto scope = classify(200, R"({"ok":false,"error":"missing_scope","needed":"chat:write"})", "");
    CHECK(scope.failure.kind == Kind::unauthorized);
    CHECK(scope.operator_fix.find("chat:write") != std::string::npos);
    for (auto code : {"channel_not_found", "not_in_channel", "is_archived"}) {
        INFO(code);
        auto answer = error(code);
        CHECK(answer.failure.kind == Kind::bad_request);
        CHECK(answer.operator_fix.find("/invite") != std::string::npos);
    }
    for (auto code : {"msg_too_long", "no_text", "invalid_arguments", "message_not_found",
                      "cant_update_message"}) {
        INFO(code);
        CHECK(error(code).failure.kind == Kind::bad_request);
        CHECK(error(code).operator_fix.empty());
    }
    for (auto code : {"internal_error", "fatal_error", "service_unavailable", "something_new"}) {
        INFO(code);
        CHECK(error(code).failure.kind == Kind::transient);
    }
    auto limited = classify(429, R"({"ok":false,"error":"ratelimited"})", "30");
    CHECK(limited.failure.kind == Kind::rate_limited);
    CHECK(limited.failure.retry_after == 30s);
    CHECK(classify(429, "", "").failure.retry_after == 1s);  // no Retry-After: a 1 s floor
    CHECK(classify(429, "", "soon").failure.retry_after == 1s);
    CHECK(classify(200, R"({"ok":false,"error":"ratelimited"})", "").failure.kind ==
          Kind::rate_limited);
    CHECK(classify(503, "<html>", "").failure.kind == Kind::transient);
    CHECK(classify(200, "<html>", "").failure.kind == Kind::transient);
    CHECK(classify(404, "", "").failure.kind == Kind::bad_request);
    CHECK(classify(0, "", "", "connection refused").failure.kind == Kind::transient);
    CHECK(classify(200, R"({"ok":false})", "").failure.kind == Kind::transient);
}
