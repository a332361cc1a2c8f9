// The wechat_ilink config section, read in one place for the adapter and `contactbot
// ilink-login`. Every key is documented in adapters/wechat_ilink/README.md.
#pragma once

#include "base/config_reader.hpp"
#include "wechat_ilink/ilink_api.hpp"

#include <chrono>
#include <string>

namespace bot::adapters::wechat_ilink {

struct Settings {
    std::string api_base{kDefaultApiBase};  // where QR logins start (§3.1)
    ClientInfo client;
    bool self_service = false;         // the public binding page
    std::string title = "contactbot";  // the bot's name on the binding page
    int max_accounts = 1000;
    // The binding page's limits per client network (IPv4 /24, IPv6 /64) and for all clients.
    int bind_starts_per_hour = 10;          // per network
    int bind_live_logins = 200;             // logins in progress at once, all networks
    int bind_live_logins_per_network = 10;  // the same, per network
    int max_qr_refreshes = 3;  // new QR codes after "expired" before giving up (OCW: 3)
    std::chrono::milliseconds login_deadline{480000};
    std::chrono::milliseconds login_poll_pause{1000};  // between QR status polls (§3.2)
    std::chrono::milliseconds reply_window{std::chrono::hours(24)};
    int max_sends_per_message = 10;
    std::size_t text_limit = 4000;  // characters (UTF-16 units) per sendmessage
    bool typing = true;
    std::chrono::milliseconds account_scan{2000};  // how often new bindings are picked up
    // Tencent's poll failure policy (§4.2): wait poll_retry, and poll_backoff after 3 in a row.
    std::chrono::milliseconds poll_retry{2000};
    std::chrono::milliseconds poll_backoff{30000};
};

Settings read_settings(ConfigReader& config);

}  // namespace bot::adapters::wechat_ilink
