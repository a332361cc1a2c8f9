// wecom_bot: a WeCom AI bot (企业微信智能机器人) in webhook mode. WeCom POSTs encrypted JSON
// callbacks; each message is answered with a stream that WeCom refreshes until it finishes, so
// the user watches the reply being written. Single chats and groups (where WeCom delivers only
// messages that @-mention the bot). See adapters/wecom_bot/README.md.
#include "base/log.hpp"
#include "bot/adapter.hpp"
#include "wechat_common/wx_callback.hpp"
#include "wechat_common/wx_crypt.hpp"
#include "wecom_bot/stream_table.hpp"
#include "wecom_bot/wecom_bot_codec.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>

#include <deque>
#include <map>
#include <mutex>
#include <optional>

namespace bot::adapters::wecom_bot {

namespace {

using wechat::MessageCrypt;

constexpr std::size_t kMaxStreamBytes = 20480;  // WeCom's limit for one stream's content
constexpr auto kResponseUrlTtl = std::chrono::hours(1);

class WecomBotAdapter final : public Adapter {
public:
    explicit WecomBotAdapter(AdapterDeps deps)
        : id_(deps.id),
          executor_(deps.executor),
          sink_(deps.sink),
          http_(deps.http),
          log_(deps.log) {
        auto& config = deps.config;
        config.string("type", "wecom_bot");
        token_ = config.required_string("token");
        std::string aes_key = config.required_string("encoding_aes_key");
        if (!aes_key.empty() && !MessageCrypt::valid_key(aes_key)) {
            config.problem("encoding_aes_key",
                           "must be the 43-character EncodingAESKey from the bot's settings");
        }
        std::string path = config.url_path("path", "/wecom/" + id_);
        bot_id_ = config.string("bot_id", "");
        greeting_ = config.string("greeting", "");
        StreamOptions streams;
        streams.window = std::chrono::seconds(config.integer("stream_window_s", 330, 2, 350));
        streams.max_bytes = kMaxStreamBytes;
        streams.timeout_notice = config.string(
            "timeout_notice",
            "(This answer is taking too long to show here; the rest follows as a new message.)");
        window_ = streams.window;
        config.done();
        if (!config.errors().empty()) return;

        crypt_.emplace(aes_key, "");  // the AI bot's ReceiveId is the empty string
        streams_.emplace(executor_, std::move(streams));
        log_.add_secret(token_);
        log_.add_secret(aes_key);
        wechat::mount_callback_routes(
            deps.routes, path,
            [this](http::Request& request, http::ResponseStream&) { return verify_url(request); },
            [this](http::Request& request, http::ResponseStream&) { return on_callback(request); });
    }

    Capabilities capabilities() const override {
        return {.max_text = {.max = kMaxStreamBytes, .unit = TextLimit::Unit::utf8_bytes}};
    }

    net::awaitable<SendResult> send(Outbound message) override {
        if (co_await streams_->deliver(message.reply_to, message.text)) co_return std::string();
        // The stream closed first (a slow reply, or a further part): the one-shot
        // response_url of the message, if WeCom gave one and it is still fresh.
        auto url = take_response_url(message.reply_to);
        if (url.empty()) {
            co_return SendError{.kind = SendError::Kind::bad_request,
                                .detail =
                                    "the reply's stream has closed and no response_url "
                                    "is left to deliver it"};
        }
        ClientRequest request;
        request.method = "POST";
        request.url = std::move(url);
        request.headers = json_headers();
        request.body = markdown_message(message.text);
        auto response = co_await http_.request(std::move(request));
        if (response.failure != ClientResponse::Failure::none) {
            co_return SendError{.kind = SendError::Kind::transient,
                                .detail = "response_url: " + response.error};
        }
        auto body = nlohmann::json::parse(response.body, nullptr, false);
        auto code = body.is_object() ? body.find("errcode") : body.end();
        long errcode = code != body.end() && code->is_number_integer() ? code->get<long>() : 0L;
        if (!response.ok() || errcode != 0) {
            // One-shot: whatever went wrong, this URL will not take it again.
            co_return SendError{.kind = SendError::Kind::bad_request,
                                .detail = "response_url: HTTP " + std::to_string(response.status) +
                                          ", errcode " + std::to_string(errcode)};
        }
        co_return std::string();
    }

private:
    static std::vector<http::Header> json_headers() {
        return {{"Content-Type", "application/json"}};
    }

    net::awaitable<http::Response> verify_url(http::Request& request) {
        auto echostr = request.query_param("echostr", false).value_or("");
        if (auto refused = wechat::refuse_unsigned(request, token_, echostr)) {
            log_.warn("wecom_bot", "'", id_, "': URL check from ", request.remote,
                      " refused: ", refused->body);
            co_return std::move(*refused);
        }
        auto plain = crypt_->decrypt(echostr);
        if (!plain)
            co_return http::Response::text(400, std::string(wechat::describe(plain.error())));
        co_return http::Response::text(200, std::move(*plain));
    }

    http::Response encrypted(std::string_view json_text) const {
        auto sealed = wechat::seal_reply(*crypt_, token_, json_text);
        http::Response response;
        response.content_type = "application/json";
        response.body = envelope(sealed.encrypt, sealed.signature, sealed.timestamp, sealed.nonce);
        return response;
    }

    static http::Response empty() { return http::Response::text(200, ""); }

    net::awaitable<http::Response> on_callback(http::Request& request) {
        auto body = nlohmann::json::parse(request.body, nullptr, false);
        auto field = body.is_object() ? body.find("encrypt") : body.end();
        if (field == body.end() || !field->is_string() ||
            field->get_ref<const std::string&>().empty()) {
            co_return http::Response::text(400, "expected {\"encrypt\": \"...\"}");
        }
        const auto& encrypt = field->get_ref<const std::string&>();
        // msg_signature signs the timestamp too, so a captured callback is refused once stale.
        if (auto refused = wechat::refuse_unsigned(request, token_, encrypt)) {
            log_.warn("wecom_bot", "'", id_, "': callback from ", request.remote,
                      " refused: ", refused->body);
            co_return std::move(*refused);
        }
        auto plain = crypt_->decrypt(encrypt);
        if (!plain) co_return wechat::refused_ciphertext(plain.error());
        auto callback = parse_callback(*plain);
        if (!callback) {
            // Authentic but unreadable: skipped and acknowledged, or WeCom sends it again.
            log_.warn("wecom_bot", "'", id_, "': skipped a callback that is not callback JSON");
            co_return empty();
        }
        if (!bot_id_.empty() && !callback->aibotid.empty() && callback->aibotid != bot_id_) {
            co_return http::Response::text(401, "callback for another bot");
        }
        switch (callback->kind) {
            case BotCallback::Kind::stream_refresh: {
                auto frame = streams_->refresh(callback->stream_id);
                co_return encrypted(stream_frame(callback->stream_id, frame.content, frame.finish));
            }
            case BotCallback::Kind::event:
                if (callback->event_type == "enter_chat" && !greeting_.empty()) {
                    co_return encrypted(welcome_text(greeting_));
                }
                co_return empty();
            case BotCallback::Kind::message:
                co_return co_await on_message(std::move(*callback));
            case BotCallback::Kind::other:
                break;
        }
        co_return empty();
    }

    net::awaitable<http::Response> on_message(BotCallback callback) {
        if (callback.msgid.empty() || callback.userid.empty()) {
            log_.warn("wecom_bot", "'", id_, "': skipped a message without msgid or sender");
            co_return empty();
        }
        std::string stream_id = streams_->open(callback.msgid);
        remember_response_url(callback.msgid, callback.response_url);
        bool is_text = callback.msgtype == "text";
        Inbound inbound{.chat = {.adapter_id = id_,
                                 .chat_id = callback.is_group ? callback.chatid : callback.userid,
                                 .is_group = callback.is_group},
                        .sender_id = callback.userid,
                        .sender_name = callback.userid,
                        .message_id = callback.msgid,
                        .text = is_text ? std::move(callback.text) : std::string(),
                        // WeCom delivers group messages only when they @-mention the bot.
                        .mentions_me = true,
                        .unsupported = is_text ? std::string() : callback.msgtype};
        SubmitOptions options{
            .wait = std::chrono::duration_cast<std::chrono::milliseconds>(window_),
            .claim = false,
            .deltas = true};
        auto submission = co_await sink_.submit(std::move(inbound), options);
        if (submission.watch.valid()) {
            net::co_spawn(executor_, fill(callback.msgid, std::move(submission.watch)),
                          net::detached);
        }
        auto frame = stream_frame(stream_id, "", false);
        co_return encrypted(frame);
    }

    // Copies the reply's text into its stream as the LLM writes it; the final text comes
    // through send().
    net::awaitable<void> fill(std::string msgid, ReplyWatch watch) {
        for (;;) {
            auto event = co_await watch.next();
            if (event.kind != ReplyEvent::Kind::delta) co_return;
            streams_->append(msgid, event.text);
        }
    }

    void remember_response_url(const std::string& msgid, const std::string& url) {
        if (url.empty()) return;
        std::lock_guard lock(urls_mutex_);
        auto now = std::chrono::steady_clock::now();
        while (!url_ages_.empty() && now - url_ages_.front().first > kResponseUrlTtl) {
            response_urls_.erase(url_ages_.front().second);
            url_ages_.pop_front();
        }
        if (response_urls_.emplace(msgid, url).second) url_ages_.emplace_back(now, msgid);
    }

    std::string take_response_url(const std::string& msgid) {
        std::lock_guard lock(urls_mutex_);
        auto it = response_urls_.find(msgid);
        if (it == response_urls_.end()) return {};
        auto url = std::move(it->second);
        response_urls_.erase(it);  // one-shot
        return url;
    }

    std::string id_;
    net::any_io_executor executor_;
    InboundSink& sink_;
    HttpClient& http_;
    Logger& log_;
    std::string token_;
    std::string bot_id_;
    std::string greeting_;
    std::chrono::milliseconds window_{330000};
    std::optional<MessageCrypt> crypt_;
    std::optional<StreamTable> streams_;
    std::mutex urls_mutex_;
    std::map<std::string, std::string, std::less<>> response_urls_;  // msgid -> one-shot URL
    std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> url_ages_;
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<WecomBotAdapter>(std::move(deps));
}

}  // namespace bot::adapters::wecom_bot
