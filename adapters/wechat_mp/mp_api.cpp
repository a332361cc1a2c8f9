#include "wechat_mp/mp_api.hpp"
#include "base/json_text.hpp"

#include "base/log.hpp"
#include "wechat_common/api_call.hpp"

#include <nlohmann/json.hpp>

namespace bot::adapters::wechat_mp {

namespace {
using nlohmann::json;
}  // namespace

MpApi::MpApi(HttpClient& http, std::string api_base, std::string app_id, std::string app_secret,
             Logger& log)
    : http_(http),
      api_base_(std::move(api_base)),
      app_id_(std::move(app_id)),
      app_secret_(std::move(app_secret)),
      log_(log),
      token_([this](bool force) { return fetch_token(force); }) {
    while (api_base_.ends_with('/')) api_base_.pop_back();
}

net::awaitable<TokenResult> MpApi::fetch_token(bool force) {
    // stable_token, not /cgi-bin/token: it does not invalidate the token other servers of the
    // same account are using.
    ClientRequest request;
    request.method = "POST";
    request.url = api_base_ + "/cgi-bin/stable_token";
    request.headers = {{"Content-Type", "application/json"}};
    request.body = json{
        {"grant_type", "client_credential"},
        {"appid", app_id_},
        {"secret", app_secret_},
        {"force_refresh",
         force}}.dump();
    request.timeout = std::chrono::seconds(10);
    auto response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none) {
        co_return wechat::token_failure("stable_token", response.error);
    }
    json body = json::parse(response.body, nullptr, false);
    if (!response.ok() || !body.is_object()) {
        co_return wechat::token_failure("stable_token", "HTTP " + std::to_string(response.status));
    }
    auto token = body.find("access_token");
    if (token == body.end() || !token->is_string() || token->get<std::string>().empty()) {
        co_return wechat::token_failure("stable_token", wechat::describe_errcode(body));
    }
    FetchedToken fetched;
    fetched.token = token->get<std::string>();
    if (auto expires = body.find("expires_in"); expires != body.end() && expires->is_number()) {
        fetched.expires_in = std::chrono::seconds(expires->get<long>());
    }
    log_.replace_secret(logged_token_, fetched.token);  // (fetches are single-flight)
    logged_token_ = fetched.token;
    log_.info("wechat_mp", "fetched an access_token (valid ", fetched.expires_in.count(), " s)");
    co_return fetched;
}

net::awaitable<boost::system::result<MpApi::Sent, SendError>> MpApi::send_text(
    const std::string& openid, const std::string& text) {
    std::string payload =
        dump_json(json{{"touser", openid}, {"msgtype", "text"}, {"text", {{"content", text}}}});
    auto answer =
        co_await wechat::post_with_token(http_, token_, api_base_ + "/cgi-bin/message/custom/send",
                                         std::move(payload), "custom/send");
    if (!answer) co_return answer.error();
    long errcode = wechat::errcode_of(*answer);
    if (errcode == 0) co_return Sent::yes;
    std::string detail = "custom/send: " + wechat::describe_errcode(*answer);
    switch (errcode) {
        case 45015:  // the user has not written within 48 h
        case 45047:  // customer-service quota for this user spent
        case 48001:  // the account lacks the customer-service permission
            log_.info("wechat_mp", detail, "; the reply waits for the user's next message");
            co_return Sent::window_closed;
        case 45009:  // API call frequency limit
            co_return SendError{.kind = SendError::Kind::rate_limited,
                                .detail = detail,
                                .retry_after = std::chrono::seconds(60)};
        case -1:  // system busy
            co_return SendError{.kind = SendError::Kind::transient, .detail = detail};
        default:
            if (wechat::is_token_error(errcode)) {
                co_return SendError{.kind = SendError::Kind::transient, .detail = detail};
            }
            co_return SendError{.kind = SendError::Kind::bad_request, .detail = detail};
    }
}

}  // namespace bot::adapters::wechat_mp
