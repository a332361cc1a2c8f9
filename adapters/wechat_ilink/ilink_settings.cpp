#include "wechat_ilink/ilink_settings.hpp"

#include <algorithm>

namespace bot::adapters::wechat_ilink {

namespace {

// base_info.bot_agent rules (§2.2): ASCII "Name/Version" tokens, name [A-Za-z0-9_.-]{1,32},
// version [A-Za-z0-9_.+-]{1,32}, at most 256 bytes. Only the first token is checked strictly.
bool valid_bot_agent(const std::string& agent) {
    if (agent.size() > 256) return false;
    auto slash = agent.find('/');
    if (slash == std::string::npos || slash == 0 || slash > 32) return false;
    auto end = agent.find(' ', slash);
    auto version = agent.substr(slash + 1, end == std::string::npos ? end : end - slash - 1);
    auto name_ok = std::all_of(agent.begin(), agent.begin() + slash, [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
    auto version_ok = !version.empty() && version.size() <= 32 &&
                      std::all_of(version.begin(), version.end(), [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                                 c == '.' || c == '+' || c == '-';
                      });
    return name_ok && version_ok &&
           std::all_of(agent.begin(), agent.end(), [](char c) { return c > 0x1f && c < 0x7f; });
}

}  // namespace

Settings read_settings(ConfigReader& config) {
    Settings settings;
    config.string("type", "wechat_ilink");
    settings.api_base = config.url("api_base", std::string(kDefaultApiBase));
    settings.client.bot_agent = config.string("bot_agent", "contactbot/" CONTACTBOT_VERSION);
    if (!valid_bot_agent(settings.client.bot_agent))
        config.problem("bot_agent",
                       "must look like Name/Version (ASCII; name of A-Z a-z 0-9 _ . -, at most "
                       "32 characters each, 256 in all)");
    settings.client.channel_version = config.string("channel_version", "2.4.9");
    if (packed_client_version(settings.client.channel_version) == 0)
        config.problem("channel_version", "must be major.minor.patch, each 0..255");
    settings.self_service = config.boolean("self_service", false);
    settings.title = config.string("title", "contactbot");
    settings.max_accounts = static_cast<int>(config.integer("max_accounts", 1000, 1, 1000000));
    settings.bind_starts_per_hour =
        static_cast<int>(config.integer("bind_starts_per_hour", 10, 1, 100000));
    settings.bind_live_logins =
        static_cast<int>(config.integer("bind_live_logins", 200, 1, 100000));
    settings.bind_live_logins_per_network =
        static_cast<int>(config.integer("bind_live_logins_per_network", 10, 1, 100000));
    if (settings.bind_live_logins_per_network > settings.bind_live_logins)
        config.problem("bind_live_logins_per_network",
                       "must not be more than bind_live_logins (" +
                           std::to_string(settings.bind_live_logins) + ")");
    settings.max_qr_refreshes = static_cast<int>(config.integer("max_qr_refreshes", 3, 0, 20));
    settings.login_deadline =
        std::chrono::seconds(config.integer("login_timeout_s", 480, 10, 3600));
    settings.login_poll_pause =
        std::chrono::milliseconds(config.integer("qr_poll_interval_ms", 1000, 10, 60000));
    settings.reply_window = std::chrono::seconds(config.integer("reply_window_s", 86400, 1, 86400));
    settings.max_sends_per_message =
        static_cast<int>(config.integer("max_sends_per_message", 10, 1, 10));
    settings.text_limit = static_cast<std::size_t>(config.integer("text_limit", 4000, 100, 4000));
    settings.typing = config.boolean("typing", true);
    settings.account_scan =
        std::chrono::milliseconds(config.integer("account_scan_ms", 2000, 100, 600000));
    settings.poll_retry =
        std::chrono::milliseconds(config.integer("poll_retry_ms", 2000, 10, 600000));
    settings.poll_backoff =
        std::chrono::milliseconds(config.integer("poll_backoff_ms", 30000, 10, 3600000));
    return settings;
}

}  // namespace bot::adapters::wechat_ilink
