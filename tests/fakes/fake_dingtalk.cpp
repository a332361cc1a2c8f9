#include "fakes/fake_dingtalk.hpp"

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
#include <map>
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
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kTopic = "/v1.0/im/bot/messages/get";
constexpr auto kTicketLifetime = std::chrono::seconds(90);

struct Socket : std::enable_shared_from_this<Socket> {
    explicit Socket(tcp::socket socket, int index) : ws(std::move(socket)), index(index) {}
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    std::deque<std::string> out;
    bool writing = false;
    bool frozen = false;
    std::atomic<bool> open{false};
    int index;
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

}  // namespace

struct FakeDingtalk::Impl {
    std::string client_id, secret;
    RecordingServer api;

    // Stream server.
    net::io_context io;
    net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
    std::thread thread;
    std::optional<tcp::acceptor> acceptor;

    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    // REST state.
    std::vector<Sent> sent;
    std::size_t sent_count = 0;
    bool recording = true;
    std::function<void(const Sent&)> observer;
    std::size_t token_fetches = 0;
    std::string token;
    std::set<std::string> revoked;
    std::chrono::milliseconds token_delay{0};
    std::map<std::string, Clock::time_point> tickets;  // unused ones, with their issue time
    std::size_t registrations = 0;
    std::set<std::string> expired_sessions;
    std::int64_t next_key = 1;
    // Stream state.
    std::vector<std::shared_ptr<Socket>> sockets;
    int refused = 0;
    std::map<std::string, json> acks;
    std::size_t ack_count = 0;
    std::int64_t next_frame = 1;

    Impl(std::string id, std::string key) : client_id(std::move(id)), secret(std::move(key)) {
        acceptor.emplace(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        routes();
        net::post(io, [this] { accept_next(); });
        thread = std::thread([this] { io.run(); });
    }

    std::string ws_url() const {
        return "ws://127.0.0.1:" + std::to_string(acceptor->local_endpoint().port()) + "/connect";
    }

    bool token_ok(const RecordedRequest& request) {
        std::string given(request.header("x-acs-dingtalk-access-token"));
        std::lock_guard lock(mutex);
        return !given.empty() && given == token && !revoked.contains(given);
    }

    void record_sent(Sent message) {
        std::function<void(const Sent&)> notify;
        {
            std::lock_guard lock(mutex);
            ++sent_count;
            notify = observer;
        }
        if (notify) notify(message);
        {
            std::lock_guard lock(mutex);
            if (recording) sent.push_back(std::move(message));
        }
        changed.notify_all();
    }

    // msgKey + msgParam of the robot OpenAPI; nullopt when malformed.
    static std::optional<Sent> openapi_message(const json& body) {
        if (!body.is_object() || !body.contains("msgKey") || !body.contains("msgParam") ||
            !body["msgParam"].is_string())
            return std::nullopt;
        auto param = json::parse(body["msgParam"].get<std::string>(), nullptr, false);
        if (!param.is_object()) return std::nullopt;
        Sent out;
        if (body["msgKey"] == "sampleText" && param.contains("content") &&
            param["content"].is_string()) {
            out.type = "text";
            out.text = param["content"];
        } else if (body["msgKey"] == "sampleMarkdown" && param.contains("title") &&
                   param.contains("text") && param["title"].is_string() &&
                   param["text"].is_string()) {
            out.type = "markdown";
            out.title = param["title"];
            out.text = param["text"];
        } else {
            return std::nullopt;
        }
        if (out.text.empty()) return std::nullopt;
        return out;
    }

    void routes() {
        api.on("POST", "/v1.0/oauth2/accessToken", [this](const RecordedRequest& request) {
            const auto& body = request.json;
            if (!body.is_object() || body.value("appKey", "") != client_id ||
                body.value("appSecret", "") != secret) {
                return Reply::json({{"code", "invalidClientIdOrSecret"},
                                    {"message", "无效的clientId或者clientSecret"}},
                                   400);
            }
            std::lock_guard lock(mutex);
            ++token_fetches;
            token = "tok-" + std::to_string(token_fetches) + "-abcdef";
            return Reply::json({{"accessToken", token}, {"expireIn", 7200}}).after(token_delay);
        });
        api.on("POST", "/v1.0/gateway/connections/open", [this](const RecordedRequest& request) {
            // Without Accept: application/json the gateway answers XML (dt-node l.110-113).
            if (request.header("Accept").find("application/json") == std::string_view::npos)
                return Reply::text("<xml>not json</xml>");
            const auto& body = request.json;
            if (!body.is_object() || body.value("clientId", "") != client_id ||
                body.value("clientSecret", "") != secret) {
                return Reply::json({{"code", "Unauthorized"}, {"message", "bad credentials"}}, 401);
            }
            bool robot = false;
            if (body.contains("subscriptions") && body["subscriptions"].is_array()) {
                for (const auto& s : body["subscriptions"])
                    robot = robot || (s.is_object() && s.value("type", "") == "CALLBACK" &&
                                      s.value("topic", "") == kTopic);
            }
            if (!robot) return Reply::json({{"code", "invalidParameter"}}, 400);
            std::lock_guard lock(mutex);
            ++registrations;
            // Tickets are UUID-like; one with '+' and '=' checks the bot encodes it.
            std::string ticket = "tkt-" + std::to_string(registrations) + "+x=y";
            tickets[ticket] = Clock::now();
            return Reply::json({{"endpoint", ws_url()}, {"ticket", ticket}});
        });
        api.on("POST", "/v1.0/robot/oToMessages/batchSend", [this](const RecordedRequest& request) {
            if (!token_ok(request))
                return Reply::json({{"code", "InvalidAuthentication"}, {"message", "token"}}, 401);
            const auto& body = request.json;
            auto message = openapi_message(body);
            if (!message || body.value("robotCode", "") != client_id || !body.contains("userIds") ||
                !body["userIds"].is_array() || body["userIds"].size() != 1 ||
                !body["userIds"][0].is_string())
                return Reply::json({{"code", "invalidParameter"}}, 400);
            message->via = "batchSend";
            message->target = body["userIds"][0];
            record_sent(std::move(*message));
            std::lock_guard lock(mutex);
            return Reply::json({{"processQueryKey", "pqk-" + std::to_string(next_key++)},
                                {"invalidStaffIdList", json::array()},
                                {"flowControlledStaffIdList", json::array()}});
        });
        api.on("POST", "/v1.0/robot/groupMessages/send", [this](const RecordedRequest& request) {
            if (!token_ok(request))
                return Reply::json({{"code", "InvalidAuthentication"}, {"message", "token"}}, 401);
            const auto& body = request.json;
            auto message = openapi_message(body);
            if (!message || body.value("robotCode", "") != client_id ||
                body.value("openConversationId", "").empty())
                return Reply::json({{"code", "invalidParameter"}}, 400);
            message->via = "groupSend";
            message->target = body["openConversationId"];
            record_sent(std::move(*message));
            std::lock_guard lock(mutex);
            return Reply::json({{"processQueryKey", "pqk-" + std::to_string(next_key++)}});
        });
        // The session webhook: no token, the URL is the credential.
        api.on("POST", "/robot/sendBySession", [this](const RecordedRequest& request) {
            auto session = query_value(request.query, "session");
            {
                std::lock_guard lock(mutex);
                if (session.empty() || expired_sessions.contains(session))
                    return Reply::json({{"errcode", 300001}, {"errmsg", "session 不存在"}});
            }
            const auto& body = request.json;
            Sent message{.via = "webhook", .target = session};
            if (!body.is_object()) return Reply::json({{"errcode", 40035}, {"errmsg", "body"}});
            auto type = body.value("msgtype", "");
            if (type == "text" && body.contains("text") && body["text"].is_object()) {
                message.type = "text";
                message.text = body["text"].value("content", "");
            } else if (type == "markdown" && body.contains("markdown") &&
                       body["markdown"].is_object()) {
                message.type = "markdown";
                message.title = body["markdown"].value("title", "");
                message.text = body["markdown"].value("text", "");
                if (message.title.empty())
                    return Reply::json({{"errcode", 40035}, {"errmsg", "title"}});
            } else {
                return Reply::json({{"errcode", 40035}, {"errmsg", "msgtype"}});
            }
            if (message.text.empty()) return Reply::json({{"errcode", 40035}, {"errmsg", "text"}});
            if (body.contains("at") && body["at"].is_object() && body["at"].contains("atUserIds") &&
                body["at"]["atUserIds"].is_array()) {
                for (const auto& user : body["at"]["atUserIds"])
                    if (user.is_string()) message.at_users.push_back(user);
            }
            record_sent(std::move(message));
            return Reply::json({{"errcode", 0}, {"errmsg", "ok"}});
        });
    }

    // ---- the websocket server (on io's thread) ----

    void accept_next() {
        acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
            if (ec) return;
            upgrade(std::move(socket));
            accept_next();
        });
    }

    void upgrade(tcp::socket raw) {
        auto socket = std::make_shared<Socket>(std::move(raw), -1);
        auto request = std::make_shared<bhttp::request<bhttp::string_body>>();
        auto buffer = std::make_shared<beast::flat_buffer>();
        bhttp::async_read(
            socket->ws.next_layer(), *buffer, *request,
            [this, socket, request, buffer](beast::error_code ec, std::size_t) {
                if (ec) return;
                std::string_view target(request->target().data(), request->target().size());
                auto query = target.substr(std::min(target.find('?'), target.size()));
                if (!query.empty()) query.remove_prefix(1);
                auto ticket = http::percent_decode(query_value(query, "ticket"), false);
                bool valid = false;
                {
                    std::lock_guard lock(mutex);
                    auto found = tickets.find(ticket);
                    valid =
                        found != tickets.end() && Clock::now() - found->second < kTicketLifetime;
                    if (found != tickets.end()) tickets.erase(found);  // single use
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
                    {
                        std::lock_guard lock(mutex);
                        socket->index = static_cast<int>(sockets.size());
                        socket->open = true;
                        sockets.push_back(socket);
                    }
                    changed.notify_all();
                    read(socket);
                });
            });
    }

    void read(const std::shared_ptr<Socket>& socket) {
        socket->ws.async_read(socket->buffer, [this, socket](beast::error_code ec, std::size_t) {
            if (ec) {
                if (socket->frozen) return;  // cancelled on purpose; the socket stays up
                mark_closed(socket);
                return;
            }
            std::string text = beast::buffers_to_string(socket->buffer.data());
            socket->buffer.consume(socket->buffer.size());
            auto frame = json::parse(text, nullptr, false);
            if (frame.is_object() && frame.contains("headers") && frame["headers"].is_object()) {
                auto id = frame["headers"].value("messageId", "");
                {
                    std::lock_guard lock(mutex);
                    ++ack_count;
                    acks[id] = frame;
                }
                changed.notify_all();
            }
            if (!socket->frozen) read(socket);
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

    // A frame as the gateway writes it (dt-protocol l.134-175); returns its messageId.
    std::string frame(const std::string& type, const std::string& topic, const std::string& data) {
        auto socket = newest_open();
        if (!socket) return {};
        std::string id;
        {
            std::lock_guard lock(mutex);
            id = "msg-" + std::to_string(next_frame++);
        }
        json headers{{"appId", "app-1"},
                     {"connectionId", "conn-" + std::to_string(socket->index)},
                     {"contentType", "application/json"},
                     {"messageId", id},
                     {"time", std::to_string(now_ms())},
                     {"topic", topic}};
        send(socket,
             json{{"specVersion", "1.0"}, {"type", type}, {"headers", headers}, {"data", data}}
                 .dump());
        return id;
    }
};

FakeDingtalk::FakeDingtalk(std::string client_id, std::string client_secret)
    : impl_(std::make_unique<Impl>(std::move(client_id), std::move(client_secret))) {}

FakeDingtalk::~FakeDingtalk() {
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

std::string FakeDingtalk::api_base() const {
    return impl_->api.base_url();
}

RecordingServer& FakeDingtalk::api() {
    return impl_->api;
}

std::vector<FakeDingtalk::Sent> FakeDingtalk::sent() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->sent;
}

bool FakeDingtalk::wait_sent(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->sent_count >= n; });
}

std::size_t FakeDingtalk::sent_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->sent_count;
}

void FakeDingtalk::record(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->recording = on;
}

std::size_t FakeDingtalk::token_fetches() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->token_fetches;
}

std::size_t FakeDingtalk::registrations() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->registrations;
}

void FakeDingtalk::expire_token() {
    std::lock_guard lock(impl_->mutex);
    impl_->revoked.insert(impl_->token);
}

void FakeDingtalk::token_delay(std::chrono::milliseconds delay) {
    std::lock_guard lock(impl_->mutex);
    impl_->token_delay = delay;
}

std::string FakeDingtalk::webhook_url(const std::string& conversation) const {
    return impl_->api.base_url() + "/robot/sendBySession?session=s-" + conversation;
}

void FakeDingtalk::expire_webhook(const std::string& conversation) {
    std::lock_guard lock(impl_->mutex);
    impl_->expired_sessions.insert("s-" + conversation);
}

int FakeDingtalk::connections() const {
    std::lock_guard lock(impl_->mutex);
    return static_cast<int>(impl_->sockets.size());
}

int FakeDingtalk::open_connections() const {
    std::lock_guard lock(impl_->mutex);
    int open = 0;
    for (const auto& socket : impl_->sockets) open += socket->open ? 1 : 0;
    return open;
}

bool FakeDingtalk::wait_connections(int n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout,
                                   [&] { return static_cast<int>(impl_->sockets.size()) >= n; });
}

int FakeDingtalk::refused_upgrades() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->refused;
}

std::string FakeDingtalk::push(const json& message) {
    return impl_->frame("CALLBACK", kTopic, message.dump());
}

std::string FakeDingtalk::push_data(const std::string& message) {
    return impl_->frame("CALLBACK", kTopic, message);
}

void FakeDingtalk::on_sent(std::function<void(const Sent&)> observer) {
    std::lock_guard lock(impl_->mutex);
    impl_->observer = std::move(observer);
}

std::string FakeDingtalk::push_text(const std::string& frame) {
    auto socket = impl_->newest_open();
    if (!socket) return {};
    impl_->send(socket, frame);
    return "sent";
}

std::string FakeDingtalk::ping() {
    std::string opaque = "opaque-" + std::to_string(now_ms());
    return impl_->frame("SYSTEM", "ping", json{{"opaque", opaque}}.dump());
}

void FakeDingtalk::disconnect(std::chrono::milliseconds close_after) {
    auto socket = impl_->newest_open();
    if (!socket) return;
    impl_->frame("SYSTEM", "disconnect", R"({"reason":"connection is expired"})");
    net::post(impl_->io, [impl = impl_.get(), socket, close_after] {
        socket->close_timer.emplace(impl->io, close_after);
        socket->close_timer->async_wait([impl, socket](beast::error_code ec) {
            if (ec || !socket->open) return;
            impl->mark_closed(socket);  // the server drops it (no close frame)
        });
    });
}

void FakeDingtalk::freeze() {
    auto socket = impl_->newest_open();
    if (!socket) return;
    net::post(impl_->io, [socket] {
        socket->frozen = true;
        beast::error_code ignored;
        socket->ws.next_layer().socket().cancel(ignored);
    });
}

json FakeDingtalk::ack(const std::string& message_id) const {
    std::lock_guard lock(impl_->mutex);
    auto found = impl_->acks.find(message_id);
    return found == impl_->acks.end() ? json() : found->second;
}

bool FakeDingtalk::wait_ack(const std::string& message_id,
                            std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->acks.contains(message_id); });
}

std::size_t FakeDingtalk::acks() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->ack_count;
}

bool FakeDingtalk::closed(int connection) const {
    std::lock_guard lock(impl_->mutex);
    return connection < static_cast<int>(impl_->sockets.size()) &&
           !impl_->sockets[connection]->open;
}

json FakeDingtalk::private_message(const std::string& staff_id, const std::string& msg_id,
                                   const std::string& text, std::int64_t expires_ms) const {
    // dt-protocol l.212-225: the fields of a robot message.
    std::string conversation = "cid-1on1-" + staff_id;
    return {{"conversationId", conversation},
            {"conversationType", "1"},
            {"chatbotCorpId", "ding-corp"},
            {"chatbotUserId", "$:LWCP_v1:$bot"},
            {"msgId", msg_id},
            {"senderNick", "Nick " + staff_id},
            {"isAdmin", false},
            {"senderStaffId", staff_id},
            {"sessionWebhookExpiredTime", expires_ms ? expires_ms : now_ms() + 3600 * 1000},
            {"createAt", now_ms()},
            {"senderCorpId", "ding-corp"},
            {"senderId", "$:LWCP_v1:$" + staff_id},
            {"sessionWebhook", webhook_url(conversation)},
            {"robotCode", impl_->client_id},
            {"msgtype", "text"},
            {"text", {{"content", text}}}};
}

json FakeDingtalk::group_message(const std::string& conversation, const std::string& staff_id,
                                 const std::string& msg_id, const std::string& text,
                                 std::int64_t expires_ms) const {
    auto message = private_message(staff_id, msg_id, " " + text, expires_ms);
    message["conversationId"] = conversation;
    message["conversationType"] = "2";
    message["conversationTitle"] = "A group";
    message["isInAtList"] = true;
    message["atUsers"] = json::array({{{"dingtalkId", "$:LWCP_v1:$bot"}}});
    message["sessionWebhook"] = webhook_url(conversation);
    return message;
}

TestResponse FakeDingtalk::post(const std::string& url, const std::string& body,
                                std::int64_t timestamp_ms) const {
    auto timestamp = std::to_string(timestamp_ms ? timestamp_ms : now_ms());
    return http_request("POST", url, body,
                        {"Content-Type: application/json", "timestamp: " + timestamp,
                         "sign: " + sign(timestamp, impl_->secret)});
}

std::string FakeDingtalk::sign(const std::string& timestamp, const std::string& secret) {
    return crypto::base64_encode(crypto::hmac_sha256(secret, timestamp + "\n" + secret));
}

std::int64_t FakeDingtalk::now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace bot::testing
