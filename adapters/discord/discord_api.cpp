#include "discord/discord_api.hpp"

#include <cmath>

namespace bot::adapters::discord {

namespace {

constexpr auto kSendTimeout = std::chrono::seconds(30);
constexpr auto kSmallTimeout = std::chrono::seconds(10);

// A route that must wait, without spending a request: rate_limited with the wait rounded up.
SendError must_wait(RateLimits::Clock::duration wait) {
    double seconds = std::chrono::duration<double>(wait).count();
    auto whole = static_cast<std::int64_t>(std::ceil(std::max(seconds, 1.0)));
    return {.kind = SendError::Kind::rate_limited,
            .detail = "Discord rate limit: waiting for the bucket to reset",
            .retry_after = std::chrono::seconds(whole)};
}

}  // namespace

DiscordApi::DiscordApi(HttpClient& http, std::string api_base, std::string token)
    : http_(http), api_base_(std::move(api_base)), authorization_("Bot " + std::move(token)) {}

Route DiscordApi::messages_route(const std::string& channel) {
    return {.key = "POST /channels/{id}/messages", .major = channel};
}

Route DiscordApi::edit_route(const std::string& channel) {
    return {.key = "PATCH /channels/{id}/messages/{id}", .major = channel};
}

Route DiscordApi::typing_route(const std::string& channel) {
    return {.key = "POST /channels/{id}/typing", .major = channel};
}

RateLimits::Clock::duration DiscordApi::wait(const Route& route) {
    return limits_.wait(route, RateLimits::Clock::now());
}

net::awaitable<ApiResult> DiscordApi::call(std::string method, std::string path, Route route,
                                           std::string body, std::chrono::milliseconds timeout) {
    if (auto wait = limits_.wait(route, RateLimits::Clock::now()); wait > wait.zero())
        co_return must_wait(wait);
    ClientRequest request;
    request.method = std::move(method);
    request.url = api_base_ + path;
    // reference.mdx lines 232-240: Authorization: Bot <token>; User-Agent: DiscordBot (url, v).
    request.headers = {{"Authorization", authorization_},
                       {"User-Agent", "DiscordBot (https://github.com/contactbot/contactbot, 1)"}};
    if (!body.empty()) request.headers.push_back({"Content-Type", "application/json"});
    request.body = std::move(body);
    request.timeout = timeout;
    auto response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none)
        co_return transport_error(response.error);
    auto rate = rate_info(response.status, response.headers, response.body);
    limits_.update(route, rate, response.status, RateLimits::Clock::now());
    if (response.ok()) co_return std::move(response.body);
    co_return classify(response.status, response.body, rate);
}

net::awaitable<SendResult> DiscordApi::create_message(const std::string& channel,
                                                      std::string_view text,
                                                      std::string_view reply_to) {
    // Named locals, not temporaries inside co_await (g++ 12 double-frees those).
    Route route = messages_route(channel);
    auto answer = co_await call("POST", "/channels/" + channel + "/messages", std::move(route),
                                create_message_body(text, reply_to), kSendTimeout);
    if (!answer) co_return answer.error();
    co_return message_id_of(*answer);
}

net::awaitable<SendResult> DiscordApi::edit_message(const std::string& channel,
                                                    const std::string& message,
                                                    std::string_view text) {
    Route route = edit_route(channel);
    auto answer = co_await call("PATCH", "/channels/" + channel + "/messages/" + message,
                                std::move(route), edit_message_body(text), kSendTimeout);
    if (!answer) co_return answer.error();
    co_return message;
}

net::awaitable<ApiResult> DiscordApi::typing(const std::string& channel) {
    return call("POST", "/channels/" + channel + "/typing", typing_route(channel), {},
                kSmallTimeout);
}

net::awaitable<ApiResult> DiscordApi::gateway_bot() {
    return call("GET", "/gateway/bot", Route{.key = "GET /gateway/bot", .major = {}}, {},
                kSmallTimeout);
}

}  // namespace bot::adapters::discord
