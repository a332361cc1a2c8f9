#include "discord/discord_codec.hpp"
#include "discord/discord_rate_limits.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace bot::adapters::discord;
using bot::SendError;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kBot = "1100000000000000001";
const AddressRules kRules{.adapter_id = "dc", .bot_user_id = kBot, .prefix = ""};

std::string fixture_text(const std::string& name) {
    std::ifstream in(std::string(TESTDATA_DIR) + "/discord/" + name);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

GatewayEvent parse(const std::string& name) {
    return parse_gateway(fixture_text(name));
}

Addressed addressed(const std::string& name, const AddressRules& rules = kRules) {
    auto event = parse(name);
    REQUIRE(event.kind == GatewayEvent::Kind::message);
    return to_inbound(event.message, rules);
}

}  // namespace

TEST_CASE("discord: gateway control payloads", "[discord]") {
    auto hello = parse("hello.json");
    CHECK(hello.kind == GatewayEvent::Kind::hello);
    CHECK(hello.heartbeat_interval == 41250ms);
    CHECK(!hello.seq);
    CHECK(parse("heartbeat_ack.json").kind == GatewayEvent::Kind::heartbeat_ack);
    CHECK(parse("heartbeat_request.json").kind == GatewayEvent::Kind::heartbeat_request);
    CHECK(parse("reconnect.json").kind == GatewayEvent::Kind::reconnect);
    auto invalid = parse("invalid_session_false.json");
    CHECK(invalid.kind == GatewayEvent::Kind::invalid_session);
    CHECK(!invalid.resumable);
    CHECK(parse("invalid_session_true.json").resumable);

    auto ready = parse("ready.json");
    REQUIRE(ready.kind == GatewayEvent::Kind::ready);
    CHECK(ready.seq == 1);
    CHECK(ready.session_id == "9a3f6b1c0d2e4f5a");
    CHECK(ready.resume_gateway_url == "wss://gateway-us-east1-b.discord.gg");
    CHECK(ready.user_id == kBot);
    CHECK(ready.user_name == "contactbot");
    auto resumed = parse("resumed.json");
    CHECK(resumed.kind == GatewayEvent::Kind::resumed);
    CHECK(resumed.seq == 9);
    auto other = parse("guild_create.json");
    CHECK(other.kind == GatewayEvent::Kind::other);
    CHECK(other.seq == 2);  // its seq still counts for heartbeats and Resume
}

TEST_CASE("discord: malformed gateway payloads are skipped, never thrown", "[discord]") {
    for (auto name :
         {"hello_bad_interval.json", "unknown_op.json", "op_string.json", "not_json.txt"}) {
        INFO(name);
        CHECK(parse(name).kind == GatewayEvent::Kind::malformed);
    }
    CHECK(parse_gateway("").kind == GatewayEvent::Kind::malformed);
    CHECK(parse_gateway("[1,2]").kind == GatewayEvent::Kind::malformed);
    CHECK(parse_gateway(R"({"op":0,"s":-5,"t":"X","d":null})").kind == GatewayEvent::Kind::other);
    CHECK(!parse_gateway(R"({"op":0,"s":-5,"t":"X","d":null})").seq);
    CHECK(parse_gateway(R"({"op":0,"s":3,"t":"READY","d":{"user":{}}})").kind ==
          GatewayEvent::Kind::malformed);
    // Wrong types everywhere: read as absent, the message skipped.
    auto hostile = addressed("hostile_types.json");
    CHECK(!hostile.accepted);
    CHECK(!addressed("missing_author.json").accepted);
    // Ids end up in REST paths: only digits pass.
    auto event = parse("dm.json");
    event.message.channel_id = "123/../../gateway";
    CHECK(!to_inbound(event.message, kRules).accepted);
    CHECK(is_snowflake("1400000000000000001"));
    CHECK(!is_snowflake(""));
    CHECK(!is_snowflake("123456789012345678901"));
}

TEST_CASE("discord: DMs are always for the bot", "[discord]") {
    auto dm = addressed("dm.json");
    REQUIRE(dm.accepted);
    const auto& inbound = dm.inbound;
    CHECK(inbound.chat.adapter_id == "dc");
    CHECK(inbound.chat.chat_id == "1400000000000000001");
    CHECK(!inbound.chat.is_group);
    CHECK(inbound.sender_id == "1000000000000000042");
    CHECK(inbound.sender_name == "Alice A.");  // global_name before username
    CHECK(inbound.message_id == "1500000000000000001");
    CHECK(inbound.text == "hello there");
    CHECK(!inbound.mentions_me);
    // Ids sent as numbers still read as their digits.
    auto numeric = addressed("dm_numeric_ids.json");
    REQUIRE(numeric.accepted);
    CHECK(numeric.inbound.message_id == "1500000000000000016");
    CHECK(numeric.inbound.sender_name == "alice");
}

TEST_CASE("discord: guild messages addressed to the bot, the mention removed", "[discord]") {
    CHECK(!addressed("guild_plain.json").accepted);

    auto mention = addressed("guild_mention.json");
    REQUIRE(mention.accepted);
    CHECK(mention.inbound.chat.is_group);
    CHECK(mention.inbound.mentions_me);
    CHECK(mention.inbound.text == "what is 2+2?");

    // <@!id> (nickname form); the separator after it goes too; others become @name.
    auto nick = addressed("guild_mention_nick.json");
    REQUIRE(nick.accepted);
    CHECK(nick.inbound.text == "hey ask @Bobby too");

    // Only in mentions[] (a reply that pings the bot, say).
    auto listed = addressed("guild_mention_in_list_only.json");
    REQUIRE(listed.accepted);
    CHECK(listed.inbound.mentions_me);
    CHECK(listed.inbound.text == "answer please");

    auto reply = addressed("guild_reply_to_bot.json");
    REQUIRE(reply.accepted);
    CHECK(reply.inbound.mentions_me);
    CHECK(reply.inbound.quotes_message_id == "1300000000000000001");

    // A reply whose author Discord did not send: the core decides by the ids it sent.
    auto unknown = addressed("guild_reply_unknown.json");
    REQUIRE(unknown.accepted);
    CHECK(!unknown.inbound.mentions_me);
    CHECK(unknown.inbound.quotes_message_id == "1300000000000000009");

    // A forward is no reply.
    CHECK(!addressed("guild_forward.json").accepted);
}

TEST_CASE("discord: the prefix addresses the bot and is removed", "[discord]") {
    CHECK(!addressed("guild_prefix.json").accepted);
    AddressRules rules = kRules;
    rules.prefix = "!ai";
    auto prefixed = addressed("guild_prefix.json", rules);
    REQUIRE(prefixed.accepted);
    CHECK(prefixed.inbound.mentions_me);
    CHECK(prefixed.inbound.text == "what now");
    // In DMs the prefix is just text.
    auto dm = addressed("dm.json", rules);
    CHECK(dm.inbound.text == "hello there");
}

TEST_CASE("discord: bots, webhooks, the bot itself and system messages are skipped", "[discord]") {
    for (auto name : {"from_bot.json", "own_message.json", "webhook.json", "system_join.json"}) {
        INFO(name);
        auto result = addressed(name);
        CHECK(!result.accepted);
        CHECK(!result.reason.empty());
    }
}

TEST_CASE("discord: media without text is reported unsupported", "[discord]") {
    auto image = addressed("dm_attachment.json");
    REQUIRE(image.accepted);
    CHECK(image.inbound.text.empty());
    CHECK(image.inbound.unsupported == "image");
    auto sticker = addressed("dm_sticker.json");
    REQUIRE(sticker.accepted);
    CHECK(sticker.inbound.unsupported == "sticker");
}

TEST_CASE("discord: payloads the bot sends", "[discord]") {
    CHECK(heartbeat_payload(std::nullopt) == R"({"op":1,"d":null})");
    CHECK(heartbeat_payload(251) == R"({"op":1,"d":251})");
    auto identify = json::parse(identify_payload("tok", kDefaultIntents));
    CHECK(identify["op"] == 2);
    CHECK(identify["d"]["token"] == "tok");
    CHECK(identify["d"]["intents"] == 37376);  // 1<<9 | 1<<12 | 1<<15
    CHECK(identify["d"]["properties"]["browser"] == "contactbot");
    auto resume = json::parse(resume_payload("tok", "sess", 42));
    CHECK(resume ==
          json{{"op", 6}, {"d", {{"token", "tok"}, {"session_id", "sess"}, {"seq", 42}}}});

    auto body = json::parse(create_message_body("hi @everyone", "123"));
    CHECK(body["content"] == "hi @everyone");
    CHECK(body["allowed_mentions"] == json{{"parse", json::array()}});
    CHECK(body["message_reference"] == json{{"message_id", "123"}, {"fail_if_not_exists", false}});
    CHECK(!json::parse(create_message_body("x", "")).contains("message_reference"));
    CHECK(json::parse(edit_message_body("y"))["content"] == "y");
    CHECK(message_id_of(R"({"id":"77","content":"x"})") == "77");
    CHECK(message_id_of("nope").empty());

    CHECK(gateway_url("wss://gateway.discord.gg") ==
          "wss://gateway.discord.gg/?v=10&encoding=json");
    CHECK(gateway_url("wss://gateway.discord.gg/") ==
          "wss://gateway.discord.gg/?v=10&encoding=json");
    CHECK(gateway_url("wss://x/?v=10&encoding=json") == "wss://x/?v=10&encoding=json");
    CHECK(gateway_url("https://x").empty());
    auto bot = parse_gateway_bot(
        R"({"url":"wss://gateway.discord.gg","shards":1,"session_start_limit":{"total":1000,"remaining":998,"reset_after":3600000,"max_concurrency":1}})");
    REQUIRE(bot);
    CHECK(bot->remaining == 998);
    CHECK(bot->reset_after == 3600000ms);
    CHECK(!parse_gateway_bot(R"({"url":5})"));
}

TEST_CASE("discord: close codes", "[discord]") {
    for (int code : {4004, 4010, 4011, 4012, 4013, 4014}) {
        INFO(code);
        auto action = close_action(code);
        CHECK(action.kind == CloseAction::Kind::stop);
        CHECK(!action.fix.empty());
    }
    CHECK(close_action(4014).fix.find("Message Content Intent") != std::string::npos);
    CHECK(close_action(4007).kind == CloseAction::Kind::identify);
    CHECK(close_action(4009).kind == CloseAction::Kind::identify);
    for (int code : {1000, 1001, 1006, 4000, 4001, 4002, 4003, 4005, 4008})
        CHECK(close_action(code).kind == CloseAction::Kind::resume);
}

TEST_CASE("discord: REST failures are classified in one place", "[discord]") {
    std::vector<bot::http::Header> headers{{"Retry-After", "3"},
                                           {"X-RateLimit-Bucket", "abcd"},
                                           {"X-RateLimit-Remaining", "0"},
                                           {"X-RateLimit-Reset-After", "2.5"}};
    auto rate = rate_info(429, headers, R"({"message":"slow","retry_after":1.2,"global":false})");
    CHECK(rate.retry_after_s == 1.2);  // the body's float wins over the header
    CHECK(rate.bucket == "abcd");
    CHECK(rate.remaining == 0);
    auto limited = classify(429, "", rate);
    CHECK(limited.kind == SendError::Kind::rate_limited);
    CHECK(limited.retry_after == 2s);  // rounded up
    auto header_only = rate_info(429, headers, "not json");
    CHECK(header_only.retry_after_s == 3.0);
    auto global = rate_info(429, {{"X-RateLimit-Global", "true"}}, R"({"retry_after":0.2})");
    CHECK(global.global);
    CHECK(classify(429, "", global).retry_after == 1s);  // at least 1 s
    CHECK(classify(429, "", RateInfo{}).retry_after == 1s);

    RateInfo none;
    CHECK(classify(401, R"({"message":"401: Unauthorized","code":0})", none).kind ==
          SendError::Kind::unauthorized);
    auto missing = classify(403, R"({"message":"Missing Permissions","code":50013})", none);
    CHECK(missing.kind == SendError::Kind::bad_request);
    CHECK(missing.detail.find("Send Messages") != std::string::npos);
    CHECK(classify(404, R"({"message":"Unknown Channel","code":10003})", none).kind ==
          SendError::Kind::bad_request);
    CHECK(classify(400, R"({"code":50035})", none).kind == SendError::Kind::bad_request);
    CHECK(classify(502, "<html>", none).kind == SendError::Kind::transient);
    CHECK(transport_error("timeout").kind == SendError::Kind::transient);
}

TEST_CASE("discord: rate limits per bucket and global", "[discord]") {
    RateLimits limits;
    auto now = RateLimits::Clock::now();
    Route a{.key = "POST /channels/{id}/messages", .major = "1"};
    Route b{.key = "POST /channels/{id}/messages", .major = "2"};
    Route edit{.key = "PATCH /channels/{id}/messages/{id}", .major = "1"};
    CHECK(limits.wait(a, now) == RateLimits::Clock::duration::zero());

    RateInfo last{.bucket = "h1", .remaining = 0, .reset_after_s = 2.0};
    limits.update(a, last, 200, now);
    CHECK(limits.wait(a, now) >= 1900ms);
    CHECK(limits.wait(b, now) == RateLimits::Clock::duration::zero());  // another channel
    CHECK(limits.wait(edit, now) == RateLimits::Clock::duration::zero());
    CHECK(limits.wait(a, now + 2100ms) == RateLimits::Clock::duration::zero());

    // A route sharing the bucket hash shares its state.
    limits.update(edit, RateInfo{.bucket = "h1", .remaining = 3, .reset_after_s = 1.0}, 200, now);
    CHECK(limits.wait(a, now) == RateLimits::Clock::duration::zero());

    RateInfo per_route{.bucket = "h2", .retry_after_s = 1.5};
    limits.update(b, per_route, 429, now);
    CHECK(limits.wait(b, now) >= 1400ms);
    CHECK(limits.wait(a, now) == RateLimits::Clock::duration::zero());

    RateInfo global{.retry_after_s = 3.0, .global = true};
    limits.update(a, global, 429, now);
    CHECK(limits.wait(edit, now) >= 2900ms);
    CHECK(limits.wait(b, now + 3100ms) == RateLimits::Clock::duration::zero());

    // Bounded: new buckets beyond the cap are not kept while all are counting.
    RateLimits small(2);
    for (std::string digit : {"0", "1", "2", "3", "4"}) {
        Route route{.key = "k" + digit, .major = "c"};
        RateInfo info{.bucket = "b" + digit, .remaining = 0, .reset_after_s = 5.0};
        small.update(route, info, 200, now);
    }
    CHECK(small.wait(Route{.key = "k4", .major = "c"}, now) == RateLimits::Clock::duration::zero());
    CHECK(small.wait(Route{.key = "k0", .major = "c"}, now) > RateLimits::Clock::duration::zero());
}
