// Calls to the Bot API ({api_base}/bot<token>/<method>, JSON in, JSON out) over the shared
// HTTP client. The token is part of every URL: it is registered as a log secret by the adapter
// and never appears in what this class reports.
#pragma once

#include "bot/net/http_client.hpp"
#include "telegram/telegram_codec.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

namespace bot::adapters::telegram {

class BotApi {
public:
    BotApi(HttpClient& http, std::string api_base, std::string token);

    net::awaitable<ApiResult> call(std::string method, nlohmann::json params,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // The same with the parameters already written as a JSON object (send_message_body).
    net::awaitable<ApiResult> call_with_body(
        std::string method, std::string json_body,
        std::chrono::milliseconds timeout = std::chrono::seconds(30));

private:
    HttpClient& http_;
    std::string method_url_prefix_;  // "{api_base}/bot<token>/"
};

}  // namespace bot::adapters::telegram
