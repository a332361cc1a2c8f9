// slack: a Slack app's bot user. Socket Mode (default): the bot asks apps.connections.open for
// a websocket URL and dials it, so it needs no public address; events mode: Slack POSTs the
// Events API to our route, signed with the signing secret. DMs and @-mentions in channels
// (answered in the thread), replies in mrkdwn through chat.postMessage, streamed by
// chat.update. Config, console steps and what users see: adapters/slack/README.md.
#include "base/keyed_order.hpp"
#include "base/log.hpp"
#include "bot/adapter.hpp"
#include "bot/net/reconnect_loop.hpp"
#include "slack/slack_api.hpp"
#include "slack/slack_codec.hpp"
#include "slack/slack_live.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>

#include <mutex>

namespace bot::adapters::slack {

namespace {

using Clock = std::chrono::steady_clock;

// Longest text of one reply part, in characters. Slack truncates text above 40,000 characters
// and advises keeping a message under 4,000 (docs.slack.dev chat.postMessage, "Truncating
// content"); 3,900 stays under that with room for the markers split_markdown adds around a
// code block cut between parts and the " …" of a streamed preview.
constexpr std::size_t kMaxTextChars = 3900;
// Events API bodies are small JSON documents (a message with its blocks).
constexpr std::size_t kBodyLimit = 256 * 1024;
constexpr std::size_t kMaxFrameBytes = 1 << 20;
// Messages stored at once, and per sender (as the DingTalk Stream adapter bounds its socket).
constexpr std::size_t kMaxSubmitting = 4096;
constexpr std::size_t kMaxQueuedPerSender = 64;
constexpr auto kFollowReplyFor = std::chrono::minutes(10);
constexpr ReconnectOptions kReconnect{.first_delay = std::chrono::seconds(1),
                                      .max_delay = std::chrono::seconds(60),
                                      .healthy_after = std::chrono::minutes(1)};
constexpr std::chrono::milliseconds kRefusedWait = kReconnect.max_delay;
// After a disconnect notice, once the next connection is open, the old one is still read until
// it has been quiet this long and its envelopes are stored and acknowledged (Slack redelivers
// unacknowledged ones anyway), at most kDrainLimit (a "warning" comes ~10 s before the close).
constexpr std::chrono::milliseconds kQuiet{1000};
constexpr std::chrono::seconds kDrainLimit{5};

std::int64_t epoch_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Acknowledgements a connection still owes: envelopes read from it and not yet stored.
using Pending = std::shared_ptr<std::atomic<int>>;

// A disconnect being handled: the next connection, opened before the old one closes.
struct Handover {
    explicit Handover(net::any_io_executor executor) : done(std::move(executor)) {}
    bool started = false;
    Pending pending = std::make_shared<std::atomic<int>>(0);  // of the old connection
    std::atomic<std::int64_t> last_read_ms{0};                // on the old connection
    AsyncEvent done;
    std::shared_ptr<WebSocketConnection> next;
    std::string error;
};

// Where a reply to ref goes: channel messages are answered in their thread (the thread they
// are in, or the one they start); a DM in the conversation itself unless it was written in a
// thread (a reply per DM tucked into its own thread is hard to follow).
std::string thread_of(const MessageRef& ref, bool is_group) {
    if (!ref.thread_ts.empty()) return ref.thread_ts;
    return is_group ? ref.ts : std::string();
}

class SlackAdapter final : public Adapter {
public:
    explicit SlackAdapter(AdapterDeps deps)
        : id_(deps.id),
          executor_(deps.executor),
          sink_(deps.sink),
          log_(deps.log),
          websockets_(deps.websockets),
          ordered_(deps.executor, kMaxSubmitting, kMaxQueuedPerSender),
          stopped_(deps.executor),
          reconnect_(deps.executor, deps.log, "slack " + id_, kReconnect) {
        auto& config = deps.config;
        config.string("type", "slack");
        std::string mode = config.string("mode", "socket");
        if (mode != "socket" && mode != "events")
            config.problem("mode", "must be \"socket\" or \"events\"");
        socket_ = mode != "events";
        bot_token_ = config.required_string("bot_token");
        if (!bot_token_.empty() && !bot_token_.starts_with("xoxb-"))
            config.problem("bot_token", "must be the app's Bot User OAuth Token (xoxb-...)");
        app_token_ = config.string("app_token", "");
        if (socket_ && !app_token_.starts_with("xapp-"))
            config.problem("app_token",
                           "Socket Mode needs the app-level token (xapp-..., scope "
                           "connections:write)");
        signing_secret_ = config.string("signing_secret", "");
        if (!socket_ && signing_secret_.empty())
            config.problem("signing_secret",
                           "events mode needs the app's Signing Secret (Basic Information)");
        std::string path = config.url_path("path", "/slack/" + id_);
        std::string api_base = config.url("api_base", "https://slack.com/api");
        std::string streaming = config.string("streaming", "update");
        if (streaming != "update" && streaming != "off")
            config.problem("streaming", "must be \"update\" or \"off\"");
        LiveOptions live{.interval = std::chrono::milliseconds(
                             config.integer("stream_interval_ms", 1500, 500, 60000)),
                         .max_text = {.max = kMaxTextChars, .unit = TextLimit::Unit::code_points}};
        // The Python SDK pings every 5 s (socket_mode/builtin/client.py l.78); 10 s ends a
        // silent connection after 20 s.
        ping_interval_ = std::chrono::seconds(config.integer("ping_interval_s", 10, 1, 600));
        config.done();
        if (!config.errors().empty()) return;

        if (!socket_) {
            http::RouteOptions options;
            options.body_limit = kBodyLimit;
            // A missing or stale timestamp is refused before the body is read; the signature
            // itself covers the body and is checked in the handler.
            options.authorize =
                [this](const http::Request& request) -> std::optional<http::Response> {
                return refuse_stale(request);
            };
            deps.routes.add(
                "POST", path,
                [this](http::Request& request, http::ResponseStream&) { return on_post(request); },
                options);
        }
        if (deps.validate_only) return;
        log_.add_secret(bot_token_);
        if (!app_token_.empty()) log_.add_secret(app_token_);
        if (!signing_secret_.empty()) log_.add_secret(signing_secret_);
        api_.emplace(deps.http, api_base, bot_token_, app_token_);
        if (streaming == "update") live_.emplace(executor_, *api_, log_, live);
    }

    Capabilities capabilities() const override {
        return {.max_text = {.max = kMaxTextChars, .unit = TextLimit::Unit::code_points},
                .text_format = TextFormat::slack_mrkdwn};
    }

    net::awaitable<SendResult> send(Outbound message) override {
        const std::string& channel = message.chat.chat_id;
        if (channel.empty())
            co_return SendError{.kind = SendError::Kind::bad_request, .detail = "no channel"};
        auto ref = decode_message_id(message.reply_to);
        const std::string thread = ref ? thread_of(*ref, message.chat.is_group) : std::string();
        // A streamed preview becomes the first part instead of staying above it.
        auto followed = live_ && message.part == 1 ? live_->take(message.reply_to) : nullptr;
        if (followed) {
            std::string streamed = co_await live_->finish(followed);
            if (!streamed.empty()) {
                std::string body = update_body(channel, streamed, message.text);
                auto updated = co_await api_->update(std::move(body));
                if (updated.ok) co_return channel + ":" + streamed;
                using Kind = SendError::Kind;
                if (updated.failure.kind == Kind::transient ||
                    updated.failure.kind == Kind::rate_limited) {
                    live_->restore(std::move(followed));  // the retry updates it again
                    co_return updated.failure;
                }
                // (Deleted meanwhile, too old to edit...: sent as a new message.)
                log_.info("slack", "'", id_, "': a streamed reply could not be finished (",
                          updated.failure.detail, "); sending it as a new message");
            }
        }
        std::string body = post_message_body(channel, message.text, thread);
        auto answer = co_await api_->post_message(std::move(body));
        if (answer.ok) co_return channel + ":" + answer.ts;
        if (!answer.operator_fix.empty())
            log_.error("slack", "'", id_, "': ", answer.failure.detail, " in ", channel, ": ",
                       answer.operator_fix);
        co_return answer.failure;
    }

    net::awaitable<void> run() override {
        if (!api_) co_return;
        if (!co_await identity()) {
            // (Logged with the fix; the core restarts run() with backoff.)
            throw std::runtime_error("auth.test failed");
        }
        if (!socket_) co_return;
        co_await reconnect_.run([this](const ReconnectAttempt&) { return session(); });
    }

    void stop() override {
        stopped_.set();
        reconnect_.stop();
    }

private:
    // auth.test once (the bot's user id, to know its mentions and its own messages); callers
    // arriving meanwhile wait for that answer.
    net::awaitable<std::optional<BotIdentity>> identity() {
        if (auto known = cached_identity()) co_return known;
        auto turn = co_await identity_turn_.acquire();
        if (auto known = cached_identity()) co_return known;
        auto answer = co_await api_->auth_test();
        if (!answer.ok || answer.identity.user_id.empty()) {
            if (!answer.operator_fix.empty())
                log_.error("slack", "'", id_, "': ", answer.failure.detail, ": ",
                           answer.operator_fix);
            else
                log_.warn("slack", "'", id_, "': ", answer.failure.detail);
            co_return std::nullopt;
        }
        log_.info("slack", "'", id_, "' is bot user ", answer.identity.user_id, " in team ",
                  answer.identity.team_id);
        std::lock_guard lock(mutex_);
        me_ = answer.identity;
        co_return me_;
    }

    std::optional<BotIdentity> cached_identity() {
        std::lock_guard lock(mutex_);
        if (me_.user_id.empty()) return std::nullopt;
        return me_;
    }

    // ---- Socket Mode --------------------------------------------------------------------

    // One session: a connection, and after each refresh the next one, until a connection ends
    // without one (then ReconnectLoop waits and starts a new session).
    net::awaitable<void> session() {
        auto connection = co_await open();
        for (;;) {
            auto handover = std::make_shared<Handover>(executor_);
            co_await read_envelopes(connection, handover);
            if (!handover->started || reconnect_.stopped()) co_return;
            co_await handover->done.wait_until(Clock::now() + std::chrono::minutes(5));
            if (!handover->next)
                throw std::runtime_error("reconnect after disconnect: " + handover->error);
            connection = std::move(handover->next);
        }
    }

    // apps.connections.open (a fresh URL each time: it carries a single-use ticket) and dial.
    net::awaitable<std::shared_ptr<WebSocketConnection>> open() {
        auto answer = co_await api_->open_connection();
        if (!answer.ok || answer.url.empty()) {
            if (answer.ok) throw std::runtime_error("apps.connections.open: no url");
            if (answer.failure.kind != SendError::Kind::unauthorized)
                throw std::runtime_error(answer.failure.detail);
            log_.error("slack", "'", id_, "': ", answer.failure.detail, ": ", answer.operator_fix,
                       "; Socket Mode must be on (Settings > Socket Mode); retrying in ",
                       kRefusedWait.count() / 1000, " s");
            co_await stopped_.wait_until(Clock::now() + kRefusedWait);
            throw std::runtime_error(answer.failure.detail);
        }
        {
            // The URL's ticket admits whoever has it: never in the log.
            std::lock_guard lock(mutex_);
            log_.replace_secret(last_url_, answer.url);
            last_url_ = answer.url;
        }
        WebSocketOptions options{.url = answer.url,
                                 .max_message_bytes = kMaxFrameBytes,
                                 .ping_interval = ping_interval_};
        auto connection = co_await websockets_.connect(std::move(options));
        reconnect_.watch(connection);
        co_return connection;
    }

    net::awaitable<void> read_envelopes(std::shared_ptr<WebSocketConnection> connection,
                                        std::shared_ptr<Handover> handover) {
        const BotIdentity me = cached_identity().value_or(BotIdentity{});
        while (auto message = co_await connection->read()) {
            handover->last_read_ms = epoch_ms();
            auto envelope = message->binary ? Envelope{} : parse_envelope(message->data, me, id_);
            switch (envelope.type) {
                case Envelope::Type::hello:
                    log_.info("slack", "'", id_, "': Socket Mode connection open");
                    break;
                case Envelope::Type::disconnect:
                    on_disconnect(envelope.reason, connection, handover);
                    break;
                case Envelope::Type::events_api:
                    co_await on_event(envelope, connection, handover->pending);
                    break;
                case Envelope::Type::other:
                    // Slash commands, interactivity: not used; acknowledged so Slack does not
                    // show the user an error after 3 s of waiting.
                    log_.debug("slack", "'", id_, "': acknowledged a ", envelope.type_name,
                               " envelope");
                    if (!envelope.envelope_id.empty())
                        connection->send(envelope_ack(envelope.envelope_id));
                    break;
                case Envelope::Type::unreadable:
                    log_.warn("slack", "'", id_, "': skipped a frame that is not an envelope");
                    break;
            }
        }
        log_.info("slack", "'", id_, "': Socket Mode connection closed (", connection->close_code(),
                  " ", connection->close_reason(), ")");
    }

    void on_disconnect(const std::string& reason,
                       const std::shared_ptr<WebSocketConnection>& connection,
                       const std::shared_ptr<Handover>& handover) {
        if (reason == "too_many_websockets" || reason == "link_disabled") {
            // Opening one more would make too_many_websockets worse (the aiohttp client closes
            // first for it: socket_mode/aiohttp/__init__.py l.361-366); link_disabled means
            // Socket Mode was turned off. This connection ends; ReconnectLoop backs off.
            log_.warn("slack", "'", id_, "': Slack ends the Socket Mode connection (", reason,
                      reason == "link_disabled"
                          ? "): turn Socket Mode on again in the app's settings"
                          : "): another process may be using this app_token");
            connection->close(1000, "disconnect");
            return;
        }
        // warning / refresh_requested: python-slack-sdk opens the new connection before
        // closing the old one (socket_mode/client.py l.113-114 connect_to_new_endpoint,
        // builtin/client.py l.156-183); so do we, and read the old one until it is replaced.
        if (handover->started) return;
        handover->started = true;
        log_.info("slack", "'", id_, "': Slack asks to reconnect (", reason,
                  "); opening a new connection first");
        net::co_spawn(executor_, hand_over(connection, handover), net::detached);
    }

    net::awaitable<void> hand_over(std::shared_ptr<WebSocketConnection> old,
                                   std::shared_ptr<Handover> handover) {
        try {
            handover->next = co_await open();
        } catch (const std::exception& error) {
            handover->error = error.what();
            log_.warn("slack", "'", id_,
                      "': could not open the next connection: ", handover->error);
        }
        handover->done.set();
        if (!handover->next) co_return;
        auto deadline = Clock::now() + kDrainLimit;
        while (Clock::now() < deadline && !reconnect_.stopped() &&
               (*handover->pending > 0 || epoch_ms() - handover->last_read_ms < kQuiet.count()))
            co_await sleep_for(std::chrono::milliseconds(20));
        old->close(1000, "reconnected");
    }

    net::awaitable<void> on_event(const Envelope& envelope,
                                  std::shared_ptr<WebSocketConnection> connection,
                                  Pending pending) {
        const auto& event = envelope.event;
        if (envelope.retry_attempt > 0)
            log_.debug("slack", "'", id_, "': redelivery ", envelope.retry_attempt, " of ",
                       event.event_id);
        if (event.kind != ParsedEvent::Kind::message) {
            log(event);
            if (!envelope.envelope_id.empty()) connection->send(envelope_ack(envelope.envelope_id));
            co_return;
        }
        // Stored first, then acknowledged (off this loop: it keeps reading meanwhile). A named
        // local: g++ 12 double-frees a temporary built in co_await's arguments.
        ++*pending;
        std::function<void()> acknowledge = [connection, pending, id = envelope.envelope_id] {
            if (!id.empty()) connection->send(envelope_ack(id));
            --*pending;
        };
        Inbound inbound = event.inbound;
        co_await enqueue(std::move(inbound), std::move(acknowledge));
    }

    // Stored concurrently across senders, in arrival order per sender; `done` once stored. A
    // message that cannot be stored is not acknowledged: Slack redelivers it.
    net::awaitable<void> enqueue(Inbound inbound, std::function<void()> done) {
        std::string key = inbound.chat.chat_id + '\n' + inbound.sender_id;
        auto work = [this, inbound = std::move(inbound), done]() -> net::awaitable<void> {
            try {
                Inbound copy = inbound;
                co_await accept(std::move(copy));
                done();
            } catch (const std::exception& error) {
                log_.error("slack", "'", id_, "': a message could not be stored: ", error.what());
            }
        };
        if (!co_await ordered_.add(std::move(key), std::move(work))) {
            log_.warn("slack", "'", id_, "': a sender has ", kMaxQueuedPerSender,
                      " messages waiting to be stored; one more skipped");
            done();
        }
    }

    // ---- events mode --------------------------------------------------------------------

    std::optional<http::Response> refuse_stale(const http::Request& request) const {
        auto check =
            check_timestamp(request.header("X-Slack-Request-Timestamp"), epoch_ms() / 1000);
        if (check == SignCheck::ok && !request.header("X-Slack-Signature").empty())
            return std::nullopt;
        return refused(request, check == SignCheck::ok ? SignCheck::missing : check);
    }

    http::Response refused(const http::Request& request, SignCheck check) const {
        const char* why = check == SignCheck::missing ? "unsigned request"
                          : check == SignCheck::stale ? "request with a stale timestamp"
                                                      : "request with a wrong signature";
        log_.warn("slack", "'", id_, "': ", why, " from ", request.remote, " refused (401)");
        return http::Response::error(401, "invalid signature");
    }

    net::awaitable<http::Response> on_post(http::Request& request) {
        // On the raw body, before anything is parsed.
        auto check =
            check_signature(signing_secret_, request.header("X-Slack-Request-Timestamp"),
                            request.header("X-Slack-Signature"), request.body, epoch_ms() / 1000);
        if (check != SignCheck::ok) co_return refused(request, check);
        auto body = classify_events_body(request.body);
        switch (body.kind) {
            case EventsBody::Kind::url_verification:
                // bolt-js src/receivers/HTTPModuleFunctions.ts l.136-139: JSON {"challenge"}.
                co_return http::Response::json(200, nlohmann::json{{"challenge", body.challenge}});
            case EventsBody::Kind::rate_limited:
                log_.warn("slack", "'", id_,
                          "': Slack reports app_rate_limited (over 30,000 events an hour); "
                          "some events were not delivered");
                co_return http::Response::text(200, "");
            case EventsBody::Kind::other:
                log_.debug("slack", "'", id_, "': skipped a ", body.type, " request");
                co_return http::Response::text(200, "");
            case EventsBody::Kind::unreadable:
                log_.warn("slack", "'", id_, "': skipped a signed request that is not JSON");
                co_return http::Response::text(200, "");
            case EventsBody::Kind::event_callback:
                break;
        }
        // Slack retries an event it did not see answered 2xx within 3 s (X-Slack-Retry-Num,
        // bolt-js HTTPModuleFunctions.ts l.11-35); the core recognises the repeat by its id.
        auto retry = request.header("X-Slack-Retry-Num");
        if (!retry.empty())
            log_.debug("slack", "'", id_, "': redelivery ", retry, " (",
                       request.header("X-Slack-Retry-Reason"), ")");
        auto me = co_await identity();
        if (!me) co_return http::Response::error(503, "bot identity not known yet");
        auto event = parse_event_callback(request.body, *me, id_);
        if (event.kind != ParsedEvent::Kind::message) {
            log(event);
            co_return http::Response::text(200, "");
        }
        try {
            co_await accept(std::move(event.inbound));
        } catch (const std::exception& error) {
            log_.error("slack", "'", id_, "': could not store a message: ", error.what());
            co_return http::Response::error(500, "not stored");
        }
        co_return http::Response::text(200, "");
    }

    // ---- both ---------------------------------------------------------------------------

    void log(const ParsedEvent& event) const {
        if (event.kind == ParsedEvent::Kind::unreadable)
            log_.warn("slack", "'", id_, "': skipped event ", event.event_id, " (", event.reason,
                      ")");
        else
            log_.debug("slack", "'", id_, "': ignored event ", event.event_id, " (", event.reason,
                       ")");
    }

    // Hands a message to the core; returns once it is stored (or known, or ignored). Throws
    // when it could not be stored.
    net::awaitable<void> accept(Inbound inbound) {
        LiveReplies::Handle live;
        if (live_) {
            auto ref = decode_message_id(inbound.message_id);
            live = live_->expect(inbound.message_id, inbound.chat.chat_id,
                                 ref ? thread_of(*ref, inbound.chat.is_group) : std::string());
        }
        SubmitOptions options{.wait = live ? std::chrono::milliseconds(kFollowReplyFor)
                                           : std::chrono::milliseconds(0),
                              .claim = false,
                              .deltas = true};
        Submission submission;
        try {
            submission = co_await sink_.submit(std::move(inbound), options);
        } catch (...) {
            if (live) live_->drop(live);
            throw;
        }
        if (!live) co_return;
        if (submission.status == Submission::Status::accepted && submission.watch.valid())
            live_->follow(std::move(live), std::move(submission.watch));
        else
            live_->drop(live);
    }

    std::string id_;
    net::any_io_executor executor_;
    InboundSink& sink_;
    Logger& log_;
    WebSocketClient& websockets_;
    bool socket_ = true;
    std::string bot_token_;
    std::string app_token_;
    std::string signing_secret_;
    std::chrono::milliseconds ping_interval_{10'000};
    std::optional<SlackApi> api_;
    std::optional<LiveReplies> live_;
    KeyedOrder ordered_;
    AsyncEvent stopped_;
    ReconnectLoop reconnect_;
    AsyncSemaphore identity_turn_{1};
    std::mutex mutex_;
    BotIdentity me_;
    std::string last_url_;
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<SlackAdapter>(std::move(deps));
}

}  // namespace bot::adapters::slack
