// feishu: Feishu (Lark abroad) in either of its two deliveries. "websocket" (default): the
// long connection the bot dials (no public address, no certificate), protobuf frames on a
// websocket (feishu_frame), each event answered with a response frame once stored.
// "webhook": Feishu POSTs events to our route (token, signature, AES). Replies go through the
// reply API, streamed into a card as the LLM writes (streaming: "card"). See README.md.
#include "base/crypto.hpp"
#include "base/keyed_order.hpp"
#include "base/log.hpp"
#include "bot/adapter.hpp"
#include "bot/net/reconnect_loop.hpp"
#include "feishu/feishu_api.hpp"
#include "feishu/feishu_card_stream.hpp"
#include "feishu/feishu_codec.hpp"
#include "feishu/feishu_frame.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <atomic>
#include <charconv>
#include <random>

namespace bot::adapters::feishu {

namespace {

using Clock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

// One part of a reply, in UTF-8 bytes: a post message's content is limited to 30 KB and a
// card's markdown element refuses content past ~30,000 characters (code 230099; node-sdk rolls
// over to a new card there, longconn-protocols.md §1.6). 10,000 bytes stay well inside both,
// also after the JSON escapes of a post's content (a JSON string inside JSON).
constexpr std::size_t kMaxTextBytes = 10'000;
// Events are small JSON documents; an encrypted one is base64 of it (4/3 larger).
constexpr std::size_t kBodyLimit = 256 * 1024;
// The webhook's X-Lark-Request-Timestamp window. Feishu retries a push it saw fail for up to
// ~6 h (protocols.md §3: 5 s, 5 min, 1 h, 6 h [2nd]), and whether a retry is signed anew is
// not documented: 7 h lets the last retry in either way. A replay inside the window is
// harmless: its message_id is stored already and the core answers it once.
constexpr std::chrono::hours kPastWindow{7};
constexpr std::chrono::minutes kFutureWindow{5};
// Messages being stored at once from the long connection; the read loop waits beyond it.
constexpr std::size_t kMaxSubmitting = 1024;
// ...of which one sender may hold this many (beyond it Feishu is asked to resend: 500).
constexpr std::size_t kMaxQueuedPerSender = 64;
// How long a streamed reply is followed (then the outbox still delivers the final text).
constexpr std::chrono::minutes kWatch{10};
// The long connection's backoff between failed dials: ReconnectLoop's doubling up to the
// server's ReconnectInterval (the SDKs' default, 120 s, until the endpoint answer or a pong
// says otherwise; the SDKs wait it in full every time, we double up to it); a session after a
// healthy one first waits the server's ReconnectNonce (below), as the SDKs do.
constexpr ReconnectOptions kReconnect{.first_delay = std::chrono::seconds(1),
                                      .max_delay = std::chrono::seconds(120),
                                      .healthy_after = std::chrono::minutes(1)};
// The endpoint refused our app (403, 514, 1000040344 no credential, 1000040350 too many
// connections): nothing changes without the operator; ask again rarely.
constexpr std::chrono::minutes kOperatorErrorWait{5};
// The bot's open_id is asked again at most this often while unknown.
constexpr std::chrono::seconds kBotInfoRetry{30};

bool same_secret(std::string_view given, std::string_view expected) {
    return !expected.empty() && crypto::constant_time_equal(given, expected);
}

std::string endpoint_fix(std::int64_t code) {
    switch (code) {
        case 514:
        case 1000040344:
            return "check app_id and app_secret";
        case 403:
            return "the app may not use the long connection: it must be a self-built app with "
                   "'Receive events through persistent connection' selected";
        case 1000040350:
            return "too many connections for this app (at most 50): stop other instances";
        default:
            return "check the app in the Developer Console";
    }
}

// One long connection: what the ping loop and the response frames need, shared so they can
// outlive the read loop without touching the adapter.
struct Link {
    Link(std::shared_ptr<WebSocketConnection> socket, std::int32_t service,
         net::any_io_executor executor, int ping_s)
        : connection(std::move(socket)), service_id(service), closed(executor), ping_s(ping_s) {}
    std::shared_ptr<WebSocketConnection> connection;
    std::int32_t service_id;
    AsyncEvent closed;
    std::atomic<int> ping_s;
};

net::awaitable<void> ping_loop(std::shared_ptr<Link> link) {
    // Right away and then every PingInterval (go-sdk pingLoop l.296-319); a pong's
    // ClientConfig may change the interval.
    for (;;) {
        if (!link->connection->send(encode_frame(ping_frame(link->service_id)), true)) co_return;
        auto next = Clock::now() + std::chrono::seconds(link->ping_s.load());
        if (co_await link->closed.wait_until(next)) co_return;
    }
}

class FeishuAdapter final : public Adapter {
public:
    explicit FeishuAdapter(AdapterDeps deps)
        : id_(deps.id),
          executor_(deps.executor),
          sink_(deps.sink),
          log_(deps.log),
          state_(deps.state),
          websockets_(deps.websockets),
          ordered_(deps.executor, kMaxSubmitting, kMaxQueuedPerSender),
          stopped_(deps.executor),
          reconnect_(deps.executor, deps.log, "feishu " + id_, kReconnect) {
        auto& config = deps.config;
        config.string("type", "feishu");
        std::string mode = config.string("mode", "websocket");
        if (mode != "websocket" && mode != "webhook")
            config.problem("mode", "must be \"websocket\" or \"webhook\"");
        webhook_ = mode == "webhook";
        std::string app_id = config.required_string("app_id");
        std::string app_secret = config.required_string("app_secret");
        verification_token_ = config.string("verification_token", "");
        encrypt_key_ = config.string("encrypt_key", "");
        std::string path = config.url_path("path", "/feishu/" + id_);
        std::string domain = config.url("domain", "https://open.feishu.cn");
        std::string streaming = config.string("streaming", "card");
        if (streaming != "card" && streaming != "off")
            config.problem("streaming", "must be \"card\" or \"off\"");
        streaming_card_ = streaming == "card";
        if (webhook_ && verification_token_.empty()) {
            config.problem("verification_token",
                           "webhook mode needs the Verification Token (Developer Console > "
                           "Events & Callbacks > Encryption Strategy)");
        }
        config.done();
        if (!config.errors().empty()) return;

        if (webhook_) {
            http::RouteOptions options;
            options.body_limit = kBodyLimit;
            deps.routes.add(
                "POST", path,
                [this](http::Request& request, http::ResponseStream&) { return on_push(request); },
                options);
        }
        if (deps.validate_only) return;
        log_.add_secret(app_secret);
        if (!verification_token_.empty()) log_.add_secret(verification_token_);
        if (!encrypt_key_.empty()) log_.add_secret(encrypt_key_);
        if (webhook_ && encrypt_key_.empty()) {
            log_.warn("feishu", "'", id_,
                      "' has no encrypt_key: pushes are checked by the "
                      "verification token only (no signature); set an Encrypt Key");
        }
        api_.emplace(deps.http, domain, app_id, app_secret, log_, id_);
        cards_.emplace(executor_, *api_, state_, log_, id_, CardOptions{.max_text = max_text()});
    }

    // With the im:message.group_msg scope Feishu sends every group message, not only @-mentions.
    Capabilities capabilities() const override {
        return {.max_text = max_text(),
                .text_format = TextFormat::feishu_markdown,
                .sees_group_chatter = true};
    }

    net::awaitable<SendResult> send(Outbound message) override {
        if (streaming_card_ && message.part == 1 && !message.reply_to.empty()) {
            if (auto card = co_await cards_->finish(message.reply_to)) {
                auto result = co_await finish_card(*card, message);
                if (result) co_return result;
                // The card refuses (expired, deleted): the text goes as a message instead.
                if (result.error().kind == SendError::Kind::transient ||
                    result.error().kind == SendError::Kind::rate_limited) {
                    co_return result;
                }
                log_.warn("feishu", "'", id_, "': the card refused the final text (",
                          result.error().detail, "); sending it as a message");
                co_await cards_->delivered(message.reply_to);
            }
        }
        cards_->take(message.chat.chat_id);
        if (message.reply_to.empty()) {
            co_return co_await api_->send_to_chat(message.chat.chat_id, message.text,
                                                  message.delivery_key);
        }
        co_return co_await api_->reply(message.reply_to,
                                       post_reply_body(message.text, message.delivery_key));
    }

    net::awaitable<void> run() override {
        if (webhook_) {
            // The bot's open_id, for @-mentions in groups: asked until known.
            while (!stopped_.is_set() && co_await learn_bot_open_id() == "") {
                co_await stopped_.wait_until(Clock::now() + kBotInfoRetry);
            }
            co_return;
        }
        co_await reconnect_.run(
            [this](const ReconnectAttempt& attempt) { return session(attempt); });
        // Events still being stored hold this adapter: wait for them (briefly).
        auto deadline = Clock::now() + std::chrono::seconds(5);
        while (ordered_.keys() > 0 && Clock::now() < deadline)
            co_await sleep_for(std::chrono::milliseconds(10));
    }

    void stop() override {
        stopped_.set();
        reconnect_.stop();
    }

private:
    TextLimit max_text() const {
        return {.max = kMaxTextBytes, .unit = TextLimit::Unit::utf8_bytes};
    }

    // The final text into the card, then streaming_mode off; the card's message id.
    net::awaitable<SendResult> finish_card(const CardRef& card, const Outbound& message) {
        cards_->take(message.chat.chat_id);
        auto written = co_await api_->update_card_text(
            card.card_id, kCardElement,
            card_content_body(message.text, card.sequence, message.delivery_key));
        if (!written) co_return written.error();
        auto closed = co_await api_->finish_card(
            card.card_id, card_finish_body(card.sequence + 1, message.delivery_key + "-end"));
        if (!closed) {
            // The text is there; the card only keeps its "writing" look until Feishu ends it.
            log_.debug("feishu", "'", id_,
                       "': streaming_mode not turned off: ", closed.error().detail);
        }
        co_await cards_->delivered(message.reply_to);
        co_return card.message_id;
    }

    // --- groups: the bot's own open_id --------------------------------------------------

    std::string bot_open_id() const {
        std::lock_guard lock(bot_mutex_);
        return bot_open_id_;
    }

    // Asks Feishu for the bot's open_id unless known, at most once per kBotInfoRetry and one
    // caller at a time (the others go on without it: their group message then reads as not
    // addressed to the bot, and the next one is checked again).
    net::awaitable<std::string> learn_bot_open_id() {
        {
            std::lock_guard lock(bot_mutex_);
            if (!bot_open_id_.empty()) co_return bot_open_id_;
            auto now = Clock::now();
            if (bot_fetching_ ||
                (bot_asked_ != Clock::time_point{} && now - bot_asked_ < kBotInfoRetry))
                co_return std::string();
            bot_fetching_ = true;
            bot_asked_ = now;
        }
        auto open_id = co_await api_->bot_open_id();
        std::lock_guard lock(bot_mutex_);
        bot_fetching_ = false;
        if (!open_id.empty()) {
            bot_open_id_ = open_id;
            log_.info("feishu", "'", id_, "': the bot's open_id is known");
        }
        co_return open_id;
    }

    // A group message with mentions read before the bot's open_id was known is read again once
    // it is (asked for here, after the event was authenticated).
    net::awaitable<Event> with_bot_open_id(std::string_view document, Event event) {
        if (event.kind == Event::Kind::message && event.message.is_group &&
            !event.message.mentions.empty() && bot_open_id().empty()) {
            if (auto learned = co_await learn_bot_open_id(); !learned.empty())
                event = parse_event(document, learned);
        }
        co_return event;
    }

    // --- messages (both modes) ----------------------------------------------------------

    // Stores one message; false when it could not be stored (ask Feishu to deliver it again).
    net::awaitable<bool> on_message(FeishuMessage message) {
        if (!message.sender_type.empty() && message.sender_type != "user") {
            log_.debug("feishu", "'", id_, "': skipped a message from a ", message.sender_type);
            co_return true;
        }
        Inbound inbound{
            .chat = {.adapter_id = id_, .chat_id = message.chat_id, .is_group = message.is_group},
            .sender_id = message.sender_open_id,
            .sender_name = message.sender_open_id,
            .message_id = message.message_id,  // the core dedupes Feishu's repeats
            .text = std::move(message.text),
            .mentions_me = message.mentions_me,
            .quotes_message_id = message.parent_id,
            .at = message.at.value_or(SystemClock::now())};
        if (inbound.text.empty()) {
            if (message.message_type == "text" || message.message_type == "post") {
                log_.debug("feishu", "'", id_, "': skipped an empty message");
                co_return true;
            }
            inbound.unsupported = message.message_type.empty() ? "message" : message.message_type;
        }
        CardStreams::Handle card;
        SubmitOptions options;
        if (streaming_card_ && (card = cards_->expect(inbound.chat.chat_id, inbound.message_id))) {
            options = SubmitOptions{.wait = kWatch, .claim = false, .deltas = true};
        }
        Submission submission;
        try {
            submission = co_await sink_.submit(std::move(inbound), options);
        } catch (const std::exception& error) {
            if (card) cards_->drop(card);
            log_.error("feishu", "'", id_, "': could not store a message: ", error.what());
            co_return false;
        }
        if (card) {
            if (submission.status == Submission::Status::accepted && submission.watch.valid()) {
                cards_->follow(std::move(card), std::move(submission.watch));
            } else {
                cards_->drop(card);
            }
        }
        co_return true;
    }

    // --- webhook ------------------------------------------------------------------------

    http::Response refuse(const http::Request& request, std::string_view what) const {
        log_.warn("feishu", "'", id_, "': ", what, " from ", request.remote, " refused (401)");
        return http::Response::text(401, "invalid request");
    }

    bool fresh(std::string_view timestamp) const {
        long long seconds = 0;
        auto [end, ec] =
            std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), seconds);
        if (ec != std::errc() || end != timestamp.data() + timestamp.size()) return false;
        auto now =
            std::chrono::duration_cast<std::chrono::seconds>(SystemClock::now().time_since_epoch())
                .count();
        return seconds >= now - std::chrono::seconds(kPastWindow).count() &&
               seconds <= now + std::chrono::seconds(kFutureWindow).count();
    }

    net::awaitable<http::Response> on_push(http::Request& request) {
        std::string document;
        if (auto encrypted = encrypted_field(request.body)) {
            if (encrypt_key_.empty())
                co_return refuse(request, "an encrypted push, but no encrypt_key is set");
            auto plain = decrypt_push(encrypt_key_, *encrypted);
            if (!plain) co_return refuse(request, "a push that does not decrypt");
            document = std::move(*plain);
        } else {
            document = request.body;
        }
        auto event = parse_event(document, bot_open_id());
        // The URL check first and fast (1 s): token only, as the SDK does (no signature).
        if (event.kind == Event::Kind::url_verification) {
            if (!same_secret(event.token, verification_token_))
                co_return refuse(request, "a URL verification with a wrong token");
            log_.info("feishu", "'", id_, "': URL verification answered");
            co_return http::Response::json_text(200, challenge_answer(event.challenge));
        }
        if (!encrypt_key_.empty()) {
            auto timestamp = request.header("X-Lark-Request-Timestamp");
            if (!verify_push_signature(timestamp, request.header("X-Lark-Request-Nonce"),
                                       encrypt_key_, request.body,
                                       request.header("X-Lark-Signature"))) {
                co_return refuse(request, "a push with a wrong signature");
            }
            if (!fresh(timestamp)) co_return refuse(request, "a stale push");
        }
        if (!same_secret(event.token, verification_token_))
            co_return refuse(request, "a push with a wrong token");
        event = co_await with_bot_open_id(document, std::move(event));
        switch (event.kind) {
            case Event::Kind::message:
                if (!co_await on_message(std::move(event.message)))
                    co_return http::Response::text(500, "not stored");
                break;
            case Event::Kind::other:
                log_.debug("feishu", "'", id_, "': skipped ", event.reason);
                break;
            default:
                log_.warn("feishu", "'", id_, "': skipped an event: ", event.reason);
                break;
        }
        co_return http::Response::json_text(200, "{}");
    }

    // --- long connection ----------------------------------------------------------------

    net::awaitable<void> session(const ReconnectAttempt& attempt) {
        if (attempt.number > 1 && attempt.failures == 0 && config_.reconnect_nonce_s > 0) {
            // After a connection that lasted: a random wait within ReconnectNonce, so many
            // clients dropped together do not return together (node-sdk reConnect l.102518).
            std::uniform_int_distribution<int> pick(0, config_.reconnect_nonce_s * 1000);
            auto wait = std::chrono::milliseconds(pick(random_));
            if (co_await stopped_.wait_until(Clock::now() + wait)) co_return;
        }
        if (bot_open_id().empty()) co_await learn_bot_open_id();
        auto endpoint = co_await api_->endpoint(config_);
        if (endpoint.kind == Endpoint::Kind::operator_error) {
            log_.error("feishu", "'", id_, "': the long connection was refused (", endpoint.reason,
                       "): ", endpoint_fix(endpoint.code));
            co_await stopped_.wait_until(Clock::now() + kOperatorErrorWait);
            throw std::runtime_error("endpoint refused: " + endpoint.reason);
        }
        if (endpoint.kind != Endpoint::Kind::ok)
            throw std::runtime_error("endpoint: " + endpoint.reason);
        config_ = endpoint.config;
        reconnect_.set_max_delay(std::chrono::seconds(config_.reconnect_interval_s));
        // The URL carries a ticket: it is never logged (node-sdk detachSocket).
        WebSocketOptions options{.url = endpoint.url, .max_message_bytes = kMaxFrameBytes};
        // Dead-peer detection (two silent intervals end the connection): at least the app's
        // PingInterval, so the server's pongs to our pings keep it alive even if its gateway
        // did not answer websocket-level pings.
        options.ping_interval = std::max<std::chrono::milliseconds>(
            std::chrono::seconds(30), std::chrono::seconds(config_.ping_interval_s));
        std::shared_ptr<WebSocketConnection> connection;
        try {
            connection = co_await websockets_.connect(std::move(options));
        } catch (const WebSocketConnectError& error) {
            throw std::runtime_error("connect: HTTP " + std::to_string(error.status()));
        }
        reconnect_.watch(connection);
        log_.info("feishu", "'", id_, "': long connection open (device ", endpoint.device_id, ")");
        auto link = std::make_shared<Link>(connection, endpoint.service_id, executor_,
                                           config_.ping_interval_s);
        net::co_spawn(executor_, ping_loop(link), net::detached);
        Fragments fragments;
        while (auto message = co_await connection->read()) {
            if (!message->binary) continue;  // go-sdk drops text messages (l.346)
            auto frame = decode_frame(message->data);
            if (!frame) {
                log_.warn("feishu", "'", id_, "': skipped a frame that is not a pbbp2.Frame");
                continue;
            }
            co_await on_frame(link, std::move(*frame), fragments);
        }
        link->closed.set();
        log_.info("feishu", "'", id_, "': long connection closed (", connection->close_code(), " ",
                  connection->close_reason(), ")");
    }

    net::awaitable<void> on_frame(std::shared_ptr<Link> link, Frame frame, Fragments& fragments) {
        auto type = frame.header("type");
        if (frame.method == Frame::control) {
            // A pong's payload is the server's ClientConfig (go-sdk handleControlFrame
            // l.377-395); a ping from the server is not answered (no SDK does).
            if (type == "pong" && !frame.payload.empty()) {
                apply_client_config(config_, frame.payload);
                link->ping_s = config_.ping_interval_s;
                reconnect_.set_max_delay(std::chrono::seconds(config_.reconnect_interval_s));
            }
            co_return;
        }
        if (frame.method != Frame::data) co_return;
        auto part = fragments.add(frame.header("message_id"), frame.header("sum"),
                                  frame.header("seq"), std::move(frame.payload), Clock::now());
        if (part.kind == Fragments::Result::Kind::pending) co_return;
        if (part.kind == Fragments::Result::Kind::refused) {
            log_.warn("feishu", "'", id_, "': skipped a data frame (", part.reason, ")");
            respond(*link, std::move(frame), 200, Clock::now());
            co_return;
        }
        // Stored concurrently (one socket carries every user), each sender's in the order they
        // arrived (KeyedOrder); the read loop waits beyond kMaxSubmitting, so a flood queues at
        // Feishu, not here. No token check: the connection itself is authenticated (node-sdk
        // invoke(..., {needCheck:false}) l.102700).
        const bool is_event = frame.header("type") == "event";
        Event parsed = is_event ? parse_event(part.payload, bot_open_id()) : Event{};
        std::string key = parsed.kind == Event::Kind::message
                              ? parsed.message.chat_id + '\n' + parsed.message.sender_open_id
                              : std::string(frame.header("message_id"));  // in no order
        auto started = Clock::now();
        auto handle = [this, link, frame, is_event, started, payload = std::move(part.payload),
                       parsed = std::move(parsed)]() mutable -> net::awaitable<void> {
            co_await handle_data(link, std::move(frame), is_event, std::move(payload),
                                 std::move(parsed), started);
        };
        if (!co_await ordered_.add(std::move(key), std::move(handle))) {
            log_.warn("feishu", "'", id_, "': a sender has ", kMaxQueuedPerSender,
                      " messages waiting to be stored; one more is left for Feishu to resend");
            respond(*link, std::move(frame), 500, started);
        }
    }

    net::awaitable<void> handle_data(std::shared_ptr<Link> link, Frame frame, bool is_event,
                                     std::string payload, Event parsed, Clock::time_point started) {
        int code = 200;
        if (is_event) {
            auto event = co_await with_bot_open_id(payload, std::move(parsed));
            if (event.kind == Event::Kind::message) {
                if (!co_await on_message(std::move(event.message))) code = 500;
            } else if (event.kind == Event::Kind::other) {
                log_.debug("feishu", "'", id_, "': skipped ", event.reason);
            } else {
                log_.warn("feishu", "'", id_, "': skipped an event: ", event.reason);
            }
        }
        respond(*link, std::move(frame), code, started);
    }

    // The response frame: the event's frame again (SeqID, LogID, service, headers) plus biz_rt,
    // with {"code":...} as payload (go-sdk handleDataFrame l.397-447). 500 asks for the event
    // again. Feishu waits 3 s for it.
    static void respond(Link& link, Frame frame, int code, Clock::time_point started) {
        auto elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
        frame.set_header("biz_rt", std::to_string(elapsed.count()));
        frame.payload = "{\"code\":" + std::to_string(code) + "}";
        link.connection->send(encode_frame(frame), true);
    }

    std::string id_;
    net::any_io_executor executor_;
    InboundSink& sink_;
    Logger& log_;
    AdapterState& state_;
    WebSocketClient& websockets_;
    bool webhook_ = false;
    bool streaming_card_ = true;
    std::string verification_token_;
    std::string encrypt_key_;
    std::optional<FeishuApi> api_;
    std::optional<CardStreams> cards_;
    KeyedOrder ordered_;
    AsyncEvent stopped_;
    ReconnectLoop reconnect_;
    ClientConfig config_;  // the session's (one session at a time)
    std::minstd_rand random_{std::random_device{}()};
    mutable std::mutex bot_mutex_;
    std::string bot_open_id_;
    bool bot_fetching_ = false;
    Clock::time_point bot_asked_{};
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<FeishuAdapter>(std::move(deps));
}

}  // namespace bot::adapters::feishu
