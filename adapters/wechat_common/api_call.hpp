// Calls to the WeChat and WeCom server APIs, which answer {"errcode": N, "errmsg": "...", ...}
// (errcode 0 or absent: success) and take the access_token in the URL.
#pragma once

#include "bot/adapter.hpp"
#include "base/access_token.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace bot::adapters::wechat {

// errcodes meaning "this access_token is invalid or expired": refetch and retry once.
inline bool is_token_error(long errcode) {
    return errcode == 40001 || errcode == 40014 || errcode == 42001;
}

long errcode_of(const nlohmann::json& answer);
std::string string_of(const nlohmann::json& answer, std::string_view name);
std::string describe_errcode(const nlohmann::json& answer);  // "errcode N (errmsg)"

// The error side of a token fetch ("<endpoint>: <why>"), named explicitly because a
// FetchedToken can be built from a string too.
TokenResult token_failure(std::string_view endpoint, std::string why);

// POSTs a JSON body to url + access_token with the cached token. When the platform refuses the
// token (is_token_error), it is refetched and the call made once more. The parsed answer, or a
// transient SendError for transport failures, HTTP errors and unparsable answers.
net::awaitable<boost::system::result<nlohmann::json, SendError>> post_with_token(
    HttpClient& http, AccessToken& token, std::string url, std::string body, std::string what);

}  // namespace bot::adapters::wechat
