// The QR login of §3, shared by `contactbot ilink-login` and the self-service binding page:
// fetch a QR code, long-poll its status, and handle every status (verify codes, expiry with
// bounded refreshes, host redirects, an already bound bot). The caller shows progress and
// supplies verify codes through a LoginObserver, and stores the account it returns.
#pragma once

#include "wechat_ilink/ilink_accounts.hpp"
#include "wechat_ilink/ilink_api.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace bot::adapters::wechat_ilink {

struct LoginProgress {
    enum class State {
        starting,       // fetching a QR code
        qr,             // showing qr_url, not scanned yet
        scanned,        // scanned; the user confirms on the phone
        need_code,      // the phone shows a number to type in
        confirmed,      // bound: the account is in LoginOutcome
        already_bound,  // binded_redirect: this bot is bound already, nothing new
        expired,        // QR codes expired too often, or the login took too long
        failed,         // anything else (network, blocked verify code, bad answer)
    };
    State state = State::starting;
    std::string qr_url;  // what the QR code encodes (qrcode_img_content), when one is current
    int qr_number = 0;   // 1 for the first QR code, counting refreshes
    std::string text;    // for people: what happened and what to do
};

std::string_view state_name(LoginProgress::State state);

class LoginObserver {
public:
    virtual ~LoginObserver() = default;
    virtual void progress(const LoginProgress& progress) = 0;
    // The number shown on the phone; "" gives up. wrong: the last one was refused.
    virtual net::awaitable<std::string> verify_code(bool wrong) = 0;
    // true: nobody waits for this login any more (its page was given another's turn); it stops
    // at its next status poll, or as that poll returns, without binding anything.
    virtual bool abandoned() const { return false; }
};

struct LoginOptions {
    std::string api_base{kDefaultApiBase};
    int max_qr_refreshes = 3;
    std::chrono::milliseconds deadline{480000};
    std::chrono::milliseconds status_timeout{35000};  // the status long poll (§3.2)
    std::chrono::milliseconds pause{1000};            // between status polls
};

struct LoginOutcome {
    enum class Reason { none, no_qr, qr_expired, code_blocked, no_code, timed_out, no_credentials };
    LoginProgress::State state = LoginProgress::State::failed;
    Reason reason = Reason::none;  // why it did not bind
    BoundAccount account;          // confirmed only
    std::string text;
};

net::awaitable<LoginOutcome> run_login(IlinkApi& api, LoginOptions options,
                                       std::vector<std::string> local_tokens,
                                       LoginObserver& observer);

}  // namespace bot::adapters::wechat_ilink
