#include "wechat_ilink/ilink_account.hpp"

#include "base/crypto.hpp"
#include "base/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <cstring>

namespace bot::adapters::wechat_ilink {

namespace {

using namespace std::chrono_literals;

// Client timeouts of Tencent's client (§2.4); the long poll's comes from the server.
constexpr auto kSendTimeout = 15000ms;
constexpr auto kConfigTimeout = 10000ms;
constexpr auto kPollMargin = 5000ms;  // over longpolling_timeout_ms, so the server answers first
constexpr auto kTypingKeepalive = 5s;
constexpr auto kReplyWatch = std::chrono::minutes(10);
constexpr std::int64_t kDayMs = 24 * 3600 * 1000;
constexpr std::string_view kTruncated = "\n…";

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// OCW refreshes typing tickets at a random point within a day, so thousands of accounts do not
// all refetch at once.
std::int64_t random_below(std::int64_t bound) {
    std::uint64_t value = 0;
    const std::string bytes = crypto::random_bytes(sizeof value);
    std::memcpy(&value, bytes.data(), sizeof value);
    return static_cast<std::int64_t>(value % static_cast<std::uint64_t>(bound));
}

std::string message_id_of(const json& body) {
    auto id = body.find("message_id");
    if (id == body.end()) return {};
    auto value = uint64_of(*id);
    return value ? std::to_string(*value) : std::string();
}

}  // namespace

AccountSession::AccountSession(AccountServices& services, BoundAccount account, std::string cursor)
    : services_(services),
      stop_(services.executor),
      // Each account keeps to one connection pool: thousands of long polls spread over all.
      pool_(static_cast<std::uint32_t>(std::hash<std::string>{}(account.bot_id))),
      account_(std::move(account)),
      cursor_(std::move(cursor)) {}

void AccountSession::stop() {
    stop_.set();
}

bool AccountSession::stopped() const {
    return stop_.is_set();
}

BoundAccount AccountSession::account() const {
    std::lock_guard lock(mutex_);
    return account_;
}

void AccountSession::update(BoundAccount account) {
    std::lock_guard lock(mutex_);
    account_ = std::move(account);
}

void AccountSession::restore_context(const std::string& user, ReplyContext context) {
    adopt_context(user, context);
}

bool AccountSession::adopt_context(const std::string& user, const ReplyContext& context) {
    std::lock_guard lock(mutex_);
    auto& state = users_[user];
    // A redelivered older message must not bring back its older token.
    if (context.message_time_ms < state.context.message_time_ms ||
        context.token == state.context.token)
        return false;
    state.context = context;
    state.sends = 0;
    return true;
}

// Not a coroutine: its arguments go straight into the request (no frame per waiting poll).
net::awaitable<ApiResult> AccountSession::call(std::string endpoint, json body,
                                               std::chrono::milliseconds timeout) {
    std::lock_guard lock(mutex_);
    return services_.api.post(account_.base_url, account_.token, std::move(endpoint),
                              std::move(body), timeout, pool_);
}

net::awaitable<void> AccountSession::pause(std::chrono::milliseconds duration) {
    co_await stop_.wait_until(std::chrono::steady_clock::now() + duration);
}

net::awaitable<void> AccountSession::end_session(BoundAccount::Status status, std::string detail) {
    stop_.set();
    BoundAccount ended;
    {
        std::lock_guard lock(mutex_);
        if (!account_.active()) co_return;  // ended already (a send and the poll both saw -14)
        account_.status = status;
        account_.status_detail = std::move(detail);
        ended = account_;
    }
    co_await services_.on_ended(std::move(ended));
}

net::awaitable<void> AccountSession::poll() {
    auto self = shared_from_this();  // alive until the loop ends, whatever the adapter does
    const auto& settings = services_.settings;
    const std::string bot_id = account().bot_id;
    if (auto started = co_await call("msg/notifystart", json::object(), kConfigTimeout);
        !started.ok()) {
        services_.log.debug("wechat_ilink", bot_id, ": notifystart failed: ", started.describe());
    }
    int failures = 0;
    while (!stopped()) {
        std::string cursor;
        std::chrono::milliseconds timeout;
        {
            std::lock_guard lock(mutex_);
            cursor = cursor_;
            timeout = poll_timeout_ + kPollMargin;
        }
        json request{{"get_updates_buf", std::move(cursor)}};
        auto result = co_await call("getupdates", std::move(request), timeout);
        if (stopped()) break;
        bool handled = false;
        switch (result.kind) {
            case ApiResult::Kind::timeout:  // a long poll that saw nothing: normal (§4.1)
                failures = 0;
                continue;
            case ApiResult::Kind::session_expired:
                services_.log.warn("wechat_ilink", "account ", bot_id,
                                   ": session expired (ret -14); polling stopped until its "
                                   "owner binds again");
                co_await end_session(BoundAccount::Status::expired,
                                     "session timeout (-14): the owner must bind again");
                co_return;
            case ApiResult::Kind::ok:
                try {
                    handled = co_await handle(parse_updates(result.body));
                } catch (const std::exception& error) {
                    services_.log.warn("wechat_ilink", "account ", bot_id,
                                       ": could not accept a message: ", error.what());
                }
                break;
            default:
                services_.log.warn("wechat_ilink", "account ", bot_id,
                                   ": getupdates failed: ", result.describe());
                break;
        }
        if (handled) {
            failures = 0;
            continue;
        }
        // Tencent's policy (§4.2): 2 s after a failure, 30 s after the third in a row.
        if (++failures >= 3) {
            failures = 0;
            co_await pause(settings.poll_backoff);
        } else {
            co_await pause(settings.poll_retry);
        }
    }
}

net::awaitable<void> AccountSession::notify_stop() {
    auto self = shared_from_this();
    if (!account().active()) co_return;
    auto result = co_await call("msg/notifystop", json::object(), kConfigTimeout);
    if (!result.ok()) {
        services_.log.debug("wechat_ilink", account().bot_id,
                            ": notifystop failed: ", result.describe());
    }
}

net::awaitable<bool> AccountSession::handle(Updates updates) {
    const std::string bot_id = account().bot_id;
    if (updates.lapsed) {
        services_.log.debug("wechat_ilink", "account ", bot_id,
                            ": getupdates answered without msgs or cursor");
    }
    for (auto& message : updates.messages) {
        if (message.message_type != 1 || message.from.empty()) continue;  // our own echoes
        const std::string chat = chat_id_of(bot_id, message.from);
        if (!message.context_token.empty()) {
            ReplyContext context{.token = message.context_token,
                                 .received_at_ms = now_ms(),
                                 .message_time_ms = message.create_time_ms};
            if (adopt_context(message.from, context))
                co_await services_.state.put(kContextKind, chat, encode_context(context));
        }
        Inbound inbound{.chat = {.adapter_id = services_.adapter_id, .chat_id = chat},
                        .sender_id = message.from,
                        .message_id = message.message_id ? std::to_string(message.message_id) : "",
                        .text = std::move(message.text),
                        .unsupported = std::move(message.unsupported)};
        SubmitOptions options;
        if (services_.settings.typing) options = {.wait = kReplyWatch, .deltas = false};
        auto submission = co_await services_.sink.submit(std::move(inbound), options);
        if (submission.status == Submission::Status::accepted && submission.watch.valid()) {
            net::co_spawn(services_.executor,
                          typing(shared_from_this(), message.from, std::move(submission.watch)),
                          net::detached);
        }
    }
    // Only now, with every message durably accepted, may the server forget them (§4.1).
    bool moved = false;
    {
        std::lock_guard lock(mutex_);
        if (updates.poll_timeout_ms > 0)
            poll_timeout_ = std::chrono::milliseconds(updates.poll_timeout_ms);
        if (!updates.cursor.empty() && updates.cursor != cursor_) {
            cursor_ = updates.cursor;
            moved = true;
        }
    }
    if (moved) co_await services_.state.put(kCursorKind, bot_id, updates.cursor);
    co_return true;
}

net::awaitable<std::string> AccountSession::typing_ticket(const std::string& user) {
    std::string context_token;
    {
        std::lock_guard lock(mutex_);
        auto& state = users_[user];
        auto now = now_ms();
        if (!state.typing_ticket.empty() && now < state.ticket_due_ms)
            co_return state.typing_ticket;
        if (now < state.ticket_due_ms) co_return std::string();  // backing off after a failure
        context_token = state.context.token;
    }
    json request{{"ilink_user_id", user}, {"context_token", context_token}};
    auto result = co_await call("getconfig", std::move(request), kConfigTimeout);
    std::lock_guard lock(mutex_);
    auto& state = users_[user];
    auto ticket = result.ok() ? string_of(result.body, "typing_ticket") : std::string();
    if (ticket.empty()) {
        // Typing is cosmetic: back off from 2 s up to an hour (OCW) and carry on without it.
        state.ticket_retry_ms = std::clamp<std::int64_t>(state.ticket_retry_ms * 2, 2000, 3600000);
        state.ticket_due_ms = now_ms() + state.ticket_retry_ms;
        state.typing_ticket.clear();
        co_return std::string();
    }
    state.typing_ticket = ticket;
    state.ticket_retry_ms = 0;
    state.ticket_due_ms = now_ms() + 1 + random_below(kDayMs);
    co_return ticket;
}

net::awaitable<void> AccountSession::typing(std::shared_ptr<AccountSession> self, std::string user,
                                            ReplyWatch watch) {
    (void)self;  // held so the session outlives this detached coroutine
    auto ticket = co_await typing_ticket(user);
    AsyncEvent done(services_.executor);
    net::co_spawn(
        services_.executor,
        [](ReplyWatch watch, AsyncEvent done) -> net::awaitable<void> {
            for (;;) {  // (g++ 12: no co_await inside a loop condition)
                auto event = co_await watch.next();
                if (event.kind != ReplyEvent::Kind::delta) break;
            }
            done.set();
        }(std::move(watch), done),
        net::detached);
    if (ticket.empty()) co_return;
    auto show = [&](int status) {
        return call("sendtyping",
                    json{{"ilink_user_id", user}, {"typing_ticket", ticket}, {"status", status}},
                    kConfigTimeout);
    };
    co_await show(1);
    for (;;) {
        auto keepalive = std::chrono::steady_clock::now() + kTypingKeepalive;
        if (co_await done.wait_until(keepalive)) break;
        if (stopped()) co_return;
        co_await show(1);
    }
    co_await show(2);
}

net::awaitable<SendResult> AccountSession::send(std::string user, std::string reply_to,
                                                std::string delivery_key, bool more_parts,
                                                std::string text) {
    auto self = shared_from_this();
    const auto& settings = services_.settings;
    // The chunks of this part already sent, should the outbox retry it.
    const std::string& progress_key = delivery_key;
    std::string token;
    std::vector<std::string> chunks;
    std::size_t first = 0;
    {
        std::lock_guard lock(mutex_);
        if (!account_.active()) {
            co_return SendError{.kind = SendError::Kind::unauthorized,
                                .detail = "account " + account_.bot_id + " is " +
                                          std::string(status_name(account_.status)) +
                                          ": its owner must bind again"};
        }
        auto found = users_.find(user);
        if (found == users_.end() || found->second.context.token.empty()) {
            co_return SendError{.kind = SendError::Kind::bad_request,
                                .detail = "undeliverable: no context_token from " + user +
                                          " yet (iLink only answers messages)"};
        }
        auto& state = found->second;
        auto age = now_ms() - state.context.received_at_ms;
        if (age > settings.reply_window.count()) {
            co_return SendError{.kind = SendError::Kind::bad_request,
                                .detail =
                                    "undeliverable: outside WeChat's reply window (the "
                                    "user's last message is " +
                                    std::to_string(age / 60000) +
                                    " min old); it reopens when they write again"};
        }
        token = state.context.token;
        first = progress_[progress_key].chunks_sent;
        chunks = split_text(
            text, TextLimit{.max = settings.text_limit, .unit = TextLimit::Unit::utf16_units});
        if (chunks.empty()) chunks.emplace_back("…");
        // At most max_sends per user message (§5.4): what does not fit is cut, marked, and
        // never split into sends the server would refuse.
        auto budget =
            static_cast<std::size_t>(std::max(0, settings.max_sends_per_message - state.sends));
        auto needed = chunks.size() - first;
        if (needed > budget || (more_parts && needed == budget)) {
            if (budget == 0) {
                progress_.erase(progress_key);
                co_return SendError{.kind = SendError::Kind::bad_request,
                                    .detail = "undeliverable: the " +
                                              std::to_string(settings.max_sends_per_message) +
                                              " sends WeChat allows per user message are used"};
            }
            std::size_t last = first + budget - 1;
            auto limit = TextLimit{.max = settings.text_limit - kTruncated.size(),
                                   .unit = TextLimit::Unit::utf16_units};
            chunks[last].resize(prefix_within(chunks[last], limit));
            chunks[last] += kTruncated;
            chunks.resize(last + 1);
            services_.log.warn("wechat_ilink", "reply ", reply_to,
                               " cut to the per-message send limit");
        }
    }
    std::string last_id;
    for (std::size_t index = first; index < chunks.size(); ++index) {
        // The same client_id when this part is retried (§5.1: an idempotency key); a part
        // cut into several sends has one per chunk.
        std::string client_id = "contactbot-" + delivery_key + "-" + std::to_string(index);
        auto result = co_await call(
            "sendmessage", text_message(user, client_id, token, chunks[index]), kSendTimeout);
        if (result.ok()) {
            std::lock_guard lock(mutex_);
            ++users_[user].sends;
            progress_[progress_key].chunks_sent = index + 1;
            last_id = message_id_of(result.body);
            continue;
        }
        if (result.kind == ApiResult::Kind::session_expired) {
            co_await end_session(BoundAccount::Status::expired,
                                 "session timeout (-14) while sending: the owner must bind again");
            std::lock_guard lock(mutex_);
            progress_.erase(progress_key);
            co_return SendError{.kind = SendError::Kind::unauthorized,
                                .detail = "session expired (ret -14)"};
        }
        if (result.kind == ApiResult::Kind::api_error) {
            std::lock_guard lock(mutex_);
            progress_.erase(progress_key);
            // ret -2: the window closed or the quota is used; retrying cannot help (§6).
            co_return SendError{
                .kind = SendError::Kind::bad_request,
                .detail = "undeliverable: iLink refused the message: " + result.describe()};
        }
        co_return SendError{.kind = SendError::Kind::transient,
                            .detail = "sendmessage: " + result.describe()};
    }
    std::lock_guard lock(mutex_);
    progress_.erase(progress_key);
    co_return last_id;
}

}  // namespace bot::adapters::wechat_ilink
