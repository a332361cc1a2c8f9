// DingTalk's REST as this adapter calls it: the app access token (POST
// {api_base}/v1.0/oauth2/accessToken, cached by base/access_token.hpp and refreshed 5 min
// early as dt-py stream.py get_access_token does), the Stream registration
// (gateway/connections/open), the session webhook, and the robot OpenAPI's 1:1 batchSend and
// group send. Answers are mapped in dingtalk_codec (classify_*). Secrets, tokens and tickets
// are never logged.
#pragma once

#include "base/access_token.hpp"
#include "bot/adapter.hpp"
#include "dingtalk/dingtalk_codec.hpp"

#include <string>

namespace bot::adapters::dingtalk {

// Why a registration failed: refused (4xx: wrong client_id / client_secret, or the app has no
// Stream robot) will not fix itself soon.
struct RegisterError {
    bool refused = false;
    std::string reason;
};
using RegisterResult = boost::system::result<Registration, RegisterError>;

class DingtalkApi {
public:
    // api_base without a trailing '/'.
    DingtalkApi(HttpClient& http, std::string api_base, std::string client_id,
                std::string client_secret, std::string robot_code, Logger& log);

    net::awaitable<RegisterResult> open_connection();

    // POSTs to a session webhook (no auth: the URL is the credential).
    net::awaitable<SendOutcome> post_webhook(const std::string& url, const std::string& body);
    // 1:1 and group sends through the robot OpenAPI, with the token refetched once when
    // refused.
    net::awaitable<SendResult> send_private(const std::string& user_id, const std::string& text);
    net::awaitable<SendResult> send_group(const std::string& conversation_id,
                                          const std::string& text);

    std::size_t token_fetches() const { return token_.fetches(); }

private:
    net::awaitable<TokenResult> fetch_token();
    net::awaitable<SendResult> call(const std::string& path, const std::string& body,
                                    const std::string& user_id);

    HttpClient& http_;
    std::string api_base_;
    std::string client_id_;
    std::string client_secret_;
    std::string robot_code_;
    Logger& log_;
    std::string logged_token_;
    AccessToken token_;
};

}  // namespace bot::adapters::dingtalk
