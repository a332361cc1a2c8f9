#include "dingtalk/dingtalk_api.hpp"

#include "base/log.hpp"

namespace bot::adapters::dingtalk {

namespace {
constexpr std::chrono::seconds kRefreshBefore{300};
constexpr std::chrono::seconds kCallTimeout{15};
constexpr const char* kUserAgent = "contactbot/1 (DingTalk Stream)";
}  // namespace

DingtalkApi::DingtalkApi(HttpClient& http, std::string api_base, std::string client_id,
                         std::string client_secret, std::string robot_code, Logger& log)
    : http_(http),
      api_base_(std::move(api_base)),
      client_id_(std::move(client_id)),
      client_secret_(std::move(client_secret)),
      robot_code_(std::move(robot_code)),
      log_(log),
      token_([this](bool) { return fetch_token(); }, kRefreshBefore) {}

net::awaitable<TokenResult> DingtalkApi::fetch_token() {
    ClientRequest request;
    request.method = "POST";
    request.url = api_base_ + "/v1.0/oauth2/accessToken";
    request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    request.body = token_body(client_id_, client_secret_);
    request.timeout = std::chrono::seconds(10);
    auto response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none)
        co_return TokenResult(boost::system::in_place_error, "accessToken: " + response.error);
    auto token = response.status == 200 ? parse_token(response.body) : std::nullopt;
    if (!token) {
        co_return TokenResult(boost::system::in_place_error,
                              "accessToken: HTTP " + std::to_string(response.status) +
                                  " (are client_id and client_secret the app's AppKey and "
                                  "AppSecret?)");
    }
    log_.replace_secret(logged_token_, token->token);  // (fetches are single-flight)
    logged_token_ = token->token;
    log_.info("dingtalk", "fetched an access token (valid ", token->expires_in.count(), " s)");
    co_return FetchedToken{.token = std::move(token->token), .expires_in = token->expires_in};
}

net::awaitable<RegisterResult> DingtalkApi::open_connection() {
    // longconn-protocols.md §2.1: without Accept: application/json the answer is XML (dt-node
    // client.mjs l.110-113); HTTP != 200 is an error (dt-go client.go l.702).
    ClientRequest request;
    request.method = "POST";
    request.url = api_base_ + "/v1.0/gateway/connections/open";
    request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    request.body = register_body(client_id_, client_secret_, kUserAgent);
    request.timeout = std::chrono::seconds(10);
    auto response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none)
        co_return RegisterError{.reason = "gateway/connections/open: " + response.error};
    if (response.status != 200) {
        bool refused = response.status >= 400 && response.status < 500 && response.status != 429;
        co_return RegisterError{
            .refused = refused,
            .reason = "gateway/connections/open: HTTP " + std::to_string(response.status)};
    }
    auto registration = parse_registration(response.body);
    if (!registration)
        co_return RegisterError{.reason = "gateway/connections/open: no endpoint and ticket"};
    co_return std::move(*registration);
}

net::awaitable<SendOutcome> DingtalkApi::post_webhook(const std::string& url,
                                                      const std::string& body) {
    ClientRequest request;
    request.method = "POST";
    request.url = url;
    request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    request.body = body;
    request.timeout = kCallTimeout;
    auto response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none) {
        SendOutcome outcome;
        outcome.error = {.kind = SendError::Kind::transient,
                         .detail = "session webhook: " + response.error};
        co_return outcome;
    }
    co_return classify_webhook(response.status, response.body, response.header("Retry-After"));
}

net::awaitable<SendResult> DingtalkApi::send_private(const std::string& user_id,
                                                     const std::string& text) {
    co_return co_await call("/v1.0/robot/oToMessages/batchSend",
                            batch_send_body(robot_code_, user_id, text), user_id);
}

net::awaitable<SendResult> DingtalkApi::send_group(const std::string& conversation_id,
                                                   const std::string& text) {
    co_return co_await call("/v1.0/robot/groupMessages/send",
                            group_send_body(robot_code_, conversation_id, text), {});
}

net::awaitable<SendResult> DingtalkApi::call(const std::string& path, const std::string& body,
                                             const std::string& user_id) {
    for (int round = 0;; ++round) {
        auto token = co_await token_.get();
        if (!token) {
            co_return SendError{.kind = SendError::Kind::transient, .detail = token.error().reason};
        }
        ClientRequest request;
        request.method = "POST";
        request.url = api_base_ + path;
        request.headers = {{"Content-Type", "application/json"},
                           {"Accept", "application/json"},
                           {"x-acs-dingtalk-access-token", *token}};
        request.body = body;
        request.timeout = kCallTimeout;
        auto response = co_await http_.request(std::move(request));
        if (response.failure != ClientResponse::Failure::none) {
            co_return SendError{.kind = SendError::Kind::transient,
                                .detail = "robot API: " + response.error};
        }
        auto outcome =
            classify_api(response.status, response.body, response.header("Retry-After"), user_id);
        switch (outcome.kind) {
            case SendOutcome::Kind::delivered:
                co_return std::move(outcome.message_id);
            case SendOutcome::Kind::token_refused:
                if (round == 0) {
                    token_.refused(*token);  // expired or revoked early: a new one, once more
                    continue;
                }
                co_return outcome.error;
            case SendOutcome::Kind::session_gone:  // (not an OpenAPI answer)
            case SendOutcome::Kind::failed:
                if (outcome.needs_operator) {
                    log_.error("dingtalk", outcome.error.detail,
                               ": grant the app the robot message permission "
                               "(企业内机器人发送消息权限, qyapi_robot_sendmsg) in the developer "
                               "console and check robot_code");
                }
                co_return outcome.error;
        }
    }
}

}  // namespace bot::adapters::dingtalk
