// A Discord gateway payload (adapters/discord/discord_codec.*): parse_gateway never throws; a
// MESSAGE_CREATE the bot accepts has its ids, valid UTF-8 text or a kind of media, mentions_me
// only in a guild, and a reply to it is a JSON object; Hello's interval is usable. The input
// is also read as a REST answer: GET /gateway/bot, a 429 body with rate-limit headers (the
// waits RateLimits derives stay bounded), and classify whatever the status.
#include "discord/discord_codec.hpp"
#include "discord/discord_rate_limits.hpp"
#include "fuzz_support.hpp"

#include <boost/json/parse.hpp>

namespace discord = bot::adapters::discord;

namespace {

void check_json_object(const std::string& text, const char* what) {
    boost::system::error_code error;
    auto parsed = boost::json::parse(text, error);
    fuzz::require(!error && parsed.is_object(), what);
}

void check_message(const discord::Message& message, bool with_prefix) {
    const discord::AddressRules rules{.adapter_id = "dc",
                                      .bot_user_id = "1100000000000000001",
                                      .prefix = with_prefix ? "!ai" : ""};
    auto addressed = discord::to_inbound(message, rules);
    if (!addressed.accepted) {
        fuzz::require(!addressed.reason.empty(), "a skipped message without a reason");
        return;
    }
    const auto& inbound = addressed.inbound;
    fuzz::require(!inbound.message_id.empty() && !inbound.chat.chat_id.empty() &&
                      !inbound.sender_id.empty() && !inbound.sender_name.empty(),
                  "an accepted message without ids");
    fuzz::require(inbound.sender_id != rules.bot_user_id, "the bot's own message accepted");
    fuzz::require(
        discord::is_snowflake(inbound.message_id) && discord::is_snowflake(inbound.chat.chat_id) &&
            discord::is_snowflake(inbound.sender_id) &&
            (inbound.quotes_message_id.empty() || discord::is_snowflake(inbound.quotes_message_id)),
        "an accepted id that is not a snowflake");
    fuzz::require(fuzz::valid_utf8(inbound.text), "text is not valid UTF-8");
    fuzz::require(!inbound.text.empty() || !inbound.unsupported.empty(),
                  "a message with neither text nor media");
    fuzz::require(!inbound.mentions_me || inbound.chat.is_group, "mentions_me outside a guild");
    check_json_object(discord::create_message_body(inbound.text, inbound.message_id),
                      "a reply body is no JSON object");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto body = fuzz::as_text(data, size);
    const auto event = discord::parse_gateway(body);
    switch (event.kind) {
        case discord::GatewayEvent::Kind::hello:
            fuzz::require(event.heartbeat_interval.count() >= 100 &&
                              event.heartbeat_interval.count() <= 600'000,
                          "an unusable heartbeat interval");
            break;
        case discord::GatewayEvent::Kind::ready:
            fuzz::require(!event.session_id.empty() && !event.user_id.empty(),
                          "READY without its session or user");
            check_json_object(discord::resume_payload("t", event.session_id, event.seq.value_or(1)),
                              "a Resume is no JSON object");
            (void)discord::gateway_url(event.resume_gateway_url);
            break;
        case discord::GatewayEvent::Kind::message:
            check_message(event.message, size % 2 == 1);
            break;
        default:
            break;
    }
    if (event.seq) fuzz::require(*event.seq > 0, "a sequence number that is not positive");

    if (auto bot = discord::parse_gateway_bot(body)) {
        fuzz::require(!discord::gateway_url(bot->url).empty(), "a gateway url that is no ws url");
        fuzz::require(bot->max_concurrency >= 1, "max_concurrency below 1");
    }
    // The same bytes as a REST answer, with headers taken from them too.
    const std::vector<bot::http::Header> headers{
        {"Retry-After", std::string(body.substr(0, 8))},
        {"X-RateLimit-Remaining", std::string(body.substr(0, 4))},
        {"X-RateLimit-Reset-After", std::string(body.substr(size / 2, 8))},
        {"X-RateLimit-Bucket", std::string(body.substr(0, 16))},
        {"X-RateLimit-Global", size % 3 == 0 ? "true" : "false"}};
    const int status = size % 5 == 0 ? 200 : 429;
    auto rate = discord::rate_info(status, headers, body);
    auto now = discord::RateLimits::Clock::now();
    discord::RateLimits limits(4);
    discord::Route route{.key = "POST /channels/{id}/messages", .major = "1"};
    limits.update(route, rate, status, now);
    fuzz::require(limits.wait(route, now) <= std::chrono::hours(1) + std::chrono::seconds(1),
                  "a wait longer than the cap");
    for (int code : {400, 401, 403, 404, 429, 500}) {
        auto error = discord::classify(code, body, rate);
        if (code == 429) {
            fuzz::require(error.kind == bot::SendError::Kind::rate_limited &&
                              error.retry_after.count() >= 1 && error.retry_after.count() <= 3600,
                          "a 429 without a bounded retry_after");
        }
    }
    return 0;
}
