// The self-service binding page (when self_service is on): GET /ilink/<id>/bind serves the page,
// whose script drives a QR login through bind/start, bind/status and bind/code. Logins run on
// the server (run_login); the browser only sees the QR code (SVG made here with libqrencode), the
// status text and, when asked, sends the verify code. Starts and live logins are limited per
// client network and shared fairly between networks (make_room); starts are refused once
// max_accounts are bound. Tokens never reach the browser.
#pragma once

#include "bot/adapter.hpp"
#include "wechat_ilink/ilink_login.hpp"
#include "wechat_ilink/ilink_settings.hpp"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace bot::adapters::wechat_ilink {

struct BindHooks {
    std::function<std::size_t()> active_accounts;
    // A confirmed login: store the account (the adapter starts polling it).
    std::function<net::awaitable<void>(BoundAccount)> bound;
};

class BindService {
public:
    BindService(std::string adapter_id, std::string title, net::any_io_executor executor,
                IlinkApi& api, const Settings& settings, Logger& log, BindHooks hooks);
    ~BindService();
    void mount(http::Router& routes);
    void stop();

    std::string page_path() const { return "/ilink/" + adapter_id_ + "/bind"; }

    struct Session;

private:
    using Clock = std::chrono::steady_clock;

    net::awaitable<http::Response> start(const http::Request& request);
    http::Response status(const http::Request& request);
    http::Response code(const http::Request& request);
    std::shared_ptr<Session> find(const http::Request& request);
    // nullopt: a login from network may start (maybe in another's place); else the limit hit.
    std::optional<std::string> make_room(const std::string& network, Clock::time_point now);
    bool allow_start(const std::string& network, Clock::time_point now);
    void count_start(const std::string& network, Clock::time_point now);
    void forget_old_sessions(Clock::time_point now);
    net::awaitable<void> run(std::shared_ptr<Session> session);

    std::string adapter_id_;
    std::string page_;
    net::any_io_executor executor_;
    IlinkApi& api_;
    const Settings& settings_;
    Logger& log_;
    BindHooks hooks_;
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<Session>, std::less<>> sessions_;
    // Starts in the last hour per client network.
    std::map<std::string, std::vector<Clock::time_point>, std::less<>> starts_;
    bool stopping_ = false;
};

}  // namespace bot::adapters::wechat_ilink
