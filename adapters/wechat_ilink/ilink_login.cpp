#include "wechat_ilink/ilink_login.hpp"

#include "base/async.hpp"
#include "wechat_ilink/ilink_codec.hpp"

#include <array>

namespace bot::adapters::wechat_ilink {

namespace {

using State = LoginProgress::State;
using Reason = LoginOutcome::Reason;

constexpr std::array kStateNames{"starting",      "qr",      "scanned", "need_code", "confirmed",
                                 "already_bound", "expired", "failed"};

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// "https://host/…" -> "https://<redirect_host>": the scheme stays (tests run plain HTTP).
std::string redirected_base(const std::string& base, const std::string& host) {
    auto scheme_end = base.find("://");
    std::string scheme = scheme_end == std::string::npos ? "https" : base.substr(0, scheme_end);
    return scheme + "://" + host;
}

class Login {
public:
    Login(IlinkApi& api, LoginOptions options, std::vector<std::string> tokens,
          LoginObserver& observer)
        : api_(api),
          options_(std::move(options)),
          tokens_(std::move(tokens)),
          observer_(observer),
          poll_base_(options_.api_base) {}

    net::awaitable<LoginOutcome> run() {
        const auto deadline = std::chrono::steady_clock::now() + options_.deadline;
        show(State::starting, "Getting a QR code… (正在获取二维码)");
        if (!co_await new_qr()) co_return outcome_;
        bool code_pending = false;
        std::string code;
        while (std::chrono::steady_clock::now() < deadline) {
            if (observer_.abandoned()) co_return outcome_;  // failed, and nobody to tell
            auto result =
                co_await api_.qrcode_status(poll_base_, qrcode_, code, options_.status_timeout);
            // Withdrawn while the poll was out: its page was told to start again, so even a
            // confirmation that came back with it binds nothing.
            if (observer_.abandoned()) co_return outcome_;
            // Timeouts and errors count as "wait" (OCW: gateways answer 524 on long polls).
            std::string status = result.ok() ? string_of(result.body, "status") : "wait";
            if (status == "need_verifycode") {
                show(State::need_code,
                     code_pending
                         ? "That number was wrong: enter the number shown on your "
                           "phone again. (数字错误，请重新输入手机上显示的数字)"
                         : "Enter the number shown on your phone. (请输入手机上显示的数字)");
                code = co_await observer_.verify_code(code_pending);
                if (code.empty())
                    co_return finish(State::failed, "No verification number given.",
                                     Reason::no_code);
                code_pending = true;
                continue;  // at once, with the code (§3.2)
            }
            if (status == "scaned") {
                code.clear();
                code_pending = false;
                show(State::scanned, "Scanned. Confirm on your phone. (已扫码，请在手机上确认)");
            } else if (status == "verify_code_blocked" || status == "expired") {
                code.clear();
                code_pending = false;
                if (refreshes_ >= options_.max_qr_refreshes) {
                    if (status == "expired") {
                        co_return finish(State::expired,
                                         "The QR code expired. Start again. (二维码已过期)",
                                         Reason::qr_expired);
                    }
                    co_return finish(State::failed,
                                     "Too many wrong numbers. Start again. (验证码错误次数过多)",
                                     Reason::code_blocked);
                }
                ++refreshes_;
                if (!co_await new_qr()) co_return outcome_;
            } else if (status == "scaned_but_redirect") {
                auto host = string_of(result.body, "redirect_host");
                if (!host.empty()) poll_base_ = redirected_base(poll_base_, host);
            } else if (status == "binded_redirect") {
                co_return finish(State::already_bound,
                                 "This WeChat is already bound to this bot. (已绑定)");
            } else if (status == "confirmed") {
                co_return confirmed(result.body);
            }
            co_await sleep_for(options_.pause);
        }
        co_return finish(State::expired, "The login took too long. Start again. (登录超时)",
                         Reason::timed_out);
    }

private:
    net::awaitable<bool> new_qr() {
        auto result = co_await api_.get_qrcode(options_.api_base, tokens_);
        qrcode_ = result.ok() ? string_of(result.body, "qrcode") : "";
        std::string url = result.ok() ? string_of(result.body, "qrcode_img_content") : "";
        if (qrcode_.empty() || url.empty()) {
            finish(State::failed,
                   "Could not get a QR code from WeChat (" +
                       (result.ok() ? "no qrcode in the answer" : result.describe()) +
                       "). Try again later.",
                   Reason::no_qr);
            co_return false;
        }
        poll_base_ = options_.api_base;  // every QR code starts at the fixed host (§3.1)
        progress_.qr_url = url;
        progress_.qr_number = refreshes_ + 1;
        show(State::qr, progress_.qr_number == 1
                            ? "Scan the QR code with WeChat. (用微信扫一扫)"
                            : "New QR code: scan it with WeChat. (二维码已刷新，请用微信扫一扫)");
        co_return true;
    }

    LoginOutcome confirmed(const json& body) {
        BoundAccount account;
        account.bot_id = string_of(body, "ilink_bot_id");
        account.token = string_of(body, "bot_token");
        account.base_url = string_of(body, "baseurl");
        if (account.base_url.empty()) account.base_url = options_.api_base;
        account.owner = string_of(body, "ilink_user_id");
        account.bound_at_ms = now_ms();
        if (account.bot_id.empty() || account.token.empty()) {
            return finish(State::failed, "WeChat confirmed the login without credentials.",
                          Reason::no_credentials);
        }
        auto outcome = finish(State::confirmed,
                              "Done: the bot is now a contact in your WeChat (微信ClawBot). "
                              "Send it a message! (绑定成功)");
        outcome.account = std::move(account);
        return outcome;
    }

    void show(State state, std::string text) {
        progress_.state = state;
        progress_.text = std::move(text);
        observer_.progress(progress_);
    }

    LoginOutcome finish(State state, std::string text, Reason reason = Reason::none) {
        if (state != State::qr && state != State::scanned) progress_.qr_url.clear();
        show(state, text);
        outcome_ = LoginOutcome{.state = state, .reason = reason, .text = std::move(text)};
        return outcome_;
    }

    IlinkApi& api_;
    LoginOptions options_;
    std::vector<std::string> tokens_;
    LoginObserver& observer_;
    std::string poll_base_;
    std::string qrcode_;
    int refreshes_ = 0;
    LoginProgress progress_;
    LoginOutcome outcome_;
};

}  // namespace

std::string_view state_name(LoginProgress::State state) {
    return kStateNames[static_cast<std::size_t>(state)];
}

net::awaitable<LoginOutcome> run_login(IlinkApi& api, LoginOptions options,
                                       std::vector<std::string> local_tokens,
                                       LoginObserver& observer) {
    Login login(api, std::move(options), std::move(local_tokens), observer);
    co_return co_await login.run();
}

}  // namespace bot::adapters::wechat_ilink
