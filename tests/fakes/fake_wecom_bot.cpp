#include "fakes/fake_wecom_bot.hpp"

#include "bot/http/router.hpp"
#include "fakes/loopback_server.hpp"
#include "fakes/test_http.hpp"
#include "wechat_common/wx_crypt.hpp"

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace bot::testing {

using nlohmann::json;
namespace wx = bot::adapters::wechat;
namespace net = boost::asio;

WecomBotClient::WecomBotClient(std::string url, std::string token, std::string encoding_aes_key)
    : url_(std::move(url)), token_(std::move(token)), aes_key_(std::move(encoding_aes_key)) {}

json WecomBotClient::text_message(const std::string& msgid, const std::string& user,
                                  const std::string& text, const std::string& chatid,
                                  const std::string& response_url) {
    json message{{"msgid", msgid},
                 {"aibotid", "AIBOTID"},
                 {"chattype", chatid.empty() ? "single" : "group"},
                 {"from", {{"userid", user}}},
                 {"msgtype", "text"},
                 {"text", {{"content", text}}}};
    if (!chatid.empty()) message["chatid"] = chatid;
    if (!response_url.empty()) message["response_url"] = response_url;
    return message;
}

json WecomBotClient::refresh(const std::string& msgid, const std::string& user,
                             const std::string& stream_id) {
    return {{"msgid", msgid + "-refresh-" + std::to_string(std::rand())},
            {"aibotid", "AIBOTID"},
            {"chattype", "single"},
            {"from", {{"userid", user}}},
            {"msgtype", "stream"},
            {"stream", {{"id", stream_id}}}};
}

std::pair<std::string, std::string> WecomBotClient::sign(const json& payload,
                                                         const std::string& receive_id,
                                                         std::optional<std::time_t> at) const {
    static std::atomic<int> counter{0};
    std::string timestamp = std::to_string(at.value_or(std::time(nullptr)));
    std::string nonce = std::to_string(500000 + counter++);
    std::string encrypt = wx::MessageCrypt(aes_key_, receive_id).encrypt(payload.dump());
    std::string query = "msg_signature=" + wx::sha1_signature({token_, timestamp, nonce, encrypt}) +
                        "&timestamp=" + timestamp + "&nonce=" + nonce;
    return {query, json{{"encrypt", encrypt}}.dump()};
}

std::pair<long, std::string> WecomBotClient::post_raw(const std::string& query,
                                                      const std::string& body) const {
    auto response =
        http_request("POST", url_ + "?" + query, body, {"Content-Type: application/json"});
    return {response.status, response.body};
}

WecomBotClient::Answer WecomBotClient::post(const json& payload) const {
    auto [query, body] = sign(payload);
    auto [status, raw] = post_raw(query, body);
    Answer answer{.status = status, .reply = nullptr, .raw = raw};
    if (status != 200 || raw.empty()) return answer;
    json envelope = json::parse(raw);
    // As WeCom checks it: signature over the ciphertext, timestamp as a string.
    auto encrypt = envelope.at("encrypt").get<std::string>();
    auto expected = wx::sha1_signature({token_, envelope.at("timestamp").get<std::string>(),
                                        envelope.at("nonce").get<std::string>(), encrypt});
    if (envelope.at("msgsignature").get<std::string>() != expected) {
        throw std::runtime_error("reply with a wrong msgsignature");
    }
    auto plain = wx::MessageCrypt(aes_key_, "").decrypt(encrypt);
    if (!plain) throw std::runtime_error("reply does not decrypt");
    answer.reply = json::parse(*plain);
    return answer;
}

WecomBotClient::Conversation WecomBotClient::converse(const json& message,
                                                      std::chrono::milliseconds interval,
                                                      std::chrono::milliseconds timeout) const {
    Conversation conversation;
    auto first = post(message);
    if (first.status != 200 || first.reply.is_null()) return conversation;
    conversation.stream_id = first.reply.at("stream").at("id").get<std::string>();
    auto user = message.at("from").at("userid").get<std::string>();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(interval);
        auto frame =
            post(refresh(message.at("msgid").get<std::string>(), user, conversation.stream_id));
        if (frame.status != 200) throw std::runtime_error("refresh failed: " + frame.raw);
        auto& stream = frame.reply.at("stream");
        if (stream.at("id") != conversation.stream_id)
            throw std::runtime_error("stream id changed");
        conversation.frames.push_back(stream.at("content").get<std::string>());
        if (stream.at("finish").get<bool>()) {
            conversation.finished = true;
            break;
        }
    }
    return conversation;
}

struct ResponseUrlServer::Impl {
    Impl()
        : server([this](http::Router& r) {
              r.add("POST", "/response/*",
                    [this](http::Request& q,
                           http::ResponseStream&) -> net::awaitable<http::Response> {
                        std::lock_guard lock(mutex);
                        if (!used.insert(q.path).second) {  // one-shot, like WeCom's
                            co_return http::Response::json(
                                200, json{{"errcode", 60140}, {"errmsg", "used"}});
                        }
                        json body = json::parse(q.body, nullptr, false);
                        body["url_path"] = q.path;
                        posts.push_back(body);
                        changed.notify_all();
                        co_return http::Response::json(200, json{{"errcode", 0}, {"errmsg", "ok"}});
                    });
          }) {}
    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::set<std::string> used;
    std::vector<json> posts;
    LoopbackServer server;
};

ResponseUrlServer::ResponseUrlServer() : impl_(std::make_unique<Impl>()) {}
ResponseUrlServer::~ResponseUrlServer() = default;

std::string ResponseUrlServer::url(const std::string& name) const {
    return impl_->server.base_url() + "/response/" + name;
}

std::vector<json> ResponseUrlServer::received() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->posts;
}

bool ResponseUrlServer::wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->posts.size() >= n; });
}

}  // namespace bot::testing
