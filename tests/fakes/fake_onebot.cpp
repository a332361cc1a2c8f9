#include "fakes/fake_onebot.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace bot::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

struct Session : std::enable_shared_from_this<Session> {
    explicit Session(tcp::socket socket) : ws(std::move(socket)) {}
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    std::deque<std::string> out;
    bool writing = false;
    std::atomic<bool> open{true};
};

}  // namespace

// Handlers hold the Impl by pointer: the destructor joins the thread before the Impl goes.
struct FakeOneBot::Impl {
    std::int64_t self_id = 0;
    net::io_context io;
    net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
    std::thread thread;
    std::optional<tcp::acceptor> acceptor;
    std::string token;

    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::shared_ptr<Session> current;
    std::vector<std::shared_ptr<Session>> sessions;  // every one opened, closed at the end
    std::vector<json> actions;
    std::vector<std::int64_t> sent_ids;
    std::size_t action_count = 0;
    std::int64_t next_message_id = 1000;
    bool answering = true;
    bool recording = true;
    std::deque<std::int64_t> failures;
    std::function<void(const json&)> observer;
    int accepted = 0;
    std::string last_authorization;

    void start(const std::shared_ptr<Session>& session) {
        {
            std::lock_guard lock(mutex);
            current = session;
            sessions.push_back(session);
        }
        changed.notify_all();
        net::post(io, [self = this, session] { self->read(session); });
    }

    void read(const std::shared_ptr<Session>& session) {
        session->ws.async_read(
            session->buffer, [self = this, session](beast::error_code ec, std::size_t) {
                if (ec) {
                    {
                        std::lock_guard lock(self->mutex);  // (no wake-up lost by wait_closed)
                        session->open = false;
                    }
                    self->changed.notify_all();
                    return;
                }
                std::string text = beast::buffers_to_string(session->buffer.data());
                session->buffer.consume(session->buffer.size());
                self->on_text(session, text);
                self->read(session);
            });
    }

    void on_text(const std::shared_ptr<Session>& session, const std::string& text) {
        json frame = json::parse(text, nullptr, false);
        if (!frame.is_object() || !frame.contains("action")) return;
        std::optional<json> answer;
        std::function<void(const json&)> notify;
        {
            std::lock_guard lock(mutex);
            ++action_count;
            notify = observer;
            std::int64_t id = 0;
            if (!failures.empty()) {
                answer = json{{"status", "failed"},
                              {"retcode", failures.front()},
                              {"data", nullptr},
                              {"message", "scripted failure"},
                              {"echo", frame.value("echo", json())}};
                failures.pop_front();
            } else if (answering) {
                id = next_message_id++;
                answer = json{{"status", "ok"},
                              {"retcode", 0},
                              {"data", {{"message_id", id}}},
                              {"echo", frame.value("echo", json())}};
            }
            if (recording) {
                actions.push_back(frame);
                sent_ids.push_back(id);
            }
        }
        changed.notify_all();
        if (notify) notify(frame);
        if (answer) send(session, answer->dump());
    }

    void send(const std::shared_ptr<Session>& session, std::string text) {
        net::post(io, [self = this, session, text = std::move(text)]() mutable {
            session->out.push_back(std::move(text));
            if (!session->writing) self->write_next(session);
        });
    }

    void write_next(const std::shared_ptr<Session>& session) {
        session->writing = true;
        session->ws.text(true);
        session->ws.async_write(net::buffer(session->out.front()),
                                [self = this, session](beast::error_code ec, std::size_t) {
                                    session->out.pop_front();
                                    if (ec || session->out.empty()) {
                                        session->writing = false;
                                        return;
                                    }
                                    self->write_next(session);
                                });
    }

    void accept_next() {
        acceptor->async_accept([self = this](beast::error_code ec, tcp::socket socket) {
            if (ec) return;  // the acceptor closed
            auto session = std::make_shared<Session>(std::move(socket));
            {
                std::lock_guard lock(self->mutex);
                self->sessions.push_back(session);
            }
            self->upgrade(session);
            self->accept_next();
        });
    }

    // Forward mode: reads the upgrade request, refuses a wrong token with 401 (the spec's
    // authorization.md; NapCat itself accepts and closes after a 1403 answer), else accepts.
    void upgrade(const std::shared_ptr<Session>& session) {
        auto request = std::make_shared<http::request<http::string_body>>();
        auto buffer = std::make_shared<beast::flat_buffer>();
        http::async_read(
            session->ws.next_layer(), *buffer, *request,
            [self = this, session, request, buffer](beast::error_code ec, std::size_t) {
                if (ec) return;
                std::string authorization(request->base()["Authorization"]);
                {
                    std::lock_guard lock(self->mutex);
                    self->last_authorization = authorization;
                }
                if (!self->token.empty() && authorization != "Bearer " + self->token) {
                    auto response = std::make_shared<http::response<http::string_body>>(
                        http::status::unauthorized, request->version());
                    response->body() = "access token required";
                    response->prepare_payload();
                    http::async_write(session->ws.next_layer(), *response,
                                      [session, response](beast::error_code, std::size_t) {
                                          beast::error_code ignored;
                                          session->ws.next_layer().socket().close(ignored);
                                      });
                    return;
                }
                session->ws.async_accept(*request, [self, session](beast::error_code ec) {
                    if (ec) return;
                    {
                        std::lock_guard lock(self->mutex);
                        ++self->accepted;
                    }
                    self->start(session);
                    // NapCat announces the connection (protocols.md §11).
                    self->send(session, json{{"time", 1700000000},
                                             {"self_id", self->self_id},
                                             {"post_type", "meta_event"},
                                             {"meta_event_type", "lifecycle"},
                                             {"sub_type", "connect"}}
                                            .dump());
                });
            });
    }

    std::shared_ptr<Session> open_session() const {
        std::lock_guard lock(mutex);
        return current && current->open ? current : nullptr;
    }
};

FakeOneBot::FakeOneBot(std::int64_t self_id) : impl_(std::make_unique<Impl>()) {
    impl_->self_id = self_id;
    impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

// Every socket is closed (the bot sees each connection end) and the thread runs out of work.
FakeOneBot::~FakeOneBot() {
    net::post(impl_->io, [impl = impl_.get()] {
        beast::error_code ignored;
        if (impl->acceptor) impl->acceptor->close(ignored);
        std::lock_guard lock(impl->mutex);
        for (auto& session : impl->sessions) session->ws.next_layer().socket().close(ignored);
    });
    impl_->work.reset();
    impl_->thread.join();
}

std::int64_t FakeOneBot::self_id() const {
    return impl_->self_id;
}

int FakeOneBot::connect(unsigned short port, const std::string& target, const std::string& token,
                        const std::string& role) {
    tcp::socket socket(impl_->io);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    auto session = std::make_shared<Session>(std::move(socket));
    session->ws.set_option(websocket::stream_base::decorator(
        [self_id = impl_->self_id, token, role](websocket::request_type& request) {
            // What NapCat sends (protocols.md §11, websocket-client.ts).
            request.set(http::field::user_agent, "OneBot/11");
            request.set("X-Self-ID", std::to_string(self_id));
            request.set("X-Client-Role", role);
            if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
        }));
    websocket::response_type response;
    beast::error_code ec;
    session->ws.handshake(response, "127.0.0.1:" + std::to_string(port), target, ec);
    if (ec) return response.result_int() == 0 ? -1 : response.result_int();
    impl_->start(session);
    return 101;
}

unsigned short FakeOneBot::listen(const std::string& token) {
    impl_->token = token;
    impl_->acceptor.emplace(impl_->io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    net::post(impl_->io, [impl = impl_.get()] { impl->accept_next(); });
    return impl_->acceptor->local_endpoint().port();
}

std::string FakeOneBot::url() const {
    return "ws://127.0.0.1:" + std::to_string(impl_->acceptor->local_endpoint().port());
}

int FakeOneBot::accepted() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->accepted;
}

std::string FakeOneBot::last_authorization() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->last_authorization;
}

bool FakeOneBot::post(const json& frame) {
    return post_text(frame.dump());
}

bool FakeOneBot::post_text(const std::string& text) {
    auto session = impl_->open_session();
    if (!session) return false;
    impl_->send(session, text);
    return true;
}

bool FakeOneBot::connected() const {
    return impl_->open_session() != nullptr;
}

bool FakeOneBot::wait_closed(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout,
                                   [&] { return !impl_->current || !impl_->current->open; });
}

void FakeOneBot::close() {
    if (auto session = impl_->open_session()) {
        net::post(impl_->io, [session] {
            session->ws.async_close(websocket::close_code::normal, [](beast::error_code) {});
        });
    }
}

void FakeOneBot::drop() {
    if (auto session = impl_->open_session()) {
        net::post(impl_->io, [session] {
            beast::error_code ignored;
            session->ws.next_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
            session->ws.next_layer().socket().close(ignored);
        });
    }
}

json FakeOneBot::private_message(std::int64_t user, std::int64_t message_id,
                                 const std::string& text) const {
    return {{"time", 1700000000},
            {"self_id", impl_->self_id},
            {"post_type", "message"},
            {"message_type", "private"},
            {"sub_type", "friend"},
            {"message_id", message_id},
            {"user_id", user},
            {"message", json::array({{{"type", "text"}, {"data", {{"text", text}}}}})},
            {"raw_message", text},
            {"font", 0},
            {"sender", {{"user_id", user}, {"nickname", "user" + std::to_string(user)}}}};
}

json FakeOneBot::group_message(std::int64_t group, std::int64_t user, std::int64_t message_id,
                               json segments) const {
    return {
        {"time", 1700000000},
        {"self_id", impl_->self_id},
        {"post_type", "message"},
        {"message_type", "group"},
        {"sub_type", "normal"},
        {"message_id", message_id},
        {"group_id", group},
        {"user_id", user},
        {"message", std::move(segments)},
        {"font", 0},
        {"sender", {{"user_id", user}, {"nickname", "user" + std::to_string(user)}, {"card", ""}}}};
}

json FakeOneBot::heartbeat(std::int64_t interval_ms) const {
    return {{"time", 1700000000},
            {"self_id", impl_->self_id},
            {"post_type", "meta_event"},
            {"meta_event_type", "heartbeat"},
            {"status", {{"online", true}, {"good", true}}},
            {"interval", interval_ms}};
}

std::vector<json> FakeOneBot::actions() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->actions;
}

std::size_t FakeOneBot::action_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->action_count;
}

bool FakeOneBot::wait_actions(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->action_count >= n; });
}

std::int64_t FakeOneBot::sent_id(std::size_t n) const {
    std::lock_guard lock(impl_->mutex);
    return n < impl_->sent_ids.size() ? impl_->sent_ids[n] : 0;
}

void FakeOneBot::answer(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->answering = on;
}

void FakeOneBot::fail_next(std::int64_t retcode) {
    std::lock_guard lock(impl_->mutex);
    impl_->failures.push_back(retcode);
}

void FakeOneBot::on_action(std::function<void(const json&)> observer) {
    std::lock_guard lock(impl_->mutex);
    impl_->observer = std::move(observer);
}

void FakeOneBot::record(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->recording = on;
}

}  // namespace bot::testing
