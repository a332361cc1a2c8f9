#include "telegram/telegram_api.hpp"
#include "base/json_text.hpp"

namespace bot::adapters::telegram {

namespace {

std::vector<http::Header> json_headers() {
    return {{"Content-Type", "application/json"}};
}

}  // namespace

BotApi::BotApi(HttpClient& http, std::string api_base, std::string token) : http_(http) {
    while (api_base.ends_with('/')) api_base.pop_back();
    method_url_prefix_ = std::move(api_base) + "/bot" + token + "/";
}

net::awaitable<ApiResult> BotApi::call(std::string method, nlohmann::json params,
                                       std::chrono::milliseconds timeout) {
    return call_with_body(std::move(method), dump_json(params), timeout);
}

net::awaitable<ApiResult> BotApi::call_with_body(std::string method, std::string json_body,
                                                 std::chrono::milliseconds timeout) {
    ClientRequest request;
    request.method = "POST";
    request.url = method_url_prefix_ + method;
    request.headers = json_headers();
    request.body = std::move(json_body);
    request.timeout = timeout;
    auto response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none) {
        ApiResult failed;
        failed.description = method + ": " + response.error;
        co_return failed;
    }
    co_return parse_api_answer(response.status, response.body, response.header("Retry-After"));
}

}  // namespace bot::adapters::telegram
