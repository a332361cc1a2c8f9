// telegram: a Telegram bot, by webhook (Telegram POSTs updates to us) or long polling
// (getUpdates). Private chats and groups (answers when @-mentioned, replied to or given a
// command), replies through sendMessage split at 4096 UTF-16 units, typing and streamed
// previews while the LLM writes. See adapters/telegram/README.md.
#include "base/html_split.hpp"
#include "base/log.hpp"
#include "base/secret_file.hpp"
#include "bot/adapter.hpp"
#include "telegram/telegram_api.hpp"
#include "telegram/telegram_codec.hpp"
#include "telegram/telegram_live.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <mutex>

namespace bot::adapters::telegram {

namespace {

using nlohmann::json;

constexpr auto kFollowReplyFor = std::chrono::minutes(10);
constexpr std::string_view kSecretHeader = "X-Telegram-Bot-Api-Secret-Token";

// One adapter per bot token: a second getUpdates poller makes Telegram drop the first one's
// requests (409), and a second webhook owner silently steals the webhook. An flock on a file
// named after the bot's id holds across adapters of one process and across processes.
class BotLock {
public:
    explicit BotLock(const std::filesystem::path& file) {
        std::filesystem::create_directories(file.parent_path().empty() ? "." : file.parent_path());
        fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ < 0) throw std::runtime_error("cannot open lock file " + file.string());
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd_);
            throw std::runtime_error(
                "another adapter or contactbot process already serves this bot (lock " +
                file.string() + " is held); a bot token can have only one webhook or poller");
        }
    }
    ~BotLock() { ::close(fd_); }
    BotLock(const BotLock&) = delete;
    BotLock& operator=(const BotLock&) = delete;

private:
    int fd_ = -1;
};

bool valid_secret_token(std::string_view token) {
    return !token.empty() && token.size() <= 256 &&
           std::all_of(token.begin(), token.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
           });
}

LiveOptions::Streaming streaming_mode(ConfigReader& config) {
    std::string mode = config.string("streaming", "auto");
    if (mode == "auto") return LiveOptions::Streaming::automatic;
    if (mode == "draft") return LiveOptions::Streaming::draft;
    if (mode == "edit") return LiveOptions::Streaming::edit;
    if (mode != "off")
        config.problem("streaming", "must be \"auto\", \"draft\", \"edit\" or \"off\"");
    return LiveOptions::Streaming::off;
}

class TelegramAdapter final : public Adapter {
public:
    explicit TelegramAdapter(AdapterDeps deps)
        : id_(deps.id), executor_(deps.executor), sink_(deps.sink), log_(deps.log) {
        auto& config = deps.config;
        config.string("type", "telegram");
        token_ = config.required_string("bot_token");
        auto bot_id = bot_id_from_token(token_);
        if (!token_.empty() && !bot_id) {
            config.problem("bot_token",
                           "must look like 123456789:AA... (the token from @BotFather)");
        }
        std::string mode = config.string("mode", "poll");
        if (mode != "webhook" && mode != "poll")
            config.problem("mode", "must be \"webhook\" or \"poll\"");
        webhook_ = mode == "webhook";
        webhook_url_ = config.string("webhook_url", "");
        if (webhook_ && !webhook_url_.starts_with("https://")) {
            config.problem("webhook_url",
                           "webhook mode needs the public https:// URL Telegram should call");
        }
        secret_ = config.string("secret_token", "");
        if (!secret_.empty() && !valid_secret_token(secret_)) {
            config.problem("secret_token", "must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -");
        }
        std::string path = config.url_path("path", "/telegram/" + id_);
        std::string api_base = config.url("api_base", "https://api.telegram.org");
        poll_timeout_ = std::chrono::seconds(config.integer("poll_timeout_s", 25, 1, 50));
        max_connections_ = static_cast<int>(config.integer("max_connections", 40, 1, 100));
        drop_pending_ = config.boolean("drop_pending_updates", false);
        LiveOptions live;
        live.streaming = streaming_mode(config);
        live.stream_interval =
            std::chrono::milliseconds(config.integer("stream_interval_ms", 1000, 300, 60000));
        live.typing = config.boolean("typing", true);
        live.typing_after =
            std::chrono::milliseconds(config.integer("typing_after_ms", 300, 0, 60000));
        live.calls_per_second =
            static_cast<double>(config.integer("live_calls_per_s", 30, 1, 10000));
        streaming_ = live.streaming != LiveOptions::Streaming::off;
        follow_replies_ = live.typing || streaming_;
        config.done();
        if (!config.errors().empty()) return;

        me_.id = *bot_id;
        if (webhook_) {
            deps.routes.add(
                "POST", path,
                [this](http::Request& request, http::ResponseStream&) {
                    return handle_webhook(request);
                },
                // The secret is in a header: forged updates are refused before their body.
                http::RouteOptions{.authorize = [this](const http::Request& request) {
                    return refuse_without_secret(request);
                }});
        }
        if (deps.validate_only) return;

        log_.add_secret(token_);
        lock_ = std::make_unique<BotLock>(deps.data_dir /
                                          ("telegram-" + std::to_string(*bot_id) + ".lock"));
        if (webhook_ && secret_.empty()) {
            // Without a secret anyone who guesses the URL could post fake updates.
            secret_ = load_or_create_secret(deps.data_dir / (id_ + ".webhook-secret"));
        }
        log_.add_secret(secret_);
        api_ = std::make_unique<BotApi>(deps.http, api_base, token_);
        live_ = std::make_unique<LiveReplies>(executor_, *api_, log_, live);
    }

    Capabilities capabilities() const override {
        // Replies arrive rendered in Telegram's HTML (the outbox renders the markdown).
        return {.max_text = {.max = 4096, .unit = TextLimit::Unit::utf16_units},
                .text_format = TextFormat::telegram_html,
                // With privacy mode off (BotFather /setprivacy) or as an admin, the bot gets
                // every group message; the codec marks those not addressed to it.
                .sees_group_chatter = true};
    }

    net::awaitable<SendResult> send(Outbound message) override {
        auto chat = parse_chat(message.chat.chat_id);
        if (!chat)
            co_return SendError{.kind = SendError::Kind::bad_request,
                                .detail = "not a Telegram chat id: " + message.chat.chat_id};
        // A streamed preview becomes the final message instead of staying beside it.
        auto followed = message.part == 1 ? live_->take(message.reply_to) : nullptr;
        if (followed) {
            if (std::int64_t streamed = co_await live_->finish(std::move(followed))) {
                auto edited = co_await edit_text(*chat, streamed, message.text, "HTML");
                if (cant_parse_entities(edited)) {
                    warn_markup_refused(edited);
                    const std::string bare = html_to_text(message.text);
                    edited = co_await edit_text(*chat, streamed, bare, {});
                }
                if (edited.ok || not_modified(edited)) {
                    co_return std::to_string(streamed);
                }
                // (Deleted meanwhile, too old to edit...: send it as a new message.)
            }
        }
        const std::string_view quoted =
            message.chat.is_group && message.part == 1 ? message.reply_to : std::string_view();
        auto result = co_await send_text(*chat, message.text, quoted, "HTML");
        if (cant_parse_entities(result)) {
            // Never expected of the renderer's HTML; the reply still reaches the user, bare.
            warn_markup_refused(result);
            const std::string bare = html_to_text(message.text);
            result = co_await send_text(*chat, bare, quoted, {});
        }
        if (result.ok) co_return std::to_string(result.message_id);
        if (result.error_code == 403) {
            log_.warn("telegram", "chat ", message.chat.chat_id,
                      " blocked the bot or removed it from the group: reply not delivered");
        }
        co_return to_send_error(result);
    }

    net::awaitable<ApiResult> send_text(ChatAddress chat, std::string_view text,
                                        std::string_view quoted, std::string_view parse_mode) {
        auto result = co_await api_->call_with_body(
            "sendMessage", send_message_body(chat, text, quoted, parse_mode));
        if (!result.ok && result.migrate_to_chat_id != 0) {
            // The group became a supergroup (which has no topics yet).
            const ChatAddress migrated{.chat_id = result.migrate_to_chat_id, .thread_id = 0};
            result = co_await api_->call_with_body(
                "sendMessage", send_message_body(migrated, text, quoted, parse_mode));
        }
        co_return result;
    }

    net::awaitable<ApiResult> edit_text(ChatAddress chat, std::int64_t message_id,
                                        std::string_view text, std::string_view parse_mode) {
        json params = chat_params(chat);
        params["message_id"] = message_id;
        params["text"] = std::string(text);
        if (!parse_mode.empty()) params["parse_mode"] = std::string(parse_mode);
        co_return co_await api_->call("editMessageText", std::move(params));
    }

    void warn_markup_refused(const ApiResult& result) {
        log_.warn("telegram", "adapter '", id_, "': Telegram refused a reply part's HTML (",
                  result.description, "); sent as plain text");
    }

    net::awaitable<void> run() override {
        std::string failure;
        if (!co_await identity(&failure)) {
            throw std::runtime_error("getMe failed: " + failure +
                                     (failure.starts_with("401") ? " (is bot_token right?)" : ""));
        }
        if (webhook_) {
            co_await register_webhook();
            co_return;
        }
        json params{{"drop_pending_updates", drop_pending_}};
        auto removed = co_await api_->call("deleteWebhook", std::move(params));
        if (!removed.ok) throw std::runtime_error("deleteWebhook failed: " + removed.description);
        co_await poll();
    }

    void stop() override { stopping_ = true; }

private:
    // getMe once: callers arriving while it runs wait for its answer instead of asking again.
    net::awaitable<std::optional<BotIdentity>> identity(std::string* failure = nullptr) {
        if (auto known = cached_identity()) co_return known;
        auto turn = co_await identity_turn_.acquire();
        if (auto known = cached_identity()) co_return known;
        auto result = co_await api_->call("getMe", json::object());
        std::lock_guard lock(mutex_);
        if (!result.ok) {
            if (failure) *failure = std::to_string(result.error_code) + " " + result.description;
            co_return std::nullopt;
        }
        const auto* about = result.result.if_object();
        const auto* username = about ? about->if_contains("username") : nullptr;
        me_.username =
            username && username->is_string() ? std::string(username->get_string()) : std::string();
        log_.info("telegram", "adapter '", id_, "' is @", me_.username);
        co_return me_;
    }

    std::optional<BotIdentity> cached_identity() {
        std::lock_guard lock(mutex_);
        if (me_.username.empty()) return std::nullopt;
        return me_;
    }

    BotIdentity identity_so_far() {
        std::lock_guard lock(mutex_);
        return me_;
    }

    net::awaitable<void> register_webhook() {
        json params{{"url", webhook_url_},
                    {"secret_token", secret_},
                    {"allowed_updates", json::array({"message"})},
                    {"max_connections", max_connections_},
                    {"drop_pending_updates", drop_pending_}};
        auto result = co_await api_->call("setWebhook", std::move(params));
        if (!result.ok) throw std::runtime_error("setWebhook failed: " + result.description);
        log_.info("telegram", "adapter '", id_, "' receives updates at ", webhook_url_);
    }

    // getUpdates until stop(). An update is confirmed (offset moves past it) only once it is
    // stored; after a crash Telegram sends the unconfirmed ones again and the inbox dedupes.
    net::awaitable<void> poll() {
        std::int64_t& offset = poll_offset_;  // kept across restarts of run()
        int failures = 0;
        while (!stopping_) {
            json params{{"timeout", poll_timeout_.count()},
                        {"allowed_updates", json::array({"message"})}};
            if (offset != 0) params["offset"] = offset;
            auto result = co_await api_->call("getUpdates", std::move(params),
                                              poll_timeout_ + std::chrono::seconds(15));
            if (stopping_) break;
            if (!result.ok) {
                if (result.error_code == 401) {
                    throw std::runtime_error("getUpdates: bot_token rejected (401)");
                }
                ++failures;
                auto delay =
                    backoff_delay(std::chrono::seconds(1), std::chrono::seconds(30), failures - 1);
                log_.warn(
                    "telegram", "adapter '", id_, "': getUpdates failed (", result.description, ")",
                    result.error_code == 409 ? "; is another program using this bot token?" : "",
                    "; retrying in ", delay.count(), " ms");
                co_await sleep_for(delay);
                continue;
            }
            failures = 0;
            if (!result.result.is_array()) continue;
            for (const auto& update : result.result.get_array()) {
                ParsedUpdate parsed =
                    read_update([&] { return parse_update(update, identity_so_far(), id_); });
                if (parsed.update_id == 0) parsed.update_id = update_id_of(update);
                const std::int64_t next = parsed.update_id + 1;
                co_await accept(std::move(parsed));
                offset = std::max(offset, next);
            }
        }
    }

    std::optional<http::Response> refuse_without_secret(const http::Request& request) const {
        if (secret_equals(request.header(kSecretHeader), secret_)) return std::nullopt;
        log_.warn("telegram", "adapter '", id_,
                  "': webhook request without the right secret token rejected");
        return http::Response::error(401, "missing or wrong secret token");
    }

    // Its secret header was checked before the body was read (refuse_without_secret).
    net::awaitable<http::Response> handle_webhook(http::Request& request) {
        const auto me = co_await identity();
        if (!me) {
            // Telegram retries: by then getMe has most likely worked.
            auto response = http::Response::error(503, "bot identity not known yet");
            response.headers.push_back({"Retry-After", "5"});
            co_return response;
        }
        // Acknowledged even when unreadable: Telegram would otherwise redeliver it for hours.
        auto parsed = read_update([&] {
            auto body = parse_update(std::string_view(request.body), *me, id_);
            if (!body) throw std::invalid_argument("the body is not a JSON object");
            return std::move(*body);
        });
        co_await accept(std::move(parsed));
        co_return http::Response::json_text(200, "{}");
    }

    // One update that cannot be read costs that update, never the ones behind it: whatever the
    // codec throws is logged (without the update's text) and the update is skipped like an
    // ignored one, so its offset is confirmed and Telegram does not send it again.
    template <class Parse>
    ParsedUpdate read_update(Parse parse) {
        try {
            return parse();
        } catch (const std::exception& error) {
            log_.warn("telegram", "adapter '", id_,
                      "': skipped an unreadable update: ", error.what());
            ParsedUpdate skipped;
            skipped.reason = "unreadable";
            return skipped;
        }
    }

    static std::int64_t update_id_of(const boost::json::value& update) {
        const auto* object = update.if_object();
        const auto* id = object ? object->if_contains("update_id") : nullptr;
        return id && id->is_int64() ? id->get_int64() : 0;
    }

    // Hands one update to the core; returns once it is stored (or recognised or ignored).
    net::awaitable<void> accept(ParsedUpdate parsed) {
        if (parsed.kind == ParsedUpdate::Kind::ignored) {
            log_.debug("telegram", "update ", parsed.update_id, " ignored: ", parsed.reason);
            co_return;
        }
        auto chat = parse_chat(parsed.inbound.chat.chat_id);
        LiveReplies::Handle live;
        if (follow_replies_) {
            live = live_->expect(*chat, parsed.inbound.chat.is_group, parsed.inbound.message_id);
        }
        SubmitOptions options{.wait = live ? std::chrono::milliseconds(kFollowReplyFor)
                                           : std::chrono::milliseconds(0),
                              .claim = false,
                              .deltas = streaming_};
        Submission submission;
        try {
            submission = co_await sink_.submit(std::move(parsed.inbound), options);
        } catch (...) {
            if (live) live_->drop(live);
            throw;
        }
        if (!live) co_return;
        if (submission.status == Submission::Status::accepted && submission.watch.valid()) {
            live_->follow(std::move(live), std::move(submission.watch));
        } else {
            live_->drop(live);
        }
    }

    std::string id_;
    net::any_io_executor executor_;
    InboundSink& sink_;
    Logger& log_;
    std::string token_;
    bool webhook_ = false;
    std::string webhook_url_;
    std::string secret_;
    std::chrono::seconds poll_timeout_{25};
    std::int64_t poll_offset_ = 0;  // the next update_id to ask for; 0: every unconfirmed one
    int max_connections_ = 40;
    bool drop_pending_ = false;
    bool follow_replies_ = true;
    bool streaming_ = true;
    std::unique_ptr<BotLock> lock_;
    std::unique_ptr<BotApi> api_;
    std::unique_ptr<LiveReplies> live_;
    std::mutex mutex_;
    AsyncSemaphore identity_turn_{1};
    BotIdentity me_;
    std::atomic<bool> stopping_{false};
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<TelegramAdapter>(std::move(deps));
}

}  // namespace bot::adapters::telegram
