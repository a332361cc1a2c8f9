#include "qq/qq_api.hpp"

#include "base/json_text.hpp"
#include "base/log.hpp"
#include "qq/qq_codec.hpp"

#include <nlohmann/json.hpp>

namespace bot::adapters::qq {

namespace {
constexpr std::chrono::seconds kRefreshBefore{60};
// send.md l.39: at least 5 s, or a message that went out may look failed.
constexpr std::chrono::seconds kSendTimeout{15};
}  // namespace

QqApi::QqApi(HttpClient& http, std::string api_base, std::string token_url, std::string app_id,
             std::string app_secret, Logger& log)
    : http_(http),
      api_base_(std::move(api_base)),
      token_url_(std::move(token_url)),
      app_id_(std::move(app_id)),
      app_secret_(std::move(app_secret)),
      log_(log),
      token_([this](bool) { return fetch_token(); }, kRefreshBefore) {}

net::awaitable<TokenResult> QqApi::fetch_token() {
    ClientRequest request;
    request.method = "POST";
    request.url = token_url_;
    request.headers = {{"Content-Type", "application/json"}};
    request.body = dump_json({{"appId", app_id_}, {"clientSecret", app_secret_}});
    request.timeout = std::chrono::seconds(10);
    auto response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none) {
        co_return TokenResult(boost::system::in_place_error,
                                      "getAppAccessToken: " + response.error);
    }
    auto token = parse_token_answer(response.status, response.body);
    if (!token) {
        co_return TokenResult(boost::system::in_place_error,
                                      "getAppAccessToken: " + token.error());
    }
    log_.replace_secret(logged_token_, token->access_token);  // (fetches are single-flight)
    logged_token_ = token->access_token;
    log_.info("qq", "fetched an access token (valid ", token->expires_in.count(), " s)");
    FetchedToken fetched;
    fetched.token = std::move(token->access_token);
    fetched.expires_in = token->expires_in;
    co_return fetched;
}

net::awaitable<SendResult> QqApi::post_message(const std::string& path, const std::string& body) {
    for (int round = 0;; ++round) {
        auto token = co_await token_.get();
        if (!token) {
            co_return SendError{.kind = SendError::Kind::transient, .detail = token.error().reason};
        }
        ClientRequest request;
        request.method = "POST";
        request.url = api_base_ + path;
        request.headers = {{"Content-Type", "application/json"},
                           {"Authorization", "QQBot " + *token}};
        request.body = body;
        request.timeout = kSendTimeout;
        auto response = co_await http_.request(std::move(request));
        if (response.failure != ClientResponse::Failure::none) {
            co_return SendError{.kind = SendError::Kind::transient,
                                .detail = "send: " + response.error};
        }
        auto outcome =
            classify_send(response.status, response.body, response.header("Retry-After"));
        switch (outcome.kind) {
            case SendOutcome::Kind::delivered:
                co_return std::move(outcome.message_id);
            case SendOutcome::Kind::failed:
                co_return std::move(outcome.error);
            case SendOutcome::Kind::token_refused:
                if (round == 0) {
                    token_.refused(*token);  // expired or revoked early: a new one, once more
                    continue;
                }
                co_return SendError{.kind = SendError::Kind::transient,
                                    .detail = "send: the new access token was refused too"};
        }
    }
}

}  // namespace bot::adapters::qq
