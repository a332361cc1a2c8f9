#include "feishu/feishu_api.hpp"

#include "base/json_text.hpp"
#include "base/log.hpp"

#include <nlohmann/json.hpp>

namespace bot::adapters::feishu {

namespace {
// node-sdk refreshes 3 min before expiry (l.100281-100289), py-sdk 10 min (protocols.md §3);
// a token lives 2 h, and Feishu hands out a new one in the old one's last 30 min.
constexpr std::chrono::seconds kRefreshBefore{10 * 60};
constexpr std::chrono::seconds kCallTimeout{15};
constexpr const char* kJson = "application/json; charset=utf-8";
}  // namespace

FeishuApi::FeishuApi(HttpClient& http, std::string domain, std::string app_id,
                     std::string app_secret, Logger& log, std::string adapter_id)
    : http_(http),
      domain_(std::move(domain)),
      app_id_(std::move(app_id)),
      app_secret_(std::move(app_secret)),
      log_(log),
      id_(std::move(adapter_id)),
      token_([this](bool) { return fetch_token(); }, kRefreshBefore) {}

net::awaitable<TokenResult> FeishuApi::fetch_token() {
    ClientRequest request;
    request.method = "POST";
    request.url = domain_ + "/open-apis/auth/v3/tenant_access_token/internal";
    request.headers = {{"Content-Type", kJson}};
    request.body = dump_json({{"app_id", app_id_}, {"app_secret", app_secret_}});
    request.timeout = kCallTimeout;
    auto response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none) {
        co_return TokenResult(boost::system::in_place_error,
                              "tenant_access_token: " + response.error);
    }
    auto token = parse_tenant_token(response.status, response.body);
    if (!token) {
        log_.error("feishu", "'", id_, "': no tenant_access_token (", token.error(),
                   "); check app_id and app_secret");
        co_return TokenResult(boost::system::in_place_error,
                              "tenant_access_token: " + token.error());
    }
    log_.replace_secret(logged_token_, token->token);  // (fetches are single-flight)
    logged_token_ = token->token;
    log_.info("feishu", "'", id_, "': fetched a tenant_access_token (valid ",
              token->expires_in.count(), " s)");
    FetchedToken fetched;
    fetched.token = std::move(token->token);
    fetched.expires_in = token->expires_in;
    co_return fetched;
}

net::awaitable<ApiResult> FeishuApi::call(std::string method, std::string path, std::string body) {
    for (int round = 0;; ++round) {
        auto token = co_await token_.get();
        if (!token) {
            co_return SendError{.kind = SendError::Kind::transient, .detail = token.error().reason};
        }
        ClientRequest request;
        request.method = method;
        request.url = domain_ + path;
        request.headers = {{"Authorization", "Bearer " + *token}};
        if (method != "GET") request.headers.push_back({"Content-Type", kJson});
        request.body = body;
        request.timeout = kCallTimeout;
        auto response = co_await http_.request(std::move(request));
        if (response.failure != ClientResponse::Failure::none) {
            co_return SendError{.kind = SendError::Kind::transient,
                                .detail = method + " " + path + ": " + response.error};
        }
        auto retry_after = response.header("Retry-After");
        if (retry_after.empty()) retry_after = response.header("x-ogw-ratelimit-reset");
        auto outcome = classify(response.status, response.body, retry_after);
        switch (outcome.kind) {
            case ApiOutcome::Kind::ok:
                co_return std::move(response.body);
            case ApiOutcome::Kind::token_refused:
                if (round == 0) {
                    token_.refused(*token);
                    continue;
                }
                co_return SendError{.kind = SendError::Kind::transient,
                                    .detail = "the new tenant_access_token was refused too"};
            case ApiOutcome::Kind::failed:
                if (outcome.permission) {
                    log_.error("feishu", "'", id_, "': ", method, " ", path.substr(0, 40),
                               " refused (", outcome.error.detail,
                               "): ", permission_fix(outcome.code));
                }
                co_return std::move(outcome.error);
        }
    }
}

net::awaitable<SendResult> FeishuApi::reply(const std::string& message_id, std::string body) {
    auto answer = co_await call("POST", "/open-apis/im/v1/messages/" + message_id + "/reply",
                                std::move(body));
    if (!answer) co_return answer.error();
    co_return answer_data_string(*answer, "message_id");
}

net::awaitable<SendResult> FeishuApi::send_to_chat(const std::string& chat_id,
                                                   std::string_view text, std::string_view uuid) {
    nlohmann::json body{
        {"receive_id", chat_id}, {"msg_type", "post"}, {"content", post_content(text)}};
    if (!uuid.empty()) body["uuid"] = uuid;
    auto answer =
        co_await call("POST", "/open-apis/im/v1/messages?receive_id_type=chat_id", dump_json(body));
    if (!answer) co_return answer.error();
    co_return answer_data_string(*answer, "message_id");
}

net::awaitable<ApiResult> FeishuApi::create_card(std::string body) {
    auto answer = co_await call("POST", "/open-apis/cardkit/v1/cards", std::move(body));
    if (!answer) co_return answer.error();
    auto card_id = answer_data_string(*answer, "card_id");
    if (card_id.empty()) {
        co_return SendError{.kind = SendError::Kind::transient, .detail = "no card_id"};
    }
    co_return card_id;
}

net::awaitable<ApiResult> FeishuApi::update_card_text(const std::string& card_id,
                                                      const std::string& element_id,
                                                      std::string body) {
    return call("PUT",
                "/open-apis/cardkit/v1/cards/" + card_id + "/elements/" + element_id + "/content",
                std::move(body));
}

net::awaitable<ApiResult> FeishuApi::finish_card(const std::string& card_id, std::string body) {
    return call("PATCH", "/open-apis/cardkit/v1/cards/" + card_id + "/settings", std::move(body));
}

net::awaitable<std::string> FeishuApi::bot_open_id() {
    auto answer = co_await call("GET", "/open-apis/bot/v3/info", "");
    if (!answer) {
        log_.warn("feishu", "'", id_, "': bot info unavailable (", answer.error().detail, ")");
        co_return std::string();
    }
    co_return parse_bot_open_id(*answer);
}

net::awaitable<Endpoint> FeishuApi::endpoint(const ClientConfig& current) {
    ClientRequest request;
    request.method = "POST";
    request.url = domain_ + "/callback/ws/endpoint";
    // node-sdk pullConnectConfig sends "locale: zh" (l.102308-102378).
    request.headers = {{"Content-Type", kJson}, {"locale", "zh"}};
    request.body = endpoint_body(app_id_, app_secret_);
    request.timeout = kCallTimeout;
    auto response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none) {
        Endpoint failed;
        failed.config = current;
        failed.reason = response.error;
        co_return failed;
    }
    co_return parse_endpoint(response.status, response.body, current);
}

}  // namespace bot::adapters::feishu
