// onebot: QQ through a OneBot v11 implementation (NapCat, Lagrange, LLOneBot). Reverse
// websocket (the implementation dials contactbot; several accounts on one route) or forward
// (contactbot dials it). Config and what users see: adapters/onebot/README.md.
#include "base/crypto.hpp"
#include "base/keyed_order.hpp"
#include "base/log.hpp"
#include "bot/adapter.hpp"
#include "bot/net/reconnect_loop.hpp"
#include "onebot/connection_table.hpp"
#include "onebot/onebot_codec.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <atomic>
#include <map>
#include <mutex>

namespace bot::adapters::onebot {

namespace {

using Clock = std::chrono::steady_clock;

// Messages stored at once across all connections; the read loops wait beyond it, so a flood
// cannot queue without bound (the implementation then holds it).
constexpr std::size_t kMaxSubmitting = 4096;
// ...of which one sender may hold this many (a flood beyond it is skipped).
constexpr std::size_t kMaxQueuedPerSender = 64;
// Silent for this many heartbeat intervals: the connection is dead (issue 22 §4).
constexpr int kMissedHeartbeats = 3;
// Forward mode's reconnect backoff, reset after a connection that lasted; a refused token
// waits the longest.
constexpr ReconnectOptions kReconnect{.first_delay = std::chrono::milliseconds(500),
                                      .max_delay = std::chrono::seconds(30),
                                      .healthy_after = std::chrono::minutes(1)};
constexpr std::chrono::milliseconds kRefusedWait = kReconnect.max_delay;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
        .count();
}

// A reverse connection: the implementation dialled our route.
class ServerLink final : public Link {
public:
    explicit ServerLink(std::shared_ptr<http::WebSocket> socket) : socket_(std::move(socket)) {}
    net::awaitable<std::optional<std::string>> read() override { return socket_->read(); }
    bool send(std::string text) override {
        if (!socket_->is_open()) return false;
        socket_->send(std::move(text));
        return true;
    }
    void close(std::string reason) override { socket_->close(std::move(reason)); }

private:
    std::shared_ptr<http::WebSocket> socket_;
};

// A forward connection: contactbot dialled the implementation's websocket server.
class ClientLink final : public Link {
public:
    explicit ClientLink(std::shared_ptr<WebSocketConnection> connection)
        : connection_(std::move(connection)) {}
    net::awaitable<std::optional<std::string>> read() override {
        auto message = co_await connection_->read();
        if (!message) co_return std::nullopt;
        co_return std::move(message->data);
    }
    bool send(std::string text) override { return connection_->send(std::move(text)); }
    void close(std::string reason) override { connection_->close(1000, std::move(reason)); }

private:
    std::shared_ptr<WebSocketConnection> connection_;
};

// When a connection last spoke, and the interval its heartbeats announce.
struct Liveness {
    explicit Liveness(net::any_io_executor executor) : closed(std::move(executor)) {}
    std::atomic<std::int64_t> last_ms{now_ms()};
    std::atomic<std::int64_t> interval_ms{0};
    AsyncEvent closed;
};

class OnebotAdapter final : public Adapter {
public:
    explicit OnebotAdapter(AdapterDeps deps)
        : id_(deps.id),
          executor_(deps.executor),
          sink_(deps.sink),
          log_(deps.log),
          websockets_(deps.websockets),
          table_(deps.executor),
          ordered_(deps.executor, kMaxSubmitting, kMaxQueuedPerSender),
          stopped_(deps.executor),
          reconnect_(deps.executor, deps.log, "onebot " + id_, kReconnect) {
        auto& config = deps.config;
        config.string("type", "onebot");
        std::string mode = config.string("mode", "reverse_ws");
        if (mode != "reverse_ws" && mode != "forward_ws")
            config.problem("mode", "must be \"reverse_ws\" or \"forward_ws\"");
        forward_ = mode == "forward_ws";
        std::string path = config.url_path("path", "/onebot/" + id_);
        url_ = config.ws_url("url", "");
        if (forward_ && url_.empty() && !config.has("url"))
            config.problem("url", "forward_ws needs the implementation's ws:// or wss:// URL");
        token_ = config.string("access_token", "");
        max_text_chars_ =
            static_cast<std::size_t>(config.integer("max_text_chars", 3000, 50, 100000));
        action_timeout_ = std::chrono::seconds(config.integer("action_timeout_s", 15, 1, 300));
        reconnect_wait_ = std::chrono::seconds(config.integer("reconnect_wait_s", 10, 0, 300));
        max_frame_bytes_ =
            static_cast<std::size_t>(config.integer("max_frame_bytes", 1 << 20, 4096, 64 << 20));
        config.done();
        rules_ = {.adapter_id = id_, .command_prefix = deps.command_prefix};
        if (!config.errors().empty()) return;

        if (!forward_) {
            deps.routes.add_websocket(
                path,
                [this](std::shared_ptr<http::WebSocket> socket) {
                    return serve(std::move(socket));
                },
                [this](const http::Request& request) { return check_upgrade(request); },
                http::RouteOptions{.max_message = max_frame_bytes_});
        }
        if (deps.validate_only) return;
        if (!token_.empty()) log_.add_secret(token_);
        if (!forward_ && token_.empty()) {
            log_.warn("onebot", "'", id_, "' has no access_token: anyone who reaches ", path,
                      " can speak as a QQ account; keep it on loopback or set one");
        }
    }

    Capabilities capabilities() const override {
        // QQ's text segments show markdown symbols as typed: replies arrive as plain text.
        return {.max_text = {.max = max_text_chars_, .unit = TextLimit::Unit::code_points},
                .text_format = TextFormat::plain,
                .sees_group_chatter = true};  // OneBot reports every group message
    }

    net::awaitable<SendResult> send(Outbound message) override {
        // The account that received the message answers it.
        auto replied = parse_stored_id(message.reply_to);
        if (!replied) {
            co_return SendError{.kind = SendError::Kind::bad_request,
                                .detail = "not a OneBot message id: " + message.reply_to};
        }
        if (!chat_target(message.chat.chat_id)) {
            co_return SendError{.kind = SendError::Kind::bad_request,
                                .detail = "not a QQ chat id: " + message.chat.chat_id};
        }
        // The core remembers a group message's id (the "<self_id>:<message_id>" that
        // to_send_result makes, the form parse_frame gives quotes_message_id): a reply quoting
        // it is addressed to the bot.
        co_return co_await table_.call(
            replied->self_id,
            [&message](std::string_view echo) { return *send_action(message, echo); },
            action_timeout_, reconnect_wait_);
    }

    // Forward mode: dials the implementation and reads it, again after every drop, with
    // ReconnectLoop's backoff (reset once a connection stayed up a minute); reverse mode has
    // nothing to run.
    net::awaitable<void> run() override {
        if (!forward_) co_return;
        co_await reconnect_.run([this](const ReconnectAttempt&) { return dial(); });
    }

    void stop() override {
        stopped_.set();
        reconnect_.stop();
        table_.close_all("contactbot is stopping");
    }

private:
    // One forward session. A refused token will not fix itself soon: the session waits the
    // longest backoff itself before it ends, as ReconnectLoop only backs off by failures in a
    // row (its first waits are short).
    net::awaitable<void> dial() {
        bool refused = false;
        std::string reason;
        try {
            WebSocketOptions options{.url = url_, .max_message_bytes = max_frame_bytes_};
            // communication/authorization.md lines 9-19.
            if (!token_.empty()) options.headers.push_back({"Authorization", "Bearer " + token_});
            auto connection = co_await websockets_.connect(std::move(options));
            reconnect_.watch(connection);
            log_.info("onebot", "'", id_, "': connected to ", url_);
            refused = !co_await read_frames(std::make_shared<ClientLink>(connection), 0, true);
            log_.info("onebot", "'", id_, "': disconnected from ", url_);
            if (refused) reason = "the implementation refused access_token";
        } catch (const WebSocketConnectError& error) {
            if (error.status() != 401 && error.status() != 403) throw;
            refused = true;
            reason = error.what();
            log_.warn("onebot", "'", id_, "': cannot connect to ", url_, ": ", reason,
                      " (is access_token right?)");
        }
        if (!refused) co_return;
        co_await stopped_.wait_until(Clock::now() + kRefusedWait);
        throw std::runtime_error(reason);
    }

    // Runs before the upgrade (communication/authorization.md lines 27-35: the implementation
    // sends Authorization: Bearer <access_token>; ?access_token= for those that cannot).
    std::optional<http::Response> check_upgrade(const http::Request& request) const {
        if (!token_.empty()) {
            std::string given;
            if (auto header = request.header("Authorization"); header.starts_with("Bearer ")) {
                given = header.substr(7);
            } else if (auto param = request.query_param("access_token", false)) {
                given = std::move(*param);
            }
            if (!crypto::constant_time_equal(given, token_)) {
                log_.warn("onebot", "'", id_, "' refused a connection from ", request.remote, ": ",
                          given.empty() ? "no" : "wrong", " access_token");
                return http::Response::error(401, "access_token required");
            }
        }
        // communication/ws-reverse.md lines 9-30: X-Self-ID is the account, X-Client-Role its
        // kind of connection.
        auto role = request.header("X-Client-Role");
        if (!http::iequals(role, "Universal") && !http::iequals(role, "API") &&
            !http::iequals(role, "Event")) {
            return http::Response::error(400, "X-Client-Role must be Universal, API or Event");
        }
        if (!parse_id(request.header("X-Self-ID")))
            return http::Response::error(400, "X-Self-ID must be the QQ number of the account");
        return std::nullopt;
    }

    net::awaitable<void> serve(std::shared_ptr<http::WebSocket> socket) {
        const auto& request = socket->request();
        const std::int64_t self_id = *parse_id(request.header("X-Self-ID"));
        // An Event connection only reports; Universal and API ones also carry actions.
        const bool carries_actions = !http::iequals(request.header("X-Client-Role"), "Event");
        log_.info("onebot", "'", id_, "': QQ account ", self_id, " connected (",
                  request.header("X-Client-Role"), ")");
        co_await read_frames(std::make_shared<ServerLink>(std::move(socket)), self_id,
                             carries_actions);
        log_.info("onebot", "'", id_, "': QQ account ", self_id, " disconnected");
    }

    // Reads one connection until it closes, with its heartbeat watched beside. self_id 0 (a
    // forward connection): the account is the first event's self_id (NapCat opens with a
    // lifecycle event). Returns false when the implementation refused our access token.
    net::awaitable<bool> read_frames(std::shared_ptr<Link> link, std::int64_t self_id,
                                     bool carries_actions) {
        auto liveness = std::make_shared<Liveness>(executor_);
        net::co_spawn(executor_, watch_heartbeats(link, liveness), net::detached);
        bool attached = false;
        if (self_id != 0 && carries_actions) {
            table_.attach(self_id, link);
            attached = true;
        }
        bool accepted = true;
        while (auto text = co_await link->read()) {
            liveness->last_ms = now_ms();
            Frame frame = parse_frame(*text, self_id, rules_);
            if (!attached && carries_actions && frame.self_id != 0) {
                self_id = frame.self_id;
                table_.attach(self_id, link);
                attached = true;
            }
            switch (frame.kind) {
                case Frame::Kind::message:
                    co_await submit(std::move(frame.inbound));
                    break;
                case Frame::Kind::heartbeat:
                    liveness->interval_ms = frame.interval.count();
                    break;
                case Frame::Kind::lifecycle:
                    log_.debug("onebot", "'", id_, "': account ", self_id, " lifecycle ",
                               frame.reason);
                    break;
                case Frame::Kind::answer:
                    // NapCat's forward server answers a wrong token with retcode 1403 and no echo,
                    // then closes (protocols.md §11): not a drop to retry at once.
                    if (frame.answer.echo.empty() &&
                        (frame.answer.retcode == 1401 || frame.answer.retcode == 1403)) {
                        log_.error("onebot", "'", id_,
                                   "': the implementation refused access_token");
                        accepted = false;
                        link->close("access_token refused");
                    } else if (!table_.answer(*link, std::move(frame.answer))) {
                        log_.debug("onebot", "'", id_, "': an answer nobody waits for");
                    }
                    break;
                case Frame::Kind::ignored:
                    log_.debug("onebot", "'", id_, "': skipped a frame: ", frame.reason);
                    break;
            }
        }
        liveness->closed.set();
        if (attached) table_.detach(self_id, link);
        co_return accepted;
    }

    // Closes a connection silent for kMissedHeartbeats of the intervals its heartbeats
    // announce (event/meta.md lines 21-30); without heartbeats the socket's own end is
    // awaited.
    net::awaitable<void> watch_heartbeats(std::shared_ptr<Link> link,
                                          std::shared_ptr<Liveness> liveness) {
        for (;;) {
            std::int64_t interval = liveness->interval_ms;
            auto period = std::chrono::milliseconds(interval > 0 ? interval : 1000);
            if (co_await liveness->closed.wait_until(Clock::now() + period)) co_return;
            if (interval > 0 && now_ms() - liveness->last_ms > kMissedHeartbeats * interval) {
                log_.warn("onebot", "'", id_, "': no heartbeat for ", kMissedHeartbeats,
                          " intervals; closing the connection");
                link->close("heartbeat lost");
                co_return;
            }
        }
    }

    // Messages are stored concurrently (a socket carries every user of an account), but each
    // sender's in the order they arrived (KeyedOrder). One flooding sender cannot take every
    // slot: the read loop waits for a slot, and behind it every user's messages, the answers
    // and the heartbeats.
    net::awaitable<void> submit(Inbound inbound) {
        std::string key = inbound.chat.chat_id + '\n' + inbound.sender_id;
        auto store = [this, inbound = std::move(inbound)]() mutable -> net::awaitable<void> {
            try {
                co_await sink_.submit(std::move(inbound), SubmitOptions{});
            } catch (const std::exception& error) {
                // No acknowledgement exists in OneBot to make the implementation send it again.
                log_.error("onebot", "'", id_, "': a message could not be stored: ", error.what());
            }
        };
        if (!co_await ordered_.add(std::move(key), std::move(store))) {
            log_.warn("onebot", "'", id_, "': a sender has ", kMaxQueuedPerSender,
                      " messages waiting to be stored; one more skipped");
        }
    }

    std::string id_;
    net::any_io_executor executor_;
    InboundSink& sink_;
    Logger& log_;
    WebSocketClient& websockets_;
    bool forward_ = false;
    std::string url_;
    std::string token_;
    std::size_t max_text_chars_ = 3000;
    std::chrono::seconds action_timeout_{15};
    std::chrono::seconds reconnect_wait_{10};
    std::size_t max_frame_bytes_ = 1 << 20;
    AddressRules rules_;
    ConnectionTable table_;
    KeyedOrder ordered_;
    AsyncEvent stopped_;
    ReconnectLoop reconnect_;
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<OnebotAdapter>(std::move(deps));
}

}  // namespace bot::adapters::onebot
