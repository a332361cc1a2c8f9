#include "discord/discord_gateway.hpp"

#include "base/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace bot::adapters::discord {

namespace {

using Clock = std::chrono::steady_clock;

// Between sessions: ReconnectLoop's doubling backoff with jitter. A drop after a healthy
// session is resumed at once (op 7: "reconnect and resume immediately",
// opcodes-and-status-codes.mdx line 22), after a short first wait.
constexpr ReconnectOptions kReconnect{.first_delay = std::chrono::milliseconds(500),
                                      .max_delay = std::chrono::seconds(60),
                                      .healthy_after = std::chrono::minutes(1)};
// Our own close of a session we mean to resume: any code but 1000/1001, which end the session
// (gateway.mdx lines 238-244).
constexpr int kResumableClose = 4000;
// READY and dispatches are small for a bot without the GUILDS intent; a guild's worth of data
// stays far below this.
constexpr std::size_t kMaxPayloadBytes = 8 << 20;
// gateway.mdx line 507: 120 gateway sends per connection every 60 s, else disconnected.
constexpr double kSendsPerMinute = 120;
// A token Discord refuses at /gateway/bot will not fix itself: asked again this rarely
// (401s count toward the invalid-request ban, rate-limits.mdx lines 130-138).
constexpr auto kRefusedWait = std::chrono::minutes(5);
// Warn when this few session starts (Identify) are left for the day (gateway.mdx line 188).
constexpr std::int64_t kLowSessionStarts = 50;
// Hello comes first on every connection (gateway.mdx lines 120-135); a connection silent this
// long is dead (no websocket pings watch it: the heartbeat does, once Hello gave its interval).
constexpr auto kHelloTimeout = std::chrono::seconds(30);

}  // namespace

// One connection: what the heartbeat needs beside the reader.
struct Gateway::Link {
    Link(std::shared_ptr<WebSocketConnection> socket, net::any_io_executor executor)
        : connection(std::move(socket)),
          closed(executor),
          hello_or_closed(executor),
          budget(kSendsPerMinute, kSendsPerMinute, 1) {}

    // essential: heartbeats on schedule, Identify and Resume, which are few by construction;
    // anything else (a beat Discord asks for) only within the 120 / 60 s budget.
    bool send(std::string payload, bool essential) {
        {
            std::lock_guard lock(mutex);
            auto now = TokenBuckets::Clock::now();
            if (!budget.try_take("", now) && !essential) return false;
        }
        return connection->send(std::move(payload));
    }

    std::shared_ptr<WebSocketConnection> connection;
    AsyncEvent closed;           // the heartbeat's to wait on (an AsyncEvent has one waiter)
    AsyncEvent hello_or_closed;  // await_hello's
    std::atomic<bool> acked{true};
    std::atomic<bool> zombie{false};
    std::atomic<bool> hello{false};
    std::mutex mutex;
    TokenBuckets budget;
};

Gateway::Gateway(net::any_io_executor executor, WebSocketClient& websockets, DiscordApi& api,
                 Logger& log, GatewayOptions options, OnMessage on_message)
    : executor_(executor),
      websockets_(websockets),
      api_(api),
      log_(log),
      options_(std::move(options)),
      on_message_(std::move(on_message)),
      stopped_(executor),
      reconnect_(executor, log, "discord " + options_.id, kReconnect) {}

net::awaitable<void> Gateway::run() {
    bool fatal = false;
    co_await reconnect_.run([this, &fatal](const ReconnectAttempt&) { return session(&fatal); });
}

void Gateway::stop() {
    stopped_.set();
    reconnect_.stop();
}

std::string Gateway::bot_user_id() const {
    std::lock_guard lock(user_mutex_);
    return bot_user_id_;
}

void Gateway::forget_session() {
    session_id_.clear();
    resume_url_.clear();
    seq_ = 0;
}

std::chrono::milliseconds Gateway::random_between(std::chrono::milliseconds low,
                                                  std::chrono::milliseconds high) {
    std::lock_guard lock(random_mutex_);
    std::uniform_int_distribution<std::int64_t> pick(low.count(), high.count());
    return std::chrono::milliseconds(pick(random_));
}

// The URL for a new session: GET /gateway/bot (its url cached for when the call fails), whose
// session_start_limit says how many Identify calls are left today and how many may start per
// 5 s (gateway.mdx lines 183-188, 742-779).
net::awaitable<std::string> Gateway::identify_url() {
    auto answer = co_await api_.gateway_bot();
    if (answer) {
        if (auto bot = parse_gateway_bot(*answer)) {
            cached_url_ = bot->url;
            identify_gap_ = std::chrono::milliseconds(5000 / bot->max_concurrency);
            if (bot->remaining == 0) {
                log_.error("discord", "'", options_.id, "': Discord's session start limit (",
                           bot->total, " a day) is used up; waiting ",
                           bot->reset_after.count() / 1000, " s before connecting again");
                co_await stopped_.wait_until(Clock::now() + bot->reset_after);
            } else if (bot->remaining > 0 && bot->remaining <= kLowSessionStarts) {
                log_.warn("discord", "'", options_.id, "': only ", bot->remaining, " of ",
                          bot->total, " session starts left until the daily reset");
            }
        } else {
            log_.warn("discord", "'", options_.id, "': GET /gateway/bot answered no gateway url");
        }
    } else if (answer.error().kind == SendError::Kind::unauthorized) {
        log_.error("discord", "'", options_.id, "': ", answer.error().detail);
        co_await stopped_.wait_until(Clock::now() + kRefusedWait);
        throw std::runtime_error("bot_token refused");
    } else if (cached_url_.empty()) {
        throw std::runtime_error("GET /gateway/bot: " + answer.error().detail);
    }
    // max_concurrency Identify calls per 5 s; one shard here, so one per 5 s / max_concurrency.
    co_await stopped_.wait_until(last_identify_ + identify_gap_);
    co_return gateway_url(cached_url_);
}

net::awaitable<void> Gateway::session(bool* fatal) {
    if (*fatal) co_return;
    const bool resuming = !session_id_.empty() && seq_ > 0;
    // (if/else, not ?: around a co_await: g++ 12 double-frees the string temporaries there)
    std::string url;
    if (resuming) {
        url = gateway_url(resume_url_.empty() ? cached_url_ : resume_url_);
    } else {
        url = co_await identify_url();
    }
    if (stopped_.is_set()) co_return;
    if (url.empty()) {
        forget_session();
        throw std::runtime_error("no usable gateway url");
    }
    // No websocket pings: the gateway's heartbeat ACKs watch the connection.
    WebSocketOptions socket_options{.url = url,
                                    .max_message_bytes = kMaxPayloadBytes,
                                    .ping_interval = std::chrono::milliseconds(0),
                                    .write_timeout = std::chrono::seconds(10)};
    std::shared_ptr<WebSocketConnection> connection;
    try {
        connection = co_await websockets_.connect(std::move(socket_options));
    } catch (const WebSocketConnectError& error) {
        // "If you cannot reconnect or the reconnect fails" (gateway.mdx lines 233-236): the
        // next try resumes on the first URL, or a new session asks /gateway/bot again.
        if (resuming) {
            resume_url_.clear();
        } else {
            cached_url_.clear();
        }
        throw std::runtime_error(std::string("connect: ") + error.what());
    }
    reconnect_.watch(connection);
    log_.info("discord", "'", options_.id, "': gateway connected", resuming ? " (resuming)" : "");
    auto link = std::make_shared<Link>(connection, executor_);
    net::co_spawn(executor_, await_hello(link), net::detached);
    Ending ending = Ending::resume;
    try {
        ending = co_await read(link, resuming);
    } catch (...) {
        link->closed.set();
        link->hello_or_closed.set();
        throw;
    }
    link->closed.set();
    link->hello_or_closed.set();
    if (stopped_.is_set()) co_return;
    switch (ending) {
        case Ending::stop:
            *fatal = true;
            reconnect_.stop();
            co_return;
        case Ending::identify:
            forget_session();
            break;
        case Ending::resume:
            break;
    }
}

net::awaitable<Gateway::Ending> Gateway::read(std::shared_ptr<Link> link, bool resuming) {
    auto& connection = *link->connection;
    bool hello = false;
    // What we asked for when we close the connection ourselves.
    std::optional<Ending> ours;
    while (auto frame = co_await connection.read()) {
        if (frame->binary) continue;  // we ask for no compression (gateway.mdx lines 107-115)
        GatewayEvent event = parse_gateway(frame->data);
        // "cache the most recent non-null s" (gateway.mdx lines 70-75).
        if (event.seq) seq_ = *event.seq;
        switch (event.kind) {
            case GatewayEvent::Kind::hello:
                if (hello) break;
                hello = true;
                link->hello = true;
                link->hello_or_closed.set();
                net::co_spawn(executor_, heartbeat(link, event.heartbeat_interval), net::detached);
                if (resuming) {
                    link->send(resume_payload(options_.token, session_id_, seq_), true);
                } else {
                    last_identify_ = Clock::now();
                    link->send(identify_payload(options_.token, options_.intents), true);
                }
                break;
            case GatewayEvent::Kind::heartbeat_request:
                // gateway.mdx lines 173-177: beat at once (within the send budget).
                link->send(heartbeat_payload(seq_ > 0 ? std::optional(seq_.load()) : std::nullopt),
                           false);
                break;
            case GatewayEvent::Kind::heartbeat_ack:
                link->acked = true;
                break;
            case GatewayEvent::Kind::ready: {
                session_id_ = event.session_id;
                resume_url_ = event.resume_gateway_url;
                {
                    std::lock_guard lock(user_mutex_);
                    bot_user_id_ = event.user_id;
                }
                log_.info("discord", "'", options_.id, "': ready as ", event.user_name, " (",
                          event.user_id, ")");
                break;
            }
            case GatewayEvent::Kind::resumed:
                log_.info("discord", "'", options_.id, "': session resumed");
                break;
            case GatewayEvent::Kind::reconnect:
                log_.info("discord", "'", options_.id, "': Discord asked to reconnect");
                ours = Ending::resume;
                connection.close(kResumableClose, "reconnect requested");
                break;
            case GatewayEvent::Kind::invalid_session:
                // gateway.mdx lines 253, 271: d true -> resume; false -> a new session.
                log_.info("discord", "'", options_.id, "': invalid session (",
                          event.resumable ? "resumable" : "identify again", ")");
                ours = event.resumable ? Ending::resume : Ending::identify;
                if (!event.resumable) {
                    forget_session();
                    // A random 1-5 s before the new Identify, as the libraries do (discord.py,
                    // discord.js): an Identify refused for concurrency is not sent again at once.
                    co_await stopped_.wait_until(
                        Clock::now() +
                        random_between(std::chrono::seconds(1), std::chrono::seconds(5)));
                }
                connection.close(kResumableClose, "invalid session");
                break;
            case GatewayEvent::Kind::message:
                co_await on_message_(event.message);
                break;
            case GatewayEvent::Kind::other:
                break;
            case GatewayEvent::Kind::malformed:
                log_.debug("discord", "'", options_.id,
                           "': skipped a gateway payload: ", event.reason);
                break;
        }
    }
    if (link->zombie) {
        log_.warn("discord", "'", options_.id,
                  "': no heartbeat ACK since the last beat: the connection was a zombie; resuming");
        co_return Ending::resume;
    }
    if (ours) co_return *ours;
    const int code = connection.close_code();
    auto action = close_action(code);
    switch (action.kind) {
        case CloseAction::Kind::stop:
            log_.error("discord", "'", options_.id, "': gateway closed with ", code,
                       "; not reconnecting: ", action.fix);
            co_return Ending::stop;
        case CloseAction::Kind::identify:
            log_.info("discord", "'", options_.id, "': gateway closed (", code, " ",
                      connection.close_reason(), "); starting a new session");
            co_return Ending::identify;
        case CloseAction::Kind::resume:
            break;
    }
    if (!stopped_.is_set()) {
        log_.info("discord", "'", options_.id, "': gateway closed (", code, " ",
                  connection.close_reason(), "); resuming");
    }
    co_return Ending::resume;
}

net::awaitable<void> Gateway::await_hello(std::shared_ptr<Link> link) {
    co_await link->hello_or_closed.wait_until(Clock::now() + kHelloTimeout);
    if (!link->hello && link->connection->is_open())
        link->connection->close(kResumableClose, "no Hello");
}

net::awaitable<void> Gateway::heartbeat(std::shared_ptr<Link> link,
                                        std::chrono::milliseconds interval) {
    // gateway.mdx lines 144-151: the first beat after interval x jitter, then every interval.
    auto next = Clock::now() + random_between(std::chrono::milliseconds(0), interval);
    for (;;) {
        if (co_await link->closed.wait_until(next)) co_return;
        // gateway.mdx line 171: no ACK between two beats -> a zombie: close with a code other
        // than 1000/1001 (so the session survives) and resume.
        if (!link->acked.exchange(false)) {
            link->zombie = true;
            link->connection->close(kResumableClose, "no heartbeat ACK");
            co_return;
        }
        std::int64_t seq = seq_;
        if (!link->send(heartbeat_payload(seq > 0 ? std::optional(seq) : std::nullopt), true))
            co_return;
        next += interval;
    }
}

}  // namespace bot::adapters::discord
