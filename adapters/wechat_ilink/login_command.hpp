// `contactbot ilink-login --adapter ID`: binds a WeChat account from the terminal. Shows the QR
// code (and its URL), reads verify codes from the input (a terminal or a pipe), and stores the
// account in the adapter's state, where a running server picks it up. The exit status tells
// how it ended.
#pragma once

#include "bot/adapter.hpp"
#include "bot/adapter_command.hpp"
#include "wechat_ilink/ilink_settings.hpp"

#include <iosfwd>

namespace bot::adapters::wechat_ilink {

enum LoginExit : int {
    kBound = 0,                              // bound (or this WeChat was bound already)
    kLoginFailed = 1,                        // network, refused, bad answer
    kConfigInvalid = kCommandConfigInvalid,  // the config or --adapter is wrong
    kLoginExpired = 3,  // QR codes expired too often or the login took too long
    kNoVerifyCode = 4,  // verify code not given, or too many wrong ones
    kAccountsFull = 5,  // max_accounts are bound already
};

struct TerminalLogin {
    Settings settings;
    HttpClient& http;
    AdapterState& state;
    std::istream& in;
    std::ostream& out;
    bool unicode = true;  // half-block QR art; false: ASCII
};

net::awaitable<int> login_in_terminal(TerminalLogin login);

// The adapter type's command-line commands (the registry lists them): ilink-login.
std::vector<AdapterCommand> commands();

}  // namespace bot::adapters::wechat_ilink
