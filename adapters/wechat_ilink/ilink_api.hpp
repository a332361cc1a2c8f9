// The iLink bot API's HTTP conventions (ilink.md §2): the headers every call carries (a fresh
// random X-WECHAT-UIN per request), base_info in every authenticated body, the response envelope
// (ret/errcode, -14 = the session is over), and the QR login calls, which need no token.
#pragma once

#include "bot/net/http_client.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bot::adapters::wechat_ilink {

using nlohmann::json;

inline constexpr std::string_view kDefaultApiBase = "https://ilinkai.weixin.qq.com";
inline constexpr std::int64_t kSessionExpired = -14;

// Who we say we are (§2.1, §2.2).
struct ClientInfo {
    std::string channel_version = "2.4.9";  // base_info.channel_version
    std::string bot_agent;                  // base_info.bot_agent, "Name/Version"; may be empty
};

struct ApiResult {
    enum class Kind {
        ok,
        api_error,        // HTTP 200 with ret/errcode != 0
        session_expired,  // ret or errcode -14: the token is dead, a human must bind again
        http_error,       // non-2xx
        timeout,          // the client timeout passed (normal for long polls)
        transport,        // connect/reset/cancelled
    };
    Kind kind = Kind::transport;
    int http_status = 0;
    std::int64_t ret = 0;  // ret, else errcode
    std::string errmsg;
    json body;  // the parsed response (an object) when kind is ok or api_error

    bool ok() const { return kind == Kind::ok; }
    std::string describe() const;  // for logs: never contains the token
};

// X-WECHAT-UIN: a uint32 as decimal text, base64-encoded (§10 vectors).
std::string uin_header(std::uint32_t uin);
// iLink-App-ClientVersion: "major.minor.patch" packed as (ma<<16)|(mi<<8)|pa; 0 when malformed.
std::uint32_t packed_client_version(std::string_view version);
// base URL + "/" + path, whatever the base's trailing slash.
std::string endpoint_url(std::string_view base_url, std::string_view path);

class IlinkApi {
public:
    IlinkApi(HttpClient& http, ClientInfo info);

    // An authenticated POST to <base_url>/ilink/bot/<endpoint> with base_info added. pool:
    // the account's connection pool (ClientRequest::pool).
    net::awaitable<ApiResult> post(std::string base_url, std::string token, std::string endpoint,
                                   json body, std::chrono::milliseconds timeout,
                                   std::uint32_t pool = 0);

    // QR login (§3): no token. local_tokens lets the server recognise a bot bound already.
    net::awaitable<ApiResult> get_qrcode(std::string base_url,
                                         std::vector<std::string> local_tokens);
    net::awaitable<ApiResult> qrcode_status(std::string base_url, std::string qrcode,
                                            std::string verify_code,
                                            std::chrono::milliseconds timeout);

    const ClientInfo& info() const { return info_; }

private:
    std::vector<http::Header> common_headers() const;
    std::vector<http::Header> post_headers(const std::string& token) const;
    net::awaitable<ApiResult> exchange(ClientRequest request);
    static ApiResult interpret(const ClientResponse& response);

    HttpClient& http_;
    ClientInfo info_;
    std::string client_version_;
};

}  // namespace bot::adapters::wechat_ilink
