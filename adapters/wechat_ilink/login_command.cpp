#include "wechat_ilink/login_command.hpp"

#include "wechat_ilink/ilink_accounts.hpp"
#include "wechat_ilink/ilink_login.hpp"
#include "wechat_ilink/qr_code.hpp"

#include <algorithm>
#include <istream>
#include <ostream>

namespace bot::adapters::wechat_ilink {

namespace {

using State = LoginProgress::State;

class TerminalObserver final : public LoginObserver {
public:
    TerminalObserver(std::istream& in, std::ostream& out, bool unicode)
        : in_(in), out_(out), unicode_(unicode) {}

    void progress(const LoginProgress& progress) override {
        if (progress.state == State::qr) {
            if (auto code = QrCode::encode(progress.qr_url)) {
                out_ << "\n" << (unicode_ ? qr_terminal_text(*code) : qr_terminal_ascii(*code));
            }
            out_ << "QR code " << progress.qr_number << ": " << progress.qr_url << "\n";
        }
        out_ << progress.text << std::endl;
    }

    // Blocking is fine here: the command does nothing else while the user reads the phone.
    net::awaitable<std::string> verify_code(bool) override {
        out_ << "Number: " << std::flush;
        std::string line;
        if (!std::getline(in_, line)) co_return std::string();
        line.erase(std::remove_if(line.begin(), line.end(),
                                  [](unsigned char c) { return std::isspace(c); }),
                   line.end());
        co_return line;
    }

private:
    std::istream& in_;
    std::ostream& out_;
    bool unicode_;
};

int exit_status(State state) {
    switch (state) {
        case State::confirmed:
        case State::already_bound:
            return kBound;
        case State::expired:
            return kLoginExpired;
        default:
            return kLoginFailed;
    }
}

}  // namespace

net::awaitable<int> login_in_terminal(TerminalLogin login) {
    std::vector<BoundAccount> active;
    for (auto& entry : co_await login.state.changes(kAccountKind, 0)) {
        auto account = decode_account(entry.value);
        if (account && account->active()) active.push_back(std::move(*account));
    }
    if (active.size() >= static_cast<std::size_t>(login.settings.max_accounts)) {
        login.out << "This adapter has " << active.size() << " bound accounts: max_accounts ("
                  << login.settings.max_accounts << ") is reached.\n";
        co_return kAccountsFull;
    }
    std::sort(active.begin(), active.end(),
              [](const auto& a, const auto& b) { return a.bound_at_ms > b.bound_at_ms; });
    std::vector<std::string> tokens;
    for (std::size_t i = 0; i < active.size() && i < 10; ++i) tokens.push_back(active[i].token);

    IlinkApi api(login.http, login.settings.client);
    TerminalObserver observer(login.in, login.out, login.unicode);
    // (Built outside the co_await: g++ 12 destroys aggregate temporaries there twice.)
    LoginOptions options{.api_base = login.settings.api_base,
                         .max_qr_refreshes = login.settings.max_qr_refreshes,
                         .deadline = login.settings.login_deadline,
                         .pause = login.settings.login_poll_pause};
    auto outcome = co_await run_login(api, std::move(options), std::move(tokens), observer);
    if (outcome.reason == LoginOutcome::Reason::no_code ||
        outcome.reason == LoginOutcome::Reason::code_blocked) {
        co_return kNoVerifyCode;
    }
    if (outcome.state != State::confirmed) co_return exit_status(outcome.state);
    const auto& account = outcome.account;
    co_await login.state.put(kAccountKind, account.bot_id, encode_account(account));
    login.out << "Bound WeChat account " << account.bot_id << " (owner " << account.owner
              << "). A running server starts answering it within "
              << login.settings.account_scan.count() / 1000.0 << " s.\n";
    co_return kBound;
}

namespace {

net::awaitable<int> run_ilink_login(AdapterCommandContext context) {
    auto settings = read_settings(context.config);
    if (!context.config.errors().empty()) co_return kConfigInvalid;  // the runner shows them
    // Named, not a temporary inside the co_await: g++ 12 freed such a temporary's members
    // twice.
    TerminalLogin login{.settings = std::move(settings),
                        .http = context.http,
                        .state = context.state,
                        .in = context.in,
                        .out = context.out,
                        .unicode = context.unicode};
    int status = co_await login_in_terminal(std::move(login));
    co_return status;
}

}  // namespace

std::vector<AdapterCommand> commands() {
    return {{.name = "ilink-login",
             .summary = "bind a personal WeChat account to a wechat_ilink adapter (QR code)",
             .run = &run_ilink_login}};
}

}  // namespace bot::adapters::wechat_ilink
