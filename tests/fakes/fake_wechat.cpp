#include "fakes/fake_wechat.hpp"

#include "bot/http/router.hpp"
#include "fakes/loopback_server.hpp"
#include "fakes/test_http.hpp"
#include "wechat_common/wx_crypt.hpp"
#include "wechat_common/wx_xml.hpp"

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace bot::testing {

using nlohmann::json;
namespace wx = bot::adapters::wechat;
namespace net = boost::asio;

namespace {

http::Response errcode(int code, const std::string& message) {
    return http::Response::json(200, json{{"errcode", code}, {"errmsg", message}});
}

}  // namespace

struct FakeWechatApi::Impl {
    Impl(std::string id, std::string secret)
        : app_id(std::move(id)), app_secret(std::move(secret)), server([this](http::Router& r) {
              r.add("POST", "/cgi-bin/stable_token",
                    [this](http::Request& q, http::ResponseStream&)
                        -> net::awaitable<http::Response> { co_return stable_token(q); });
              r.add("POST", "/cgi-bin/message/custom/send",
                    [this](http::Request& q, http::ResponseStream&)
                        -> net::awaitable<http::Response> { co_return custom_send(q); });
          }) {}

    http::Response stable_token(const http::Request& request) {
        json body = json::parse(request.body, nullptr, false);
        if (!body.is_object() || body.value("grant_type", "") != "client_credential") {
            return errcode(40002, "invalid grant_type");
        }
        if (body.value("appid", "") != app_id) return errcode(40013, "invalid appid");
        if (body.value("secret", "") != app_secret) return errcode(40125, "invalid appsecret");
        std::lock_guard lock(mutex);
        ++fetches;
        if (token.empty()) token = "ACCESS_TOKEN_" + std::to_string(++generation);
        return http::Response::json(200, json{{"access_token", token}, {"expires_in", 7200}});
    }

    http::Response custom_send(const http::Request& request) {
        std::unique_lock lock(mutex);
        ++custom_calls;
        auto given = request.query_param("access_token").value_or("");
        if (given.empty() || given != token) return errcode(40001, "invalid credential");
        if (!scripted.empty()) {
            int code = scripted.front();
            scripted.pop_front();
            return errcode(code, "scripted");
        }
        json body = json::parse(request.body, nullptr, false);
        if (!body.is_object() || body.value("msgtype", "") != "text" || !body.contains("text") ||
            !body["text"].contains("content")) {
            return errcode(44002, "empty post data");
        }
        sent.push_back({body.value("touser", ""), body["text"].value("content", "")});
        changed.notify_all();
        return errcode(0, "ok");
    }

    std::string app_id, app_secret;
    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::string token;
    int generation = 0;
    std::size_t fetches = 0;
    std::size_t custom_calls = 0;
    std::deque<int> scripted;
    std::vector<Sent> sent;
    LoopbackServer server;  // last: destroyed first, while the state above still exists
};

FakeWechatApi::FakeWechatApi(std::string app_id, std::string app_secret)
    : impl_(std::make_unique<Impl>(std::move(app_id), std::move(app_secret))) {}
FakeWechatApi::~FakeWechatApi() = default;

std::string FakeWechatApi::api_base() const {
    return impl_->server.base_url();
}

std::vector<FakeWechatApi::Sent> FakeWechatApi::custom_messages() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->sent;
}

bool FakeWechatApi::wait_for_custom(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->sent.size() >= n; });
}

std::size_t FakeWechatApi::token_fetches() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->fetches;
}

std::size_t FakeWechatApi::custom_calls() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->custom_calls;
}

void FakeWechatApi::expire_token() {
    std::lock_guard lock(impl_->mutex);
    impl_->token.clear();
}

void FakeWechatApi::script_custom_send(int code) {
    std::lock_guard lock(impl_->mutex);
    impl_->scripted.push_back(code);
}

WechatPusher::WechatPusher(std::string url, std::string token, std::string app_id,
                           std::string encoding_aes_key)
    : url_(std::move(url)),
      token_(std::move(token)),
      app_id_(std::move(app_id)),
      aes_key_(std::move(encoding_aes_key)) {}

std::string WechatPusher::text_xml(const std::string& openid, const std::string& msg_id,
                                   const std::string& text) {
    auto now = std::to_string(std::time(nullptr));
    return wx::build_xml({{"ToUserName", "gh_test_account"},
                          {"FromUserName", openid},
                          {"CreateTime", now, false},
                          {"MsgType", "text"},
                          {"Content", text},
                          {"MsgId", msg_id, false}});
}

std::string WechatPusher::event_xml(const std::string& openid, const std::string& event) {
    auto now = std::to_string(std::time(nullptr));
    return wx::build_xml({{"ToUserName", "gh_test_account"},
                          {"FromUserName", openid},
                          {"CreateTime", now, false},
                          {"MsgType", "event"},
                          {"Event", event}});
}

std::pair<std::string, std::string> WechatPusher::sign(const std::string& xml,
                                                       std::optional<std::time_t> at) const {
    static std::atomic<int> counter{0};
    std::string timestamp = std::to_string(at.value_or(std::time(nullptr)));
    std::string nonce = std::to_string(100000 + counter++);
    std::string query = "signature=" + wx::sha1_signature({token_, timestamp, nonce}) +
                        "&timestamp=" + timestamp + "&nonce=" + nonce;
    if (aes_key_.empty()) return {query, xml};
    wx::MessageCrypt crypt(aes_key_, app_id_);
    std::string encrypt = crypt.encrypt(xml);
    query += "&openid=o_user&encrypt_type=aes&msg_signature=" +
             wx::sha1_signature({token_, timestamp, nonce, encrypt});
    return {query, wx::build_xml({{"ToUserName", "gh_test_account"}, {"Encrypt", encrypt}})};
}

std::pair<long, std::string> WechatPusher::post_raw(const std::string& query,
                                                    const std::string& body) const {
    auto response = http_request("POST", url_ + "?" + query, body, {"Content-Type: text/xml"});
    return {response.status, response.body};
}

PushOutcome WechatPusher::push(const std::string& xml, int tries,
                               std::chrono::milliseconds timeout) const {
    PushOutcome outcome;
    for (int attempt = 1; attempt <= tries; ++attempt) {
        outcome.tries = attempt;
        auto [query, body] = sign(xml);
        TestResponse response;
        try {
            response = http_request("POST", url_ + "?" + query, body, {"Content-Type: text/xml"},
                                    static_cast<long>(timeout.count()));
        } catch (const std::runtime_error&) {
            continue;  // timed out or closed unanswered: WeChat tries again
        }
        outcome.status = response.status;
        outcome.body = response.body;
        if (response.status != 200 || response.body.empty() || response.body == "success") {
            return outcome;
        }
        auto fields = wx::parse_xml_fields(response.body);
        if (!fields) throw std::runtime_error("reply is not XML: " + response.body);
        std::string reply_xml = response.body;
        if (!aes_key_.empty()) {
            auto encrypt = wx::field(*fields, "Encrypt");
            auto expected = wx::sha1_signature(
                {token_, wx::field(*fields, "TimeStamp"), wx::field(*fields, "Nonce"), encrypt});
            if (wx::field(*fields, "MsgSignature") != expected) {
                throw std::runtime_error("reply with a wrong MsgSignature");
            }
            auto plain = wx::MessageCrypt(aes_key_, app_id_).decrypt(encrypt);
            if (!plain) throw std::runtime_error("reply does not decrypt");
            reply_xml = *plain;
        }
        auto reply = wx::parse_xml_fields(reply_xml);
        if (!reply) throw std::runtime_error("decrypted reply is not XML");
        outcome.content = std::string(wx::field(*reply, "Content"));
        return outcome;
    }
    return outcome;
}

}  // namespace bot::testing
