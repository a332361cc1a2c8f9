#include "fakes/fake_qq.hpp"

#include "base/async.hpp"
#include "base/crypto.hpp"
#include "bot/http/router.hpp"
#include "fakes/loopback_server.hpp"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <set>

namespace bot::testing {

using nlohmann::json;
namespace net = boost::asio;

namespace {

constexpr std::size_t kMaxContentBytes = 2000;
constexpr int kMaxReplies = 5;

http::Response error(int status, int code, const std::string& message) {
    return http::Response::json(
        status,
        json{{"code", code}, {"message", message}, {"err_code", code}, {"trace_id", "fake"}});
}

// The Ed25519 seed from the bot secret, as QQ derives it (botgo getSeed).
std::string seed_of(std::string secret) {
    while (secret.size() < 32) secret += secret;
    return secret.substr(0, 32);
}

std::string rfc3339(std::chrono::system_clock::time_point at) {
    std::time_t t = std::chrono::system_clock::to_time_t(at) + 8 * 3600;  // +08:00, as QQ writes
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[40];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
    return text;
}

}  // namespace

struct FakeQq::Impl {
    Impl(std::string app, std::string secret_)
        : app_id(std::move(app)), secret(std::move(secret_)), server([this](http::Router& r) {
              r.add("POST", "/app/getAppAccessToken",
                    [this](http::Request& q,
                           http::ResponseStream&) -> net::awaitable<http::Response> {
                        std::chrono::milliseconds wait;
                        {
                            std::lock_guard lock(mutex);
                            wait = delay;
                        }
                        if (wait.count() > 0) co_await sleep_for(wait);
                        co_return get_token(q);
                    });
              for (const char* prefix : {"/v2/*", "/channels/*", "/dms/*"}) {
                  r.add("POST", prefix,
                        [this](http::Request& q, http::ResponseStream&)
                            -> net::awaitable<http::Response> { co_return post_message(q); });
              }
          }) {}

    http::Response get_token(const http::Request& request) {
        json body = json::parse(request.body, nullptr, false);
        if (!body.is_object() || body.value("appId", "") != app_id ||
            body.value("clientSecret", "") != secret) {
            return error(200, 100016, "invalid appid or secret");
        }
        std::lock_guard lock(mutex);
        ++fetches;
        if (token.empty()) token = "QQ_TOKEN_" + std::to_string(++generation);
        json answer{{"access_token", token}};
        if (number) {
            answer["expires_in"] = 7200;
        } else {
            answer["expires_in"] = "7200";
        }
        return http::Response::json(200, answer);
    }

    http::Response post_message(const http::Request& request) {
        std::lock_guard lock(mutex);
        ++send_calls;
        auto auth = request.header("Authorization");
        if (!auth.starts_with("QQBot ") || auth.substr(6) != token || token.empty()) {
            return error(401, 11244, "token not exist or expire");
        }
        if (!scripted.empty()) {
            auto [status, code] = scripted.front();
            scripted.pop_front();
            return error(status, code, "scripted");
        }
        const std::string& path = request.path;
        bool known = (path.starts_with("/v2/users/") || path.starts_with("/v2/groups/") ||
                      path.starts_with("/channels/") || path.starts_with("/dms/")) &&
                     path.ends_with("/messages");
        if (!known) return error(404, 0, "no such API");
        json body = json::parse(request.body, nullptr, false);
        if (!body.is_object()) return error(400, 12002, "request invalid");
        Sent sent_message;
        sent_message.path = path;
        sent_message.content = body.value("content", "");
        sent_message.msg_id = body.value("msg_id", "");
        sent_message.msg_seq = body.value("msg_seq", std::int64_t{0});
        sent_message.msg_type = body.value("msg_type", -1);
        if (sent_message.msg_type != 0) return error(400, 12002, "msg_type");
        if (sent_message.content.empty()) return error(400, 50006, "empty message");
        if (sent_message.content.size() > kMaxContentBytes) {
            return error(400, 40054007, "content length exceeds max length 2000");
        }
        // Active messages were discontinued: a reply must name the user's message.
        if (sent_message.msg_id.empty()) return error(400, 304022, "push time limit");
        auto seq = sent_message.msg_seq == 0 ? 1 : sent_message.msg_seq;
        if (!seen.insert(sent_message.msg_id + "#" + std::to_string(seq)).second) {
            return error(400, 40054005, "消息被去重，请检查请求msgseq");
        }
        if (++replies[sent_message.msg_id] > kMaxReplies) {
            return error(400, 22009, "msg limit exceed");
        }
        sent.push_back(sent_message);
        changed.notify_all();
        return http::Response::json(
            200, json{{"id", "sent_" + std::to_string(sent.size())}, {"timestamp", 1700000000}});
    }

    std::string app_id, secret;
    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::string token;
    int generation = 0;
    bool number = false;
    std::chrono::milliseconds delay{0};
    std::size_t fetches = 0;
    std::size_t send_calls = 0;
    std::deque<std::pair<int, int>> scripted;
    std::set<std::string> seen;
    std::map<std::string, int> replies;
    std::vector<Sent> sent;
    LoopbackServer server;  // last: destroyed first, while the state above still exists
};

FakeQq::FakeQq(std::string app_id, std::string secret)
    : impl_(std::make_unique<Impl>(std::move(app_id), std::move(secret))) {}
FakeQq::~FakeQq() = default;

std::string FakeQq::api_base() const {
    return impl_->server.base_url();
}

std::string FakeQq::token_url() const {
    return impl_->server.base_url() + "/app/getAppAccessToken";
}

std::vector<FakeQq::Sent> FakeQq::messages() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->sent;
}

bool FakeQq::wait_for_messages(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->sent.size() >= n; });
}

std::size_t FakeQq::token_fetches() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->fetches;
}

std::size_t FakeQq::send_calls() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->send_calls;
}

void FakeQq::expire_token() {
    std::lock_guard lock(impl_->mutex);
    impl_->token.clear();
}

void FakeQq::expires_in_as_number(bool number) {
    std::lock_guard lock(impl_->mutex);
    impl_->number = number;
}

void FakeQq::token_delay(std::chrono::milliseconds delay) {
    std::lock_guard lock(impl_->mutex);
    impl_->delay = delay;
}

void FakeQq::script_send(int status, int code) {
    std::lock_guard lock(impl_->mutex);
    impl_->scripted.emplace_back(status, code);
}

std::string FakeQq::signature(const std::string& timestamp, const std::string& body) const {
    return crypto::hex(crypto::ed25519_sign(seed_of(impl_->secret), timestamp + body));
}

TestResponse FakeQq::push(const std::string& url, const std::string& body) const {
    std::string timestamp = std::to_string(std::time(nullptr));
    return push_raw(url, body,
                    {"X-Signature-Ed25519: " + signature(timestamp, body),
                     "X-Signature-Timestamp: " + timestamp, "X-Signature-Method: ed25519",
                     "X-Bot-Appid: " + impl_->app_id, "User-Agent: QQBot-Callback"});
}

TestResponse FakeQq::push_raw(const std::string& url, const std::string& body,
                              const std::vector<std::string>& headers) const {
    auto all = headers;
    all.push_back("Content-Type: application/json");
    return http_request("POST", url, body, all, 10000);
}

std::string FakeQq::c2c(const std::string& user_openid, const std::string& msg_id,
                        const std::string& text, std::chrono::system_clock::time_point at) {
    return json{{"op", 0},
                {"id", "C2C_MESSAGE_CREATE:" + msg_id},
                {"t", "C2C_MESSAGE_CREATE"},
                {"d",
                 {{"author", {{"user_openid", user_openid}}},
                  {"content", text},
                  {"id", msg_id},
                  {"timestamp", rfc3339(at)}}}}
        .dump();
}

std::string FakeQq::group(const std::string& group_openid, const std::string& member_openid,
                          const std::string& msg_id, const std::string& text,
                          std::chrono::system_clock::time_point at) {
    return json{{"op", 0},
                {"id", "GROUP_AT_MESSAGE_CREATE:" + msg_id},
                {"t", "GROUP_AT_MESSAGE_CREATE"},
                {"d",
                 {{"author", {{"member_openid", member_openid}}},
                  {"content", " " + text},  // a space where the @ was, as QQ pushes it
                  {"group_openid", group_openid},
                  {"id", msg_id},
                  {"timestamp", rfc3339(at)}}}}
        .dump();
}

std::string FakeQq::c2c_image(const std::string& user_openid, const std::string& msg_id) {
    return json{{"op", 0},
                {"id", "C2C_MESSAGE_CREATE:" + msg_id},
                {"t", "C2C_MESSAGE_CREATE"},
                {"d",
                 {{"author", {{"user_openid", user_openid}}},
                  {"content", ""},
                  {"id", msg_id},
                  {"timestamp", rfc3339(std::chrono::system_clock::now())},
                  {"attachments",
                   {{{"content_type", "image/png"}, {"url", "https://example.com/a.png"}}}}}}}
        .dump();
}

std::string FakeQq::validation(const std::string& plain_token, const std::string& event_ts) {
    return json{{"d", {{"plain_token", plain_token}, {"event_ts", event_ts}}}, {"op", 13}}.dump();
}

}  // namespace bot::testing
