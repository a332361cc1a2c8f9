#include "fakes/fake_qq.hpp"

#include "base/crypto.hpp"
#include "fakes/recording_server.hpp"

#include <nlohmann/json.hpp>

#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <set>

namespace bot::testing {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxContentBytes = 2000;
constexpr int kMaxReplies = 5;
constexpr const char* kTokenPath = "/app/getAppAccessToken";

Reply error(int status, int code, const std::string& message) {
    return Reply::json(
        {{"code", code}, {"message", message}, {"err_code", code}, {"trace_id", "fake"}}, status);
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

bool is_message_call(const RecordedRequest& request) {
    const auto& path = request.path;
    return request.method == "POST" && path.ends_with("/messages") &&
           (path.starts_with("/v2/users/") || path.starts_with("/v2/groups/") ||
            path.starts_with("/channels/") || path.starts_with("/dms/"));
}

bool delivered(const RecordedRequest& request) {
    return is_message_call(request) && request.status == 200;
}

}  // namespace

struct FakeQq::Impl {
    Impl(std::string app, std::string secret_)
        : app_id(std::move(app)), secret(std::move(secret_)) {
        server.on("POST", kTokenPath, [this](const RecordedRequest& q) { return get_token(q); });
        for (const char* prefix : {"/v2/*", "/channels/*", "/dms/*"}) {
            server.on("POST", prefix, [this](const RecordedRequest& q) { return post_message(q); });
        }
    }

    Reply get_token(const RecordedRequest& request) {
        const auto& body = request.json;
        if (!body.is_object() || body.value("appId", "") != app_id ||
            body.value("clientSecret", "") != secret) {
            return error(200, 100016, "invalid appid or secret");
        }
        std::lock_guard lock(mutex);
        if (token.empty()) token = "QQ_TOKEN_" + std::to_string(++generation);
        json answer{{"access_token", token}};
        if (number) {
            answer["expires_in"] = 7200;
        } else {
            answer["expires_in"] = "7200";  // a string, as QQ sends it
        }
        return Reply::json(answer).after(delay);
    }

    // (Runs on the server's thread, one request at a time: seen and replies need no lock.)
    Reply post_message(const RecordedRequest& request) {
        {
            std::lock_guard lock(mutex);
            auto auth = request.header("Authorization");
            if (token.empty() || !auth.starts_with("QQBot ") || auth.substr(6) != token) {
                return error(401, 11244, "token not exist or expire");
            }
            if (!scripted.empty()) {
                auto [status, code] = scripted.front();
                scripted.pop_front();
                return error(status, code, "scripted");
            }
        }
        if (!is_message_call(request)) return error(404, 0, "no such API");
        const auto& body = request.json;
        if (!body.is_object()) return error(400, 12002, "request invalid");
        std::string content = body.value("content", "");
        std::string msg_id = body.value("msg_id", "");
        if (body.value("msg_type", -1) != 0) return error(400, 12002, "msg_type");
        if (content.empty()) return error(400, 50006, "empty message");
        if (content.size() > kMaxContentBytes) {
            return error(400, 40054007, "content length exceeds max length 2000");
        }
        // Active messages were discontinued: a reply must name the user's message.
        if (msg_id.empty()) return error(400, 304022, "push time limit");
        auto seq = body.value("msg_seq", std::int64_t{1});
        if (!seen.insert(msg_id + "#" + std::to_string(seq)).second) {
            return error(400, 40054005, "消息被去重，请检查请求msgseq");
        }
        if (++replies[msg_id] > kMaxReplies) return error(400, 22009, "msg limit exceed");
        return Reply::json(
            {{"id", "sent_" + std::to_string(seen.size())}, {"timestamp", 1700000000}});
    }

    std::string app_id, secret;
    std::mutex mutex;  // what tests change while requests come: token, form, delay, script
    std::string token;
    int generation = 0;
    bool number = false;
    std::chrono::milliseconds delay{0};
    std::deque<std::pair<int, int>> scripted;  // (status, code) for the next message calls
    std::set<std::string> seen;
    std::map<std::string, int> replies;
    RecordingServer server;  // last: destroyed first, while the state above still exists
};

FakeQq::FakeQq(std::string app_id, std::string secret)
    : impl_(std::make_unique<Impl>(std::move(app_id), std::move(secret))) {}
FakeQq::~FakeQq() = default;

std::string FakeQq::api_base() const {
    return impl_->server.base_url();
}

std::string FakeQq::token_url() const {
    return impl_->server.base_url() + kTokenPath;
}

std::vector<FakeQq::Sent> FakeQq::messages() const {
    std::vector<Sent> sent;
    for (const auto& request : impl_->server.requests(delivered)) {
        sent.push_back({.path = request.path,
                        .content = request.json.value("content", ""),
                        .msg_id = request.json.value("msg_id", ""),
                        .msg_seq = request.json.value("msg_seq", std::int64_t{0}),
                        .msg_type = request.json.value("msg_type", -1)});
    }
    return sent;
}

bool FakeQq::wait_for_messages(std::size_t n, std::chrono::milliseconds timeout) const {
    return impl_->server.wait_for(n, delivered, timeout);
}

std::size_t FakeQq::token_fetches() const {
    return impl_->server.count([](const RecordedRequest& request) {
        return request.path == kTokenPath && request.response.contains("access_token");
    });
}

std::size_t FakeQq::send_calls() const {
    return impl_->server.count(is_message_call);
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
