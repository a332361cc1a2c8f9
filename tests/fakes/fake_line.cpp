#include "fakes/fake_line.hpp"

#include "base/crypto.hpp"

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

namespace bot::testing {

namespace {

constexpr std::size_t kMaxMessages = 5;
constexpr std::size_t kMaxChars = 5000;

std::size_t utf16_units(const std::string& text) {
    std::size_t units = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if ((c & 0xC0) == 0x80) continue;
        units += c >= 0xF0 ? 2 : 1;
    }
    return units;
}

Reply error(int status, const std::string& message) {
    return Reply::json({{"message", message}}, status);
}

}  // namespace

struct FakeLine::Impl {
    std::string secret;
    std::string token;
    RecordingServer server;
    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::vector<Delivered> delivered;
    std::map<std::string, std::string> tokens;  // reply token -> chat (fresh, unused)
    std::set<std::string> retry_keys;
    bool lose_next = false;
    int next_id = 1;

    // Validates messages; on success fills texts.
    std::optional<Reply> check(const RecordedRequest& request, std::vector<std::string>& texts) {
        if (request.header("Authorization") != "Bearer " + token)
            return error(401,
                         "Authentication failed. Confirm that the access token in the "
                         "authorization header is valid.");
        if (!request.json.is_object() || !request.json.contains("messages") ||
            !request.json["messages"].is_array())
            return error(400, "The request body has 1 error(s)");
        const auto& messages = request.json["messages"];
        if (messages.empty() || messages.size() > kMaxMessages)
            return error(400, "The request body has 1 error(s)");
        for (const auto& message : messages) {
            if (!message.is_object() || message.value("type", "") != "text" ||
                !message.contains("text") || !message["text"].is_string())
                return error(400, "The request body has 1 error(s)");
            std::string text = message["text"];
            if (text.empty() || utf16_units(text) > kMaxChars)
                return error(400, "The request body has 1 error(s)");
            texts.push_back(std::move(text));
        }
        return std::nullopt;
    }

    Reply sent(const std::string& chat, const std::string& via, std::vector<std::string> texts,
               const std::string& retry_key) {
        nlohmann::json ids = nlohmann::json::array();
        {
            std::lock_guard lock(mutex);
            for (auto& text : texts) {
                delivered.push_back({chat, via, std::move(text), retry_key});
                ids.push_back({{"id", std::to_string(next_id++)}, {"quoteToken", "q"}});
            }
        }
        changed.notify_all();
        return Reply::json({{"sentMessages", ids}});
    }

    Reply reply(const RecordedRequest& request) {
        std::vector<std::string> texts;
        if (auto refused = check(request, texts)) return *refused;
        std::string reply_token = request.json.value("replyToken", "");
        std::string chat;
        {
            std::lock_guard lock(mutex);
            auto found = tokens.find(reply_token);
            if (found == tokens.end()) return error(400, "Invalid reply token");
            chat = found->second;
            tokens.erase(found);  // one use
        }
        return sent(chat, "reply", std::move(texts), "");
    }

    Reply push(const RecordedRequest& request) {
        std::vector<std::string> texts;
        if (auto refused = check(request, texts)) return *refused;
        std::string to = request.json.value("to", "");
        if (to.empty()) return error(400, "The request body has 1 error(s)");
        std::string key(request.header("X-Line-Retry-Key"));
        bool lose = false;
        {
            std::lock_guard lock(mutex);
            if (!key.empty() && !retry_keys.insert(key).second)
                return error(409, "The retry key is already accepted");
            std::swap(lose, lose_next);
        }
        auto answer = sent(to, "push", std::move(texts), key);
        return lose ? Reply::dropped() : answer;
    }
};

FakeLine::FakeLine(std::string channel_secret, std::string access_token)
    : impl_(std::make_unique<Impl>()) {
    impl_->secret = std::move(channel_secret);
    impl_->token = std::move(access_token);
    auto* impl = impl_.get();
    impl_->server.on("POST", "/v2/bot/message/reply",
                     [impl](const RecordedRequest& r) { return impl->reply(r); });
    impl_->server.on("POST", "/v2/bot/message/push",
                     [impl](const RecordedRequest& r) { return impl->push(r); });
    impl_->server.on("POST", "/v2/bot/chat/loading/start", [impl](const RecordedRequest& r) {
        if (r.header("Authorization") != "Bearer " + impl->token) return error(401, "auth");
        int seconds = r.json.is_object() ? r.json.value("loadingSeconds", 0) : 0;
        if (seconds < 5 || seconds > 60 || seconds % 5 != 0) return error(400, "bad seconds");
        return Reply::json(nlohmann::json::object(), 202);
    });
}

FakeLine::~FakeLine() = default;

std::string FakeLine::api_base() const {
    return impl_->server.base_url();
}

RecordingServer& FakeLine::api() {
    return impl_->server;
}

std::vector<FakeLine::Delivered> FakeLine::delivered() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->delivered;
}

bool FakeLine::wait_delivered(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->delivered.size() >= n; });
}

std::string FakeLine::issue_token(const std::string& chat) {
    std::lock_guard lock(impl_->mutex);
    std::string token =
        "rt" + std::to_string(impl_->next_id++) + "x" + crypto::hex(crypto::random_bytes(8));
    impl_->tokens[token] = chat;
    return token;
}

void FakeLine::expire(const std::string& token) {
    std::lock_guard lock(impl_->mutex);
    impl_->tokens.erase(token);
}

void FakeLine::lose_next_push_answer() {
    std::lock_guard lock(impl_->mutex);
    impl_->lose_next = true;
}

nlohmann::json FakeLine::event(const Event& e) {
    nlohmann::json source{{"type", e.source_type}};
    if (!e.user_id.empty()) source["userId"] = e.user_id;
    if (e.source_type == "group") source["groupId"] = e.chat_id;
    if (e.source_type == "room") source["roomId"] = e.chat_id;
    nlohmann::json message{{"id", "m-" + e.event_id}, {"type", e.message_type}};
    if (e.message_type == "text") message["text"] = e.text;
    if (!e.self_mentions.empty()) {
        nlohmann::json mentionees = nlohmann::json::array();
        for (auto [index, length] : e.self_mentions)
            mentionees.push_back({{"index", index},
                                  {"length", length},
                                  {"type", "user"},
                                  {"userId", "U0BOT"},
                                  {"isSelf", true}});
        message["mention"] = {{"mentionees", mentionees}};
    }
    nlohmann::json out{{"type", "message"},
                       {"mode", "active"},
                       {"timestamp", 1765000000000},
                       {"source", source},
                       {"webhookEventId", e.event_id},
                       {"deliveryContext", {{"isRedelivery", e.redelivery}}},
                       {"message", message}};
    if (!e.reply_token.empty()) out["replyToken"] = e.reply_token;
    return out;
}

std::string FakeLine::body(const std::vector<nlohmann::json>& events) {
    return nlohmann::json{{"destination", "U0BOT"}, {"events", events}}.dump();
}

TestResponse FakeLine::post(const std::string& url, const std::string& body,
                            const std::string& signature) const {
    std::vector<std::string> headers{"Content-Type: application/json"};
    if (signature != "-")
        headers.push_back("x-line-signature: " +
                          (signature.empty() ? sign(impl_->secret, body) : signature));
    return http_request("POST", url, body, headers);
}

std::string FakeLine::sign(const std::string& secret, const std::string& body) {
    return crypto::base64_encode(crypto::hmac_sha256(secret, body));
}

}  // namespace bot::testing
