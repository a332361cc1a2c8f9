#include "wechat_ilink/ilink_api.hpp"

#include "base/crypto.hpp"
#include "bot/http/http_types.hpp"

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace bot::adapters::wechat_ilink {

namespace {

constexpr std::chrono::milliseconds kQrcodeTimeout{15000};

std::uint32_t random_uin() {
    std::uint32_t value = 0;
    const std::string bytes = crypto::random_bytes(sizeof value);
    std::memcpy(&value, bytes.data(), sizeof value);
    return value;
}

std::int64_t envelope_code(const json& body) {
    for (const char* key : {"ret", "errcode"}) {
        auto found = body.find(key);
        if (found != body.end() && found->is_number_integer()) {
            auto code = found->get<std::int64_t>();
            if (code != 0) return code;
        }
    }
    return 0;
}

}  // namespace

std::string ApiResult::describe() const {
    switch (kind) {
        case Kind::ok:
            return "ok";
        case Kind::api_error:
        case Kind::session_expired:
            return "ret " + std::to_string(ret) + (errmsg.empty() ? "" : " (" + errmsg + ")");
        case Kind::http_error:
            return "HTTP " + std::to_string(http_status);
        case Kind::timeout:
            return "timed out";
        case Kind::transport:
            return errmsg.empty() ? "transport error" : errmsg;
    }
    return "?";
}

std::string uin_header(std::uint32_t uin) {
    return crypto::base64_encode(std::to_string(uin));
}

std::uint32_t packed_client_version(std::string_view version) {
    std::uint32_t parts[3] = {0, 0, 0};
    const char* at = version.data();
    const char* end = version.data() + version.size();
    for (int i = 0; i < 3; ++i) {
        auto [next, error] = std::from_chars(at, end, parts[i]);
        if (error != std::errc{} || parts[i] > 0xff) return 0;
        at = next;
        if (i < 2) {
            if (at == end || *at != '.') return 0;
            ++at;
        }
    }
    if (at != end) return 0;
    return parts[0] << 16 | parts[1] << 8 | parts[2];
}

std::string endpoint_url(std::string_view base_url, std::string_view path) {
    std::string url(base_url);
    if (url.empty() || url.back() != '/') url += '/';
    url += path;
    return url;
}

IlinkApi::IlinkApi(HttpClient& http, ClientInfo info)
    : http_(http),
      info_(std::move(info)),
      client_version_(std::to_string(packed_client_version(info_.channel_version))) {}

std::vector<http::Header> IlinkApi::common_headers() const {
    return {{"iLink-App-Id", "bot"}, {"iLink-App-ClientVersion", client_version_}};
}

std::vector<http::Header> IlinkApi::post_headers(const std::string& token) const {
    auto headers = common_headers();
    headers.push_back({"Content-Type", "application/json"});
    headers.push_back({"AuthorizationType", "ilink_bot_token"});
    headers.push_back({"X-WECHAT-UIN", uin_header(random_uin())});
    if (!token.empty()) headers.push_back({"Authorization", "Bearer " + token});
    return headers;
}

ApiResult IlinkApi::interpret(const ClientResponse& response) {
    ApiResult result;
    switch (response.failure) {
        case ClientResponse::Failure::none:
            break;
        case ClientResponse::Failure::timeout:
            result.kind = ApiResult::Kind::timeout;
            return result;
        default:
            result.kind = ApiResult::Kind::transport;
            result.errmsg = response.error;
            return result;
    }
    result.http_status = response.status;
    if (response.status < 200 || response.status >= 300) {
        result.kind = ApiResult::Kind::http_error;
        return result;
    }
    // uint64 ids above 2^53 stay exact: nlohmann keeps integers as (u)int64, never double.
    result.body = json::parse(response.body, nullptr, false);
    if (!result.body.is_object()) {
        result.kind = ApiResult::Kind::http_error;
        result.errmsg = "response is not a JSON object";
        result.body = json::object();
        return result;
    }
    result.ret = envelope_code(result.body);
    if (auto message = result.body.find("errmsg");
        message != result.body.end() && message->is_string()) {
        result.errmsg = message->get<std::string>();
    }
    if (result.ret == kSessionExpired) {
        result.kind = ApiResult::Kind::session_expired;
    } else {
        result.kind = result.ret == 0 ? ApiResult::Kind::ok : ApiResult::Kind::api_error;
    }
    return result;
}

net::awaitable<ApiResult> IlinkApi::post(std::string base_url, std::string token,
                                         std::string endpoint, json body,
                                         std::chrono::milliseconds timeout, std::uint32_t pool) {
    // Not a coroutine itself: thousands of long polls wait in exchange(), whose frame holds
    // only the request, not these arguments too.
    json base_info{{"channel_version", info_.channel_version}};
    if (!info_.bot_agent.empty()) base_info["bot_agent"] = info_.bot_agent;
    body["base_info"] = std::move(base_info);
    ClientRequest request;
    request.method = "POST";
    request.url = endpoint_url(base_url, "ilink/bot/" + endpoint);
    request.headers = post_headers(token);
    request.body = body.dump();
    request.timeout = timeout;
    request.pool = pool;
    return exchange(std::move(request));
}

net::awaitable<ApiResult> IlinkApi::exchange(ClientRequest request) {
    auto response = co_await http_.request(std::move(request));
    co_return interpret(response);
}

net::awaitable<ApiResult> IlinkApi::get_qrcode(std::string base_url,
                                               std::vector<std::string> local_tokens) {
    ClientRequest request;
    request.method = "POST";
    request.url = endpoint_url(base_url, "ilink/bot/get_bot_qrcode?bot_type=3");
    request.headers = post_headers("");
    request.body = json{{"local_token_list", std::move(local_tokens)}}.dump();
    request.timeout = kQrcodeTimeout;
    co_return co_await exchange(std::move(request));
}

net::awaitable<ApiResult> IlinkApi::qrcode_status(std::string base_url, std::string qrcode,
                                                  std::string verify_code,
                                                  std::chrono::milliseconds timeout) {
    ClientRequest request;
    request.url = endpoint_url(
        base_url, "ilink/bot/get_qrcode_status?qrcode=" + http::percent_encode(qrcode));
    if (!verify_code.empty()) request.url += "&verify_code=" + http::percent_encode(verify_code);
    request.headers = common_headers();
    request.timeout = timeout;
    co_return co_await exchange(std::move(request));
}

}  // namespace bot::adapters::wechat_ilink
