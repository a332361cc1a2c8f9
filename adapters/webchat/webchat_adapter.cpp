// webchat: a chat page in the browser (GET /) talking over a websocket (/webchat/ws).
// Protocol and config: adapters/webchat/README.md.
#include "base/log.hpp"
#include "base/rate_limit.hpp"
#include "base/text_split.hpp"
#include "bot/adapter.hpp"
#include "webchat/webchat_codec.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

namespace bot::adapters::webchat {

extern const char* const kPageTemplate;  // page.html, embedded by CMake

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kUserBurst = 5;      // messages a user may send at once
constexpr double kAddressBurst = 20;  // the same for all users of one address
// Buckets kept per map (users, addresses): a few MB at most, whatever ids clients invent.
constexpr std::size_t kTrackedClients = 20000;
// Answers a page remembers having shown (retries come within seconds, a few ids back).
constexpr std::size_t kAnsweredPerPage = 64;
// Frames refused in a row, after the one rate_limited answer, before the socket is closed.
constexpr int kSilentRefusals = 20;

// "scheme://host[:port]" without the port a browser leaves out of Origin.
std::string_view without_default_port(std::string_view origin) {
    if (origin.starts_with("http://") && origin.ends_with(":80")) origin.remove_suffix(3);
    if (origin.starts_with("https://") && origin.ends_with(":443")) origin.remove_suffix(4);
    return origin;
}

// Whether origin is the page's own: the scheme it was served over and the Host it was asked
// from. (An https page elsewhere with the same host name is another origin.)
bool own_origin(std::string_view origin, const http::Request& request) {
    auto host = request.header("Host");
    if (host.empty()) return false;
    std::string own = request.scheme + "://" + std::string(host);
    return http::iequals(without_default_port(origin), without_default_port(own));
}

class WebchatAdapter final : public Adapter {
public:
    explicit WebchatAdapter(AdapterDeps deps)
        : id_(deps.id), executor_(deps.executor), sink_(deps.sink), log_(deps.log) {
        auto& config = deps.config;
        config.string("type", "webchat");
        auto page_path = config.url_path("page_path", "/");
        ws_path_ = config.url_path("ws_path", "/webchat/ws");
        title_ = config.string("title", "contactbot");
        greeting_ = config.string("greeting", "Hi! I'm an AI assistant. Ask me anything.");
        allowed_origins_ = config.string_list("allowed_origins");
        max_message_chars_ =
            static_cast<std::size_t>(config.integer("max_message_chars", 4000, 1, 100000));
        auto max_frame =
            static_cast<std::size_t>(config.integer("max_frame_bytes", 65536, 1024, 1 << 24));
        auto per_user = static_cast<double>(config.integer("messages_per_minute", 20, 1, 100000));
        auto per_address =
            static_cast<double>(config.integer("messages_per_minute_per_address", 60, 1, 1000000));
        reply_timeout_ = std::chrono::seconds(config.integer("reply_timeout_s", 300, 1, 3600));
        history_turns_ = static_cast<int>(config.integer("history_turns", 50, 0, 1000));
        config.done();
        if (!config.errors().empty()) return;
        per_user_.emplace(per_user, kUserBurst, kTrackedClients);
        per_address_.emplace(per_address, kAddressBurst, kTrackedClients);

        routes_ = &deps.routes;
        // The share button sends the core's /share, which answers with the page's link.
        if (deps.user_pages) share_command_ = deps.command_prefix + "share";
        deps.routes.add(
            "GET", page_path,
            [this](http::Request&, http::ResponseStream&) -> net::awaitable<http::Response> {
                co_return page_response();
            });
        deps.routes.add_websocket(
            ws_path_,
            [this](std::shared_ptr<http::WebSocket> socket) { return serve(std::move(socket)); },
            [this](const http::Request& request) { return check_origin(request); },
            http::RouteOptions{.max_message = max_frame});
    }

    Capabilities capabilities() const override { return {}; }

    // The finished reply, to every open page of the user that has not shown it yet (the page
    // that asked usually has, from its watch). With none open it still counts as delivered:
    // the page shows it from the history when the user comes back.
    net::awaitable<SendResult> send(Outbound message) override {
        std::string client_id = message.reply_to;
        if (auto colon = client_id.find(':'); colon != std::string::npos)
            client_id.erase(0, colon + 1);
        std::string frame = render_done(client_id, message.text);
        std::lock_guard lock(mutex_);
        if (auto it = sockets_.find(message.chat.chat_id); it != sockets_.end()) {
            for (auto& weak : it->second) {
                auto socket = weak.lock();
                if (socket && first_done(*socket, client_id)) socket->send(frame);
            }
        }
        co_return std::string();
    }

private:
    std::string render_page() const {
        nlohmann::json links = nlohmann::json::array();
        for (const auto& link : routes_->links())
            links.push_back({{"label", link.label}, {"path", link.path}});
        nlohmann::json settings{{"title", title_},
                                {"wsPath", ws_path_},
                                {"maxMessageChars", max_message_chars_},
                                {"links", std::move(links)}};
        if (!share_command_.empty()) settings["shareCommand"] = share_command_;
        std::string json = settings.dump(-1, ' ', true);  // ASCII: safe in any page encoding
        http::replace_all(json, "</", "<\\/");            // cannot close the script element
        std::string page = kPageTemplate;
        http::replace_all(page, "{{TITLE}}", http::html_escape(title_));
        http::replace_all(page, "{{SETTINGS}}", json);
        return page;
    }

    // Rendered at the first request, when every adapter has added its links.
    http::Response page_response() {
        std::call_once(page_rendered_, [this] { page_ = render_page(); });
        return http::Response::page(page_);
    }

    // Browsers always send Origin with a websocket; another site's page must not talk to the
    // bot in the user's name. Without allowed_origins only the page's own origin is accepted.
    std::optional<http::Response> check_origin(const http::Request& request) const {
        auto origin = request.header("Origin");
        if (origin.empty()) return std::nullopt;  // not a browser
        bool allowed = allowed_origins_.empty()
                           ? own_origin(origin, request)
                           : std::find(allowed_origins_.begin(), allowed_origins_.end(), origin) !=
                                 allowed_origins_.end();
        if (allowed) return std::nullopt;
        log_.warn("webchat", "refused a websocket from origin ", origin.substr(0, 100));
        return http::Response::error(403, "origin not allowed");
    }

    net::awaitable<void> serve(std::shared_ptr<http::WebSocket> socket) {
        auto first = co_await socket->read();
        if (!first) co_return;
        auto frame = parse_client_frame(*first);
        auto* hello = std::get_if<Hello>(&frame);
        if (!hello) {
            socket->send(render_error("", "bad_frame",
                                      "the first frame must be {\"type\":\"hello\",\"user\":...}"));
            socket->close("expected hello");
            co_return;
        }
        std::string user = hello->user;
        const std::string& remote = socket->request().remote;
        // IPv6 by /64: one host is given a whole /64 and may send from any address in it.
        const std::string network = client_network(remote, 32, 64);
        attach(user, socket);
        ChatRef chat{.adapter_id = id_, .chat_id = user, .is_group = false};
        std::vector<Turn> turns;
        if (history_turns_ > 0) {
            auto history = co_await sink_.history(chat, user, history_turns_);
            for (auto& entry : history)
                turns.push_back({std::move(entry.role), std::move(entry.text)});
        }
        socket->send(render_ready(greeting_, turns));

        int refused_in_a_row = 0;
        while (auto text = co_await socket->read()) {
            auto parsed = parse_client_frame(*text);
            auto* message = std::get_if<UserMessage>(&parsed);
            // Every frame counts, invalid ones too: each would be answered. Over the limit a
            // client gets one answer, then silence, so it never gets more output than the
            // limit lets it send, however fast it writes and however little it reads.
            if (!allow(user, network)) {
                if (++refused_in_a_row > kSilentRefusals) {
                    log_.warn("webchat", "closed a websocket from ", remote,
                              " that kept sending over the rate limit");
                    socket->close("too many messages");
                    break;
                }
                if (refused_in_a_row == 1) {
                    socket->send(render_error(message ? message->id : "", "rate_limited",
                                              "too many messages; wait a moment"));
                }
                continue;
            }
            refused_in_a_row = 0;
            if (auto* bad = std::get_if<BadFrame>(&parsed)) {
                socket->send(render_error("", "bad_frame", bad->reason));
                continue;
            }
            if (!message) {
                socket->send(render_error("", "bad_frame", "hello was already sent"));
                continue;
            }
            if (message->text.empty() || utf8_length(message->text) > max_message_chars_) {
                socket->send(render_error(
                    message->id, "too_long",
                    "messages must be 1 to " + std::to_string(max_message_chars_) + " characters"));
                continue;
            }
            // Submitted here, one at a time, so the core stores this user's messages in the
            // order they were sent; only watching the reply runs beside the read loop.
            std::string id = message->id;
            asked(*socket, id);
            auto submission = co_await submit(user, std::move(*message));
            net::co_spawn(executor_, stream_reply(socket, std::move(id), std::move(submission)),
                          [this](std::exception_ptr e) {
                              if (!e) return;
                              try {
                                  std::rethrow_exception(e);
                              } catch (const std::exception& error) {
                                  log_.error("webchat", "reply failed: ", error.what());
                              }
                          });
        }
        // Not in a destructor: a frame destroyed at shutdown must not touch the adapter.
        detach(user, socket);
    }

    // Takes a message's worth from the user's bucket (all their pages) and the address's (all
    // users there: user ids cost nothing to invent), or nothing when either is empty.
    bool allow(const std::string& user, const std::string& network) {
        std::lock_guard lock(limits_mutex_);
        auto now = Clock::now();  // under the lock: the buckets see time move forward only
        if (!per_address_->ready(network, now) || !per_user_->ready(user, now)) return false;
        per_address_->take(network, now);
        per_user_->take(user, now);
        return true;
    }

    net::awaitable<Submission> submit(const std::string& user, UserMessage message) {
        Inbound inbound;
        inbound.chat = {.adapter_id = id_, .chat_id = user, .is_group = false};
        inbound.sender_id = user;
        inbound.sender_name = "web";
        inbound.message_id = user + ":" + message.id;  // client ids are only unique per user
        inbound.text = std::move(message.text);
        SubmitOptions options{
            .wait = std::chrono::duration_cast<std::chrono::milliseconds>(reply_timeout_),
            .claim = false};
        co_return co_await sink_.submit(std::move(inbound), options);
    }

    // Streams the reply to the page that asked, and its end once it is stored. send() (the
    // outbox) shows it on the user's other pages; a page that asked gets the answer once,
    // whichever comes first. (A retry used to wait for send() when the stored reply was still
    // pending: when the outbox had sent it just before the retry's page opened, nothing came.)
    net::awaitable<void> stream_reply(std::shared_ptr<http::WebSocket> socket, std::string id,
                                      Submission submission) {
        for (;;) {
            auto event = co_await submission.watch.next();
            if (event.kind == ReplyEvent::Kind::delta) {
                if (socket->is_open()) socket->send(render_delta(id, event.text));
            } else if (event.kind == ReplyEvent::Kind::done) {
                std::lock_guard lock(mutex_);
                if (first_done(*socket, id)) socket->send(render_done(id, event.text));
                co_return;
            } else {
                socket->send(render_error(
                    id, "not_ready", "the answer is taking long; it will appear here when ready"));
                co_return;
            }
        }
    }

    void attach(const std::string& user, const std::shared_ptr<http::WebSocket>& socket) {
        std::lock_guard lock(mutex_);
        sockets_[user].push_back(socket);
        answered_[socket.get()];
    }

    // The page asks for id (again): whatever it was shown before, it gets the answer once more.
    void asked(const http::WebSocket& socket, const std::string& id) {
        std::lock_guard lock(mutex_);
        if (auto it = answered_.find(&socket); it != answered_.end()) std::erase(it->second, id);
    }

    // Under mutex_: true the first time a page is to show id's answer (then remembered).
    bool first_done(const http::WebSocket& socket, const std::string& id) {
        auto it = answered_.find(&socket);
        if (it == answered_.end()) return true;  // detached: nothing to remember
        auto& ids = it->second;
        if (std::find(ids.begin(), ids.end(), id) != ids.end()) return false;
        if (ids.size() >= kAnsweredPerPage) ids.pop_front();
        ids.push_back(id);
        return true;
    }

    void detach(const std::string& user, const std::shared_ptr<http::WebSocket>& socket) {
        std::lock_guard lock(mutex_);
        auto it = sockets_.find(user);
        if (it == sockets_.end()) return;
        std::erase_if(it->second, [&](const auto& weak) {
            auto open = weak.lock();
            return !open || open == socket;
        });
        if (it->second.empty()) sockets_.erase(it);
        answered_.erase(socket.get());
    }

    std::string id_;
    net::any_io_executor executor_;
    InboundSink& sink_;
    Logger& log_;
    std::string ws_path_;
    std::string title_;
    std::string share_command_;  // empty: no share button (no server.public_url)
    std::string greeting_;
    std::vector<std::string> allowed_origins_;
    std::size_t max_message_chars_ = 4000;
    std::chrono::seconds reply_timeout_{300};
    int history_turns_ = 50;
    http::Router* routes_ = nullptr;
    std::once_flag page_rendered_;
    std::string page_;
    std::mutex mutex_;
    std::map<std::string, std::vector<std::weak_ptr<http::WebSocket>>> sockets_;
    // Per open page, the ids whose answer it was sent last (the newest kAnsweredPerPage).
    std::map<const http::WebSocket*, std::deque<std::string>> answered_;
    std::mutex limits_mutex_;
    std::optional<TokenBuckets> per_user_;
    std::optional<TokenBuckets> per_address_;
};

}  // namespace

std::unique_ptr<Adapter> make(AdapterDeps deps) {
    return std::make_unique<WebchatAdapter>(std::move(deps));
}

}  // namespace bot::adapters::webchat
