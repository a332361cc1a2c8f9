#include "bench/load.hpp"

#include "base/async.hpp"
#include "bot/http/wire.hpp"
#include "bot/net/sse_parser.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

namespace bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

std::string to_string(Path path) {
    switch (path) {
        case Path::http_api:
            return "http_api";
        case Path::telegram:
            return "telegram";
        case Path::ilink:
            return "wechat_ilink";
        case Path::onebot:
            return "onebot";
        case Path::feishu:
            return "feishu";
        case Path::dingtalk:
            return "dingtalk";
        case Path::slack:
            return "slack";
        case Path::discord:
            return "discord";
    }
    return "?";
}

std::int64_t chat_id_of(int user) {
    return 5'000'000 + user;
}

std::string message_text(int user, int k) {
    return std::string("u").append(std::to_string(user)).append(" m").append(std::to_string(k));
}

std::string reply_text(int user, int k) {
    return std::string("echo: ").append(message_text(user, k));
}

namespace {

// "echo: u<U> m<K>" -> U, K.
bool parse_reply(std::string_view text, int& user, int& k) {
    constexpr std::string_view prefix = "echo: u";
    if (!text.starts_with(prefix)) return false;
    const char* p = text.data() + prefix.size();
    const char* end = text.data() + text.size();
    auto [after_user, e1] = std::from_chars(p, end, user);
    if (e1 != std::errc{} || end - after_user < 3 || after_user[0] != ' ' || after_user[1] != 'm')
        return false;
    auto [after_k, e2] = std::from_chars(after_user + 2, end, k);
    return e2 == std::errc{} && after_k == end;
}

struct Reply {
    int status = 0;
    std::string body;
};

// One keep-alive HTTP/1.1 connection to contactbot, (re)connected on demand.
class Connection {
public:
    Connection(net::any_io_executor executor, tcp::endpoint endpoint)
        : stream_(std::move(executor)), endpoint_(endpoint) {}

    net::awaitable<bool> connect(std::chrono::seconds timeout) {
        if (open_) co_return true;
        stream_.expires_after(timeout);
        auto [ec] = co_await stream_.async_connect(endpoint_, use_tuple);
        if (ec) {
            close();
            co_return false;
        }
        beast::error_code ignored;
        stream_.socket().set_option(tcp::no_delay(true), ignored);
        open_ = true;
        co_return true;
    }

    // Sends the request (its bytes on the wire) and reads the answer; nullopt when the
    // connection failed (closed).
    net::awaitable<std::optional<Reply>> exchange(const std::string& request,
                                                  std::chrono::seconds timeout) {
        if (!co_await connect(timeout)) co_return std::nullopt;
        stream_.expires_after(timeout);
        auto [wec, written] = co_await net::async_write(stream_, net::buffer(request), use_tuple);
        if (wec) co_return close();
        bhttp::response<bhttp::string_body> response;
        auto [rec, read] = co_await bhttp::async_read(stream_, buffer_, response, use_tuple);
        if (rec) co_return close();
        Reply reply;
        reply.status = static_cast<int>(response.result_int());
        reply.body = std::move(response.body());
        if (!response.keep_alive()) close();
        co_return reply;
    }

private:
    std::optional<Reply> close() {
        stream_.close();
        buffer_.clear();
        open_ = false;
        return std::nullopt;
    }

    beast::tcp_stream stream_;
    tcp::endpoint endpoint_;
    beast::flat_buffer buffer_;
    bool open_ = false;
};

// The data of a server-sent event stream's "done" event: the finished reply.
std::string done_event(std::string_view stream) {
    for (auto& event : bot::SseParser().feed(stream))
        if (event.event == "done") return std::move(event.data);
    return {};
}

// What one user is waiting for (telegram: the reply comes from another thread).
struct Slot {
    int k = -1;  // the message waiting for its reply, -1 when none
    Clock::time_point sent;
    bool arrived = false;
    Clock::time_point arrived_at;
    std::shared_ptr<net::steady_timer> waiter;
};

}  // namespace

struct Load::Impl {
    explicit Impl(LoadPlan p) : plan(std::move(p)) {
        endpoint = tcp::endpoint(net::ip::make_address("127.0.0.1"), plan.port);
        auto users = static_cast<std::size_t>(plan.users);
        slots.resize(users);
        next_k.assign(users, 0);
        seen.assign(users * static_cast<std::size_t>(plan.messages), 0);
        for (int u = 0; u < plan.users; ++u) ready.push_back(u);
        // (OneBot's, Feishu's, DingTalk's and Slack's events go over the fake platform's
        // socket.)
        const bool socket = plan.path == Path::onebot || plan.path == Path::feishu ||
                            plan.path == Path::dingtalk || plan.path == Path::slack ||
                            plan.path == Path::discord;
        const int http_connections = socket ? 0 : plan.connections;
        for (int i = 0; i < http_connections; ++i) {
            connections.push_back(std::make_unique<Connection>(io.get_executor(), endpoint));
            idle.push_back(connections.back().get());
        }
    }

    // A connection lent to one request; returned on destruction.
    struct Borrowed {
        Impl& impl;
        Connection* connection;
        ~Borrowed() { impl.idle.push_back(connection); }
    };

    // One conversation slot: takes the next ready user, sends its next message, waits for the
    // reply, and puts the user back at the end of the line while it has messages left.
    net::awaitable<void> runner(std::vector<std::uint32_t>& latencies) {
        for (;;) {
            int user = 0;
            int k = 0;
            {
                std::lock_guard lock(mutex);
                if (ready.empty()) co_return;  // every remaining user is with another runner
                user = ready.front();
                ready.pop_front();
                k = next_k[static_cast<std::size_t>(user)];
            }
            if (plan.path == Path::http_api) {
                co_await send_api(user, k, latencies);
            } else {
                co_await send_pushed(user, k, latencies);
            }
            std::lock_guard lock(mutex);
            if (k + 1 < plan.messages) {
                next_k[static_cast<std::size_t>(user)] = k + 1;
                ready.push_back(user);
            }
        }
    }

    // Posts request on a pooled connection, retrying transport failures and 429/5xx the way
    // platforms redeliver (contactbot recognises the repeated message id).
    net::awaitable<std::optional<Reply>> post(const std::string& request) {
        std::optional<Reply> reply;
        for (int attempt = 0; attempt < 4; ++attempt) {
            if (attempt > 0) co_await bot::sleep_for(std::chrono::milliseconds(200 * attempt));
            {
                auto permit = co_await slots_free.acquire();
                Borrowed borrowed{*this, idle.back()};
                idle.pop_back();
                reply = co_await borrowed.connection->exchange(request, plan.reply_timeout);
            }
            if (reply && reply->status / 100 == 2) co_return reply;
            note_error();
            bool retry = !reply || reply->status == 429 || reply->status >= 500;
            if (!retry) break;
        }
        co_return reply;
    }

    // The request as it goes on the wire, written directly: the generator shares the two cores
    // with the server, and Beast's serializer walked a chain of buffer views per header.
    std::string make_request(const std::string& target, const std::string& body) const {
        std::string request = std::string("POST ").append(target).append(" HTTP/1.1\r\n");
        bot::http::append_header(request, "Host", "127.0.0.1");
        bot::http::append_header(request, "Content-Type", "application/json");
        if (plan.path == Path::http_api) {
            bot::http::append_header(request, "Authorization",
                                     std::string("Bearer ").append(plan.api_token));
            if (plan.stream) bot::http::append_header(request, "Accept", "text/event-stream");
        } else {
            bot::http::append_header(request, "X-Telegram-Bot-Api-Secret-Token", plan.secret_token);
        }
        bot::http::append_header(request, "Content-Length", std::to_string(body.size()));
        return request.append("\r\n").append(body);
    }

    net::awaitable<void> send_api(int user, int k, std::vector<std::uint32_t>& latencies) {
        std::string body = std::string(R"({"user":"u)")
                               .append(std::to_string(user))
                               .append(R"(","message_id":"m)")
                               .append(std::to_string(k))
                               .append(R"(","text":")")
                               .append(message_text(user, k))
                               .append(R"("})");
        const auto request = make_request("/api/v1/messages", body);
        begin_wait();
        auto sent = Clock::now();
        auto reply = co_await post(request);
        auto now = Clock::now();
        std::string text;
        if (reply && reply->status == 200) {
            const std::string streamed = plan.stream ? done_event(reply->body) : std::string();
            const std::string& answer = plan.stream ? streamed : reply->body;  // not copied
            auto json = nlohmann::json::parse(answer, nullptr, false);
            if (json.is_object()) text = json.value("reply", std::string());
        }
        std::lock_guard lock(mutex);
        --waiting;
        if (!reply || reply->status != 200) co_return;  // unanswered: counted as lost at the end
        if (text != reply_text(user, k)) {
            ++unexpected;
            co_return;
        }
        bump_seen(user, k);
        latencies.push_back(micros(now - sent));
        last_reply = std::max(last_reply, now);
    }

    std::string telegram_update(int user, int k) {
        std::string chat = std::to_string(chat_id_of(user));
        return std::string(R"({"update_id":)")
            .append(std::to_string(next_update_id++))
            .append(R"(,"message":{"message_id":)")
            .append(std::to_string(k + 1))
            .append(R"(,"date":1700000000,"chat":{"id":)")
            .append(chat)
            .append(R"(,"type":"private"},"from":{"id":)")
            .append(chat)
            .append(R"(,"is_bot":false,"first_name":"U)")
            .append(std::to_string(user))
            .append(R"("},"text":")")
            .append(message_text(user, k))
            .append(R"("}})");
    }

    // A private message as NapCat pushes it (segment array); message ids are per account.
    std::string onebot_event(int user, int k) {
        std::string qq = std::to_string(chat_id_of(user));
        return std::string(R"({"time":1700000000,"self_id":)")
            .append(std::to_string(kOnebotSelfId))
            .append(
                R"(,"post_type":"message","message_type":"private","sub_type":"friend","message_id":)")
            .append(std::to_string(next_update_id++))
            .append(R"(,"user_id":)")
            .append(qq)
            .append(R"(,"message":[{"type":"text","data":{"text":")")
            .append(message_text(user, k))
            .append(R"("}}],"raw_message":")")
            .append(message_text(user, k))
            .append(R"(","font":0,"sender":{"user_id":)")
            .append(qq)
            .append(R"(,"nickname":"U)")
            .append(std::to_string(user))
            .append(R"("}})");
    }

    // A private message as Feishu's long connection carries it (im.message.receive_v1); the
    // message id names the user, so the fake's reply hook can tell whose reply it is.
    std::string feishu_event(int user, int k) {
        std::string chat = std::to_string(chat_id_of(user));
        std::string id =
            std::string("om_").append(chat).append("_").append(std::to_string(next_update_id++));
        return std::string(R"({"schema":"2.0","header":{"event_id":"ev)")
            .append(id)
            .append(
                R"(","event_type":"im.message.receive_v1","create_time":"1700000000000","token":"","app_id":"cli_a1b2c3d4e5f60718","tenant_key":"tk"},"event":{"sender":{"sender_id":{"open_id":"ou_)")
            .append(chat)
            .append(R"("},"sender_type":"user","tenant_key":"tk"},"message":{"message_id":")")
            .append(id)
            .append(R"(","chat_id":"oc_)")
            .append(chat)
            .append(R"(","chat_type":"p2p","message_type":"text","content":"{\"text\":\")")
            .append(message_text(user, k))
            .append(R"(\"}"}}})");
    }

    // A 1:1 robot message as DingTalk pushes it (the CALLBACK frame's data); the staff id is
    // the user's chat id, the session webhook the fake's (tests/fakes/fake_dingtalk.cpp).
    std::string dingtalk_event(int user, int k) {
        std::string staff = std::to_string(chat_id_of(user));
        return std::string(R"({"conversationId":"cid-1on1-)")
            .append(staff)
            .append(R"(","conversationType":"1","msgId":"m)")
            .append(std::to_string(next_update_id++))
            .append(R"(","senderNick":"U)")
            .append(std::to_string(user))
            .append(R"(","senderStaffId":")")
            .append(staff)
            .append(R"(","senderId":"$:LWCP_v1:$)")
            .append(staff)
            .append(R"(","sessionWebhook":")")
            .append(plan.dingtalk_webhook_base)
            .append("cid-1on1-")
            .append(staff)
            .append(
                R"(","sessionWebhookExpiredTime":4102444800000,"msgtype":"text","text":{"content":")")
            .append(message_text(user, k))
            .append(R"("}})");
    }

    // A DM as Slack's Socket Mode delivers it (an events_api envelope, as
    // tests/fakes/fake_slack.cpp pushes them); the DM channel is "D<chat id>".
    std::string slack_event(int user, int k) {
        std::string chat = std::to_string(chat_id_of(user));
        std::string n = std::to_string(next_update_id++);
        return std::string(R"({"envelope_id":"env-)")
            .append(n)
            .append(R"(","type":"events_api","payload":{"type":"event_callback","event_id":"Ev)")
            .append(n)
            .append(R"(","event":{"type":"message","channel_type":"im","channel":"D)")
            .append(chat)
            .append(R"(","user":"U)")
            .append(chat)
            .append(R"(","ts":"1700000000.)")
            .append(n)
            .append(R"(","text":")")
            .append(message_text(user, k))
            .append(R"("}}})");
    }

    // A DM as Discord's gateway dispatches it (MESSAGE_CREATE's d): the channel and the author
    // are the user's chat id, so the fake's reply hook can tell whose reply it is.
    std::string discord_event(int user, int k) {
        std::string chat = std::to_string(chat_id_of(user));
        return std::string(R"({"id":")")
            .append(std::to_string(1'500'000'000'000'000'000 + next_update_id++))
            .append(R"(","channel_id":")")
            .append(chat)
            .append(R"(","type":0,"content":")")
            .append(message_text(user, k))
            .append(R"(","author":{"id":")")
            .append(chat)
            .append(R"(","username":"u)")
            .append(std::to_string(user))
            .append(R"(","global_name":null},"mentions":[],"attachments":[]})");
    }

    // Telegram's webhook or OneBot's socket: the reply comes back later through the fake
    // platform (on_send_message).
    net::awaitable<void> send_pushed(int user, int k, std::vector<std::uint32_t>& latencies) {
        auto& slot = slots[static_cast<std::size_t>(user)];
        {
            std::lock_guard lock(mutex);
            slot.k = k;
            slot.arrived = false;
            slot.sent = Clock::now();
        }
        begin_wait();
        bool accepted = false;
        if (plan.path == Path::onebot) {
            accepted = plan.post_frame(onebot_event(user, k));
        } else if (plan.path == Path::feishu) {
            accepted = plan.post_frame(feishu_event(user, k));
        } else if (plan.path == Path::dingtalk) {
            accepted = plan.post_frame(dingtalk_event(user, k));
        } else if (plan.path == Path::slack) {
            accepted = plan.post_frame(slack_event(user, k));
        } else if (plan.path == Path::discord) {
            accepted = plan.post_frame(discord_event(user, k));
        } else {
            auto answer = co_await post(make_request(plan.webhook_path, telegram_update(user, k)));
            accepted = answer && answer->status / 100 == 2;
        }

        auto executor = co_await net::this_coro::executor;
        auto timer = std::make_shared<net::steady_timer>(executor, plan.reply_timeout);
        bool wait = false;
        {
            std::lock_guard lock(mutex);
            // Not accepted: stop waiting (it counts as lost unless a reply turns up anyway).
            if (accepted && !slot.arrived) {
                slot.waiter = timer;
                wait = true;
            }
        }
        // on_send_message posts the wake-up to this (single-threaded) executor, so it cannot
        // run before this wait has started.
        if (wait) co_await timer->async_wait(use_tuple);
        std::lock_guard lock(mutex);
        slot.waiter.reset();
        if (slot.arrived) latencies.push_back(micros(slot.arrived_at - slot.sent));
        slot.k = -1;
        --waiting;
    }

    void on_send_message(std::int64_t chat_id, const std::string& text) {
        auto now = Clock::now();
        int user = -1;
        int k = -1;
        bool known = parse_reply(text, user, k) && user >= 0 && user < plan.users && k >= 0 &&
                     k < plan.messages && chat_id == chat_id_of(user);
        std::lock_guard lock(mutex);
        if (!known) {
            ++unexpected;
            return;
        }
        if (bump_seen(user, k) > 1) return;  // a duplicate: counted at the end
        auto& slot = slots[static_cast<std::size_t>(user)];
        if (slot.k != k || slot.arrived) {
            ++late;  // its sender gave up waiting
            return;
        }
        slot.arrived = true;
        slot.arrived_at = now;
        last_reply = std::max(last_reply, now);
        if (slot.waiter) {
            net::post(slot.waiter->get_executor(), [timer = slot.waiter] { timer->cancel(); });
        }
    }

    // The caller holds the mutex.
    int bump_seen(int user, int k) {
        auto& count =
            seen[static_cast<std::size_t>(user) * static_cast<std::size_t>(plan.messages) +
                 static_cast<std::size_t>(k)];
        if (count < 255) ++count;
        return count;
    }
    void begin_wait() {
        std::lock_guard lock(mutex);
        peak_waiting = std::max(peak_waiting, ++waiting);
    }
    void note_error() {
        std::lock_guard lock(mutex);
        ++errors;
    }
    static std::uint32_t micros(Clock::duration d) {
        return static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(d).count());
    }

    // Opens every connection before the clock starts, a few hundred at a time: a storm of
    // thousands of simultaneous connects overflows the listen backlog, and the SYN retries
    // (1 s, 3 s, ...) would be measured as reply latency.
    void connect_all() {
        std::size_t next = 0;
        constexpr int kParallel = 256;
        for (int i = 0; i < kParallel; ++i) {
            net::co_spawn(
                io,
                [this, &next]() -> net::awaitable<void> {
                    while (next < connections.size()) {
                        auto& connection = *connections[next++];
                        if (!co_await connection.connect(std::chrono::seconds(10))) note_error();
                    }
                },
                net::detached);
        }
        io.run();
        io.restart();
    }

    LoadResult run() {
        connect_all();
        int runners = std::min(plan.users, plan.in_flight);
        if (plan.path == Path::http_api) runners = std::min(runners, plan.connections);
        std::vector<std::vector<std::uint32_t>> latencies(static_cast<std::size_t>(runners));
        auto start = Clock::now();
        last_reply = start;
        for (auto& list : latencies) {
            net::co_spawn(io, runner(list), [this](std::exception_ptr e) {
                if (!e) return;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& error) {
                    std::cerr << "bench: load runner failed: " << error.what() << "\n";
                    note_error();
                }
            });
        }
        io.run();  // returns once every runner is done
        // Replies that come back through a fake platform: wait for stray duplicates.
        if (plan.path == Path::telegram || plan.path == Path::onebot || plan.path == Path::feishu ||
            plan.path == Path::dingtalk || plan.path == Path::slack || plan.path == Path::discord)
            std::this_thread::sleep_for(plan.settle);

        std::lock_guard lock(mutex);
        LoadResult result;
        result.messages = seen.size();
        for (auto count : seen) {
            if (count == 0) ++result.lost;
            if (count >= 1) ++result.replied;
            if (count > 1) result.duplicated += count - 1u;
        }
        // A reply after its sender stopped waiting is seen, but too late: it counts as lost.
        result.lost += late;
        result.replied -= std::min(result.replied, late);
        result.unexpected = unexpected;
        result.errors = errors;
        result.late = late;
        result.peak_waiting = peak_waiting;
        result.seconds = std::chrono::duration<double>(last_reply - start).count();
        for (auto& list : latencies) {
            result.latency_us.insert(result.latency_us.end(), list.begin(), list.end());
        }
        return result;
    }

    LoadPlan plan;
    net::io_context io{1};
    tcp::endpoint endpoint;
    std::vector<std::unique_ptr<Connection>> connections;
    std::vector<Connection*> idle;  // used on the generator's thread only
    bot::AsyncSemaphore slots_free{static_cast<std::size_t>(plan.connections)};

    std::mutex mutex;  // guards what follows (the fake Bot API reports from its own thread)
    std::vector<Slot> slots;
    std::vector<int> next_k;
    std::deque<int> ready;
    std::vector<std::uint8_t> seen;  // replies per (user, message)
    std::int64_t next_update_id = 1;
    Clock::time_point last_reply;
    std::uint64_t waiting = 0;
    std::uint64_t peak_waiting = 0;
    std::uint64_t unexpected = 0;
    std::uint64_t errors = 0;
    std::uint64_t late = 0;
};

Load::Load(LoadPlan plan) : impl_(std::make_unique<Impl>(std::move(plan))) {}
Load::~Load() = default;

LoadResult Load::run() {
    return impl_->run();
}

void Load::on_send_message(std::int64_t chat_id, const std::string& text) {
    impl_->on_send_message(chat_id, text);
}

}  // namespace bench
