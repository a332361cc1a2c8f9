// The QQ open platform's API as this adapter calls it: the app access token (getAppAccessToken,
// cached and refreshed by one caller in its last 60 s) and passive text replies, with the
// answers mapped to SendError in qq_codec. Tokens and the secret are never logged.
#pragma once

#include "base/access_token.hpp"
#include "bot/adapter.hpp"

#include <string>

namespace bot::adapters::qq {

class QqApi {
public:
    // api_base without a trailing '/' (ConfigReader::url trims it).
    QqApi(HttpClient& http, std::string api_base, std::string token_url, std::string app_id,
          std::string app_secret, Logger& log);

    // POSTs body to api_base + path with "Authorization: QQBot <token>". A refused token
    // (401, 11241-11244) is refetched and the call made once more.
    net::awaitable<SendResult> post_message(const std::string& path, const std::string& body);

    std::size_t token_fetches() const { return token_.fetches(); }

private:
    net::awaitable<TokenResult> fetch_token();

    HttpClient& http_;
    std::string api_base_;
    std::string token_url_;
    std::string app_id_;
    std::string app_secret_;
    Logger& log_;
    std::string logged_token_;  // the token the log redacts now
    // The WeChat family's single-flight cache fits as is: QQ issues a new token in the old
    // one's last 60 s and keeps the old one valid meanwhile (protocols.md §10), so it is
    // refreshed 60 s ahead; its "force" flag has no QQ counterpart and is ignored.
    AccessToken token_;
};

}  // namespace bot::adapters::qq
