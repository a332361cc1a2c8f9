// dingtalk: DingTalk's app robot. Stream mode (default): the bot registers at
// gateway/connections/open and dials the websocket it is given, so it needs no public address;
// HTTP mode: DingTalk POSTs each message to our route, signed with the AppSecret. Replies go
// through the message's session webhook while it is valid, else through the robot OpenAPI.
// Config, console steps and what users see: adapters/dingtalk/README.md.
#include "base/keyed_order.hpp"
#include "base/log.hpp"
#include "bot/adapter.hpp"
#include "bot/net/reconnect_loop.hpp"
#include "dingtalk/dingtalk_api.hpp"
#include "dingtalk/dingtalk_codec.hpp"
#include "dingtalk/session_webhooks.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <deque>
#include <mutex>
#include <set>

namespace bot::adapters::dingtalk {

namespace {

using Clock = std::chrono::steady_clock;

// Longest text of one reply part, in characters. DingTalk documents no limit for robot
// messages that we could find; 4,000 characters (12 KB of CJK in UTF-8) is a safe choice
// that keeps a reply readable as one message. An "@<staffId> " prefix fits beside it.
constexpr std::size_t kMaxTextChars = 4000;
// Robot message pushes are small JSON documents.
constexpr std::size_t kBodyLimit = 64 * 1024;
// A Stream frame carries one such document inside a string.
constexpr std::size_t kMaxFrameBytes = 256 * 1024;
// A session webhook this close to its expiry is not used: a reply started just before it
// expires would be refused on arrival.
constexpr std::int64_t kWebhookMarginMs = 60'000;
// Messages stored at once, and per sender (as the OneBot adapter bounds its socket's work).
constexpr std::size_t kMaxSubmitting = 4096;
constexpr std::size_t kMaxQueuedPerSender = 64;
// Delivery keys whose webhook attempt failed without an answer; their retry takes the API.
constexpr std::size_t kMaxFailedKeys = 4096;
// Backoff between Stream sessions (dt-go: 3 s doubling to 60 s, dt-py 1 s·2ⁿ to 60 s,
// longconn-protocols.md §2.3); a refused registration (wrong credentials) waits the longest.
constexpr ReconnectOptions kReconnect{.first_delay = std::chrono::seconds(1),
                                      .max_delay = std::chrono::seconds(60),
                                      .healthy_after = std::chrono::minutes(1)};
constexpr std::chrono::milliseconds kRefusedWait = kReconnect.max_delay;
// After a disconnect notice, once the next connection is open, the old one is still read
// until it has been quiet this long (frames DingTalk sent just before the notice took effect)
// and its messages are stored and acknowledged; at most kDrainLimit (the server drops it ~10 s
// after the notice).
constexpr std::chrono::milliseconds kQuiet{1000};
constexpr std::chrono::seconds kDrainLimit{5};

std::int64_t epoch_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// ACKs a connection still owes: messages read from it and not yet stored.
using Pending = std::shared_ptr<std::atomic<int>>;

// A Stream disconnect being handled: the next connection, opened before the old one closes.
struct Handover {
    explicit Handover(net::any_io_executor executor) : done(std::move(executor)) {}
    bool started = false;
    Pending pending = std::make_shared<std::atomic<int>>(0);  // of the old connection
    std::atomic<std::int64_t> last_read_ms{0};                // on the old connection
    AsyncEvent done;
    std::shared_ptr<WebSocketConnection> next;
    std::string error;
};

class DingtalkAdapter final : public Adapter {
public:
    explicit DingtalkAdapter(AdapterDeps deps)
        : id_(deps.id),
          executor_(deps.executor),
          sink_(deps.sink),
          log_(deps.log),
          websockets_(deps.websockets),
          webhooks_(deps.state),
          ordered_(deps.executor, kMaxSubmitting, kMaxQueuedPerSender),
          stopped_(deps.executor),
          reconnect_(deps.executor, deps.log, "dingtalk " + id_, kReconnect) {
        auto& config = deps.config;
        config.string("type", "dingtalk");
        std::string mode = config.string("mode", "stream");
        if (mode != "stream" && mode != "http")
            config.problem("mode", "must be \"stream\" or \"http\"");
        stream_ = mode != "http";
        std::string client_id = config.required_string("client_id");
        secret_ = config.required_string("client_secret");
        std::string robot_code = config.string("robot_code", client_id);
        std::string path = config.url_path("path", "/dingtalk/" + id_);
        std::string api_base = config.url("api_base", "https://api.dingtalk.com");
        // Session webhooks are used only on this host: in HTTP mode the signature does not
        // cover the body (protocols.md §4), so a replayed signature with a forged body could
        // otherwise have the bot POST replies to any address.
        webhook_base_ = config.url("webhook_base", "https://oapi.dingtalk.com") + "/";
        ping_interval_ = std::chrono::seconds(config.integer("ping_interval_s", 30, 1, 600));
        if (config.has("streaming")) {
            config.string("streaming", "");
            config.problem("streaming",
                           "not supported: streamed replies need DingTalk's AI card (see "
                           "adapters/dingtalk/README.md, Streaming); replies arrive whole");
        }
        config.done();
        if (!config.errors().empty()) return;

        log_.add_secret(secret_);
        api_.emplace(deps.http, api_base, client_id, secret_, robot_code, log_);
        if (!stream_) {
            http::RouteOptions options;
            options.body_limit = kBodyLimit;
            // The signature covers only the timestamp (protocols.md §4): checked from the
            // headers before the body is read.
            options.authorize =
                [this](const http::Request& request) -> std::optional<http::Response> {
                return check_signature(request);
            };
            deps.routes.add(
                "POST", path,
                [this](http::Request& request, http::ResponseStream&) { return on_post(request); },
                options);
        }
    }

    Capabilities capabilities() const override {
        return {.max_text = {.max = kMaxTextChars, .unit = TextLimit::Unit::code_points}};
    }

    net::awaitable<SendResult> send(Outbound message) override {
        const auto& chat = message.chat;
        if (chat.chat_id.empty())
            co_return SendError{.kind = SendError::Kind::bad_request, .detail = "no chat id"};
        if (!failed_through_webhook(message.delivery_key)) {
            auto webhook = co_await webhooks_.usable(chat.chat_id, epoch_ms(), kWebhookMarginMs);
            if (webhook) {
                // In groups the first part @-mentions the person answered, by staff id (a
                // sender from outside the organisation has only a "$:LWCP_v1:$..." senderId,
                // which cannot be @-mentioned).
                std::string at =
                    chat.is_group && message.part == 1 && !message.user_id.starts_with("$:")
                        ? message.user_id
                        : "";
                auto outcome =
                    co_await api_->post_webhook(webhook->url, webhook_body(message.text, at));
                switch (outcome.kind) {
                    case SendOutcome::Kind::delivered:
                        co_return std::string();  // the webhook answers no message id
                    case SendOutcome::Kind::session_gone:
                        // Nothing was delivered: the OpenAPI path at once, not after a backoff.
                        log_.info("dingtalk", "'", id_, "': a session webhook was refused (",
                                  outcome.error.detail, "); answering through the robot API");
                        co_await webhooks_.forget(chat.chat_id, webhook->url);
                        break;
                    case SendOutcome::Kind::token_refused:
                    case SendOutcome::Kind::failed:
                        // No answer, or a busy one: it may or may not have arrived. The retry
                        // goes through the API rather than a webhook that may stay down.
                        if (outcome.error.kind == SendError::Kind::transient)
                            remember_failed(message.delivery_key);
                        co_return outcome.error;
                }
            }
        }
        if (chat.is_group) co_return co_await api_->send_group(chat.chat_id, message.text);
        // 1:1: the chat is the user (the staff id batchSend addresses).
        co_return co_await api_->send_private(
            message.user_id.empty() ? chat.chat_id : message.user_id, message.text);
    }

    net::awaitable<void> run() override {
        if (!stream_ || !api_) co_return;
        co_await reconnect_.run([this](const ReconnectAttempt&) { return session(); });
    }

    void stop() override {
        stopped_.set();
        reconnect_.stop();
    }

private:
    // ---- Stream mode ----------------------------------------------------------------------

    // One session: a connection, and after each server-initiated disconnect the next one,
    // until a connection ends without one (then ReconnectLoop waits and starts a new session).
    net::awaitable<void> session() {
        auto connection = co_await open();
        for (;;) {
            auto handover = std::make_shared<Handover>(executor_);
            co_await read_frames(connection, handover);
            if (!handover->started || reconnect_.stopped()) co_return;
            // The old socket ended; the new one may still be opening.
            co_await handover->done.wait_until(Clock::now() + std::chrono::minutes(5));
            if (!handover->next)
                throw std::runtime_error("reconnect after disconnect: " + handover->error);
            connection = std::move(handover->next);
        }
    }

    // Registers (a fresh single-use ticket, valid 90 s: longconn-protocols.md §2.1) and dials.
    net::awaitable<std::shared_ptr<WebSocketConnection>> open() {
        auto registration = co_await api_->open_connection();
        if (!registration) {
            const auto& error = registration.error();
            if (!error.refused) throw std::runtime_error(error.reason);
            log_.error("dingtalk", "'", id_, "': ", error.reason,
                       ": check client_id (AppKey) and client_secret (AppSecret), and that the "
                       "app's robot receives messages in Stream mode; retrying in ",
                       kRefusedWait.count() / 1000, " s");
            co_await stopped_.wait_until(Clock::now() + kRefusedWait);
            throw std::runtime_error(error.reason);
        }
        {
            std::lock_guard lock(mutex_);
            log_.replace_secret(last_ticket_, registration->ticket);
            last_ticket_ = registration->ticket;
        }
        // dt-py pings every 60 s (stream.py keepalive l.231-237), dt-go after 120 s of silence
        // (client.go l.262-311): ping_interval_s (30 s) ends a connection silent for 60 s.
        WebSocketOptions options{.url = connect_url(*registration),
                                 .max_message_bytes = kMaxFrameBytes,
                                 .ping_interval = ping_interval_};
        auto connection = co_await websockets_.connect(std::move(options));
        reconnect_.watch(connection);
        log_.info("dingtalk", "'", id_, "': Stream connection open");
        co_return connection;
    }

    net::awaitable<void> read_frames(std::shared_ptr<WebSocketConnection> connection,
                                     std::shared_ptr<Handover> handover) {
        while (auto message = co_await connection->read()) {
            handover->last_read_ms = epoch_ms();
            auto frame = message->binary ? std::nullopt : parse_frame(message->data);
            if (!frame) {
                log_.warn("dingtalk", "'", id_, "': skipped a frame that is not JSON");
                continue;
            }
            switch (frame->type) {
                case StreamFrame::Type::system:
                    on_system(*frame, connection, handover);
                    break;
                case StreamFrame::Type::callback:
                    co_await on_callback(*frame, connection, handover->pending);
                    break;
                case StreamFrame::Type::event:
                    // Not subscribed; acknowledged so it is not redelivered.
                    log_.debug("dingtalk", "'", id_, "': acknowledged event ", frame->topic);
                    if (!frame->message_id.empty()) connection->send(event_ack(frame->message_id));
                    break;
                case StreamFrame::Type::unknown:
                    log_.warn("dingtalk", "'", id_, "': skipped a frame of unknown type");
                    if (!frame->message_id.empty())
                        connection->send(ack_frame(frame->message_id, "{}", 404, "unknown"));
                    break;
            }
        }
        log_.info("dingtalk", "'", id_, "': Stream connection closed (", connection->close_code(),
                  " ", connection->close_reason(), ")");
    }

    void on_system(const StreamFrame& frame, const std::shared_ptr<WebSocketConnection>& connection,
                   const std::shared_ptr<Handover>& handover) {
        if (frame.topic == "ping") {
            // Echo headers and data (dt-protocol l.307-335; dt-node onSystem l.250-260).
            connection->send(ack_frame(frame.message_id, frame.data));
        } else if (frame.topic == "disconnect") {
            // The server closes this connection ~10 s later (dt-protocol l.337-355). Unlike the
            // SDKs (which close, then reconnect after a backoff), the next connection opens
            // now; this one is read until it is replaced, so nothing pushed meanwhile is lost.
            if (handover->started) return;
            handover->started = true;
            log_.info("dingtalk", "'", id_,
                      "': the server asks to reconnect; opening a new "
                      "connection first");
            net::co_spawn(executor_, hand_over(connection, handover), net::detached);
        } else {
            log_.debug("dingtalk", "'", id_, "': skipped system frame ", frame.topic);
            if (!frame.message_id.empty()) connection->send(ack_frame(frame.message_id, "{}"));
        }
    }

    net::awaitable<void> hand_over(std::shared_ptr<WebSocketConnection> old,
                                   std::shared_ptr<Handover> handover) {
        try {
            handover->next = co_await open();
        } catch (const std::exception& error) {
            handover->error = error.what();
            log_.warn("dingtalk", "'", id_,
                      "': could not open the next connection: ", handover->error);
        }
        handover->done.set();
        if (!handover->next) co_return;
        // Only once its successor is open, the old one quiet and its messages acknowledged.
        auto deadline = Clock::now() + kDrainLimit;
        while (Clock::now() < deadline && !reconnect_.stopped() &&
               (*handover->pending > 0 || epoch_ms() - handover->last_read_ms < kQuiet.count()))
            co_await sleep_for(std::chrono::milliseconds(20));
        old->close(1000, "reconnected");
    }

    net::awaitable<void> on_callback(const StreamFrame& frame,
                                     std::shared_ptr<WebSocketConnection> connection,
                                     Pending pending) {
        if (frame.topic != kBotMessageTopic) {
            log_.debug("dingtalk", "'", id_, "': skipped callback ", frame.topic);
            if (!frame.message_id.empty()) connection->send(callback_ack(frame.message_id));
            co_return;
        }
        auto parsed = parse_robot_message(frame.data);
        if (!parsed.message) {
            log_.warn("dingtalk", "'", id_, "': skipped a robot message (", parsed.reason, ")");
            if (!frame.message_id.empty()) connection->send(callback_ack(frame.message_id));
            co_return;
        }
        // Stored first, then acknowledged (off this loop: it keeps reading meanwhile). A named
        // local: g++ 12 double-frees a temporary built in co_await's arguments.
        ++*pending;
        std::function<void()> acknowledge = [connection, pending, id = frame.message_id] {
            if (!id.empty()) connection->send(callback_ack(id));
            --*pending;
        };
        co_await enqueue(std::move(*parsed.message), std::move(acknowledge));
    }

    // ---- HTTP mode ------------------------------------------------------------------------

    std::optional<http::Response> check_signature(const http::Request& request) const {
        auto check = check_http_sign(request.header("timestamp"), request.header("sign"), secret_,
                                     epoch_ms());
        if (check == SignCheck::ok) return std::nullopt;
        const char* why = check == SignCheck::missing ? "unsigned request"
                          : check == SignCheck::stale ? "request with a stale timestamp"
                                                      : "request with a wrong sign";
        log_.warn("dingtalk", "'", id_, "': ", why, " from ", request.remote, " refused (401)");
        return http::Response::error(401, "invalid signature");
    }

    net::awaitable<http::Response> on_post(http::Request& request) {
        auto parsed = parse_robot_message(request.body);
        if (!parsed.message) {
            // Authentic but unreadable: skipped and acknowledged.
            log_.warn("dingtalk", "'", id_, "': skipped a robot message (", parsed.reason, ")");
            co_return http::Response::json_text(200, "{}");
        }
        try {
            co_await store(*parsed.message);
        } catch (const std::exception& error) {
            log_.error("dingtalk", "'", id_, "': could not store a message: ", error.what());
            co_return http::Response::error(500, "not stored");
        }
        co_return http::Response::json_text(200, "{}");
    }

    // ---- both ---------------------------------------------------------------------------

    // Stores a robot message and keeps its session webhook (durably when it changed); throws
    // when the message could not be stored.
    net::awaitable<void> store(const RobotMessage& message) {
        const bool rewrite = remember_webhook(message);
        co_await sink_.submit(to_inbound(message, id_), SubmitOptions{});
        if (rewrite) co_await webhooks_.persist(chat_of(message, id_).chat_id);
    }

    bool remember_webhook(const RobotMessage& message) {
        if (message.session_webhook.empty()) return false;
        if (!message.session_webhook.starts_with(webhook_base_)) {
            log_.warn("dingtalk", "'", id_, "': ignored a session webhook outside ", webhook_base_,
                      " (see webhook_base)");
            return false;
        }
        return webhooks_.remember(chat_of(message, id_).chat_id,
                                  {message.session_webhook, message.webhook_expires_ms},
                                  epoch_ms());
    }

    // Messages are stored concurrently (one socket carries every user), each sender's in the
    // order they arrived (KeyedOrder); `done` runs once stored (the ACK).
    net::awaitable<void> enqueue(RobotMessage message, std::function<void()> done) {
        std::string key = chat_of(message, id_).chat_id + '\n' + message.sender_id;
        auto work = [this, message = std::move(message), done]() -> net::awaitable<void> {
            try {
                co_await store(message);
            } catch (const std::exception& error) {
                // Robot messages are not redelivered (dt-protocol l.357-376): logged, lost.
                log_.error("dingtalk", "'", id_,
                           "': a message could not be stored: ", error.what());
            }
            done();
        };
        if (!co_await ordered_.add(std::move(key), std::move(work))) {
            log_.warn("dingtalk", "'", id_, "': a sender has ", kMaxQueuedPerSender,
                      " messages waiting to be stored; one more skipped");
            done();
        }
    }

    bool failed_through_webhook(const std::string& key) {
        std::lock_guard lock(mutex_);
        return !key.empty() && failed_keys_.contains(key);
    }

    void remember_failed(const std::string& key) {
        if (key.empty()) return;
        std::lock_guard lock(mutex_);
        if (failed_keys_.insert(key).second) failed_order_.push_back(key);
        while (failed_order_.size() > kMaxFailedKeys) {
            failed_keys_.erase(failed_order_.front());
            failed_order_.pop_front();
        }
    }

    std::string id_;
    net::any_io_executor executor_;
    InboundSink& sink_;
    Logger& log_;
    WebSocketClient& websockets_;
    bool stream_ = true;
    std::string secret_;
    std::string webhook_base_;
    std::chrono::milliseconds ping_interval_{30'000};
    std::optional<DingtalkApi> api_;
    SessionWebhooks webhooks_;
    KeyedOrder ordered_;
    AsyncEvent stopped_;
    ReconnectLoop reconnect_;
    std::mutex mutex_;
    std::string last_ticket_;
    std::set<std::string> failed_keys_;
    std::deque<std::string> failed_order_;
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<DingtalkAdapter>(std::move(deps));
}

}  // namespace bot::adapters::dingtalk
