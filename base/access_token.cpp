#include "base/access_token.hpp"

namespace bot {

namespace {
// A forced refresh at most every 30 s (WeChat allows 20 a day).
constexpr std::chrono::seconds kForceInterval{30};
}  // namespace

std::optional<std::string> AccessToken::usable(Clock::time_point now, bool allow_stale) const {
    std::lock_guard lock(mutex_);
    if (token_.empty()) return std::nullopt;
    if (now < refresh_at_ || (allow_stale && now < expires_at_)) return token_;
    return std::nullopt;
}

net::awaitable<boost::system::result<std::string, TokenError>> AccessToken::get() {
    using Result = boost::system::result<std::string, TokenError>;
    auto value = [](std::string token) {
        return Result(boost::system::in_place_value, std::move(token));
    };
    if (auto token = usable(Clock::now(), false)) co_return value(*token);
    auto permit = co_await single_flight_.acquire();
    // Another caller may have fetched while this one waited for the permit.
    if (auto token = usable(Clock::now(), false)) co_return value(*token);

    bool force = false;
    for (int round = 0; round < 2; ++round) {
        {
            std::lock_guard lock(mutex_);
            ++fetches_;
        }
        auto fetched = co_await fetch_(force);
        auto now = Clock::now();
        if (!fetched) {
            // A token that is due for refresh but not expired still works: keep using it.
            if (auto token = usable(now, true)) co_return value(*token);
            co_return TokenError{fetched.error()};
        }
        std::lock_guard lock(mutex_);
        if (fetched->token == refused_ && !force && now - last_forced_ >= kForceInterval) {
            force = true;  // the platform handed back the token it refused: force a new one
            last_forced_ = now;
            continue;
        }
        auto lifetime =
            std::max<std::chrono::seconds>(fetched->expires_in, std::chrono::seconds(1));
        // Refresh refresh_before_ ahead of expiry; a token handed out late in its life (less
        // than that left) is still used for half of what remains, not refetched on every call.
        auto keep = std::max(lifetime - refresh_before_, lifetime / 2);
        token_ = std::move(fetched->token);
        refresh_at_ = now + keep;
        expires_at_ = now + lifetime -
                      std::min<std::chrono::seconds>(lifetime / 10, std::chrono::seconds(10));
        co_return value(token_);
    }
    co_return TokenError{"unreachable"};
}

void AccessToken::refused(const std::string& token) {
    std::lock_guard lock(mutex_);
    refused_ = token;
    if (token_ == token) token_.clear();
}

std::size_t AccessToken::fetches() const {
    std::lock_guard lock(mutex_);
    return fetches_;
}

}  // namespace bot
