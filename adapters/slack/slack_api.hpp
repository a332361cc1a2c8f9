// Slack's Web API as this adapter calls it ({api_base}/<method>, Bearer token, JSON in and out):
// auth.test and chat.postMessage / chat.update with the bot token, apps.connections.open with
// the app-level token. Every answer goes through classify() (slack_codec). Tokens and the
// Socket Mode URL (it carries a ticket) are never logged.
#pragma once

#include "bot/net/http_client.hpp"
#include "slack/slack_codec.hpp"

#include <chrono>
#include <string>

namespace bot::adapters::slack {

class SlackApi {
public:
    // api_base without a trailing '/'.
    SlackApi(HttpClient& http, std::string api_base, std::string bot_token, std::string app_token);

    net::awaitable<ApiAnswer> auth_test();
    net::awaitable<ApiAnswer> open_connection();  // apps.connections.open: answer.url
    net::awaitable<ApiAnswer> post_message(std::string body,
                                           std::chrono::milliseconds timeout = kTimeout);
    net::awaitable<ApiAnswer> update(std::string body,
                                     std::chrono::milliseconds timeout = kTimeout);

    static constexpr std::chrono::milliseconds kTimeout{15'000};

private:
    net::awaitable<ApiAnswer> call(std::string method, const std::string& token,
                                   std::string content_type, std::string body,
                                   std::chrono::milliseconds timeout);

    HttpClient& http_;
    std::string api_base_;
    std::string bot_token_;
    std::string app_token_;
};

}  // namespace bot::adapters::slack
