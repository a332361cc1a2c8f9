#include "fakes/fake_discord.hpp"

#include "base/text_split.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace bot::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

struct Session {
    explicit Session(tcp::socket socket) : ws(std::move(socket)) {}
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    std::deque<std::string> out;
    bool writing = false;
    bool live = false;  // identified or resumed: dispatches may be sent
    std::atomic<bool> open{true};
};

Reply discord_error(int status, std::int64_t code, const std::string& message) {
    return Reply::json({{"message", message}, {"code", code}}, status);
}

// Rate-limit headers as Discord sends them on every answer (rate-limits.mdx lines 31-37).
Reply with_rate_headers(Reply reply, const std::string& bucket) {
    reply.headers.push_back({"X-RateLimit-Limit", "5"});
    reply.headers.push_back({"X-RateLimit-Remaining", "4"});
    reply.headers.push_back({"X-RateLimit-Reset-After", "1.5"});
    reply.headers.push_back({"X-RateLimit-Bucket", bucket});
    return reply;
}

// "/api/v10/channels/123/messages/456" -> {"123", "messages", "456"}.
std::vector<std::string> channel_path(const std::string& path) {
    std::vector<std::string> parts;
    std::string rest = path.substr(std::string("/api/v10/channels/").size());
    std::size_t start = 0;
    while (start <= rest.size()) {
        auto slash = rest.find('/', start);
        if (slash == std::string::npos) slash = rest.size();
        parts.push_back(rest.substr(start, slash - start));
        start = slash + 1;
    }
    return parts;
}

}  // namespace

struct FakeDiscord::Impl {
    RecordingServer api;
    net::io_context io;
    net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
    std::thread thread;
    std::optional<tcp::acceptor> acceptor;

    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    // gateway
    std::int64_t heartbeat_interval = 45'000;
    bool acks = true;
    int identify_failure = 0;
    int replay_extra = 0;
    int accepted = 0;
    int identifies = 0;
    int resumes = 0;
    int sessions_live = 0;
    std::size_t heartbeats = 0;
    std::vector<std::string> targets;
    std::vector<int> client_closes;
    std::shared_ptr<Session> current;
    std::vector<std::shared_ptr<Session>> sessions;
    std::string session_id;
    int session_count = 0;
    std::int64_t next_seq = 1;
    std::vector<std::pair<std::int64_t, std::string>> dispatched;  // seq, payload
    // REST
    std::vector<Sent> sent;
    std::size_t typing = 0;
    std::size_t gateway_bot = 0;
    std::int64_t next_message = 1;
    std::function<void(const std::string&, const std::string&)> reply_observer;
    bool recording = true;

    bool authorized(const RecordedRequest& request) const {
        return request.header("Authorization") == std::string("Bot ") + kToken;
    }

    std::string ws_base() const {
        return "ws://127.0.0.1:" + std::to_string(acceptor->local_endpoint().port());
    }

    json message_object(const Sent& message) const {
        return {{"id", message.id},
                {"channel_id", message.channel},
                {"content", message.content},
                {"type", message.reply_to.empty() ? 0 : 19},
                {"author", user(kBotId, kBotName, true)}};
    }

    void routes() {
        api.on("GET", "/api/v10/gateway/bot", [this](const RecordedRequest& request) {
            if (!authorized(request)) return discord_error(401, 0, "401: Unauthorized");
            std::lock_guard lock(mutex);
            ++gateway_bot;
            changed.notify_all();
            return Reply::json({{"url", ws_base()},
                                {"shards", 1},
                                {"session_start_limit",
                                 {{"total", 1000},
                                  {"remaining", 1000 - identifies},
                                  {"reset_after", 3'600'000},
                                  {"max_concurrency", 1}}}});
        });
        api.on("POST", "/api/v10/channels/*",
               [this](const RecordedRequest& request) { return post(request); });
        api.on("PATCH", "/api/v10/channels/*",
               [this](const RecordedRequest& request) { return patch(request); });
    }

    Reply post(const RecordedRequest& request) {
        if (!authorized(request)) return discord_error(401, 0, "401: Unauthorized");
        auto parts = channel_path(request.path);
        if (parts.size() == 2 && parts[1] == "typing") {
            std::lock_guard lock(mutex);
            ++typing;
            changed.notify_all();
            return Reply::text("", 204);
        }
        if (parts.size() != 2 || parts[1] != "messages")
            return discord_error(404, 0, "404: Not Found");
        const auto& body = request.json;
        if (!body.is_object() || !body.contains("content") || !body["content"].is_string())
            return discord_error(400, 50006, "Cannot send an empty message");
        std::string content = body["content"];
        // message.mdx line 1080: up to 2000 characters.
        if (content.empty()) return discord_error(400, 50006, "Cannot send an empty message");
        if (utf8_length(content) > 2000)
            return discord_error(400, 50035,
                                 "Invalid Form Body (content: Must be 2000 or fewer in length.)");
        Sent message;
        message.channel = parts[0];
        message.content = content;
        message.allowed_mentions = body.value("allowed_mentions", json());
        if (body.contains("message_reference")) {
            const auto& reference = body["message_reference"];
            if (!reference.is_object() || !reference.contains("message_id") ||
                !reference["message_id"].is_string())
                return discord_error(400, 50035, "Invalid Form Body (message_reference)");
            message.reply_to = reference["message_id"];
        }
        std::function<void(const std::string&, const std::string&)> observer;
        {
            std::lock_guard lock(mutex);
            message.id = std::to_string(1300000000000000000 + next_message++);
            if (recording) sent.push_back(message);
            observer = reply_observer;
        }
        changed.notify_all();
        if (observer) observer(message.channel, message.content);
        return with_rate_headers(Reply::json(message_object(message)), "bucket-create");
    }

    Reply patch(const RecordedRequest& request) {
        if (!authorized(request)) return discord_error(401, 0, "401: Unauthorized");
        auto parts = channel_path(request.path);
        if (parts.size() != 3 || parts[1] != "messages")
            return discord_error(404, 0, "404: Not Found");
        const auto& body = request.json;
        if (!body.is_object() || !body.contains("content") || !body["content"].is_string())
            return discord_error(400, 50035, "Invalid Form Body");
        std::string content = body["content"];
        if (utf8_length(content) > 2000)
            return discord_error(400, 50035, "Invalid Form Body (content)");
        std::lock_guard lock(mutex);
        for (auto& message : sent) {
            if (message.id != parts[2] || message.channel != parts[0]) continue;
            message.content = content;
            message.edits.push_back(content);
            changed.notify_all();
            return with_rate_headers(Reply::json(message_object(message)), "bucket-edit");
        }
        return discord_error(404, 10008, "Unknown Message");
    }

    // --- websocket ---------------------------------------------------------------------------

    void accept_next() {
        acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
            if (ec) return;
            auto session = std::make_shared<Session>(std::move(socket));
            {
                std::lock_guard lock(mutex);
                sessions.push_back(session);
            }
            upgrade(session);
            accept_next();
        });
    }

    void upgrade(const std::shared_ptr<Session>& session) {
        auto request = std::make_shared<bhttp::request<bhttp::string_body>>();
        auto buffer = std::make_shared<beast::flat_buffer>();
        bhttp::async_read(
            session->ws.next_layer(), *buffer, *request,
            [this, session, request, buffer](beast::error_code ec, std::size_t) {
                if (ec) return;
                session->ws.async_accept(*request, [this, session, request](beast::error_code ec) {
                    if (ec) return;
                    session->ws.text(true);
                    std::int64_t interval;
                    {
                        std::lock_guard lock(mutex);
                        targets.push_back(std::string(request->target()));
                        ++accepted;
                        current = session;
                        interval = heartbeat_interval;
                    }
                    changed.notify_all();
                    send(session,
                         json{{"op", 10}, {"d", {{"heartbeat_interval", interval}}}}.dump());
                    read(session);
                });
            });
    }

    void read(const std::shared_ptr<Session>& session) {
        session->ws.async_read(session->buffer, [this, session](beast::error_code ec, std::size_t) {
            if (ec) {
                {
                    std::lock_guard lock(mutex);
                    if (ec == websocket::error::closed && session->open)
                        client_closes.push_back(session->ws.reason().code);
                    session->open = false;
                    session->live = false;
                }
                changed.notify_all();
                return;
            }
            std::string text = beast::buffers_to_string(session->buffer.data());
            session->buffer.consume(session->buffer.size());
            on_payload(session, json::parse(text, nullptr, false));
            read(session);
        });
    }

    void on_payload(const std::shared_ptr<Session>& session, const json& payload) {
        if (!payload.is_object() || !payload.contains("op")) return;
        int op = payload["op"].get<int>();
        const json d = payload.value("d", json());
        if (op == 1) {
            bool ack;
            {
                std::lock_guard lock(mutex);
                ++heartbeats;
                ack = acks;
            }
            changed.notify_all();
            if (ack) send(session, R"({"op":11})");
        } else if (op == 2) {
            identify(session, d);
        } else if (op == 6) {
            resume(session, d);
        }
    }

    void identify(const std::shared_ptr<Session>& session, const json& d) {
        int failure;
        std::string payload;
        {
            std::lock_guard lock(mutex);
            ++identifies;
            failure = std::exchange(identify_failure, 0);
            if (!d.is_object() || d.value("token", "") != kToken) failure = 4004;
            if (!failure) {
                session_id = "session-" + std::to_string(++session_count);
                json ready{{"v", 10},
                           {"user", user(kBotId, kBotName, true)},
                           {"guilds", json::array()},
                           {"session_id", session_id},
                           {"resume_gateway_url", ws_base() + "/resume"},
                           {"application", {{"id", kBotId}, {"flags", 0}}}};
                std::int64_t seq = next_seq++;
                payload = json{{"op", 0}, {"t", "READY"}, {"s", seq}, {"d", ready}}.dump();
                dispatched.emplace_back(seq, std::string());  // READY is not replayed
                // Queued before the session counts as live, so nothing a test dispatches
                // once it waited for the session can overtake READY.
                send(session, std::move(payload));
                session->live = true;
                ++sessions_live;
            }
        }
        changed.notify_all();
        if (failure) server_close(session, failure);
    }

    void resume(const std::shared_ptr<Session>& session, const json& d) {
        std::vector<std::string> replay;
        bool valid;
        {
            std::lock_guard lock(mutex);
            ++resumes;
            valid = d.is_object() && d.value("token", "") == kToken &&
                    d.value("session_id", "") == session_id && !session_id.empty() &&
                    d.contains("seq") && d["seq"].is_number_integer();
            if (valid) {
                std::int64_t from = d["seq"].get<std::int64_t>() - replay_extra;
                for (const auto& [seq, text] : dispatched)
                    if (seq > from && !text.empty()) replay.push_back(text);
                std::int64_t seq = next_seq++;
                replay.push_back(
                    json{{"op", 0}, {"t", "RESUMED"}, {"s", seq}, {"d", json::object()}}.dump());
                for (auto& text : replay) send(session, std::move(text));  // before it is live
                session->live = true;
                ++sessions_live;
            }
        }
        changed.notify_all();
        if (!valid) send(session, R"({"op":9,"d":false})");
    }

    void server_close(const std::shared_ptr<Session>& session, int code) {
        net::post(io, [this, session, code] {
            {
                std::lock_guard lock(mutex);
                session->open = false;  // not the client's close
                session->live = false;
            }
            session->ws.async_close(websocket::close_reason(static_cast<std::uint16_t>(code)),
                                    [](beast::error_code) {});
        });
    }

    void send(const std::shared_ptr<Session>& session, std::string text) {
        net::post(io, [this, session, text = std::move(text)]() mutable {
            session->out.push_back(std::move(text));
            if (!session->writing) write_next(session);
        });
    }

    void write_next(const std::shared_ptr<Session>& session) {
        session->writing = true;
        session->ws.async_write(net::buffer(session->out.front()),
                                [this, session](beast::error_code ec, std::size_t) {
                                    session->out.pop_front();
                                    if (ec || session->out.empty()) {
                                        session->writing = false;
                                        return;
                                    }
                                    write_next(session);
                                });
    }

    std::shared_ptr<Session> open_session() const {
        return current && current->open ? current : nullptr;
    }
};

FakeDiscord::FakeDiscord() : impl_(std::make_unique<Impl>()) {
    impl_->acceptor.emplace(impl_->io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    impl_->routes();
    net::post(impl_->io, [impl = impl_.get()] { impl->accept_next(); });
    impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

FakeDiscord::~FakeDiscord() {
    net::post(impl_->io, [impl = impl_.get()] {
        beast::error_code ignored;
        impl->acceptor->close(ignored);
        std::lock_guard lock(impl->mutex);
        for (auto& session : impl->sessions) session->ws.next_layer().socket().close(ignored);
    });
    impl_->work.reset();
    impl_->thread.join();
}

RecordingServer& FakeDiscord::api() {
    return impl_->api;
}

std::string FakeDiscord::api_base() const {
    return impl_->api.base_url() + "/api/v10";
}

void FakeDiscord::set_heartbeat_interval(std::chrono::milliseconds interval) {
    std::lock_guard lock(impl_->mutex);
    impl_->heartbeat_interval = interval.count();
}

void FakeDiscord::set_acks(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->acks = on;
}

void FakeDiscord::fail_identify(int close_code) {
    std::lock_guard lock(impl_->mutex);
    impl_->identify_failure = close_code;
}

void FakeDiscord::set_replay_extra(int count) {
    std::lock_guard lock(impl_->mutex);
    impl_->replay_extra = count;
}

int FakeDiscord::connections() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->accepted;
}

bool FakeDiscord::wait_connections(int n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->accepted >= n; });
}

int FakeDiscord::identifies() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->identifies;
}

int FakeDiscord::resumes() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->resumes;
}

std::size_t FakeDiscord::heartbeats() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->heartbeats;
}

bool FakeDiscord::wait_sessions(int n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->sessions_live >= n; });
}

std::vector<std::string> FakeDiscord::targets() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->targets;
}

std::vector<int> FakeDiscord::client_close_codes() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->client_closes;
}

bool FakeDiscord::wait_client_closes(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->client_closes.size() >= n; });
}

std::int64_t FakeDiscord::dispatch_message(const json& message) {
    std::shared_ptr<Session> session;
    std::string text;
    std::int64_t seq = 0;
    {
        std::lock_guard lock(impl_->mutex);
        seq = impl_->next_seq++;
        text = json{{"op", 0}, {"t", "MESSAGE_CREATE"}, {"s", seq}, {"d", message}}.dump();
        impl_->dispatched.emplace_back(seq, text);
        session = impl_->open_session();
        if (session && session->live) impl_->send(session, std::move(text));  // in seq order
    }
    return seq;
}

bool FakeDiscord::dispatch_raw(const std::string& message_json) {
    std::shared_ptr<Session> session;
    std::string text;
    {
        std::lock_guard lock(impl_->mutex);
        session = impl_->open_session();
        if (!session || !session->live) return false;
        std::int64_t seq = impl_->next_seq++;
        text = std::string(R"({"op":0,"t":"MESSAGE_CREATE","s":)")
                   .append(std::to_string(seq))
                   .append(R"(,"d":)")
                   .append(message_json)
                   .append("}");
        if (impl_->recording) impl_->dispatched.emplace_back(seq, text);
        impl_->send(session, std::move(text));  // under the lock: in seq order
    }
    return true;
}

void FakeDiscord::on_reply(std::function<void(const std::string&, const std::string&)> observer) {
    std::lock_guard lock(impl_->mutex);
    impl_->reply_observer = std::move(observer);
}

void FakeDiscord::record(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->recording = on;
}

bool FakeDiscord::send_payload(const json& payload) {
    std::lock_guard lock(impl_->mutex);
    auto session = impl_->open_session();
    if (!session) return false;
    impl_->send(session, payload.dump());
    return true;
}

void FakeDiscord::drop() {
    std::shared_ptr<Session> session;
    {
        std::lock_guard lock(impl_->mutex);
        session = impl_->open_session();
        if (!session) return;
        session->open = false;
        session->live = false;
    }
    net::post(impl_->io, [session] {
        beast::error_code ignored;
        session->ws.next_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
        session->ws.next_layer().socket().close(ignored);
    });
}

void FakeDiscord::close(int code) {
    std::shared_ptr<Session> session;
    {
        std::lock_guard lock(impl_->mutex);
        session = impl_->open_session();
    }
    if (session) impl_->server_close(session, code);
}

std::vector<FakeDiscord::Sent> FakeDiscord::messages() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->sent;
}

std::size_t FakeDiscord::typing_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->typing;
}

std::size_t FakeDiscord::gateway_bot_requests() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->gateway_bot;
}

json FakeDiscord::user(const std::string& id, const std::string& name, bool bot) {
    json out{{"id", id}, {"username", name}, {"global_name", nullptr}, {"discriminator", "0"}};
    if (bot) out["bot"] = true;
    return out;
}

json FakeDiscord::dm(const std::string& id, const std::string& channel, const std::string& author,
                     const std::string& content) {
    return {{"id", id},
            {"channel_id", channel},
            {"type", 0},
            {"content", content},
            {"author", user(author, "user" + author.substr(author.size() - 3))},
            {"mentions", json::array()},
            {"attachments", json::array()},
            {"timestamp", "2026-12-07T12:00:00.000000+00:00"}};
}

json FakeDiscord::guild_message(const std::string& id, const std::string& channel,
                                const std::string& author, const std::string& content,
                                json mentions) {
    json message = dm(id, channel, author, content);
    message["guild_id"] = "1200000000000000001";
    message["mentions"] = std::move(mentions);
    message["member"] = {{"roles", json::array()}};
    return message;
}

}  // namespace bot::testing
