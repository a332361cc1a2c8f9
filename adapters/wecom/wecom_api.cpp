#include "wecom/wecom_api.hpp"
#include "base/json_text.hpp"

#include "base/log.hpp"
#include "wechat_common/api_call.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace bot::adapters::wecom {

namespace {

using nlohmann::json;
using Kind = SendError::Kind;

constexpr std::size_t kSweepFloor = 1024;  // idle members are forgotten past this many

std::string describe(long errcode, std::string_view errmsg) {
    return "errcode " + std::to_string(errcode) + " (" + std::string(errmsg) + ")";
}

}  // namespace

std::optional<SendError> send_error_for(long errcode, std::string_view errmsg,
                                        std::string_view invalid_user) {
    std::string detail = "message/send: " + describe(errcode, errmsg);
    switch (errcode) {
        case 0:
            if (invalid_user.empty()) return std::nullopt;
            return SendError{
                .kind = Kind::bad_request,
                .detail = "message/send: not a member of the app: " + std::string(invalid_user)};
        case 45009:  // API call frequency (per minute / hour, per member or per app)
            return SendError{.kind = Kind::rate_limited,
                             .detail = detail,
                             .retry_after = std::chrono::seconds(60)};
        case 45033:  // too many concurrent calls
            return SendError{.kind = Kind::rate_limited,
                             .detail = detail,
                             .retry_after = std::chrono::seconds(10)};
        case 60020:  // this server's IP is not in the app's trusted IPs
            return SendError{.kind = Kind::unauthorized, .detail = detail};
        case -1:  // system busy
            return SendError{.kind = Kind::transient, .detail = detail};
        default:
            if (wechat::is_token_error(errcode)) {
                return SendError{.kind = Kind::transient, .detail = detail};
            }
            // 81013 (no valid recipient), 40003 (invalid UserID), 44004 (empty), 45002 (too
            // long), 40056 (invalid agentid), ...: sending it again cannot help.
            return SendError{.kind = Kind::bad_request, .detail = detail};
    }
}

WecomApi::WecomApi(HttpClient& http, std::string api_base, std::string corp_id, std::string secret,
                   long long agent_id, Logger& log)
    : http_(http),
      api_base_(std::move(api_base)),
      corp_id_(std::move(corp_id)),
      secret_(std::move(secret)),
      agent_id_(agent_id),
      log_(log),
      token_([this](bool force) { return fetch_token(force); }) {
    while (api_base_.ends_with('/')) api_base_.pop_back();
}

net::awaitable<TokenResult> WecomApi::fetch_token(bool /*force: gettoken has none*/) {
    ClientRequest request;
    request.method = "GET";
    request.url = api_base_ + "/cgi-bin/gettoken?corpid=" + http::percent_encode(corp_id_) +
                  "&corpsecret=" + http::percent_encode(secret_);
    request.timeout = std::chrono::seconds(10);
    auto response = co_await http_.request(std::move(request));
    if (response.failure != ClientResponse::Failure::none) {
        co_return wechat::token_failure("gettoken", response.error);
    }
    json body = json::parse(response.body, nullptr, false);
    if (!response.ok() || !body.is_object()) {
        co_return wechat::token_failure("gettoken", "HTTP " + std::to_string(response.status));
    }
    auto token = wechat::string_of(body, "access_token");
    if (wechat::errcode_of(body) != 0 || token.empty()) {
        co_return wechat::token_failure("gettoken", wechat::describe_errcode(body));
    }
    FetchedToken fetched;
    fetched.token = std::move(token);
    if (auto expires = body.find("expires_in"); expires != body.end() && expires->is_number()) {
        fetched.expires_in = std::chrono::seconds(expires->get<long>());
    }
    log_.replace_secret(logged_token_, fetched.token);  // (fetches are single-flight)
    logged_token_ = fetched.token;
    log_.info("wecom", "fetched an access_token (valid ", fetched.expires_in.count(), " s)");
    co_return fetched;
}

net::awaitable<SendResult> WecomApi::send_text(const std::string& user_id,
                                               const std::string& text) {
    std::string payload = dump_json(json{{"touser", user_id},
                                         {"msgtype", "text"},
                                         {"agentid", agent_id_},
                                         {"text", {{"content", text}}}});
    auto answer = co_await wechat::post_with_token(
        http_, token_, api_base_ + "/cgi-bin/message/send", std::move(payload), "message/send");
    if (!answer) co_return answer.error();
    long errcode = wechat::errcode_of(*answer);
    auto error = send_error_for(errcode, wechat::string_of(*answer, "errmsg"),
                                wechat::string_of(*answer, "invaliduser"));
    if (!error) co_return wechat::string_of(*answer, "msgid");
    if (errcode == 60020) {
        log_.error("wecom",
                   "WeCom refuses messages from this server's IP (errcode 60020): add its "
                   "outgoing IP to the app's trusted IPs (应用管理 → the app → 企业可信IP); "
                   "replies are not delivered until then");
    }
    co_return std::move(*error);
}

UserRateLimiter::UserRateLimiter(std::size_t per_window, Clock::duration window)
    : per_window_(std::max<std::size_t>(per_window, 1)), window_(window), sweep_at_(kSweepFloor) {}

UserRateLimiter::Clock::time_point UserRateLimiter::reserve(const std::string& user,
                                                            Clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto& slots = slots_[user];
    while (!slots.empty() && slots.front() + window_ <= now) slots.pop_front();
    auto slot = now;
    if (!slots.empty()) slot = std::max(slot, slots.back());  // keep this member's order
    if (slots.size() >= per_window_) {
        // Any window_-long span may hold per_window_ messages: wait until the oldest that
        // would share one with this message has left it.
        slot = std::max(slot, slots[slots.size() - per_window_] + window_);
    }
    slots.push_back(slot);
    if (slots_.size() >= sweep_at_) {
        forget_idle(now);
        sweep_at_ = std::max(kSweepFloor, slots_.size() * 2);
    }
    return slot;
}

std::size_t UserRateLimiter::tracked_users() const {
    std::lock_guard lock(mutex_);
    return slots_.size();
}

void UserRateLimiter::forget_idle(Clock::time_point now) {
    std::erase_if(slots_, [&](const auto& entry) {
        return entry.second.empty() || entry.second.back() + window_ <= now;
    });
}

}  // namespace bot::adapters::wecom
