// The Official Account server API this adapter calls: the stable access_token and the
// customer-service message (the only way to answer after the passive-reply window).
// URLs carry the access_token: neither they nor the app secret are ever logged.
#pragma once

#include "bot/adapter.hpp"
#include "base/access_token.hpp"

#include <string>

namespace bot::adapters::wechat_mp {

class MpApi {
public:
    MpApi(HttpClient& http, std::string api_base, std::string app_id, std::string app_secret,
          Logger& log);

    enum class Sent { yes, window_closed };
    // window_closed: the customer-service API cannot reach the user now (48 h window over,
    // quota of messages spent, or the account lacks the permission): deliver another way.
    net::awaitable<boost::system::result<Sent, SendError>> send_text(const std::string& openid,
                                                                     const std::string& text);

    AccessToken& token() { return token_; }

private:
    net::awaitable<TokenResult> fetch_token(bool force);

    HttpClient& http_;
    std::string api_base_;
    std::string app_id_;
    std::string app_secret_;
    Logger& log_;
    std::string logged_token_;  // the access_token the log redacts now
    AccessToken token_;
};

}  // namespace bot::adapters::wechat_mp
