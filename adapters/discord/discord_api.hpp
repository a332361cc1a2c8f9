// Calls to Discord's REST API ({api_base}/..., "Authorization: Bot <token>") over the shared
// HTTP client, every one through RateLimits: a route known to be exhausted is not called (the
// caller gets rate_limited with the wait), and every answer updates the limits. Failures are
// mapped by discord_codec's classify, in one place.
#pragma once

#include "bot/net/http_client.hpp"
#include "discord/discord_codec.hpp"
#include "discord/discord_rate_limits.hpp"

#include <chrono>
#include <string>

namespace bot::adapters::discord {

// The body of a 2xx answer, or why not.
using ApiResult = boost::system::result<std::string, SendError>;

class DiscordApi {
public:
    DiscordApi(HttpClient& http, std::string api_base, std::string token);

    // POST /channels/{channel}/messages; the new message's id.
    net::awaitable<SendResult> create_message(const std::string& channel, std::string_view text,
                                              std::string_view reply_to);
    // PATCH /channels/{channel}/messages/{message}.
    net::awaitable<SendResult> edit_message(const std::string& channel, const std::string& message,
                                            std::string_view text);
    // POST /channels/{channel}/typing (channel.mdx lines 557-562: lasts 10 s).
    net::awaitable<ApiResult> typing(const std::string& channel);
    // GET /gateway/bot (gateway.mdx lines 742-779).
    net::awaitable<ApiResult> gateway_bot();

    // The wait a route needs now (for callers that skip cosmetic calls rather than wait).
    RateLimits::Clock::duration wait(const Route& route);
    static Route messages_route(const std::string& channel);
    static Route edit_route(const std::string& channel);
    static Route typing_route(const std::string& channel);

private:
    net::awaitable<ApiResult> call(std::string method, std::string path, Route route,
                                   std::string body, std::chrono::milliseconds timeout);

    HttpClient& http_;
    std::string api_base_;
    std::string authorization_;
    RateLimits limits_;
};

}  // namespace bot::adapters::discord
