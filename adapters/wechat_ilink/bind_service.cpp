#include "wechat_ilink/bind_service.hpp"

#include "base/log.hpp"
#include "base/random_id.hpp"
#include "base/rate_limit.hpp"
#include "wechat_ilink/bind_page.hpp"
#include "wechat_ilink/qr_code.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>

namespace bot::adapters::wechat_ilink {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kKeepFinished = 10min;  // a finished session still answers status
constexpr auto kCodeWait = 5min;       // for the user to type the verify code
// Networks whose starts in the last hour are remembered. When more start, the one idle longest
// is forgotten: whoever holds this many networks is not slowed by a limit per network anyway.
constexpr std::size_t kTrackedNetworks = 10000;

// Whoever owns one address usually owns its whole /24 (IPv4) or /64 (IPv6).
std::string network_of(const std::string& address) {
    return client_network(address, 24, 64);
}

}  // namespace

struct BindService::Session : LoginObserver {
    Session(net::any_io_executor executor, std::string network)
        : network(std::move(network)), code_ready(std::move(executor)) {}

    void progress(const LoginProgress& update) override {
        std::lock_guard lock(mutex);
        if (withdrawn) return;  // the page was told to start again; that stays
        if (update.qr_url != current.qr_url) {
            auto code = QrCode::encode(update.qr_url);
            svg = code ? qr_svg(*code) : "";
        }
        current = update;
        ++version;
    }

    net::awaitable<std::string> verify_code(bool) override {
        AsyncEvent ready(co_await net::this_coro::executor);
        {
            std::lock_guard lock(mutex);
            code.clear();
            code_ready = ready;
            awaiting_code = true;
        }
        bool given = co_await ready.wait_until(Clock::now() + kCodeWait);
        std::lock_guard lock(mutex);
        awaiting_code = false;
        co_return given ? code : std::string();
    }

    bool abandoned() const override {
        std::lock_guard lock(mutex);
        return withdrawn;
    }

    // Live and nobody has scanned the QR code yet: nothing is lost when it makes room.
    bool unscanned() const {
        return !finished && (current.state == LoginProgress::State::starting ||
                             current.state == LoginProgress::State::qr);
    }

    // Ends the login for another network's; its page shows the text and a "start" button.
    void withdraw(Clock::time_point now) {
        current = LoginProgress{
            .state = LoginProgress::State::expired,
            .text = "Many people are binding right now: start again. (人数较多，请重新开始)"};
        svg.clear();
        ++version;
        withdrawn = true;
        finished = true;
        ended = now;
    }

    const std::string network;  // the client's, for the limits per network
    mutable std::mutex mutex;
    LoginProgress current;
    std::string svg;  // of current.qr_url
    std::int64_t version = 0;
    std::string code;
    AsyncEvent code_ready;
    bool awaiting_code = false;  // a verify_code() waits: the next number is taken
    bool finished = false;
    bool withdrawn = false;  // made room for another network's login
    Clock::time_point started = Clock::now();
    Clock::time_point ended;
};

BindService::BindService(std::string adapter_id, std::string title, net::any_io_executor executor,
                         IlinkApi& api, const Settings& settings, Logger& log, BindHooks hooks)
    : adapter_id_(std::move(adapter_id)),
      page_(kBindPageTemplate),
      executor_(std::move(executor)),
      api_(api),
      settings_(settings),
      log_(log),
      hooks_(std::move(hooks)) {
    http::replace_all(page_, "{{TITLE}}", http::html_escape(title));
}

BindService::~BindService() = default;

void BindService::mount(http::Router& routes) {
    const std::string base = page_path();
    routes.add_link("Chat on WeChat (微信)", base);
    routes.add("GET", base,
               [this](http::Request&, http::ResponseStream&) -> net::awaitable<http::Response> {
                   co_return http::Response::page(page_);
               });
    routes.add("POST", base + "/start",
               [this](http::Request& request, http::ResponseStream&) { return start(request); });
    routes.add(
        "GET", base + "/status",
        [this](http::Request& request, http::ResponseStream&) -> net::awaitable<http::Response> {
            co_return status(request);
        });
    routes.add(
        "POST", base + "/code",
        [this](http::Request& request, http::ResponseStream&) -> net::awaitable<http::Response> {
            co_return code(request);
        });
}

void BindService::stop() {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& [id, session] : sessions_) session->code_ready.set();  // unblock waiting logins
}

bool BindService::allow_start(const std::string& network, Clock::time_point now) {
    auto found = starts_.find(network);
    if (found == starts_.end()) return true;
    std::erase_if(found->second, [&](auto at) { return now - at > 1h; });
    return found->second.size() < static_cast<std::size_t>(settings_.bind_starts_per_hour);
}

void BindService::count_start(const std::string& network, Clock::time_point now) {
    if (!starts_.contains(network) && starts_.size() >= kTrackedNetworks) {
        auto last = [](const auto& entry) {
            return entry.second.empty() ? Clock::time_point() : entry.second.back();
        };
        starts_.erase(std::min_element(starts_.begin(), starts_.end(),
                                       [&](auto& a, auto& b) { return last(a) < last(b); }));
    }
    starts_[network].push_back(now);
}

void BindService::forget_old_sessions(Clock::time_point now) {
    std::erase_if(sessions_, [&](const auto& entry) {
        std::lock_guard lock(entry.second->mutex);
        return entry.second->finished && now - entry.second->ended > kKeepFinished;
    });
    std::erase_if(starts_, [&](const auto& entry) {
        return entry.second.empty() || now - entry.second.back() > 1h;
    });
}

// Fairness between networks: each may hold bind_live_logins_per_network live logins, and when
// all bind_live_logins are taken a network holding fewer takes the place of the oldest unscanned
// login of the network holding the most (at least two more: equal shares are not shuffled). So
// one network, however fast it starts logins, never keeps a network with fewer from starting
// one; only as many networks as there are places can fill them. Scanned logins are never
// withdrawn: someone is confirming on their phone.
std::optional<std::string> BindService::make_room(const std::string& network,
                                                  Clock::time_point now) {
    struct Holding {
        std::size_t live = 0;
        Session* oldest_unscanned = nullptr;
    };
    std::map<std::string_view, Holding> networks;
    std::size_t live = 0;
    for (const auto& [id, session] : sessions_) {
        std::lock_guard lock(session->mutex);
        if (session->finished) continue;
        ++live;
        auto& holding = networks[session->network];
        ++holding.live;
        if (session->unscanned() &&
            (!holding.oldest_unscanned || session->started < holding.oldest_unscanned->started))
            holding.oldest_unscanned = session.get();
    }
    std::size_t mine = networks.contains(network) ? networks.at(network).live : 0;
    if (mine >= static_cast<std::size_t>(settings_.bind_live_logins_per_network))
        return "logins from this network at once";
    if (!allow_start(network, now)) return "starts from this network per hour";
    if (live < static_cast<std::size_t>(settings_.bind_live_logins)) return std::nullopt;
    Session* victim = nullptr;
    std::size_t most = mine + 1;
    for (const auto& [other, holding] : networks) {
        if (holding.live > most && holding.oldest_unscanned) {
            most = holding.live;
            victim = holding.oldest_unscanned;
        }
    }
    if (!victim) return "live logins";
    std::lock_guard lock(victim->mutex);
    if (!victim->unscanned()) return "live logins";  // scanned a moment ago
    log_.info("wechat_ilink", "binding page: all ", settings_.bind_live_logins,
              " logins are taken; one of ", victim->network, " makes room for ", network);
    victim->withdraw(now);
    return std::nullopt;
}

net::awaitable<http::Response> BindService::start(const http::Request& request) {
    if (hooks_.active_accounts() >= static_cast<std::size_t>(settings_.max_accounts)) {
        co_return http::Response::error(
            403, "This bot cannot take more WeChat accounts right now. (绑定名额已满)");
    }
    std::string network = network_of(request.remote);
    std::shared_ptr<Session> session;
    std::string id;
    {
        std::lock_guard lock(mutex_);
        if (stopping_) co_return http::Response::error(503, "The server is stopping.");
        auto now = Clock::now();
        forget_old_sessions(now);
        if (auto limit = make_room(network, now)) {
            log_.warn("wechat_ilink", "binding page: refused a start from ", request.remote,
                      " (limit: ", *limit, ")");
            co_return http::Response::error(
                429, "Too many attempts. Try again later. (尝试次数过多，请稍后再试)");
        }
        count_start(network, now);
        id = random_hex(16);
        session = std::make_shared<Session>(executor_, network);
        sessions_.emplace(id, session);
    }
    net::co_spawn(executor_, run(session), net::detached);
    co_return http::Response::json(200, {{"session", id}});
}

net::awaitable<void> BindService::run(std::shared_ptr<Session> session) {
    LoginOptions options{.api_base = settings_.api_base,
                         .max_qr_refreshes = settings_.max_qr_refreshes,
                         .deadline = settings_.login_deadline,
                         .pause = settings_.login_poll_pause};
    LoginOutcome outcome;
    try {
        // No local_token_list: whoever scans is unknown here, and other people's tokens must
        // not make iLink answer binded_redirect to them (the operator's CLI sends its own).
        std::vector<std::string> no_tokens;
        outcome = co_await run_login(api_, options, std::move(no_tokens), *session);
        if (outcome.state == LoginProgress::State::confirmed) {
            co_await hooks_.bound(outcome.account);
            log_.info("wechat_ilink", "binding page: account ", outcome.account.bot_id,
                      " bound for ", outcome.account.owner);
        }
    } catch (const std::exception& error) {
        log_.error("wechat_ilink", "binding page: login failed: ", error.what());
        session->progress(LoginProgress{.state = LoginProgress::State::failed,
                                        .text = "Something went wrong. Start again."});
    }
    std::lock_guard lock(session->mutex);
    if (session->withdrawn) co_return;  // finished when withdrawn
    session->finished = true;
    session->ended = Clock::now();
}

std::shared_ptr<BindService::Session> BindService::find(const http::Request& request) {
    auto id = request.query_param("session");
    if (!id) return nullptr;
    std::lock_guard lock(mutex_);
    auto found = sessions_.find(*id);
    return found == sessions_.end() ? nullptr : found->second;
}

http::Response BindService::status(const http::Request& request) {
    auto session = find(request);
    if (!session) return http::Response::error(404, "This binding session has ended.");
    std::lock_guard lock(session->mutex);
    const auto& current = session->current;
    nlohmann::json body{{"state", state_name(current.state)},
                        {"text", current.text},
                        {"version", session->version}};
    if (!current.qr_url.empty() && !session->svg.empty()) {
        body["qr_url"] = current.qr_url;
        body["qr_svg"] = session->svg;
    }
    auto response = http::Response::json(200, body);
    response.headers.push_back({"Cache-Control", "no-store"});
    return response;
}

http::Response BindService::code(const http::Request& request) {
    auto session = find(request);
    if (!session) return http::Response::error(404, "This binding session has ended.");
    // Anything but {"code": "<digits>"} is the same mistake; never a type_error (a 500).
    auto body = nlohmann::json::parse(request.body, nullptr, false);
    auto field = body.is_object() ? body.find("code") : body.end();
    std::string digits = field != body.end() && field->is_string() ? field->get<std::string>() : "";
    if (digits.empty() || digits.size() > 12 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return http::Response::error(400, "Enter the digits shown on your phone.");
    }
    std::lock_guard lock(session->mutex);
    if (!session->awaiting_code) {  // (e.g. the previous number is still being checked)
        return http::Response::error(409, "No number is expected now.");
    }
    session->code = digits;
    session->awaiting_code = false;
    session->code_ready.set();
    return http::Response::json_text(200, "{}");
}

}  // namespace bot::adapters::wechat_ilink
