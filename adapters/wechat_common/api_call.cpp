#include "wechat_common/api_call.hpp"

namespace bot::adapters::wechat {

using nlohmann::json;

long errcode_of(const json& answer) {
    auto it = answer.find("errcode");
    return it != answer.end() && it->is_number_integer() ? it->get<long>() : 0;
}

std::string string_of(const json& answer, std::string_view name) {
    auto it = answer.find(name);
    return it != answer.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string describe_errcode(const json& answer) {
    return "errcode " + std::to_string(errcode_of(answer)) + " (" + string_of(answer, "errmsg") +
           ")";
}

TokenResult token_failure(std::string_view endpoint, std::string why) {
    return TokenResult(boost::system::in_place_error, std::string(endpoint) + ": " + why);
}

net::awaitable<boost::system::result<json, SendError>> post_with_token(
    HttpClient& http, AccessToken& token, std::string url, std::string body, std::string what) {
    using Result = boost::system::result<json, SendError>;
    auto transient = [&](std::string why) {
        return Result(boost::system::in_place_error,
                      SendError{.kind = SendError::Kind::transient, .detail = what + ": " + why});
    };
    for (int round = 0;; ++round) {
        auto current = co_await token.get();
        if (!current) co_return transient(current.error().reason);
        ClientRequest request;
        request.method = "POST";
        request.url = url + "?access_token=" + *current;
        request.headers = {{"Content-Type", "application/json"}};
        request.body = body;
        request.timeout = std::chrono::seconds(15);
        auto response = co_await http.request(std::move(request));
        if (response.failure != ClientResponse::Failure::none) co_return transient(response.error);
        json answer = json::parse(response.body, nullptr, false);
        if (!response.ok() || !answer.is_object()) {
            co_return transient("HTTP " + std::to_string(response.status));
        }
        if (is_token_error(errcode_of(answer)) && round == 0) {
            token.refused(*current);  // expired or revoked early: a new one, and once more
            continue;
        }
        co_return Result(boost::system::in_place_value, std::move(answer));
    }
}

}  // namespace bot::adapters::wechat
