// wecom: a WeCom (企业微信) self-built app. Members write to the app; WeCom pushes each
// message, encrypted, to our URL. The push is acknowledged as soon as the message is stored
// (WeCom retries a push that is not answered 200 within 5 s), and the reply follows as an app
// message (/cgi-bin/message/send) through the outbox. See adapters/wecom/README.md.
#include "base/log.hpp"
#include "bot/adapter.hpp"
#include "wechat_common/wx_callback.hpp"
#include "wechat_common/wx_crypt.hpp"
#include "wecom/wecom_api.hpp"
#include "wecom/wecom_codec.hpp"

#include <atomic>
#include <optional>
#include <variant>

namespace bot::adapters::wecom {

namespace {

using wechat::MessageCrypt;
using namespace std::chrono_literals;

constexpr std::size_t kMaxTextBytes = 2048;  // message/send's text limit

http::Response acknowledged() {
    return http::Response::text(200, "");  // empty 200: handled, no passive reply
}

// A query parameter as WeCom sends it: percent-encoded, and echostr is base64, so a literal
// '+' must stay a '+' (not become a space as in form encoding).
std::string param(const http::Request& request, std::string_view name) {
    return request.query_param(name, /*plus_as_space=*/false).value_or("");
}

class WecomAdapter final : public Adapter {
public:
    explicit WecomAdapter(AdapterDeps deps) : id_(deps.id), sink_(deps.sink), log_(deps.log) {
        auto& config = deps.config;
        config.string("type", "wecom");
        corp_id_ = config.required_string("corp_id");
        if (!config.has("agent_id")) config.problem("agent_id", "required");
        agent_id_ = config.integer("agent_id", 0, 1, 0x7fffffff);
        std::string secret = config.required_string("secret");
        token_ = config.required_string("token");
        if (token_.size() > 32) {
            config.problem("token", "must be the Token from the console (at most 32 characters)");
        }
        std::string aes_key = config.required_string("encoding_aes_key");
        if (!aes_key.empty() && !MessageCrypt::valid_key(aes_key)) {
            config.problem("encoding_aes_key",
                           "must be the 43-character EncodingAESKey from the console");
        }
        std::string path = config.url_path("path", "/wecom/" + id_);
        std::string api_base = config.url("api_base", "https://qyapi.weixin.qq.com");
        auto per_minute = config.integer("per_user_per_minute", 30, 1, 30);
        config.done();
        if (!config.errors().empty()) return;

        log_.add_secret(secret);
        log_.add_secret(token_);
        log_.add_secret(aes_key);
        crypt_.emplace(aes_key, corp_id_);
        api_.emplace(deps.http, api_base, corp_id_, secret, agent_id_, log_);
        limiter_.emplace(static_cast<std::size_t>(per_minute), std::chrono::minutes(1));
        wechat::mount_callback_routes(
            deps.routes, path,
            [this](http::Request& request, http::ResponseStream&) { return verify_url(request); },
            [this](http::Request& request, http::ResponseStream&) { return on_callback(request); });
    }

    Capabilities capabilities() const override {
        // Sent as msgtype text, which shows markdown symbols as typed: plain text.
        return {.max_text = {.max = kMaxTextBytes, .unit = TextLimit::Unit::utf8_bytes},
                .text_format = TextFormat::plain};
    }

    net::awaitable<SendResult> send(Outbound message) override {
        const std::string& user_id = message.chat.chat_id;
        auto slot = limiter_->reserve(user_id, std::chrono::steady_clock::now());
        if (!co_await wait_until(slot)) {
            co_return SendError{.kind = SendError::Kind::transient,
                                .detail = "shutting down; the reply is kept for the next start"};
        }
        co_return co_await api_->send_text(user_id, message.text);
    }

    void stop() override { stopping_ = true; }

private:
    // Sleeps until `when` (a rate-limit slot) in short steps so stop() is not held up: false
    // when stopping before the slot came.
    net::awaitable<bool> wait_until(std::chrono::steady_clock::time_point when) {
        if (when > std::chrono::steady_clock::now()) {
            log_.info("wecom", "'", id_, "': holding a message for ",
                      std::chrono::duration_cast<std::chrono::milliseconds>(
                          when - std::chrono::steady_clock::now())
                          .count(),
                      " ms (WeCom's per-member rate limit)");
        }
        for (;;) {
            auto left = when - std::chrono::steady_clock::now();
            if (left <= left.zero()) co_return true;  // also while stopping: the grace period
            if (stopping_) co_return false;
            co_await sleep_for(std::min<std::chrono::steady_clock::duration>(left, 200ms));
        }
    }

    http::Response refuse(const http::Request& request, std::string_view what,
                          http::Response response) const {
        // The reason only: bodies of refused requests are never logged.
        log_.warn("wecom", "'", id_, "': ", what, " from ", request.remote, " refused (",
                  response.status, "): ", response.body);
        return response;
    }

    // The console's 设置API接收 check: decrypt echostr and answer its plaintext, as is.
    net::awaitable<http::Response> verify_url(http::Request& request) {
        auto echostr = param(request, "echostr");
        if (echostr.empty()) {
            co_return refuse(request, "URL check", http::Response::text(400, "missing echostr"));
        }
        if (auto refused = wechat::refuse_unsigned(request, token_, echostr)) {
            co_return refuse(request, "URL check", std::move(*refused));
        }
        auto plain = crypt_->decrypt(echostr);
        if (!plain)
            co_return refuse(request, "URL check", wechat::refused_ciphertext(plain.error()));
        log_.info("wecom", "'", id_, "': URL check answered");
        co_return http::Response::text(200, std::move(*plain));
    }

    // The decrypted message XML of a callback, or the response refusing it.
    std::variant<std::string, http::Response> open_callback(const http::Request& request) const {
        auto envelope = parse_envelope(request.body);
        if (!envelope) return http::Response::text(400, "malformed XML");
        // msg_signature signs the timestamp too, so a captured callback is refused once stale.
        if (auto refused = wechat::refuse_unsigned(request, token_, envelope->encrypt)) {
            return *refused;
        }
        auto plain = crypt_->decrypt(envelope->encrypt);
        if (!plain) return wechat::refused_ciphertext(plain.error());
        return std::move(*plain);
    }

    net::awaitable<http::Response> on_callback(http::Request& request) {
        auto opened = open_callback(request);
        if (auto* refused = std::get_if<http::Response>(&opened)) {
            co_return refuse(request, "callback", std::move(*refused));
        }
        auto message = parse_message(std::get<std::string>(opened));
        if (!message) {
            // Authentic but unreadable: skipped and acknowledged, or WeCom sends it again.
            log_.warn("wecom", "'", id_, "': skipped a callback that is not a message XML");
            co_return acknowledged();
        }
        if (!message->agent_id.empty() && message->agent_id != std::to_string(agent_id_)) {
            // Same corp, token and key, another app: not ours to answer (and not worth a retry).
            log_.warn("wecom", "'", id_, "': ignored a message for AgentID ", message->agent_id,
                      " (configured: ", agent_id_, ")");
            co_return acknowledged();
        }
        if (is_event(*message)) {
            log_.debug("wecom", "'", id_, "': event '", message->event, "' ignored");
            co_return acknowledged();
        }
        auto content = content_of(*message);
        Inbound inbound{
            .chat = {.adapter_id = id_, .chat_id = message->from_user, .is_group = false},
            .sender_id = message->from_user,
            .sender_name = message->from_user,
            .message_id = dedupe_id(*message),
            .text = std::move(content.text),
            .mentions_me = true,
            .unsupported = std::move(content.unsupported)};
        SubmitOptions options{};
        co_await sink_.submit(std::move(inbound), options);  // stored (or a known redelivery)
        co_return acknowledged();
    }

    std::string id_;
    InboundSink& sink_;
    Logger& log_;
    std::string corp_id_;
    long long agent_id_ = 0;
    std::string token_;
    std::optional<MessageCrypt> crypt_;
    std::optional<WecomApi> api_;
    std::optional<UserRateLimiter> limiter_;
    std::atomic<bool> stopping_{false};
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<WecomAdapter>(std::move(deps));
}

}  // namespace bot::adapters::wecom
