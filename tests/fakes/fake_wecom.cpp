#include "fakes/fake_wecom.hpp"

#include "bot/http/router.hpp"
#include "fakes/recording_server.hpp"
#include "wechat_common/wx_crypt.hpp"
#include "wechat_common/wx_xml.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <set>

namespace bot::testing {

using nlohmann::json;
namespace wx = bot::adapters::wechat;
namespace {

constexpr std::size_t kMaxContentBytes = 2048;

Reply errcode(int code, const std::string& message) {
    return Reply::json(json{{"errcode", code}, {"errmsg", message}});
}

// A message/send the API accepted (what the member sees).
bool delivered(const RecordedRequest& r) {
    return r.path == "/cgi-bin/message/send" && r.response.is_object() &&
           r.response.value("errcode", -1) == 0;
}

}  // namespace

// The recording server keeps the requests and their answers; this keeps WeCom's rules and
// the token state (guarded: the test thread expires tokens and scripts errcodes).
struct FakeWecomApi::Impl {
    Impl(std::string corp, std::string secret_, long long agent)
        : corp_id(std::move(corp)), secret(std::move(secret_)), agent_id(agent) {
        server.on("GET", "/cgi-bin/gettoken",
                  [this](const RecordedRequest& r) { return gettoken(r); });
        server.on("POST", "/cgi-bin/message/send",
                  [this](const RecordedRequest& r) { return message_send(r); });
    }

    Reply gettoken(const RecordedRequest& request) {
        if (request.query_param("corpid").value_or("") != corp_id) {
            return errcode(40013, "invalid corpid");
        }
        if (request.query_param("corpsecret").value_or("") != secret) {
            return errcode(40001, "invalid secret");
        }
        std::lock_guard lock(mutex);
        if (token.empty()) token = "WECOM_TOKEN_" + std::to_string(++generation);
        return Reply::json(
            json{{"errcode", 0}, {"errmsg", "ok"}, {"access_token", token}, {"expires_in", 7200}});
    }

    Reply message_send(const RecordedRequest& request) {
        std::lock_guard lock(mutex);
        auto given = request.query_param("access_token").value_or("");
        if (expired.contains(given)) return errcode(42001, "access_token expired");
        if (given.empty() || given != token) return errcode(40014, "invalid access_token");
        if (!scripted.empty()) {
            int code = scripted.front();
            scripted.pop_front();
            return errcode(code, "scripted");
        }
        const json& body = request.json;
        if (!body.is_object()) return errcode(44002, "empty post data");
        auto agent = body.find("agentid");
        if (agent == body.end() || !agent->is_number_integer() ||
            agent->get<long long>() != agent_id) {
            return errcode(40056, "invalid agentid");
        }
        if (body.value("msgtype", "") != "text") return errcode(40008, "invalid message type");
        std::string touser = body.value("touser", "");
        if (touser.empty()) return errcode(81013, "user & party & tag all invalid");
        if (!body.contains("text") || !body["text"].is_object() ||
            !body["text"].contains("content") || !body["text"]["content"].is_string()) {
            return errcode(44004, "empty content");
        }
        std::string content = body["text"]["content"];
        if (content.empty()) return errcode(44004, "empty content");
        if (content.size() > kMaxContentBytes) return errcode(45002, "content size out of limit");
        if (per_minute > 0) {
            auto now = std::chrono::steady_clock::now();
            auto& times = recent[touser];
            while (!times.empty() && now - times.front() >= std::chrono::minutes(1))
                times.pop_front();
            if (times.size() >= per_minute) {
                ++violations;
                return errcode(45009, "api freq out of limit");
            }
            times.push_back(now);
        }
        return Reply::json(json{{"errcode", 0},
                                {"errmsg", "ok"},
                                {"invaliduser", ""},
                                {"msgid", "msg_" + std::to_string(++accepted)}});
    }

    std::string corp_id, secret;
    long long agent_id;
    std::mutex mutex;
    std::string token;
    std::set<std::string> expired;
    int generation = 0;
    std::size_t accepted = 0;
    std::deque<int> scripted;
    std::size_t per_minute = 0;
    std::size_t violations = 0;
    std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> recent;
    RecordingServer server;  // last: stopped first, while the state above still exists
};

FakeWecomApi::FakeWecomApi(std::string corp_id, std::string secret, long long agent_id)
    : impl_(std::make_unique<Impl>(std::move(corp_id), std::move(secret), agent_id)) {}
FakeWecomApi::~FakeWecomApi() = default;

std::string FakeWecomApi::api_base() const {
    return impl_->server.base_url();
}

std::vector<FakeWecomApi::Sent> FakeWecomApi::messages() const {
    std::vector<Sent> sent;
    for (const auto& r : impl_->server.requests(delivered)) {
        sent.push_back({r.json.value("touser", ""), r.json["text"].value("content", ""),
                        r.json.value("agentid", 0LL)});
    }
    return sent;
}

bool FakeWecomApi::wait_for_messages(std::size_t n, std::chrono::milliseconds timeout) const {
    return impl_->server.wait_for(n, delivered, timeout);
}

std::size_t FakeWecomApi::token_fetches() const {
    return impl_->server.count([](const RecordedRequest& r) {
        return r.path == "/cgi-bin/gettoken" && r.response.contains("access_token");
    });
}

std::size_t FakeWecomApi::send_calls() const {
    return impl_->server.count(RecordingServer::to("POST", "/cgi-bin/message/send"));
}

void FakeWecomApi::expire_token() {
    std::lock_guard lock(impl_->mutex);
    impl_->expired.insert(impl_->token);
    impl_->token.clear();
}

void FakeWecomApi::script_send(int code) {
    std::lock_guard lock(impl_->mutex);
    impl_->scripted.push_back(code);
}

void FakeWecomApi::limit_per_user(std::size_t per_minute) {
    std::lock_guard lock(impl_->mutex);
    impl_->per_minute = per_minute;
}

std::size_t FakeWecomApi::rate_limit_violations() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->violations;
}

std::string percent_encode(const std::string& text, bool escape_plus) {
    std::string out = http::percent_encode(text);
    if (escape_plus) return out;
    std::string plain;  // (built anew: g++ 12 -O3 misreads replace() as overflowing)
    for (std::size_t at = 0; at < out.size(); ++at) {
        if (out.compare(at, 3, "%2B") == 0) {
            plain += '+';
            at += 2;
        } else {
            plain += out[at];
        }
    }
    return plain;
}

WecomCallbacks::WecomCallbacks(std::string url, std::string token, std::string corp_id,
                               std::string encoding_aes_key, std::string agent_id)
    : url_(std::move(url)),
      token_(std::move(token)),
      corp_id_(std::move(corp_id)),
      aes_key_(std::move(encoding_aes_key)),
      agent_id_(std::move(agent_id)) {}

std::string WecomCallbacks::text_xml(const std::string& user_id, const std::string& msg_id,
                                     const std::string& text, const std::string& agent_id) {
    auto now = std::to_string(std::time(nullptr));
    return wx::build_xml({{"ToUserName", "ww_test_corp"},
                          {"FromUserName", user_id},
                          {"CreateTime", now, false},
                          {"MsgType", "text"},
                          {"Content", text},
                          {"MsgId", msg_id, false},
                          {"AgentID", agent_id, false}});
}

std::string WecomCallbacks::image_xml(const std::string& user_id, const std::string& msg_id) {
    auto now = std::to_string(std::time(nullptr));
    return wx::build_xml({{"ToUserName", "ww_test_corp"},
                          {"FromUserName", user_id},
                          {"CreateTime", now, false},
                          {"MsgType", "image"},
                          {"PicUrl", "https://example.com/p.jpg"},
                          {"MediaId", "media_1"},
                          {"MsgId", msg_id, false},
                          {"AgentID", "1000002", false}});
}

std::string WecomCallbacks::event_xml(const std::string& user_id, const std::string& event) {
    auto now = std::to_string(std::time(nullptr));
    return wx::build_xml({{"ToUserName", "ww_test_corp"},
                          {"FromUserName", user_id},
                          {"CreateTime", now, false},
                          {"MsgType", "event"},
                          {"AgentID", "1000002", false},
                          {"Event", event}});
}

std::pair<std::string, std::string> WecomCallbacks::sign(const std::string& xml,
                                                         std::optional<std::time_t> at) const {
    return sign_for(xml, corp_id_, at);
}

std::pair<std::string, std::string> WecomCallbacks::sign_for(const std::string& xml,
                                                             const std::string& corp_id,
                                                             std::optional<std::time_t> at) const {
    static std::atomic<int> counter{0};
    std::string timestamp = std::to_string(at.value_or(std::time(nullptr)));
    std::string nonce = std::to_string(500000 + counter++);
    std::string encrypt = wx::MessageCrypt(aes_key_, corp_id).encrypt(xml);
    std::string query = "msg_signature=" + wx::sha1_signature({token_, timestamp, nonce, encrypt}) +
                        "&timestamp=" + timestamp + "&nonce=" + nonce;
    return {query,
            wx::build_xml({{"ToUserName", corp_id}, {"Encrypt", encrypt}, {"AgentID", agent_id_}})};
}

TestResponse WecomCallbacks::post(const std::string& xml) const {
    auto [query, body] = sign(xml);
    return post_raw(query, body);
}

TestResponse WecomCallbacks::post_raw(const std::string& query, const std::string& body) const {
    return http_request("POST", url_ + "?" + query, body, {"Content-Type: text/xml"}, 10000);
}

std::string WecomCallbacks::encrypt(const std::string& plaintext) const {
    return wx::MessageCrypt(aes_key_, corp_id_).encrypt(plaintext);
}

std::string WecomCallbacks::url_check_query(const std::string& echostr, bool escape_plus,
                                            std::optional<std::time_t> at) const {
    std::string timestamp = std::to_string(at.value_or(std::time(nullptr))), nonce = "1372623149";
    return "msg_signature=" + wx::sha1_signature({token_, timestamp, nonce, echostr}) +
           "&timestamp=" + timestamp + "&nonce=" + nonce +
           "&echostr=" + percent_encode(echostr, escape_plus);
}

TestResponse WecomCallbacks::get_raw(const std::string& query) const {
    return http_request("GET", url_ + "?" + query, {}, {}, 10000);
}

}  // namespace bot::testing
