// line: a LINE Official Account's Messaging API channel. LINE POSTs webhooks to our route,
// signed with the channel secret (x-line-signature); 1:1 chats, groups (when the bot is
// @-mentioned) and rooms are answered with the event's reply token while it is fresh (one
// use, up to 5 messages), otherwise by push with an X-Line-Retry-Key so a retried push is
// sent once. Config, console steps and what users see: adapters/line/README.md.
#include "base/log.hpp"
#include "base/rate_limit.hpp"
#include "bot/adapter.hpp"
#include "line/line_codec.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <mutex>
#include <unordered_map>

namespace bot::adapters::line {

namespace {

using Clock = std::chrono::steady_clock;

// protocols.md §8: 5,000 characters a text message; counted in UTF-16 units, so an emoji
// outside the BMP (2 units) never makes a part too long whichever way LINE counts.
constexpr std::size_t kMaxText = 5000;
constexpr std::size_t kBodyLimit = 1 << 20;
// The reply token's lifetime is not stated in an official text ([2nd] "1 minute"): used only
// within 50 s of the event's arrival, then push; an "Invalid reply token" answer also pushes.
constexpr auto kReplyTokenFresh = std::chrono::seconds(50);
constexpr std::size_t kMaxTokens = 10000;
// The loading animation (1:1 chats only): shown once per message, for this long at most; it
// ends by itself when the reply arrives (messaging-api.yml showLoadingAnimation: 5..60 s, a
// multiple of 5).
constexpr int kLoadingSeconds = 20;
constexpr double kLoadingPerSecond = 5;
constexpr auto kApiTimeout = std::chrono::milliseconds(15000);

struct ReplyToken {
    std::string token;
    Clock::time_point received;
};

class LineAdapter final : public Adapter {
public:
    explicit LineAdapter(AdapterDeps deps)
        : id_(deps.id),
          executor_(deps.executor),
          sink_(deps.sink),
          http_(deps.http),
          log_(deps.log) {
        auto& config = deps.config;
        config.string("type", "line");
        channel_secret_ = config.required_string("channel_secret");
        access_token_ = config.required_string("channel_access_token");
        std::string path = config.url_path("path", "/line/" + id_);
        api_base_ = config.url("api_base", "https://api.line.me");
        loading_ = config.boolean("loading_animation", true);
        config.done();
        if (!config.errors().empty()) return;

        http::RouteOptions options;
        options.body_limit = kBodyLimit;
        // Unsigned requests are refused before their body is read; the signature itself
        // covers the body and is checked in the handler.
        options.authorize = [this](const http::Request& request) -> std::optional<http::Response> {
            if (!request.header("x-line-signature").empty()) return std::nullopt;
            return refused(request, "unsigned request");
        };
        deps.routes.add(
            "POST", path,
            [this](http::Request& request, http::ResponseStream&) { return on_post(request); },
            options);
        if (deps.validate_only) return;
        log_.add_secret(channel_secret_);
        log_.add_secret(access_token_);
    }

    Capabilities capabilities() const override {
        return {.max_text = {.max = kMaxText, .unit = TextLimit::Unit::utf16_units},
                .sends_whole_reply = true,
                .text_format = TextFormat::plain,
                .sees_group_chatter = true};
    }

    net::awaitable<SendResult> send(Outbound message) override {
        std::vector<Outbound> parts;
        parts.push_back(std::move(message));
        co_return co_await send_all(std::move(parts));
    }

    // The whole reply: by its reply token when fresh and it fits one call, else by push in
    // calls of 5, each keyed by its first part's delivery key (the same on every retry), so a
    // retry after a lost answer is not sent twice: LINE answers 409 for a key it accepted.
    net::awaitable<SendResult> send_all(std::vector<Outbound> parts) override {
        using Kind = SendError::Kind;
        if (parts.empty() || parts.front().chat.chat_id.empty())
            co_return SendError{.kind = Kind::bad_request, .detail = "no chat"};
        const std::string to = parts.front().chat.chat_id;
        std::vector<std::string> texts;
        for (const auto& part : parts) texts.push_back(part.text);

        if (texts.size() <= kMaxMessagesPerCall) {
            if (auto token = take_token(parts.front().reply_to); token) {
                auto answer =
                    co_await call("/v2/bot/message/reply", reply_body(token->token, texts), {});
                if (answer.ok) co_return answer.last_sent_id;
                // Refused before use (429, 5xx): the retry may still use it while fresh. (A
                // timeout may hide a reply that went out; its retry then meets "Invalid
                // reply token" and pushes: LINE's reply has no idempotency key.)
                if (answer.failure.kind == Kind::rate_limited ||
                    answer.failure.kind == Kind::transient)
                    restore_token(parts.front().reply_to, std::move(*token));
                if (!answer.invalid_reply_token) co_return failed(answer, "reply");
                log_.debug("line", "'", id_, "': reply token no longer valid; pushing instead");
            }
        }
        std::string last_id;
        for (std::size_t first = 0; first < texts.size(); first += kMaxMessagesPerCall) {
            std::size_t end = std::min(texts.size(), first + kMaxMessagesPerCall);
            std::vector<std::string> chunk(texts.begin() + first, texts.begin() + end);
            auto answer = co_await call("/v2/bot/message/push", push_body(to, chunk),
                                        parts[first].delivery_key);
            if (answer.already_accepted) continue;
            if (!answer.ok) co_return failed(answer, "push");
            last_id = answer.last_sent_id;
        }
        co_return last_id;
    }

private:
    http::Response refused(const http::Request& request, const char* why) const {
        log_.warn("line", "'", id_, "': ", why, " from ", request.remote, " refused (401)");
        return http::Response::error(401, "invalid signature");
    }

    net::awaitable<http::Response> on_post(http::Request& request) {
        // On the raw body, before anything is parsed.
        if (!signature_valid(channel_secret_, request.header("x-line-signature"), request.body))
            co_return refused(request, "request with a wrong signature");
        auto body = parse_webhook(request.body, id_);
        if (!body.readable) {
            log_.warn("line", "'", id_, "': skipped a signed request that is not a webhook body");
            co_return http::Response::text(200, "");
        }
        for (auto& event : body.events) {
            if (event.kind != LineEvent::Kind::message) {
                if (event.kind == LineEvent::Kind::unreadable)
                    log_.warn("line", "'", id_, "': skipped event ", event.event_id, " (",
                              event.reason, ")");
                else
                    log_.debug("line", "'", id_, "': ignored event ", event.event_id, " (",
                               event.reason, ")");
                continue;
            }
            if (event.redelivery) log_.debug("line", "'", id_, "': redelivery of ", event.event_id);
            try {
                co_await accept(std::move(event));
            } catch (const std::exception& error) {
                // Not acknowledged: LINE redelivers it (when redelivery is on in the console).
                log_.error("line", "'", id_, "': could not store a message: ", error.what());
                co_return http::Response::error(500, "not stored");
            }
        }
        co_return http::Response::text(200, "");
    }

    net::awaitable<void> accept(LineEvent event) {
        const std::string chat = event.inbound.chat.chat_id;
        const bool unsupported = !event.inbound.unsupported.empty();
        // Known before the submit: the outbox may call send_all as soon as it is stored.
        // A copy of an event already here keeps the first one's token.
        const bool kept =
            !event.reply_token.empty() && keep_token(event.event_id, event.reply_token);
        auto submission = co_await sink_.submit(std::move(event.inbound), SubmitOptions{});
        if (submission.status != Submission::Status::accepted) {
            if (kept) forget_token(event.event_id);
            co_return;
        }
        if (event.one_to_one && loading_ && !unsupported && loading_budget_.try_take())
            show_loading(chat);
    }

    // Fire and forget: a failure costs only the animation.
    void show_loading(std::string chat) {
        net::co_spawn(
            executor_,
            [this, chat = std::move(chat)]() -> net::awaitable<void> {
                auto answer = co_await call("/v2/bot/chat/loading/start",
                                            loading_body(chat, kLoadingSeconds), {});
                if (!answer.ok)
                    log_.debug("line", "'", id_, "': loading animation: ", answer.failure.detail);
            },
            net::detached);
    }

    bool keep_token(const std::string& event_id, const std::string& token) {
        std::lock_guard lock(mutex_);
        auto now = Clock::now();
        if (tokens_.size() >= kMaxTokens)
            std::erase_if(tokens_, [&](const auto& entry) {
                return now - entry.second.received > kReplyTokenFresh;
            });
        if (tokens_.size() >= kMaxTokens) return false;
        return tokens_.emplace(event_id, ReplyToken{token, now}).second;
    }

    void forget_token(const std::string& event_id) {
        std::lock_guard lock(mutex_);
        tokens_.erase(event_id);
    }

    // The token once (one use), if still fresh.
    std::optional<ReplyToken> take_token(const std::string& event_id) {
        std::lock_guard lock(mutex_);
        auto found = tokens_.find(event_id);
        if (found == tokens_.end()) return std::nullopt;
        ReplyToken token = std::move(found->second);
        tokens_.erase(found);
        if (Clock::now() - token.received >= kReplyTokenFresh) return std::nullopt;
        return token;
    }

    void restore_token(const std::string& event_id, ReplyToken token) {
        std::lock_guard lock(mutex_);
        if (tokens_.size() < kMaxTokens) tokens_.emplace(event_id, std::move(token));
    }

    SendError failed(const ApiAnswer& answer, const char* what) const {
        if (!answer.operator_fix.empty())
            log_.error("line", "'", id_, "': ", what, ": ", answer.failure.detail, ": ",
                       answer.operator_fix);
        SendError error = answer.failure;
        error.detail = std::string(what) + ": " + error.detail;
        return error;
    }

    net::awaitable<ApiAnswer> call(std::string path, std::string body, std::string retry_key) {
        ClientRequest request;
        request.method = "POST";
        request.url = api_base_ + path;
        request.headers = {{"Content-Type", "application/json"},
                           {"Authorization", "Bearer " + access_token_}};
        if (!retry_key.empty()) request.headers.push_back({"X-Line-Retry-Key", retry_key});
        request.body = std::move(body);
        request.timeout = kApiTimeout;
        auto response = co_await http_.request(std::move(request));
        if (response.failure != ClientResponse::Failure::none)
            co_return classify(0, {}, {}, response.error);
        co_return classify(response.status, response.body, response.header("Retry-After"));
    }

    std::string id_;
    net::any_io_executor executor_;
    InboundSink& sink_;
    HttpClient& http_;
    Logger& log_;
    std::string channel_secret_;
    std::string access_token_;
    std::string api_base_;
    bool loading_ = true;
    CallBudget loading_budget_{kLoadingPerSecond};
    std::mutex mutex_;
    std::unordered_map<std::string, ReplyToken> tokens_;
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<LineAdapter>(std::move(deps));
}

}  // namespace bot::adapters::line
