#include "fakes/fake_feishu.hpp"

#include "base/crypto.hpp"
#include "feishu/feishu_codec.hpp"
#include "feishu/feishu_frame.hpp"

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
#include <set>
#include <thread>

namespace bot::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;
namespace feishu = bot::adapters::feishu;

namespace {

struct Session {
    explicit Session(tcp::socket socket) : ws(std::move(socket)) {}
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    std::deque<std::string> out;
    bool writing = false;
    std::atomic<bool> open{true};
};

Reply feishu_error(std::int64_t code, const std::string& msg, int status = 400) {
    return Reply::json({{"code", code}, {"msg", msg}}, status);
}

}  // namespace

struct FakeFeishu::Impl {
    RecordingServer api;
    net::io_context io;
    net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
    std::thread thread;
    std::optional<tcp::acceptor> acceptor;

    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    // REST state
    std::size_t token_fetches = 0;
    std::set<std::string> valid_tokens;
    std::int64_t token_lifetime = 7200;
    std::chrono::milliseconds token_delay{0};
    bool bot_info = true;
    std::vector<std::string> sent_texts;
    std::map<std::string, Card> cards;  // by card_id
    std::vector<std::string> card_order;
    std::map<std::string, std::size_t> replies;
    int next_message = 1;
    std::deque<std::int64_t> endpoint_failures;
    std::size_t endpoint_requests = 0;
    json client_config{{"ReconnectCount", -1},
                       {"ReconnectInterval", 1},
                       {"ReconnectNonce", 0},
                       {"PingInterval", 120}};
    // long connection
    std::shared_ptr<Session> current;
    std::vector<std::shared_ptr<Session>> sessions;
    int accepted = 0;
    std::vector<Response> responses;
    std::size_t pings = 0;
    std::string last_target;
    std::uint64_t next_seq = 1;
    std::function<void(const std::string&, const std::string&)> reply_observer;
    bool recording = true;

    bool authorized(const RecordedRequest& request) {
        auto header = request.header("Authorization");
        if (!header.starts_with("Bearer ")) return false;
        std::lock_guard lock(mutex);
        return valid_tokens.contains(std::string(header.substr(7)));
    }

    std::string new_message_id() {
        std::lock_guard lock(mutex);
        return "om_sent_" + std::to_string(next_message++);
    }

    void routes() {
        api.on("POST", "/open-apis/auth/v3/tenant_access_token/internal",
               [this](const RecordedRequest& request) {
                   const auto& body = request.json;
                   if (!body.is_object() || body.value("app_id", "") != kAppId ||
                       body.value("app_secret", "") != kAppSecret) {
                       return Reply::json({{"code", 10014}, {"msg", "app secret invalid"}});
                   }
                   std::chrono::milliseconds delay;
                   {
                       std::lock_guard lock(mutex);
                       delay = token_delay;
                   }
                   // (Handlers run one at a time: the API stands still meanwhile.)
                   std::this_thread::sleep_for(delay);
                   std::lock_guard lock(mutex);
                   ++token_fetches;
                   std::string token = "t-fake-" + std::to_string(token_fetches);
                   valid_tokens.insert(token);
                   changed.notify_all();
                   return Reply::json({{"code", 0},
                                       {"msg", "ok"},
                                       {"tenant_access_token", token},
                                       {"expire", token_lifetime}});
               });
        api.on("GET", "/open-apis/bot/v3/info", [this](const RecordedRequest& request) {
            if (!authorized(request)) return feishu_error(99991663, "Invalid access token");
            {
                std::lock_guard lock(mutex);
                if (!bot_info) return Reply::status_only(500);
            }
            return Reply::json(
                {{"code", 0},
                 {"msg", "ok"},
                 {"bot",
                  {{"open_id", kBotOpenId}, {"app_name", "contactbot"}, {"activate_status", 2}}}});
        });
        api.on("POST", "/open-apis/im/v1/messages/*",
               [this](const RecordedRequest& request) { return message(request, true); });
        api.on("POST", "/open-apis/im/v1/messages",
               [this](const RecordedRequest& request) { return message(request, false); });
        api.on("POST", "/open-apis/cardkit/v1/cards", [this](const RecordedRequest& request) {
            if (!authorized(request)) return feishu_error(99991663, "Invalid access token");
            const auto& body = request.json;
            if (!body.is_object() || body.value("type", "") != "card_json" ||
                !body.contains("data") || !body["data"].is_string())
                return feishu_error(99992402, "field validation failed");
            json card = json::parse(body["data"].get<std::string>(), nullptr, false);
            if (!card.is_object() || card.value("schema", "") != "2.0")
                return feishu_error(300301, "invalid card json");
            std::lock_guard lock(mutex);
            std::string id = "7355" + std::to_string(100000 + card_order.size());
            Card entry;
            entry.text = card["body"]["elements"][0].value("content", "");
            cards[id] = entry;
            card_order.push_back(id);
            return Reply::json({{"code", 0}, {"msg", "ok"}, {"data", {{"card_id", id}}}});
        });
        api.on("PUT", "/open-apis/cardkit/v1/cards/*",
               [this](const RecordedRequest& request) { return card_call(request, false); });
        api.on("PATCH", "/open-apis/cardkit/v1/cards/*",
               [this](const RecordedRequest& request) { return card_call(request, true); });
        api.on("POST", "/callback/ws/endpoint", [this](const RecordedRequest& request) {
            std::lock_guard lock(mutex);
            ++endpoint_requests;
            changed.notify_all();
            const auto& body = request.json;
            if (!body.is_object() || body.value("AppID", "") != kAppId ||
                body.value("AppSecret", "") != kAppSecret)
                return Reply::json({{"code", 514}, {"msg", "auth failed"}});
            if (!endpoint_failures.empty()) {
                auto code = endpoint_failures.front();
                endpoint_failures.pop_front();
                return Reply::json({{"code", code}, {"msg", "scripted"}});
            }
            auto port = acceptor->local_endpoint().port();
            std::string url = "ws://127.0.0.1:" + std::to_string(port) +
                              "/ws/v2?fpid=493&aid=552564&device_id=dev-1&access_key=ak-secret"
                              "&service_id=" +
                              std::to_string(kServiceId) + "&ticket=tk-secret";
            return Reply::json({{"code", 0},
                                {"msg", "ok"},
                                {"data", {{"URL", url}, {"ClientConfig", client_config}}}});
        });
    }

    Reply message(const RecordedRequest& request, bool is_reply) {
        if (!authorized(request)) return feishu_error(99991663, "Invalid access token");
        std::string target;
        if (is_reply) {
            // /open-apis/im/v1/messages/<id>/reply
            std::string prefix = "/open-apis/im/v1/messages/";
            if (!request.path.ends_with("/reply")) return Reply::status_only(404);
            target = request.path.substr(prefix.size(), request.path.size() - prefix.size() - 6);
        } else if (request.query_param("receive_id_type") != "chat_id") {
            return feishu_error(99992402, "receive_id_type required");
        }
        const auto& body = request.json;
        if (!body.is_object() || !body.contains("content") || !body["content"].is_string())
            return feishu_error(99992402, "content required");
        json content = json::parse(body["content"].get<std::string>(), nullptr, false);
        auto type = body.value("msg_type", "");
        std::function<void(const std::string&, const std::string&)> observer;
        std::string text;
        std::unique_lock lock(mutex);
        if (type == "text") {
            if (!content.is_object() || !content.contains("text") || !content["text"].is_string())
                return feishu_error(230001, "invalid text content");
            text = content["text"].get<std::string>();
            if (recording) sent_texts.push_back(text);
            observer = reply_observer;
        } else if (type == "post") {
            // {"zh_cn":{"title":"","content":[[{"tag":"md","text":...}]]}}: the md texts.
            const json* paragraphs = nullptr;
            if (content.is_object() && content.contains("zh_cn") && content["zh_cn"].is_object() &&
                content["zh_cn"].contains("content") && content["zh_cn"]["content"].is_array())
                paragraphs = &content["zh_cn"]["content"];
            if (!paragraphs) return feishu_error(230001, "invalid post content");
            for (const auto& paragraph : *paragraphs) {
                if (!paragraph.is_array()) return feishu_error(230001, "invalid post content");
                for (const auto& element : paragraph) {
                    if (!element.is_object() || element.value("tag", "") != "md" ||
                        !element.contains("text") || !element["text"].is_string())
                        return feishu_error(230001, "invalid post element");
                    text += element["text"].get<std::string>();
                }
            }
            if (recording) sent_texts.push_back(text);
            observer = reply_observer;
        } else if (type == "interactive") {
            auto card_id = content.value("data", json::object()).value("card_id", "");
            auto it = cards.find(card_id);
            if (content.value("type", "") != "card" || it == cards.end())
                return feishu_error(230099, "card not found");
            it->second.reply_to = target;
        } else {
            return feishu_error(230001, "unsupported msg_type");
        }
        if (is_reply && recording) ++replies[target];
        std::string id = "om_sent_" + std::to_string(next_message++);
        lock.unlock();
        changed.notify_all();
        if (observer) observer(target, text);
        return Reply::json({{"code", 0}, {"msg", "ok"}, {"data", {{"message_id", id}}}});
    }

    // PUT .../cards/<id>/elements/answer/content, PATCH .../cards/<id>/settings
    Reply card_call(const RecordedRequest& request, bool settings) {
        if (!authorized(request)) return feishu_error(99991663, "Invalid access token");
        std::string rest = request.path.substr(std::string("/open-apis/cardkit/v1/cards/").size());
        std::string card_id = rest.substr(0, rest.find('/'));
        const auto& body = request.json;
        if (!body.is_object() || !body.contains("sequence") ||
            !body["sequence"].is_number_integer())
            return feishu_error(99992402, "sequence required");
        auto sequence = body["sequence"].get<std::int64_t>();
        std::lock_guard lock(mutex);
        auto it = cards.find(card_id);
        if (it == cards.end()) return feishu_error(200740, "card not found");
        auto& card = it->second;
        if (!card.sequences.empty() && sequence <= card.sequences.back())
            return feishu_error(300317, "sequence must increase");
        if (settings) {
            if (rest != card_id + "/settings") return Reply::status_only(404);
            json value = json::parse(body.value("settings", ""), nullptr, false);
            if (!value.is_object()) return feishu_error(99992402, "settings must be JSON");
            card.streaming = value["config"].value("streaming_mode", true);
        } else {
            if (rest != card_id + "/elements/answer/content") return Reply::status_only(404);
            if (!card.streaming) return feishu_error(300309, "streaming mode closed");
            card.text = body.value("content", "");
            card.texts.push_back(card.text);
        }
        card.sequences.push_back(sequence);
        changed.notify_all();
        return Reply::json({{"code", 0}, {"msg", "ok"}, {"data", json::object()}});
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
        bhttp::async_read(session->ws.next_layer(), *buffer, *request,
                          [this, session, request, buffer](beast::error_code ec, std::size_t) {
                              if (ec) return;
                              {
                                  std::lock_guard lock(mutex);
                                  last_target = std::string(request->target());
                              }
                              session->ws.async_accept(*request,
                                                       [this, session](beast::error_code ec) {
                                                           if (ec) return;
                                                           session->ws.binary(true);
                                                           {
                                                               std::lock_guard lock(mutex);
                                                               ++accepted;
                                                               current = session;
                                                           }
                                                           changed.notify_all();
                                                           read(session);
                                                       });
                          });
    }

    void read(const std::shared_ptr<Session>& session) {
        session->ws.async_read(session->buffer, [this, session](beast::error_code ec, std::size_t) {
            if (ec) {
                {
                    std::lock_guard lock(mutex);
                    session->open = false;
                }
                changed.notify_all();
                return;
            }
            std::string bytes = beast::buffers_to_string(session->buffer.data());
            session->buffer.consume(session->buffer.size());
            on_frame(session, bytes);
            read(session);
        });
    }

    void on_frame(const std::shared_ptr<Session>& session, const std::string& bytes) {
        auto frame = feishu::decode_frame(bytes);
        if (!frame) return;
        if (frame->method == feishu::Frame::control && frame->header("type") == "ping") {
            feishu::Frame pong;
            pong.service = frame->service;
            pong.method = feishu::Frame::control;
            pong.headers.push_back({"type", "pong"});
            {
                std::lock_guard lock(mutex);
                ++pings;
                pong.payload = client_config.dump();
            }
            changed.notify_all();
            send(session, feishu::encode_frame(pong));
            return;
        }
        if (frame->method == feishu::Frame::data) {
            Response response;
            response.seq_id = frame->seq_id;
            response.log_id = frame->log_id;
            response.payload = json::parse(frame->payload, nullptr, false);
            response.headers = json::object();
            for (const auto& header : frame->headers) response.headers[header.key] = header.value;
            {
                std::lock_guard lock(mutex);
                if (recording) responses.push_back(std::move(response));
            }
            changed.notify_all();
        }
    }

    void send(const std::shared_ptr<Session>& session, std::string bytes) {
        net::post(io, [this, session, bytes = std::move(bytes)]() mutable {
            session->out.push_back(std::move(bytes));
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
        std::lock_guard lock(mutex);
        return current && current->open ? current : nullptr;
    }
};

FakeFeishu::FakeFeishu() : impl_(std::make_unique<Impl>()) {
    impl_->acceptor.emplace(impl_->io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    impl_->routes();
    net::post(impl_->io, [impl = impl_.get()] { impl->accept_next(); });
    impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

FakeFeishu::~FakeFeishu() {
    net::post(impl_->io, [impl = impl_.get()] {
        beast::error_code ignored;
        impl->acceptor->close(ignored);
        std::lock_guard lock(impl->mutex);
        for (auto& session : impl->sessions) session->ws.next_layer().socket().close(ignored);
    });
    impl_->work.reset();
    impl_->thread.join();
}

RecordingServer& FakeFeishu::api() {
    return impl_->api;
}

std::string FakeFeishu::base_url() const {
    return impl_->api.base_url();
}

std::size_t FakeFeishu::token_fetches() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->token_fetches;
}

void FakeFeishu::set_token_lifetime(std::chrono::seconds seconds) {
    std::lock_guard lock(impl_->mutex);
    impl_->token_lifetime = seconds.count();
}

void FakeFeishu::set_token_delay(std::chrono::milliseconds delay) {
    std::lock_guard lock(impl_->mutex);
    impl_->token_delay = delay;
}

void FakeFeishu::revoke_tokens() {
    std::lock_guard lock(impl_->mutex);
    impl_->valid_tokens.clear();
}

void FakeFeishu::set_bot_info_available(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->bot_info = on;
}

std::vector<std::string> FakeFeishu::sent_texts() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->sent_texts;
}

std::vector<FakeFeishu::Card> FakeFeishu::cards() const {
    std::lock_guard lock(impl_->mutex);
    std::vector<Card> out;
    for (const auto& id : impl_->card_order) out.push_back(impl_->cards.at(id));
    return out;
}

std::size_t FakeFeishu::replies_to(const std::string& message_id) const {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->replies.find(message_id);
    return it == impl_->replies.end() ? 0 : it->second;
}

void FakeFeishu::fail_endpoint(std::int64_t code) {
    std::lock_guard lock(impl_->mutex);
    impl_->endpoint_failures.push_back(code);
}

std::size_t FakeFeishu::endpoint_requests() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->endpoint_requests;
}

void FakeFeishu::set_client_config(json config) {
    std::lock_guard lock(impl_->mutex);
    impl_->client_config = std::move(config);
}

int FakeFeishu::connections() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->accepted;
}

bool FakeFeishu::wait_connections(int n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] {
        return impl_->accepted >= n && impl_->current && impl_->current->open;
    });
}

bool FakeFeishu::connected() const {
    return impl_->open_session() != nullptr;
}

std::uint64_t FakeFeishu::push(const json& event, int parts) {
    auto session = impl_->open_session();
    if (!session) return 0;
    std::string payload = event.dump();
    std::uint64_t seq;
    {
        std::lock_guard lock(impl_->mutex);
        seq = impl_->next_seq++;
    }
    std::string message_id = "msg-" + std::to_string(seq);
    std::size_t size = (payload.size() + parts - 1) / parts;
    for (int i = 0; i < parts; ++i) {
        feishu::Frame frame;
        frame.seq_id = seq;
        frame.log_id = 9007199254740993ull + seq;  // above 2^53: must survive as 64 bits
        frame.service = kServiceId;
        frame.method = feishu::Frame::data;
        frame.headers = {{"type", "event"},
                         {"message_id", message_id},
                         {"sum", std::to_string(parts)},
                         {"seq", std::to_string(i)},
                         {"trace_id", "trace-" + std::to_string(seq)}};
        frame.payload = payload.substr(std::min(payload.size(), i * size), size);
        impl_->send(session, feishu::encode_frame(frame));
    }
    return seq;
}

bool FakeFeishu::push_payload(std::string payload) {
    auto session = impl_->open_session();
    if (!session) return false;
    feishu::Frame frame;
    {
        std::lock_guard lock(impl_->mutex);
        frame.seq_id = impl_->next_seq++;
    }
    frame.log_id = frame.seq_id;
    frame.service = kServiceId;
    frame.method = feishu::Frame::data;
    frame.headers = {{"type", "event"},
                     {"message_id", "m" + std::to_string(frame.seq_id)},
                     {"sum", "1"},
                     {"seq", "0"}};
    frame.payload = std::move(payload);
    impl_->send(session, feishu::encode_frame(frame));
    return true;
}

void FakeFeishu::on_reply(std::function<void(const std::string&, const std::string&)> observer) {
    std::lock_guard lock(impl_->mutex);
    impl_->reply_observer = std::move(observer);
}

void FakeFeishu::record(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->recording = on;
}

bool FakeFeishu::push_raw(const std::string& bytes) {
    auto session = impl_->open_session();
    if (!session) return false;
    impl_->send(session, bytes);
    return true;
}

std::vector<FakeFeishu::Response> FakeFeishu::responses() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->responses;
}

bool FakeFeishu::wait_responses(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->responses.size() >= n; });
}

std::size_t FakeFeishu::pings() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->pings;
}

bool FakeFeishu::wait_pings(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] { return impl_->pings >= n; });
}

std::string FakeFeishu::last_ws_target() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->last_target;
}

void FakeFeishu::close() {
    if (auto session = impl_->open_session()) {
        net::post(impl_->io, [session] {
            session->ws.async_close(websocket::close_code::going_away, [](beast::error_code) {});
        });
    }
}

json FakeFeishu::message_event(const std::string& event_id, const std::string& message_id,
                               const std::string& chat_id, const std::string& chat_type,
                               const std::string& sender_open_id, const std::string& message_type,
                               const json& content, const std::vector<MentionSpec>& mentions,
                               const std::string& parent_id, const std::string& token) {
    json mention_list = json::array();
    for (const auto& mention : mentions) {
        mention_list.push_back({{"key", mention.key},
                                {"id",
                                 {{"open_id", mention.open_id},
                                  {"user_id", "u_" + mention.name},
                                  {"union_id", "on_x"}}},
                                {"name", mention.name},
                                {"tenant_key", "tk"}});
    }
    json message{{"message_id", message_id},       {"root_id", parent_id},
                 {"parent_id", parent_id},         {"create_time", "1700000000000"},
                 {"update_time", "1700000000000"}, {"chat_id", chat_id},
                 {"chat_type", chat_type},         {"message_type", message_type},
                 {"content", content.dump()},      {"user_agent", "Mozilla/5.0"}};
    if (!mention_list.empty()) message["mentions"] = mention_list;
    return {
        {"schema", "2.0"},
        {"header",
         {{"event_id", event_id},
          {"event_type", "im.message.receive_v1"},
          {"create_time", "1700000000000"},
          {"token", token},
          {"app_id", kAppId},
          {"tenant_key", "tk"}}},
        {"event",
         {{"sender",
           {{"sender_id", {{"open_id", sender_open_id}, {"user_id", "u1"}, {"union_id", "on_1"}}},
            {"sender_type", "user"},
            {"tenant_key", "tk"}}},
          {"message", message}}}};
}

json FakeFeishu::text_event(const std::string& message_id, const std::string& chat_id,
                            const std::string& sender_open_id, const std::string& text,
                            const std::string& token) {
    return message_event("ev-" + message_id, message_id, chat_id, "p2p", sender_open_id, "text",
                         {{"text", text}}, {}, {}, token);
}

FeishuWebhook::FeishuWebhook(std::string url, std::string encrypt_key)
    : url_(std::move(url)), encrypt_key_(std::move(encrypt_key)) {}

std::string FeishuWebhook::body_of(const json& event) const {
    if (encrypt_key_.empty()) return event.dump();
    auto iv = crypto::random_bytes(16);
    return json{{"encrypt", feishu::encrypt_push(encrypt_key_, event.dump(), iv)}}.dump();
}

std::string FeishuWebhook::sign(const std::string& timestamp, const std::string& nonce,
                                const std::string& body) const {
    return feishu::push_signature(timestamp, nonce, encrypt_key_, body);
}

TestResponse FeishuWebhook::post(const json& event, std::optional<std::time_t> at) const {
    std::string body = body_of(event);
    std::string timestamp = std::to_string(at.value_or(std::time(nullptr)));
    std::string nonce = crypto::hex(crypto::random_bytes(8));
    return post_raw(body, timestamp, nonce, sign(timestamp, nonce, body));
}

TestResponse FeishuWebhook::post_raw(const std::string& body, const std::string& timestamp,
                                     const std::string& nonce, const std::string& signature) const {
    return http_request("POST", url_, body,
                        {"Content-Type: application/json", "X-Lark-Request-Timestamp: " + timestamp,
                         "X-Lark-Request-Nonce: " + nonce, "X-Lark-Signature: " + signature});
}

}  // namespace bot::testing
