#include "fakes/fake_telegram.hpp"

#include "base/html_split.hpp"
#include "base/json_text.hpp"
#include "base/text_split.hpp"

#include "base/log.hpp"
#include "bot/http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

namespace bot::testing {

namespace net = boost::asio;
using nlohmann::json;

std::size_t utf16_length(std::string_view utf8) {
    return text_length(utf8, TextLimit::Unit::utf16_units);
}

namespace {

constexpr std::size_t kMaxMessageUnits = 4096;

http::Response ok(const json& result, std::string description = {}) {
    json body{{"ok", true}, {"result", result}};
    if (!description.empty()) body["description"] = std::move(description);
    return http::Response::json(200, body);
}

http::Response fail(int status, const std::string& description, int retry_after_s = 0) {
    json body{{"ok", false}, {"error_code", status}, {"description", description}};
    http::Response response = http::Response::json(status, body);
    if (status == 429 && retry_after_s > 0) {
        body["parameters"] = {{"retry_after", retry_after_s}};
        response = http::Response::json(status, body);
        response.headers.push_back({"Retry-After", std::to_string(retry_after_s)});
    }
    return response;
}

// Form and query parameters arrive as strings; the real API accepts both spellings.
void add_pairs(std::string_view text, json& params) {
    while (!text.empty()) {
        auto amp = text.find('&');
        std::string_view pair = text.substr(0, amp);
        text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        std::string key = http::percent_decode(pair.substr(0, eq));
        params[key] = eq == std::string_view::npos ? std::string()
                                                   : http::percent_decode(pair.substr(eq + 1));
    }
}

std::optional<json> parse_params(const http::Request& request) {
    json params = json::object();
    add_pairs(request.query, params);
    std::string_view body = request.body;
    auto first = body.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return params;
    bool is_json =
        request.header("Content-Type").starts_with("application/json") || body[first] == '{';
    if (!is_json) {
        add_pairs(body, params);
        return params;
    }
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
    for (auto& [key, value] : parsed.items()) params[key] = std::move(value);
    return params;
}

// A number, or a string holding one.
std::optional<std::int64_t> int_param(const json& params, const char* key) {
    auto it = params.find(key);
    if (it == params.end()) return std::nullopt;
    if (it->is_number_integer()) return it->get<std::int64_t>();
    if (it->is_string()) {
        try {
            std::size_t used = 0;
            std::string text = it->get<std::string>();
            std::int64_t value = std::stoll(text, &used);
            if (used == text.size()) return value;
        } catch (const std::exception&) {
        }
    }
    return std::nullopt;
}

std::string string_param(const json& params, const char* key) {
    auto it = params.find(key);
    if (it == params.end() || it->is_null()) return {};
    return it->is_string() ? it->get<std::string>() : it->dump();
}

bool bool_param(const json& params, const char* key) {
    auto it = params.find(key);
    if (it == params.end()) return false;
    if (it->is_boolean()) return it->get<bool>();
    return it->is_string() && (*it == "true" || *it == "1");
}

// chat_id as the API echoes it: numbers stay numbers, "@channel" names stay strings.
json chat_id_value(const json& params) {
    if (auto id = int_param(params, "chat_id")) return *id;
    return string_param(params, "chat_id");
}

// parse_mode HTML as Telegram reads it (core.telegram.org/bots/api#html-style): only its
// tags, properly nested; every other <, > and & escaped. Empty when the markup is valid.
std::string check_html(std::string_view text) {
    static const std::vector<std::string_view> kTags{
        "b",   "strong", "i",   "em", "u",          "ins",        "s",   "strike",
        "del", "code",   "pre", "a",  "blockquote", "tg-spoiler", "span"};
    std::vector<std::string> open;
    for (std::size_t at = 0; at < text.size(); ++at) {
        if (text[at] == '>') return "Bad Request: can't parse entities: unexpected '>'";
        if (text[at] == '&') {
            const auto end = text.find(';', at);
            const auto entity = text.substr(at, end == std::string_view::npos ? 0 : end - at + 1);
            if (!(entity == "&amp;" || entity == "&lt;" || entity == "&gt;" || entity == "&quot;" ||
                  entity.starts_with("&#"))) {
                return "Bad Request: can't parse entities: unescaped '&'";
            }
            continue;
        }
        if (text[at] != '<') continue;
        const auto end = text.find('>', at);
        if (end == std::string_view::npos) return "Bad Request: can't parse entities: unclosed tag";
        std::string_view tag = text.substr(at + 1, end - at - 1);
        at = end;
        const bool closing = tag.starts_with('/');
        if (closing) tag.remove_prefix(1);
        const std::string name(tag.substr(0, tag.find(' ')));
        if (std::find(kTags.begin(), kTags.end(), name) == kTags.end()) {
            return "Bad Request: can't parse entities: Unsupported start tag \"" + name + "\"";
        }
        if (!closing) {
            open.push_back(name);
        } else if (open.empty() || open.back() != name) {
            return "Bad Request: can't parse entities: Unmatched end tag \"" + name + "\"";
        } else {
            open.pop_back();
        }
    }
    if (!open.empty()) return "Bad Request: can't parse entities: Can't find end tag";
    return {};
}

// Empty when the text is acceptable, else the error description. Telegram counts the text
// "after entities parsing": with parse_mode HTML, the visible text.
std::string check_text(const json& params) {
    std::string text = string_param(params, "text");
    if (text.empty()) return "Bad Request: message text is empty";
    if (string_param(params, "parse_mode") == "HTML") {
        if (auto problem = check_html(text); !problem.empty()) return problem;
        text = bot::html_to_text(text);
        if (text.empty()) return "Bad Request: message text is empty";
    }
    if (utf16_length(text) > kMaxMessageUnits) return "Bad Request: message is too long";
    return {};
}

struct Scripted {
    int status;
    std::string description;
    int retry_after_s;
};

// A getUpdates request waiting for updates.
struct Poller {
    std::shared_ptr<net::steady_timer> timer;
    bool superseded = false;
};

}  // namespace

struct FakeTelegram::Impl {
    Impl(std::string t, std::string u, std::int64_t id)
        : token(std::move(t)),
          username(std::move(u)),
          bot_id(id),
          log(LogLevel::off),
          server(io.get_executor(), router, log, options()) {
        auto handler = [this](http::Request& request, http::ResponseStream&) {
            return handle(request);
        };
        router.add("POST", "/*", handler);
        router.add("GET", "/*", handler);
        server.start();
        thread = std::thread([this] { io.run(); });
    }
    ~Impl() {
        server.stop();
        work.reset();
        io.stop();
        thread.join();
    }

    static http::ServerOptions options() {
        http::ServerOptions o;
        o.port = 0;
        o.max_connections = 100000;
        o.max_connections_per_address = 100000;  // every client is on 127.0.0.1
        o.idle_timeout = std::chrono::seconds(600);
        return o;
    }

    net::awaitable<http::Response> handle(http::Request& request) {
        // /bot<token>/<method>
        std::string_view path = request.path;
        auto slash = path.find('/', 4);
        if (!path.starts_with("/bot") || slash == std::string_view::npos) {
            co_return fail(404, "Not Found");
        }
        if (path.substr(4, slash - 4) != token) co_return fail(401, "Unauthorized");
        auto params = parse_params(request);
        if (!params) co_return fail(400, "Bad Request: can't parse JSON object");
        Call call{std::string(path.substr(slash + 1)), std::move(*params), 0};
        auto scripted = note(call);
        if (scripted)
            co_return fail(scripted->status, scripted->description, scripted->retry_after_s);
        if (call.method == "getUpdates") co_return co_await get_updates(call.params);
        co_return answer(call.method, call.params);
    }

    // Counts and records the call, runs the observer, and takes a scripted answer if any.
    std::optional<Scripted> note(Call& call) {
        std::optional<Scripted> scripted;
        std::shared_ptr<const std::function<void(const Call&)>> notify;
        {
            std::lock_guard lock(mutex);
            ++counts[call.method];
            if (auto it = scripts.find(call.method); it != scripts.end() && !it->second.empty()) {
                scripted = std::move(it->second.front());
                it->second.pop_front();
            } else if (failure_fraction > 0 &&
                       std::uniform_real_distribution<double>(0, 1)(random) < failure_fraction) {
                ++failures;
                scripted = std::bernoulli_distribution(0.5)(random)
                               ? Scripted{500, "Internal Server Error: injected", 0}
                               : Scripted{429, "Too Many Requests: retry after 1", 1};
            }
            if (scripted) call.failed_with = scripted->status;
            if (recording) recorded.push_back(call);
            notify = observer;
        }
        changed.notify_all();
        if (notify) (*notify)(call);
        return scripted;
    }

    json bot_user() const {
        return {{"id", bot_id},
                {"is_bot", true},
                {"first_name", "Contact Test Bot"},
                {"username", username}};
    }

    json message(const json& chat_id, std::int64_t message_id, const std::string& text) const {
        bool group = chat_id.is_number_integer() && chat_id.get<std::int64_t>() < 0;
        return {{"message_id", message_id},
                {"from", bot_user()},
                {"date", static_cast<std::int64_t>(std::time(nullptr))},
                {"chat", {{"id", chat_id}, {"type", group ? "group" : "private"}}},
                {"text", text}};
    }

    http::Response answer(const std::string& method, const json& params) {
        std::lock_guard lock(mutex);
        if (method == "getMe") return ok(bot_user());
        if (method == "setWebhook") {
            webhook = string_param(params, "url");
            secret = webhook.empty() ? std::string() : string_param(params, "secret_token");
            if (bool_param(params, "drop_pending_updates")) updates.clear();
            return ok(true, webhook.empty() ? "Webhook was deleted" : "Webhook was set");
        }
        if (method == "deleteWebhook") {
            webhook.clear();
            secret.clear();
            if (bool_param(params, "drop_pending_updates")) updates.clear();
            return ok(true, "Webhook was deleted");
        }
        if (method == "getWebhookInfo") {
            return ok({{"url", webhook},
                       {"has_custom_certificate", false},
                       {"pending_update_count", updates.size()}});
        }
        bool sends = method == "sendMessage" || method == "editMessageText" ||
                     method == "sendChatAction" || method == "sendMessageDraft";
        if (!sends) return fail(404, "Not Found: method not found");
        json chat_id = chat_id_value(params);
        if (chat_id == json("")) return fail(400, "Bad Request: chat_id is empty");
        if (method == "sendChatAction") {
            if (string_param(params, "action").empty())
                return fail(400, "Bad Request: action is empty");
            return ok(true);
        }
        if (auto bad = check_text(params); !bad.empty()) return fail(400, bad);
        std::string text = string_param(params, "text");
        if (method == "sendMessageDraft") {
            if (int_param(params, "draft_id").value_or(0) == 0)
                return fail(400, "Bad Request: draft_id is empty");
            return ok(true);
        }
        if (method == "editMessageText") {
            auto id = int_param(params, "message_id");
            if (!id || *id <= 0 || *id >= next_message_id)
                return fail(400, "Bad Request: message to edit not found");
            json edited = message(chat_id, *id, text);
            edited["edit_date"] = edited["date"];
            return ok(edited);
        }
        return sent_message(chat_id, next_message_id++, text);
    }

    // The answer to sendMessage, written directly: it equals ok(message(...)) but builds no
    // tree, which cost the load benchmark ~50K instructions per reply on the server's cores.
    http::Response sent_message(const json& chat_id, std::int64_t message_id,
                                const std::string& text) const {
        const bool group = chat_id.is_number_integer() && chat_id.get<std::int64_t>() < 0;
        std::string body = R"({"ok":true,"result":{"chat":{"id":)";
        body.append(chat_id.dump())
            .append(group ? R"(,"type":"group"},"date":)" : R"(,"type":"private"},"date":)")
            .append(std::to_string(static_cast<std::int64_t>(std::time(nullptr))))
            .append(R"(,"from":)")
            .append(bot_user_json)
            .append(R"(,"message_id":)")
            .append(std::to_string(message_id))
            .append(R"(,"text":)");
        append_json_string(body, text);
        body.append("}}");
        return http::Response{
            .status = 200, .content_type = "application/json", .body = std::move(body)};
    }

    // Updates >= offset, up to limit (the caller holds the mutex).
    json collect(std::int64_t offset, std::size_t limit) const {
        json batch = json::array();
        for (const auto& update : updates) {
            if (batch.size() >= limit) break;
            if (update.at("update_id").get<std::int64_t>() >= offset) batch.push_back(update);
        }
        return batch;
    }

    net::awaitable<http::Response> get_updates(const json& params) {
        std::int64_t offset = int_param(params, "offset").value_or(0);
        auto limit = static_cast<std::size_t>(
            std::clamp<std::int64_t>(int_param(params, "limit").value_or(100), 1, 100));
        std::int64_t timeout_s =
            std::max<std::int64_t>(0, int_param(params, "timeout").value_or(0));

        auto executor = co_await net::this_coro::executor;
        auto timer = std::make_shared<net::steady_timer>(executor, std::chrono::seconds(timeout_s));
        auto me = std::make_shared<Poller>(Poller{.timer = timer});
        {
            std::lock_guard lock(mutex);
            if (!webhook.empty()) {
                co_return fail(409,
                               "Conflict: can't use getUpdates method while webhook is active; "
                               "use deleteWebhook to delete the webhook first");
            }
            // An offset confirms every update before it: they are gone for good.
            if (offset > 0) {
                std::erase_if(updates, [&](const json& u) {
                    return u.at("update_id").get<std::int64_t>() < offset;
                });
            }
            if (waiting) {
                waiting->superseded = true;
                wake(*waiting);
                waiting.reset();
            }
            json batch = collect(offset, limit);
            if (!batch.empty() || timeout_s == 0) co_return ok(batch);
            waiting = me;
        }
        // Runs on this connection's strand; a wake-up is posted there, so it cannot slip in
        // before this wait starts.
        co_await timer->async_wait(net::as_tuple(net::use_awaitable));
        std::lock_guard lock(mutex);
        if (waiting == me) waiting.reset();
        if (me->superseded) {
            co_return fail(409,
                           "Conflict: terminated by other getUpdates request; make sure that "
                           "only one bot instance is running");
        }
        co_return ok(collect(offset, limit));
    }

    static void wake(const Poller& poller) {
        net::post(poller.timer->get_executor(), [timer = poller.timer] { timer->cancel(); });
    }

    const std::string token;
    const std::string username;
    const std::int64_t bot_id;
    const std::string bot_user_json = bot_user().dump();

    net::io_context io{1};  // one thread: the server then needs no strands
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work{io.get_executor()};
    Logger log;
    http::Router router;
    http::Server server;
    std::thread thread;

    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    bool recording = true;
    std::vector<Call> recorded;
    std::map<std::string, std::size_t, std::less<>> counts;
    std::map<std::string, std::deque<Scripted>, std::less<>> scripts;
    std::shared_ptr<const std::function<void(const Call&)>> observer;
    std::deque<json> updates;
    std::int64_t next_update_id = 1;
    std::int64_t next_message_id = 1;
    std::shared_ptr<Poller> waiting;
    std::string webhook;
    std::string secret;
    double failure_fraction = 0;
    std::mt19937 random;
    std::size_t failures = 0;
};

FakeTelegram::FakeTelegram(std::string token, std::string username, std::int64_t bot_id)
    : impl_(std::make_unique<Impl>(std::move(token), std::move(username), bot_id)) {}
FakeTelegram::~FakeTelegram() = default;

std::string FakeTelegram::api_base() const {
    return "http://127.0.0.1:" + std::to_string(impl_->server.port());
}

std::string FakeTelegram::token() const {
    return impl_->token;
}

std::string FakeTelegram::username() const {
    return impl_->username;
}

std::vector<FakeTelegram::Call> FakeTelegram::calls(const std::string& method) const {
    std::lock_guard lock(impl_->mutex);
    if (method.empty()) return impl_->recorded;
    std::vector<Call> out;
    for (const auto& call : impl_->recorded) {
        if (call.method == method) out.push_back(call);
    }
    return out;
}

std::size_t FakeTelegram::count(const std::string& method) const {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->counts.find(method);
    return it == impl_->counts.end() ? 0 : it->second;
}

bool FakeTelegram::wait_for(const std::string& method, std::size_t n,
                            std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->changed.wait_for(lock, timeout, [&] {
        auto it = impl_->counts.find(method);
        return it != impl_->counts.end() && it->second >= n;
    });
}

void FakeTelegram::script(const std::string& method, int status, std::string description,
                          int retry_after_s) {
    std::lock_guard lock(impl_->mutex);
    impl_->scripts[method].push_back({status, std::move(description), retry_after_s});
}

std::int64_t FakeTelegram::push_update(json update) {
    std::lock_guard lock(impl_->mutex);
    std::int64_t id;
    if (auto given = update.find("update_id"); given != update.end()) {
        id = given->get<std::int64_t>();
        impl_->next_update_id = std::max(impl_->next_update_id, id + 1);
    } else {
        id = impl_->next_update_id++;
        update["update_id"] = id;
    }
    impl_->updates.push_back(std::move(update));
    if (impl_->waiting) Impl::wake(*impl_->waiting);
    return id;
}

std::size_t FakeTelegram::pending_updates() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->updates.size();
}

std::string FakeTelegram::webhook_url() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->webhook;
}

std::string FakeTelegram::webhook_secret() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->secret;
}

void FakeTelegram::on_call(std::function<void(const Call&)> observer) {
    std::lock_guard lock(impl_->mutex);
    impl_->observer =
        observer ? std::make_shared<const std::function<void(const Call&)>>(std::move(observer))
                 : nullptr;
}

void FakeTelegram::record(bool on) {
    std::lock_guard lock(impl_->mutex);
    impl_->recording = on;
}

void FakeTelegram::fail_randomly(double fraction, std::uint32_t seed) {
    std::lock_guard lock(impl_->mutex);
    impl_->failure_fraction = fraction;
    impl_->random.seed(seed);
}

std::size_t FakeTelegram::failures_injected() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->failures;
}

}  // namespace bot::testing
