// wechat_mp: a WeChat Official Account (公众号). WeChat pushes each user message to our URL
// and waits ~5 s for the answer, trying 3 times; the PassiveEngine answers within those
// windows when it can (passive reply: free, no permission needed) and otherwise through the
// customer-service API, or with the user's next message. Plain, compatible and safe (AES)
// mode. See adapters/wechat_mp/README.md.
#include "base/log.hpp"
#include "bot/adapter.hpp"
#include "wechat_common/wx_callback.hpp"
#include "wechat_common/wx_crypt.hpp"
#include "wechat_common/wx_xml.hpp"
#include "wechat_mp/mp_api.hpp"
#include "wechat_mp/passive_engine.hpp"
#include "wechat_mp/wechat_mp_codec.hpp"

#include <optional>
#include <variant>

namespace bot::adapters::wechat_mp {

namespace {

using wechat::MessageCrypt;

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

http::Response success() {
    // "success" (or an empty body) tells WeChat the push was handled and needs no answer.
    return http::Response::text(200, "success");
}

http::Response xml(std::string body) {
    http::Response response;
    response.content_type = "application/xml; charset=utf-8";
    response.body = std::move(body);
    return response;
}

class WechatMpAdapter final : public Adapter {
public:
    explicit WechatMpAdapter(AdapterDeps deps)
        : id_(deps.id), executor_(deps.executor), sink_(deps.sink), log_(deps.log) {
        auto& config = deps.config;
        config.string("type", "wechat_mp");
        app_id_ = config.required_string("app_id");
        std::string app_secret = config.string("app_secret", "");
        token_ = config.required_string("token");
        if (!token_.empty() && (token_.size() < 3 || token_.size() > 32)) {
            config.problem("token", "must be the 3 to 32 character Token from the console");
        }
        std::string aes_key = config.string("encoding_aes_key", "");
        if (!aes_key.empty() && !MessageCrypt::valid_key(aes_key)) {
            config.problem("encoding_aes_key",
                           "must be the 43-character EncodingAESKey from the console");
        }
        std::string path = config.url_path("path", "/wechat/" + id_);
        std::string api_base = config.url("api_base", "https://api.weixin.qq.com");
        std::string late = config.string("late_replies", "customer_service");
        if (late != "customer_service" && late != "next_message") {
            config.problem("late_replies", "must be \"customer_service\" or \"next_message\"");
        }
        customer_service_ = late == "customer_service";
        if (customer_service_ && app_secret.empty()) {
            config.problem("app_secret",
                           "is required with late_replies \"customer_service\" (the API needs "
                           "an access_token); without the permission use \"next_message\"");
        }
        greeting_ = config.string("greeting",
                                  "Hi! I'm an AI assistant. Write me anything and I'll answer.");
        EngineOptions engine;
        engine.max_bytes =
            static_cast<std::size_t>(config.integer("reply_max_bytes", 2048, 256, 2048));
        engine.platform_timeout =
            std::chrono::milliseconds(config.integer("push_timeout_ms", 5000, 1000, 15000));
        engine.margin =
            std::chrono::milliseconds(config.integer("reply_margin_ms", 500, 100, 2000));
        if (engine.margin >= engine.platform_timeout) {
            config.problem("reply_margin_ms", "must be shorter than push_timeout_ms");
        }
        engine.earlier_prefix =
            config.string("earlier_reply_prefix", "(The answer to your previous message:)\n");
        thinking_notice_ = config.string(
            "thinking_notice",
            "I need a little longer for this one. Send me any message in a moment and I'll "
            "reply with the answer.");
        max_bytes_ = engine.max_bytes;
        config.done();
        if (!config.errors().empty()) return;

        if (!aes_key.empty()) crypt_.emplace(aes_key, app_id_);
        engine_.emplace(executor_, std::move(engine));
        if (!app_secret.empty()) {
            log_.add_secret(app_secret);
            api_.emplace(deps.http, api_base, app_id_, app_secret, log_);
        }
        log_.add_secret(token_);
        log_.add_secret(aes_key);
        wechat::mount_callback_routes(
            deps.routes, path,
            [this](http::Request& request, http::ResponseStream&) { return verify_url(request); },
            [this](http::Request& request, http::ResponseStream&) { return on_push(request); });
    }

    Capabilities capabilities() const override {
        // WeChat shows markdown symbols as typed: replies arrive rendered as plain text.
        return {.max_text = {.max = max_bytes_, .unit = TextLimit::Unit::utf8_bytes},
                .text_format = TextFormat::plain};
    }

    net::awaitable<SendResult> send(Outbound message) override {
        if (co_await engine_->offer(message.reply_to, message.text)) co_return std::string();
        const std::string& openid = message.chat.chat_id;
        if (customer_service_) {
            auto sent = co_await api_->send_text(openid, message.text);
            if (!sent) co_return sent.error();
            if (*sent == MpApi::Sent::yes) co_return std::string();
        }
        // The user's next message carries it (its conversation waits until then).
        if (co_await engine_->hold(message.reply_to, openid, std::move(message.text))) {
            co_return std::string();
        }
        co_return SendError{.kind = SendError::Kind::transient,
                            .detail = "shutting down; the reply is kept for the next start"};
    }

    void stop() override {
        if (engine_) engine_->stop();
    }

private:
    bool signed_by_wechat(const http::Request& request) const {
        auto signature = request.query_param("signature").value_or("");
        auto timestamp = request.query_param("timestamp").value_or("");
        auto nonce = request.query_param("nonce").value_or("");
        return wechat::signature_matches(signature,
                                         wechat::sha1_signature({token_, timestamp, nonce}));
    }

    // The console's "submit" check: echo echostr when the signature is ours.
    net::awaitable<http::Response> verify_url(http::Request& request) {
        auto refused = !signed_by_wechat(request)           ? "bad signature"
                       : !wechat::timestamp_recent(request) ? "stale timestamp"
                                                            : nullptr;
        if (refused) {
            log_.warn("wechat_mp", "'", id_, "': URL check from ", request.remote,
                      " refused: ", refused);
            co_return http::Response::text(401, refused);
        }
        co_return http::Response::text(200, request.query_param("echostr").value_or(""));
    }

    // The push's XML, decrypted in safe/compatible mode; an error response otherwise.
    std::variant<std::string, http::Response> open_push(const http::Request& request) const {
        bool encrypted = request.query_param("encrypt_type").value_or("") == "aes";
        if (!crypt_) {
            if (encrypted)
                return http::Response::text(
                    400, "encrypted push, but no encoding_aes_key is configured");
            if (!signed_by_wechat(request)) return http::Response::text(401, "bad signature");
            // Plain mode signs the query, not the body: a captured URL could carry any body.
            // Accepting it only near its own time narrows that to minutes.
            if (!wechat::timestamp_recent(request)) {
                return http::Response::text(401, "stale timestamp");
            }
            return request.body;
        }
        if (!encrypted) return http::Response::text(400, "safe mode: the push must be encrypted");
        auto envelope = wechat::parse_xml_fields(request.body);
        if (!envelope) return http::Response::text(400, "malformed XML");
        auto encrypt = wechat::field(*envelope, "Encrypt");
        // msg_signature signs the timestamp too, so a captured push is refused once stale.
        if (auto refused = wechat::refuse_unsigned(request, token_, encrypt)) return *refused;
        auto plain = crypt_->decrypt(encrypt);
        if (!plain) return wechat::refused_ciphertext(plain.error());
        return std::move(*plain);
    }

    http::Response reply(const MpMessage& message, std::string_view text) const {
        auto plain = text_reply_xml(message, text, unix_now());
        if (!crypt_) return xml(std::move(plain));
        auto sealed = wechat::seal_reply(*crypt_, token_, plain);
        return xml(wechat::encrypted_reply_xml(sealed.encrypt, sealed.signature, sealed.timestamp,
                                               sealed.nonce));
    }

    net::awaitable<http::Response> on_push(http::Request& request) {
        auto opened = open_push(request);
        if (auto* refused = std::get_if<http::Response>(&opened)) {
            log_.warn("wechat_mp", "'", id_, "': push from ", request.remote, " refused (",
                      refused->status, "): ", refused->body);
            co_return std::move(*refused);
        }
        auto message = parse_message(std::get<std::string>(opened));
        if (!message) {
            // Authentic but unreadable: skipped and acknowledged, or WeChat sends it again.
            log_.warn("wechat_mp", "'", id_, "': skipped a push that is not a message XML");
            co_return success();
        }
        if (is_event(*message)) {
            if (message->event == "subscribe" && !greeting_.empty())
                co_return reply(*message, greeting_);
            co_return success();
        }
        if (message->msg_id.empty()) {
            log_.warn("wechat_mp", "'", id_, "': skipped a message without MsgId");
            co_return success();
        }

        auto content = content_of(*message);
        auto slot = engine_->arrive(
            message->msg_id, message->from_user,
            std::chrono::system_clock::time_point(std::chrono::seconds(message->create_time)));
        Inbound inbound{
            .chat = {.adapter_id = id_, .chat_id = message->from_user, .is_group = false},
            .sender_id = message->from_user,
            .sender_name = message->from_user,
            .message_id = message->msg_id,
            .text = std::move(content.text),
            .mentions_me = true,
            .unsupported = std::move(content.unsupported)};
        SubmitOptions options{};
        co_await sink_.submit(std::move(inbound), options);  // stored before it is answered

        auto notice = customer_service_ ? std::string() : thinking_notice_;
        auto answer = co_await engine_->answer(std::move(slot), std::move(notice));
        switch (answer.kind) {
            case PushAnswer::Kind::reply:
                co_return reply(*message, answer.text);
            case PushAnswer::Kind::ack:
                co_return success();
            case PushAnswer::Kind::drop:
                co_await sleep_for(answer.drop_at - std::chrono::steady_clock::now());
                co_return http::Response::drop();
        }
        co_return success();
    }

    std::string id_;
    net::any_io_executor executor_;
    InboundSink& sink_;
    Logger& log_;
    std::string app_id_;
    std::string token_;
    std::optional<MessageCrypt> crypt_;
    std::optional<MpApi> api_;
    std::optional<PassiveEngine> engine_;
    bool customer_service_ = true;
    std::string greeting_;
    std::string thinking_notice_;
    std::size_t max_bytes_ = 2048;
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<WechatMpAdapter>(std::move(deps));
}

}  // namespace bot::adapters::wechat_mp
