// One cached access token per app (WeChat, WeCom, QQ, Feishu, DingTalk): fetched on first use,
// refreshed before it expires, single-flight (concurrent callers share one fetch, because
// every fetch may invalidate the previous token), and refetched when the platform refuses it.
#pragma once

#include "base/async.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

namespace bot {

struct FetchedToken {
    std::string token;
    std::chrono::seconds expires_in{7200};
};
using TokenResult = boost::system::result<FetchedToken, std::string>;
struct TokenError {
    std::string reason;
};
// force: the cached token was refused and the platform handed the same one back; ask for a
// new one (WeChat's stable_token force_refresh). Fetchers without such an option ignore it.
using TokenFetcher = std::function<net::awaitable<TokenResult>(bool force)>;

class AccessToken {
public:
    explicit AccessToken(TokenFetcher fetch,
                         std::chrono::seconds refresh_before = std::chrono::minutes(5))
        : fetch_(std::move(fetch)), refresh_before_(refresh_before) {}

    // A valid token, or why none could be had.
    net::awaitable<boost::system::result<std::string, TokenError>> get();
    // The platform refused token (expired or revoked): the next get()
    // fetches again. A token already replaced is left alone.
    void refused(const std::string& token);

    std::size_t fetches() const;

private:
    using Clock = std::chrono::steady_clock;
    std::optional<std::string> usable(Clock::time_point now, bool allow_stale) const;

    TokenFetcher fetch_;
    std::chrono::seconds refresh_before_;
    AsyncSemaphore single_flight_{1};
    mutable std::mutex mutex_;
    std::string token_;
    std::string refused_;  // the last token the platform refused
    Clock::time_point refresh_at_{};
    Clock::time_point expires_at_{};
    Clock::time_point last_forced_{};
    std::size_t fetches_ = 0;
};

}  // namespace bot
