#include "fakes/fake_slack.hpp"

#include "base/crypto.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace bot::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

struct Socket {
    explicit Socket(tcp::socket socket) : ws(std::move(socket)) {}
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    std::deque<std::string> out;
    bool writing = false;
    std::atomic<bool> open{false};
    std::optional<net::steady_timer> close_timer;
};

std::string query_value(std::string_view query, std::string_view name) {
    std::size_t start = 0;
    while (start <= query.size()) {
        auto end = query.find('&', start);
        auto pair =
            query.substr(start, end == std::string_view::npos ? query.size() - start : end - start);
        if (pair.starts_with(name) && pair.size() > name.size() && pair[name.size()] == '=')
            return std::string(pair.substr(name.size() + 1));
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return {};
}

// Slack answers every Web API call with HTTP 200 and {"ok":false,"error":...} when it fails.
Reply slack_error(const std::string& error) {
    return Reply::json({{"ok", false}, {"error", error}});
}

}  // namespace

struct FakeSlack::Impl {
    std::string bot_token, app_token, secret;
    RecordingServer api;

    net::io_context io;
    net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
    std::thread thread;
    std::optional<tcp::acceptor> acceptor;

    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::vector<Message> messages;
    bool recording = true;
    std::function<void(const Message&)> observer;
    std::size_t update_calls = 0;
    std::int64_t next_ts = 1;
    std::set<std::string> tickets;
    int issued = 0;
    std::vector<std::shared_ptr<Socket>> sockets;
    int refused = 0;
    std::set<std::string> acks;
    std::int64_t next_envelope = 1;

    Impl(std::string bot, std::string app, std::string key)
        : bot_token(std::move(bot)), app_token(std::move(app)), secret(std::move(key)) {
        acceptor.emplace(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        routes();
        net::post(io, [this] { accept_next(); });
        thread = std::thread([this] { io.run(); });
    }

    static bool bearer(const RecordedRequest& request, const std::string& token) {
        return request.header("Authorization") == "Bearer " + token;
    }

    void routes() {
        api.on("POST", "/api/auth.test", [this](const RecordedRequest& request) {
            if (!bearer(request, bot_token)) return slack_error("invalid_auth");
            return Reply::json({{"ok", true},
                                {"url", "https://example.slack.com/"},
                                {"team", "Example"},
                                {"user", "contactbot"},
                                {"team_id", "T0001"},
                                {"user_id", kBotUser},
                                {"bot_id", kBotId}});
        });
        api.on("POST", "/api/apps.connections.open", [this](const RecordedRequest& request) {
            // An xoxb token here is "not_allowed_token_type"; a wrong one "invalid_auth".
            if (request.header("Authorization") == "Bearer " + bot_token)
                return slack_error("not_allowed_token_type");
            if (!bearer(request, app_token)) return slack_error("invalid_auth");
            std::lock_guard lock(mutex);
            std::string ticket = "tkt-" + std::to_string(++issued) + "-secret";
            tickets.insert(ticket);
            auto port = std::to_string(acceptor->local_endpoint().port());
            return Reply::json(
                {{"ok", true},
                 {"url", "ws://127.0.0.1:" + port + "/link/?ticket=" + ticket + "&app_id=A0001"}});
        });
        api.on("POST", "/api/chat.postMessage", [this](const RecordedRequest& request) {
            if (!bearer(request, bot_token)) return slack_error("invalid_auth");
            const auto& body = request.json;
            if (!body.is_object() || !body.contains("channel") || !body["channel"].is_string())
                return slack_error("channel_not_found");
            if (!body.contains("text") || !body["text"].is_string() ||
                body["text"].get<std::string>().empty())
                return slack_error("no_text");
            std::string text = body["text"];
            if (text.size() > 40000) return slack_error("msg_too_long");
            Message message{.channel = body["channel"], .text = text};
            if (body.contains("thread_ts")) {
                if (!body["thread_ts"].is_string()) return slack_error("invalid_thread_ts");
                message.thread_ts = body["thread_ts"];
            }
            message.mrkdwn = body.value("mrkdwn", false);
            std::string ts;
            std::function<void(const Message&)> notify;
            {
                std::lock_guard lock(mutex);
                ts = "1700000000." + std::to_string(100000 + next_ts++);
                message.ts = ts;
                if (recording) messages.push_back(message);
                notify = observer;
            }
            if (notify) notify(message);
            changed.notify_all();
            return Reply::json({{"ok", true},
                                {"channel", message.channel},
                                {"ts", ts},
                                {"message", {{"text", text}}}});
        });
        api.on("POST", "/api/chat.update", [this](const RecordedRequest& request) {
            if (!bearer(request, bot_token)) return slack_error("invalid_auth");
            const auto& body = request.json;
            if (!body.is_object() || !body.contains("ts") || !body["ts"].is_string() ||
                !body.contains("channel") || !body["channel"].is_string() ||
                !body.contains("text") || !body["text"].is_string())
                return slack_error("invalid_arguments");
            {
                std::lock_guard lock(mutex);
                ++update_calls;
                auto found = std::find_if(messages.begin(), messages.end(), [&](const Message& m) {
                    return m.ts == body["ts"] && m.channel == body["channel"];
                });
                if (found == messages.end()) return slack_error("message_not_found");
                found->text = body["text"];
                ++found->updates;
            }
            changed.notify_all();
            return Reply::json({{"ok", true}, {"channel", body["channel"]}, {"ts", body["ts"]}});
        });
    }

    // ---- the Socket Mode server (on io's thread) ----

    void accept_next() {
        acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
            if (ec) return;
            upgrade(std::move(socket));
            accept_next();
        });
    }

    void upgrade(tcp::socket raw) {
        auto socket = std::make_shared<Socket>(std::move(raw));
        auto request = std::make_shared<bhttp::request<bhttp::string_body>>();
        auto buffer = std::make_shared<beast::flat_buffer>();
        bhttp::async_read(
            socket->ws.next_layer(), *buffer, *request,
            [this, socket, request, buffer](beast::error_code ec, std::size_t) {
                if (ec) return;
                std::string_view target(request->target().data(), request->target().size());
                auto query = target.substr(std::min(target.find('?'), target.size()));
                if (!query.empty()) query.remove_prefix(1);
                bool valid = false;
                {
                    std::lock_guard lock(mutex);
                    valid = tickets.erase(query_value(query, "ticket")) == 1;  // single use
                    if (!valid) ++refused;
                }
                if (!valid) {
                    auto response = std::make_shared<bhttp::response<bhttp::string_body>>(
                        bhttp::status::unauthorized, request->version());
                    response->body() = "invalid ticket";
                    response->prepare_payload();
                    bhttp::async_write(socket->ws.next_layer(), *response,
                                       [socket, response](beast::error_code, std::size_t) {
                                           beast::error_code ignored;
                                           socket->ws.next_layer().socket().close(ignored);
                                       });
                    return;
                }
                socket->ws.async_accept(*request, [this, socket](beast::error_code ec) {
                    if (ec) return;
                    int index = 0;
                    {
                        std::lock_guard lock(mutex);
                        index = static_cast<int>(sockets.size());
                        socket->open = true;
                        sockets.push_back(socket);
                    }
                    changed.notify_all();
                    // As Slack greets a new connection (python-slack-sdk tests
                    // mock_socket_mode_server.py l.30).
                    send(socket, json{{"type", "hello"},
                                      {"num_connections", index + 1},
                                      {"debug_info", {{"host", "applink-fake"}}},
                                      {"connection_info", {{"app_id", "A0001"}}}}
                                     .dump());
                    read(socket);
                });
            });
    }

    void read(const std::shared_ptr<Socket>& socket) {
        socket->ws.async_read(socket->buffer, [this, socket](beast::error_code ec, std::size_t) {
            if (ec) {
                mark_closed(socket);
                return;
            }
            std::string text = beast::buffers_to_string(socket->buffer.data());
            socket->buffer.consume(socket->buffer.size());
            auto frame = json::parse(text, nullptr, false);
            if (frame.is_object() && frame.contains("envelope_id") &&
                frame["envelope_id"].is_string()) {
                {
                    std::lock_guard lock(mutex);
                    acks.insert(frame["envelope_id"].get<std::string>());
                }
                changed.notify_all();
            }
            read(socket);
        });
    }

    void mark_closed(const std::shared_ptr<Socket>& socket) {
        {
            std::lock_guard lock(mutex);
            socket->open = false;
        }
        changed.notify_all();
        if (socket->close_timer) socket->close_timer->cancel();
        beast::error_code ignored;
        socket->ws.next_layer().socket().close(ignored);
    }

    void send(const std::shared_ptr<Socket>& socket, std::string text) {
        net::post(io, [this, socket, text = std::move(text)]() mutable {
            socket->out.push_back(std::move(text));
            if (!socket->writing) write_next(socket);
        });
    }

    void write_next(const std::shared_ptr<Socket>& socket) {
        socket->writing = true;
        socket->ws.text(true);
        socket->ws.async_write(net::buffer(socket->out.front()),
                               [this, socket](beast::error_code ec, std::size_t) {
                                   socket->out.pop_front();
                                   if (ec || socket->out.empty()) {
                                       socket->writing = false;
                                       return;
                                   }
                                   write_next(socket);
                               });
    }

    std::shared_ptr<Socket> newest_open() const {
        std::lock_guard lock(mutex);
        for (auto it = sockets.rbegin(); it != sockets.rend(); ++it)
            if ((*it)->open) return *it;
        return nullptr;
    }
};

FakeSlack::FakeSlack(std::string bot_token, std::string app_token, std::string signing_secret)
    : impl_(std::make_unique<Impl>(std::move(bot_token), std::move(app_token),
                                   std::move(signing_secret))) {}

FakeSlack::~FakeSlack() {
    net::post(impl_->io, [impl = impl_.get()] {
        beast::error_code ignored;
        impl->acceptor->close(ignored);
        std::lock_guard lock(impl->mutex);
        for (auto& socket : impl->sockets) {
            if (socket->close_timer) socket->close_timer->cancel();
            socket->ws.next_layer().socket().close(ignored);
        }
    });
    impl_->work.reset();
    impl_->thread.join();
}

std::string FakeSlack::api_base() const {
    return impl_->api.base_url() + "/api";
}

RecordingServer& FakeSlack::api() {
    return impl_->api;
}

std::vector<FakeSlack::Message> FakeSlack::messages() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->messages;
}

bool FakeSlack::wait_messages(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->messages.size() >= n; });
}

std::size_t FakeSlack::update_calls() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->update_calls;
}

void FakeSlack::record(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->recording = on;
}

void FakeSlack::on_message(std::function<void(const Message&)> observer) {
    std::lock_guard lock(impl_->mutex);
    impl_->observer = std::move(observer);
}

int FakeSlack::connections() const {
    std::lock_guard lock(impl_->mutex);
    return static_cast<int>(impl_->sockets.size());
}

bool FakeSlack::wait_connections(int n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout,
                                   [&] { return static_cast<int>(impl_->sockets.size()) >= n; });
}

int FakeSlack::refused_upgrades() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->refused;
}

std::string FakeSlack::push(const json& event, const std::string& event_id) {
    auto socket = impl_->newest_open();
    if (!socket) return {};
    std::string envelope_id;
    {
        std::lock_guard lock(impl_->mutex);
        envelope_id = "env-" + std::to_string(impl_->next_envelope++);
    }
    std::string id = event_id.empty() ? "Ev" + envelope_id : event_id;
    // An events_api envelope as python-slack-sdk's mock server sends it
    // (tests/slack_sdk/socket_mode/mock_socket_mode_server.py l.25).
    json envelope{{"envelope_id", envelope_id}, {"payload", callback(event, id)},
                  {"type", "events_api"},       {"accepts_response_payload", false},
                  {"retry_attempt", 0},         {"retry_reason", ""}};
    impl_->send(socket, envelope.dump());
    return envelope_id;
}

std::string FakeSlack::push_text(const std::string& frame) {
    auto socket = impl_->newest_open();
    if (!socket) return {};
    impl_->send(socket, frame);
    return "sent";
}

void FakeSlack::disconnect(const std::string& reason, std::chrono::milliseconds close_after) {
    auto socket = impl_->newest_open();
    if (!socket) return;
    impl_->send(
        socket,
        json{{"type", "disconnect"}, {"reason", reason}, {"debug_info", {{"host", "applink-fake"}}}}
            .dump());
    net::post(impl_->io, [impl = impl_.get(), socket, close_after] {
        socket->close_timer.emplace(impl->io, close_after);
        socket->close_timer->async_wait([impl, socket](beast::error_code ec) {
            if (ec || !socket->open) return;
            impl->mark_closed(socket);  // the server drops it
        });
    });
}

bool FakeSlack::acked(const std::string& envelope_id) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->acks.contains(envelope_id);
}

bool FakeSlack::wait_ack(const std::string& envelope_id, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout,
                                   [&] { return impl_->acks.contains(envelope_id); });
}

bool FakeSlack::closed(int connection) const {
    std::lock_guard lock(impl_->mutex);
    return connection < static_cast<int>(impl_->sockets.size()) &&
           !impl_->sockets[connection]->open;
}

json FakeSlack::dm(const std::string& user, const std::string& ts, const std::string& text) {
    // docs.slack.dev/reference/events/message.im
    return {{"type", "message"},
            {"channel", "D" + user},
            {"user", user},
            {"text", text},
            {"ts", ts},
            {"event_ts", ts},
            {"channel_type", "im"},
            {"client_msg_id", "cm-" + ts}};
}

json FakeSlack::mention(const std::string& channel, const std::string& user, const std::string& ts,
                        const std::string& text, const std::string& thread_ts) {
    json event{{"type", "app_mention"},
               {"channel", channel},
               {"user", user},
               {"text", std::string("<@") + kBotUser + "> " + text},
               {"ts", ts},
               {"event_ts", ts},
               {"team", "T0001"}};
    if (!thread_ts.empty()) event["thread_ts"] = thread_ts;
    return event;
}

json FakeSlack::callback(const json& event, const std::string& event_id) {
    return {{"token", "verification-token"},
            {"team_id", "T0001"},
            {"api_app_id", "A0001"},
            {"event", event},
            {"type", "event_callback"},
            {"event_id", event_id},
            {"event_time", now_s()},
            {"authorizations",
             json::array({{{"team_id", "T0001"}, {"user_id", kBotUser}, {"is_bot", true}}})}};
}

TestResponse FakeSlack::post(const std::string& url, const std::string& body,
                             std::int64_t timestamp, int retry) const {
    auto stamp = std::to_string(timestamp ? timestamp : now_s());
    std::vector<std::string> headers{"Content-Type: application/json",
                                     "X-Slack-Request-Timestamp: " + stamp,
                                     "X-Slack-Signature: " + sign(impl_->secret, stamp, body)};
    if (retry > 0) {
        headers.push_back("X-Slack-Retry-Num: " + std::to_string(retry));
        headers.push_back("X-Slack-Retry-Reason: http_timeout");
    }
    return http_request("POST", url, body, headers);
}

std::string FakeSlack::sign(const std::string& secret, const std::string& timestamp,
                            const std::string& body) {
    return "v0=" + crypto::hex(crypto::hmac_sha256(secret, "v0:" + timestamp + ":" + body));
}

std::int64_t FakeSlack::now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace bot::testing
