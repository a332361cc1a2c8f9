// qq: the official QQ bot (q.qq.com) in webhook mode. QQ pushes every event to our URL, signed
// with Ed25519 (a key derived from the bot secret); a push is acknowledged (op 12) once the
// message is stored, and the reply follows through the outbox as passive replies naming the
// user's message (active messages were discontinued on 2025-04-21). See adapters/qq/README.md.
#include "base/crypto.hpp"
#include "base/log.hpp"
#include "bot/adapter.hpp"
#include "qq/qq_api.hpp"
#include "qq/qq_codec.hpp"

#include <mutex>
#include <unordered_map>

namespace bot::adapters::qq {

namespace {

using Clock = std::chrono::system_clock;

// Longest content of one message, in UTF-8 bytes. The docs state no limit; QQ refuses longer
// content with "content length N exceeds max length 2000" (tencent-connect/openclaw-qqbot
// issue #273, counted in UTF-8 bytes there). Bytes are the stricter reading of either unit.
constexpr std::size_t kMaxTextBytes = 2000;
// Pushes are small JSON documents (text and attachment links).
constexpr std::size_t kBodyLimit = 128 * 1024;
// Received times are kept this long (the longest passive window) and swept past this many.
constexpr std::chrono::minutes kLongestWindow{60};
constexpr std::size_t kSweepFloor = 4096;

http::Response json_answer(std::string body) {
    return http::Response::json_text(200, std::move(body));
}

// When each user message was written, for the passive reply window at send time. In memory:
// after a restart the window of older messages is unknown here, the reply is tried, and QQ's
// own refusal (304027, MSG_EXPIRE) marks it failed the same way.
class ReceivedTimes {
public:
    void remember(const std::string& message_id, Clock::time_point at) {
        std::lock_guard lock(mutex_);
        times_.try_emplace(message_id, at);  // a repeated push keeps the first time
        if (times_.size() >= sweep_at_) {
            auto horizon = Clock::now() - kLongestWindow;
            std::erase_if(times_, [&](const auto& entry) { return entry.second < horizon; });
            sweep_at_ = std::max(kSweepFloor, times_.size() * 2);
        }
    }
    std::optional<Clock::time_point> at(const std::string& message_id) const {
        std::lock_guard lock(mutex_);
        auto found = times_.find(message_id);
        if (found == times_.end()) return std::nullopt;
        return found->second;
    }

private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Clock::time_point> times_;
    std::size_t sweep_at_ = kSweepFloor;
};

class QqAdapter final : public Adapter {
public:
    explicit QqAdapter(AdapterDeps deps) : id_(deps.id), sink_(deps.sink), log_(deps.log) {
        auto& config = deps.config;
        config.string("type", "qq");
        std::string app_id = config.required_string("app_id");
        std::string secret = config.required_string("app_secret");
        std::string path = config.url_path("path", "/qq/" + id_);
        bool sandbox = config.boolean("sandbox", false);
        // The sandbox environment sees only the sandbox guilds, groups and users set on
        // q.qq.com (bot-docs docs/README.md l.358).
        std::string api_base = config.url("api_base", sandbox ? "https://sandbox.api.sgroup.qq.com"
                                                              : "https://api.sgroup.qq.com");
        // (url() trims a trailing '/', which a token endpoint does not have anyway.)
        std::string token_url =
            config.url("token_url", "https://bots.qq.com/app/getAppAccessToken");
        config.done();
        if (!config.errors().empty()) return;

        log_.add_secret(secret);
        seed_ = seed_from_secret(secret);
        public_key_ = crypto::ed25519_public_key(seed_);
        api_.emplace(deps.http, api_base, token_url, app_id, secret, log_);
        http::RouteOptions options;
        options.body_limit = kBodyLimit;
        // Unsigned requests are refused before their body is read.
        options.authorize = [this](const http::Request& request) -> std::optional<http::Response> {
            if (request.header("X-Signature-Timestamp").empty() ||
                !decode_signature(request.header("X-Signature-Ed25519"))) {
                return refuse(request, "unsigned request");
            }
            return std::nullopt;
        };
        deps.routes.add(
            "POST", path,
            [this](http::Request& request, http::ResponseStream&) { return on_push(request); },
            options);
    }

    Capabilities capabilities() const override {
        return {.max_text = {.max = kMaxTextBytes, .unit = TextLimit::Unit::utf8_bytes},
                .max_parts = kMaxReplies,
                // Sent as msg_type 0 (text), which shows markdown symbols as typed.
                .text_format = TextFormat::plain};
    }

    net::awaitable<SendResult> send(Outbound message) override {
        using Kind = SendError::Kind;
        auto scene = scene_of(message.chat);
        if (!scene) co_return SendError{.kind = Kind::bad_request, .detail = "not a QQ chat"};
        if (message.reply_to.empty()) {
            co_return SendError{.kind = Kind::bad_request,
                                .detail =
                                    "no user message to answer (QQ takes passive replies "
                                    "only)"};
        }
        if (auto at = received_.at(message.reply_to);
            at && Clock::now() - *at > reply_window(*scene)) {
            co_return SendError{.kind = Kind::bad_request,
                                .detail = "passive reply window closed (" +
                                          std::to_string(reply_window(*scene).count()) +
                                          " min after the user's message)"};
        }
        // msg_seq = the part: the same on every retry of a part, so QQ refuses a second copy
        // (40054005, taken as delivered) instead of showing it twice.
        co_return co_await api_->post_message(
            reply_path(message.chat), reply_body(message.text, message.reply_to, message.part));
    }

private:
    http::Response refuse(const http::Request& request, std::string_view what) const {
        // The reason only: bodies of refused requests are never logged.
        log_.warn("qq", "'", id_, "': ", what, " from ", request.remote, " refused (401)");
        return http::Response::text(401, "invalid signature");
    }

    net::awaitable<http::Response> on_push(http::Request& request) {
        if (!verify_push(public_key_, request.header("X-Signature-Timestamp"), request.body,
                         request.header("X-Signature-Ed25519"))) {
            co_return refuse(request, "push with a wrong signature");
        }
        auto push = parse_push(request.body);
        if (!push) {
            // Authentic but unreadable: skipped and acknowledged, or QQ pushes it again.
            log_.warn("qq", "'", id_, "': skipped a push that is not a QQ payload");
            co_return json_answer(dispatch_ack(true));
        }
        switch (push->kind) {
            case Push::Kind::validation:
                log_.info("qq", "'", id_, "': callback URL validation answered");
                co_return json_answer(validation_answer(seed_, push->plain_token, push->event_ts));
            case Push::Kind::heartbeat:
                co_return json_answer(heartbeat_ack(push->heartbeat_seq));
            case Push::Kind::other_dispatch:
                log_.info("qq", "'", id_, "': skipped event ", push->event_type, " (", push->reason,
                          ")");
                co_return json_answer(dispatch_ack(true));
            case Push::Kind::other_op:
                log_.info("qq", "'", id_, "': skipped op ", push->op, " (", push->reason, ")");
                co_return http::Response::text(200, "");
            case Push::Kind::message:
                break;
        }
        co_return co_await on_message(std::move(push->message));
    }

    net::awaitable<http::Response> on_message(QqMessage message) {
        if (message.text.empty() && message.attachment.empty()) {
            log_.debug("qq", "'", id_, "': skipped an empty message");
            co_return json_answer(dispatch_ack(true));
        }
        // The window runs from when the user wrote; a time ahead of ours (clock skew) counts
        // from now.
        auto now = Clock::now();
        auto written = std::min(message.at.value_or(now), now);
        received_.remember(message.id, written);
        Inbound inbound{
            .chat = chat_of(message, id_),
            .sender_id = message.author_id,
            .sender_name = message.author_name.empty() ? message.author_id : message.author_name,
            .message_id = message.id,  // d.id: dedupes QQ's repeated pushes
            .text = message.text,
            // QQ pushes group and channel messages only when they @ the bot.
            .mentions_me = true,
            .at = written};
        if (inbound.text.empty()) inbound.unsupported = message.attachment;
        try {
            co_await sink_.submit(std::move(inbound), SubmitOptions{});  // stored or a repeat
        } catch (const std::exception& error) {
            // Not stored: d:1 asks QQ to push it again (botgo webhook.go l.29).
            log_.error("qq", "'", id_, "': could not store a message: ", error.what());
            co_return json_answer(dispatch_ack(false));
        }
        co_return json_answer(dispatch_ack(true));
    }

    std::string id_;
    InboundSink& sink_;
    Logger& log_;
    std::string seed_;
    std::string public_key_;
    std::optional<QqApi> api_;
    ReceivedTimes received_;
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<QqAdapter>(std::move(deps));
}

}  // namespace bot::adapters::qq
