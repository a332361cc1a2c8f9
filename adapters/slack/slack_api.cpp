#include "slack/slack_api.hpp"

namespace bot::adapters::slack {

SlackApi::SlackApi(HttpClient& http, std::string api_base, std::string bot_token,
                   std::string app_token)
    : http_(http),
      api_base_(std::move(api_base)),
      bot_token_(std::move(bot_token)),
      app_token_(std::move(app_token)) {}

net::awaitable<ApiAnswer> SlackApi::auth_test() {
    co_return co_await call("auth.test", bot_token_, "application/x-www-form-urlencoded", "",
                            kTimeout);
}

net::awaitable<ApiAnswer> SlackApi::open_connection() {
    // python-slack-sdk web/client.py apps_connections_open (l.1938-1949): a POST with the
    // app-level token; socket_mode/client.py issue_new_wss_url (l.46-61) reads answer["url"].
    co_return co_await call("apps.connections.open", app_token_,
                            "application/x-www-form-urlencoded", "", kTimeout);
}

net::awaitable<ApiAnswer> SlackApi::post_message(std::string body,
                                                 std::chrono::milliseconds timeout) {
    co_return co_await call("chat.postMessage", bot_token_, "application/json; charset=utf-8",
                            std::move(body), timeout);
}

net::awaitable<ApiAnswer> SlackApi::update(std::string body, std::chrono::milliseconds timeout) {
    co_return co_await call("chat.update", bot_token_, "application/json; charset=utf-8",
                            std::move(body), timeout);
}

net::awaitable<ApiAnswer> SlackApi::call(std::string method, const std::string& token,
                                         std::string content_type, std::string body,
                                         std::chrono::milliseconds timeout) {
    ClientRequest request;
    request.method = "POST";
    request.url = api_base_ + "/" + method;
    request.headers = {{"Content-Type", std::move(content_type)},
                       {"Authorization", "Bearer " + token}};
    request.body = std::move(body);
    request.timeout = timeout;
    auto response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none)
        co_return classify(0, {}, {}, method + ": " + response.error);
    auto answer = classify(response.status, response.body, response.header("Retry-After"));
    if (!answer.ok) answer.failure.detail = method + ": " + answer.failure.detail;
    co_return answer;
}

}  // namespace bot::adapters::slack
